"""simulate_exit's block bookkeeping (paths step on past their exit until the block ends; the
domain is checked once per block) against a brute-force per-path loop, and the CPU noise fast
path (NumPy draws + in-place Chambers–Mallows–Stuck) against scipy's stable law."""

import numpy as np
import pytest
import torch
from scipy import stats

from sgdnoise.dynamics import Box, simulate_exit
from sgdnoise.dynamics.sde.noise import NumpyDraws
from sgdnoise.stable.sampling import cms_transform

DT, UPPER = 0.1, 0.55


def _drift(x):
    # up at speed 1 until x ≥ 0.62, then sharply back down: a path that crosses UPPER comes back inside
    return torch.where(x < 0.62, torch.ones_like(x), torch.full_like(x, -10.0))


def _reference(x0, max_steps, record_every):
    """Per-path Euler loop without noise: (time, position, exited, frames)."""
    times, positions, exited, frames = [], [], [], [[x] for x in x0]
    for p, x in enumerate(x0):
        out = False
        for n in range(1, max_steps + 1):
            if not out:
                x = x + DT * (1.0 if x < 0.62 else -10.0)
                out = not (-1.0 < x < UPPER)
                step = n
            if n % record_every == 0:
                frames[p].append(x)
        times.append(step * DT)
        positions.append(x)
        exited.append(out)
    return np.array(times), np.array(positions), np.array(exited), np.array(frames).T


@pytest.mark.parametrize("block_steps", [1, 4, 64])
def test_first_exit_is_kept_though_the_path_comes_back(block_steps):
    x0 = np.array([0.0, 0.03, -0.47, -0.93, 0.5, 0.26])  # exits at steps 6, 6, 11, never (15 > 13), 1, 3
    r = simulate_exit(
        _drift,
        torch.tensor(x0)[:, None],
        eps=1e-12,
        noise="gaussian",
        dt=DT,
        domain=Box([-1.0], [UPPER]),
        n_paths=len(x0),
        max_steps=13,
        seed=0,
        block_steps=block_steps,
        record_every=3,
    )
    times, positions, exited, frames = _reference(x0, 13, 3)
    np.testing.assert_array_equal(r.exited, exited)
    np.testing.assert_allclose(r.time, times, rtol=1e-12)
    np.testing.assert_allclose(r.position[:, 0], positions, atol=1e-9)  # noise ε √dt Z with ε = 1e-12
    np.testing.assert_array_equal(r.axis, np.where(exited, 0, -1))
    np.testing.assert_allclose(r.trajectory[:, :, 0], frames, atol=1e-9)  # exited paths frozen at their exit point


def test_predicate_domain_sees_whole_blocks_and_matches_the_box():
    box = Box([-1.0, -0.5], [1.0, 0.8])
    kw = dict(alpha=[1.2, 1.7], eps=0.2, dt=0.05, n_paths=500, max_steps=300, seed=8, block_steps=32)
    shapes = []

    def inside(x):
        shapes.append(tuple(x.shape))
        return ((x > box.lower.to(x)) & (x < box.upper.to(x))).all(dim=1)

    drift = lambda x: -x  # noqa: E731
    a = simulate_exit(drift, [0.0, 0.0], domain=box, **kw)
    b = simulate_exit(drift, [0.0, 0.0], domain=inside, **kw)
    for field in ("time", "position", "exited"):  # (a predicate's exit axis is measured from x0, not from the faces)
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert shapes[1] == (32 * 500, 2)  # the first block: 32 steps × 500 paths in one call


@pytest.mark.parametrize("alpha", [0.7, 1.0, 1.5, 2.0])
def test_cms_transform_has_the_stable_law(alpha):
    n = 100_000
    draws = NumpyDraws(torch.Generator().manual_seed(int(alpha * 10)))
    x = cms_transform(alpha, draws.uniform((n,), torch.float64), draws.exponential((n,), torch.float64)).numpy()
    grid = np.array([-3.0, -1.0, -0.3, 0.0, 0.5, 2.0])
    empirical = (x[:, None] <= grid).mean(axis=0)
    # scipy's S1 parametrisation with β = 0 and scale 1 is E e^{iuX} = e^{−|u|^α}; an empirical CDF
    # of 1e5 draws has sd ≤ 0.0016, so 0.006 is ~4 sd
    np.testing.assert_allclose(empirical, stats.levy_stable.cdf(grid, alpha, 0.0), atol=0.006)


def test_cms_per_element_alpha_equals_shared_alpha():
    draws = NumpyDraws(torch.Generator().manual_seed(1))
    u, w = draws.uniform((50, 3), torch.float64), draws.exponential((50, 3), torch.float64)
    shared = cms_transform(1.3, u.clone(), w.clone())
    per_element = cms_transform(torch.full((50, 3), 1.3, dtype=torch.float64), u.clone(), w.clone())
    np.testing.assert_allclose(per_element.numpy(), shared.numpy(), rtol=1e-13)
