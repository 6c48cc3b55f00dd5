"""Basin half-widths, exit parameters, GD + per-parameter noise escapes and the absolute-level SGD escape,
each against an independent reference (closed forms, plain loops over coordinates and seeds)."""

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sgdnoise.dynamics import (
    basin_half_widths,
    escape_by_level,
    escape_by_loss,
    exit_parameters,
    noisy_gd_escape,
)
from sgdnoise.dynamics.networks.displaced_loss import DisplacedLoss
from sgdnoise.dynamics.networks.stacked_loss import StackedLoss
from sgdnoise.errors import InvalidInputError
from sgdnoise.rng import as_generator, derived_seed
from sgdnoise.stable.sampling import sample_stable, standard_sas


def test_basin_of_a_quadratic_is_exact_and_open_sides_are_flagged():
    h = torch.tensor([1.0, 2.0, 0.5, 0.0, 3.0], dtype=torch.float64)
    c = torch.tensor([0.3, -1.0, 2.0, 0.0, 0.1], dtype=torch.float64)

    def loss(rows):  # coordinate 3 is flat: open on both sides
        return 0.5 * ((rows - c) ** 2 * h).sum(1) + 1.0

    res = basin_half_widths(loss, c, 1.5, cap=64.0)
    expected = np.sqrt(2 * 0.5 / h.numpy()[[0, 1, 2, 4]])
    np.testing.assert_allclose(res.upper[[0, 1, 2, 4]], expected, rtol=1e-12)
    np.testing.assert_allclose(res.lower[[0, 1, 2, 4]], -expected, rtol=1e-12)
    assert res.open_upper.tolist() == res.open_lower.tolist() == [False, False, False, True, False]
    assert res.upper[3] == np.inf and res.lower[3] == -np.inf
    with pytest.raises(InvalidInputError, match="exceed the loss"):
        basin_half_widths(loss, c, 0.5)


@pytest.fixture(scope="module")
def mlp(breast_cancer_minimum):
    return breast_cancer_minimum(100)


def test_basin_on_a_network_is_the_first_crossing_and_batching_changes_nothing(mlp):
    model, (x, y) = mlp
    stacked = StackedLoss(model, F.cross_entropy, x, y)
    center = stacked.start
    level = 2.0 * float(stacked.losses(center[None])[0])
    coords = np.arange(0, center.numel(), 7)
    res = basin_half_widths(stacked.losses, center, level, coords=coords, cap=16.0)
    one_by_one = [basin_half_widths(stacked.losses, center, level, coords=[c], cap=16.0) for c in coords[:6]]
    np.testing.assert_allclose(res.upper[:6], [r.upper[0] for r in one_by_one], rtol=1e-12)
    np.testing.assert_allclose(res.lower[:6], [r.lower[0] for r in one_by_one], rtol=1e-12)

    def plain_loss(c, t):  # the model itself, one displaced weight at a time
        net = copy.deepcopy(model)
        with torch.no_grad():
            flat = torch.nn.utils.parameters_to_vector(net.parameters())
            flat[c] += t
            torch.nn.utils.vector_to_parameters(flat, net.parameters())
            return float(F.cross_entropy(net(x), y))

    assert (~res.open_upper[:10]).sum() >= 3 and (~res.open_lower[:10]).sum() >= 3
    for k, c in enumerate(coords[:10]):
        for sign, width, is_open in ((1.0, res.upper[k], res.open_upper[k]), (-1.0, -res.lower[k], res.open_lower[k])):
            if is_open:  # never reaches the level up to the cap
                assert max(plain_loss(c, sign * t) for t in np.linspace(0, 16, 65)) < level
                continue
            assert plain_loss(c, sign * width) == pytest.approx(level, rel=1e-9)
            assert max(plain_loss(c, sign * t) for t in np.linspace(0, width, 41)[:-1]) < level


def test_displaced_loss_of_an_mlp_equals_the_generic_path(mlp):
    model, (x, y) = mlp
    stacked = StackedLoss(model, F.cross_entropy, x, y)
    fast = DisplacedLoss.of(model, F.cross_entropy, x, y, chunk_rows=5)
    assert fast is not None and DisplacedLoss.of(nn.Sequential(nn.Bilinear(2, 2, 2)), F.cross_entropy, x, y) is None
    dim = stacked.dim
    coords = torch.randperm(dim, generator=torch.Generator().manual_seed(0))[:40]
    steps = torch.linspace(-3, 3, 40, dtype=torch.float64)
    rows = stacked.start.expand(40, -1).clone()
    rows[torch.arange(40), coords] += steps
    torch.testing.assert_close(fast(coords, steps), stacked.losses(rows), rtol=1e-12, atol=1e-14)
    center = stacked.start
    level = 2.0 * float(stacked.losses(center[None])[0])
    generic = basin_half_widths(stacked.losses, center, level, cap=16.0)
    quick = basin_half_widths(stacked.losses, center, level, cap=16.0, displaced=fast)
    np.testing.assert_allclose(quick.upper, generic.upper, rtol=1e-9)
    np.testing.assert_allclose(quick.lower, generic.lower, rtol=1e-9)


def test_exit_parameters_against_a_loop():
    gen = np.random.default_rng(0)
    lower = -np.array([1.0, 2.0, np.inf, 0.5])
    upper = np.array([1.0, np.inf, 3.0, 0.5])
    disp = gen.normal(size=(20, 4))
    escaped = gen.random(20) < 0.8
    res = exit_parameters(disp, lower, upper, escaped, top_k=(1, 2))
    for s in range(20):
        r = []
        for i, d in enumerate(disp[s]):
            width = upper[i] if d > 0 else -lower[i]
            r.append(0.0 if np.isinf(width) else abs(d) / width)
        if not escaped[s]:
            assert res.index[s] == -1
            continue
        assert res.index[s] == int(np.argmax(r))
        sq = sorted((v * v for v in r), reverse=True)
        assert res.top_share[s, 0] == pytest.approx(sq[0] / sum(sq))
        assert res.top_share[s, 1] == pytest.approx((sq[0] + sq[1]) / sum(sq))
    assert res.counts.sum() == (res.index >= 0).sum()
    assert res.counts[2] == 0 or all(disp[res.index == 2, 2] > 0)  # open below: only exits upward


def test_noisy_escape_equals_a_loop_and_seeds_are_independent(mlp):
    model, (x, y) = mlp
    dim = sum(p.numel() for p in model.parameters())
    alpha = torch.linspace(1.2, 1.9, dim, dtype=torch.float64)
    scale = torch.full((dim,), 0.4, dtype=torch.float64)
    with torch.no_grad():
        level = 1.5 * float(F.cross_entropy(model(x), y))
    kw = dict(level=level, lr=0.05, max_steps=40, seed=3, block_steps=16)
    kw = dict(kw, noise="levy", scale=scale, alpha=alpha)
    both = noisy_gd_escape(model, F.cross_entropy, (x, y), seeds=[0, 1, 2], **kw)
    alone = noisy_gd_escape(model, F.cross_entropy, (x, y), seeds=[1], **kw)
    assert both.steps[1] == alone.steps[0]
    torch.testing.assert_close(both.displacement[1], alone.displacement[0], rtol=1e-10, atol=1e-12)
    # the loop: plain model, plain autograd, the seed's own generator
    for i, s in enumerate([0, 1, 2]):
        net = copy.deepcopy(model)
        gen = as_generator(derived_seed(3, s, 0))
        w = torch.nn.utils.parameters_to_vector(net.parameters()).detach()
        w0, step, escaped = w.clone(), 40, False
        for t in range(40):
            if t % 16 == 0:
                block = standard_sas(alpha, (16, dim), gen)
            torch.nn.utils.vector_to_parameters(w, net.parameters())
            g = torch.autograd.grad(F.cross_entropy(net(x), y), list(net.parameters()))
            w = w - 0.05 * torch.cat([v.reshape(-1) for v in g]) + 0.05 * scale * block[t % 16]
            torch.nn.utils.vector_to_parameters(w, net.parameters())
            if float(F.cross_entropy(net(x), y).detach()) >= level:
                step, escaped = t + 1, True
                break
        assert both.steps[i] == step and both.escaped[i] == escaped
        torch.testing.assert_close(both.displacement[i], w - w0, rtol=1e-8, atol=1e-10)
    assert both.escaped.any()
    with pytest.raises(InvalidInputError, match="alpha"):
        noisy_gd_escape(model, F.cross_entropy, (x, y), seeds=[0], **dict(kw, alpha=None))
    with pytest.raises(InvalidInputError, match="noise"):
        noisy_gd_escape(model, F.cross_entropy, (x, y), seeds=[0], **dict(kw, noise="cauchy"))


def test_gauss_noise_has_the_given_variance(mlp):
    model, (x, y) = mlp
    dim = sum(p.numel() for p in model.parameters())
    std = torch.linspace(0.1, 1.0, dim, dtype=torch.float64)
    # lr tiny: one step is (nearly) pure noise, η ξ with ξ ~ N(0, std²)
    run = noisy_gd_escape(
        model, F.cross_entropy, (x, y), noise="gauss", seeds=range(400), scale=std, level=1e9, lr=1e-3, max_steps=1
    )
    grad_step = (
        -1e-3
        * StackedLoss(model, F.cross_entropy, x, y).gradients(
            torch.nn.utils.parameters_to_vector(model.parameters()).detach()[None]
        )[0]
    )
    noise = (run.displacement - grad_step) / 1e-3
    ratio = noise.std(0) / std  # 400 draws: the sd of a sample sd is ≈ 1/√800 ≈ 3.5%
    assert float((ratio - 1).abs().max()) < 0.2
    assert float((ratio.mean() - 1).abs()) < 0.02


def test_skewed_stable_and_full_covariance_noise_are_the_draws_of_each_seeds_generator(mlp):
    model, (x, y) = mlp
    dim = sum(p.numel() for p in model.parameters())
    w0 = torch.nn.utils.parameters_to_vector(model.parameters()).detach()
    grad_step = -1e-3 * StackedLoss(model, F.cross_entropy, x, y).gradients(w0[None])[0]
    kw = dict(seeds=[0, 5], level=1e9, lr=1e-3, max_steps=1, seed=2, block_steps=4)
    alpha = torch.linspace(1.1, 1.9, dim, dtype=torch.float64)
    beta = torch.linspace(-0.9, 0.9, dim, dtype=torch.float64)
    scale, loc = torch.full((dim,), 0.5, dtype=torch.float64), torch.linspace(-0.1, 0.1, dim, dtype=torch.float64)
    run = noisy_gd_escape(
        model, F.cross_entropy, (x, y), noise="stable", alpha=alpha, beta=beta, scale=scale, loc=loc, **kw
    )
    # K = 5 noise samples: ξ = Uᵀz/√K with U centred, z ~ N(0, I_K) — Σ = UᵀU/K, no P × P matrix
    u = torch.randn(5, dim, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    full = noisy_gd_escape(model, F.cross_entropy, (x, y), noise="gauss_full", scale=1.0, factor=u, **kw)
    uc = (u - u.mean(0)) / 5**0.5
    for i, s in enumerate([0, 5]):
        gen = as_generator(derived_seed(2, s, 2))
        xi = scale * sample_stable(alpha, beta, 1.0, 0.0, (4, dim), gen)[0] + loc
        torch.testing.assert_close(run.displacement[i], grad_step + 1e-3 * xi, rtol=1e-9, atol=1e-13)
        z = torch.randn(4, 5, generator=as_generator(derived_seed(2, s, 3)), dtype=torch.float64)
        torch.testing.assert_close(full.displacement[i], grad_step + 1e-3 * (z[0] @ uc), rtol=1e-9, atol=1e-13)
    with pytest.raises(InvalidInputError, match="alpha and beta"):
        noisy_gd_escape(model, F.cross_entropy, (x, y), noise="stable", alpha=alpha, scale=scale, **kw)
    with pytest.raises(InvalidInputError, match="beta in"):
        noisy_gd_escape(model, F.cross_entropy, (x, y), noise="stable", alpha=alpha, beta=2 * beta, scale=scale, **kw)
    with pytest.raises(InvalidInputError, match=r"\(K, P\)"):
        noisy_gd_escape(model, F.cross_entropy, (x, y), noise="gauss_full", scale=1.0, factor=u[:, :3], **kw)


def test_escape_by_level_equals_escape_by_loss_at_the_same_threshold(mlp):
    model, data = mlp
    with torch.no_grad():
        loss0 = float(F.cross_entropy(model(data[0]), data[1]))
    kw = dict(seeds=range(4), lr=0.5, batch_size=4, max_steps=60)
    by_level = escape_by_level(model, F.cross_entropy, data, level=1.3 * loss0, **kw)
    by_loss = escape_by_loss(model, F.cross_entropy, data, factor=1.3, **kw)
    np.testing.assert_array_equal(by_level.steps, by_loss.steps)
    with pytest.raises(InvalidInputError, match="exceed"):
        escape_by_level(model, F.cross_entropy, data, level=0.5 * loss0, **kw)
