"""The Euler scheme of simulate_exit against exact laws of its discrete recursion."""

import math

import numpy as np
import pytest
import torch

from sgdnoise.dynamics import Box, ExponentialSchedule, MultiStepSchedule, Quadratic, simulate_exit

WIDE = Box([-1e12, -1e12], [1e12, 1e12])  # never left: the run stops at max_steps


@pytest.mark.parametrize("schedule", [None, MultiStepSchedule([0.3], factor=0.25)])
def test_gaussian_ou_terminal_variance(schedule):
    # X_{n+1} = (1 − k dt) X_n + ε √(s_{t_n} dt) Z, so Var X_N = ε² dt Σ_n s_{t_n} (1 − k dt)^{2(N−1−n)}.
    k, dt, eps, n_steps, n_paths = np.array([1.0, 3.0]), 0.05, 0.4, 20, 20000
    r = simulate_exit(
        Quadratic(k),
        [0.0, 0.0],
        eps=eps,
        dt=dt,
        domain=WIDE,
        n_paths=n_paths,
        max_steps=n_steps,
        seed=11,
        noise="gaussian",
        schedule=schedule,
        block_steps=7,
    )
    assert not r.exited.any() and r.n_steps == n_steps
    s = np.ones(n_steps) if schedule is None else schedule(torch.arange(n_steps, dtype=torch.float64) * dt).numpy()
    decay = (1 - k[:, None] * dt) ** (2 * (n_steps - 1 - np.arange(n_steps)))
    expected = eps**2 * dt * (s * decay).sum(1)
    # sample variance of N(0, v): relative sd √(2/n) = 1%; allow 4 sd
    np.testing.assert_allclose(r.position.var(axis=0), expected, rtol=0.04)


@pytest.mark.parametrize("alpha", [[0.9, 1.6], [1.3, 2.0]])
def test_levy_increments_characteristic_function(alpha):
    # Zero drift: X_N = ε Σ_n s_{t_n}^{(α−1)/α} dt^{1/α} S_n is SαS with scale^α = ε^α dt Σ_n s_{t_n}^{α−1}.
    dt, eps, n_steps, n_paths = 0.1, 0.3, 12, 20000
    schedule = ExponentialSchedule(0.6)
    r = simulate_exit(
        lambda x: torch.zeros_like(x),
        [0.0, 0.0],
        alpha=alpha,
        eps=eps,
        dt=dt,
        domain=WIDE,
        n_paths=n_paths,
        max_steps=n_steps,
        seed=12,
        schedule=schedule,
        block_steps=5,
    )
    s = schedule(torch.arange(n_steps, dtype=torch.float64) * dt).numpy()
    for i, a in enumerate(alpha):
        scale_a = eps**a * dt * (s ** (a - 1)).sum()
        for u in (1.0, 3.0):
            ecf = np.cos(u * r.position[:, i]).mean()
            # sd of a mean of cosines ≤ 1/√(2n) ≈ 0.005; allow 0.02
            assert ecf == pytest.approx(math.exp(-scale_a * u**a), abs=0.02)


def test_covariance_noise_increment_covariance():
    sigma = np.array([[2.0, 0.8], [0.8, 0.5]])
    dt, eps = 0.01, 0.5
    r = simulate_exit(
        lambda x: torch.zeros_like(x),
        [0.0, 0.0],
        eps=eps,
        dt=dt,
        domain=WIDE,
        n_paths=40000,
        max_steps=1,
        seed=13,
        noise=sigma,
    )
    # covariance estimate from 40k draws: relative error ~ √(2/n) ≈ 0.7%
    np.testing.assert_allclose(np.cov(r.position.T), eps**2 * dt * sigma, rtol=0.04, atol=1e-5)


def test_same_seed_same_paths_and_trajectory_recording():
    kwargs = dict(alpha=1.5, eps=0.3, dt=0.05, domain=Box([-1.0], [1.0]), n_paths=300, max_steps=400, block_steps=16)
    a = simulate_exit(Quadratic([1.0]), [0.0], seed=5, **kwargs)
    b = simulate_exit(Quadratic([1.0]), [0.0], seed=5, record_every=10, **kwargs)
    np.testing.assert_array_equal(a.time, b.time)
    np.testing.assert_array_equal(a.axis, b.axis)
    assert b.trajectory.shape == (1 + b.n_steps // 10, 300, 1)
    # a path's recorded positions stay inside until it exits, then stay at its exit position
    last = b.trajectory[-1, :, 0]
    np.testing.assert_array_equal(last[b.exited], b.position[b.exited, 0])
    assert a.trajectory is None


def test_exit_bookkeeping():
    r = simulate_exit(
        Quadratic([1.0, 1.0]),
        [0.0, 0.0],
        alpha=[1.0, 1.0],
        eps=0.2,
        dt=0.1,
        domain=Box([-1, -1], [1, 1]),
        n_paths=500,
        max_steps=50,
        seed=6,
    )
    assert (r.axis[~r.exited] == -1).all() and set(r.axis[r.exited]) <= {0, 1}
    assert (np.abs(r.position[r.exited]).max(axis=1) >= 1).all()
    assert (np.abs(r.position[~r.exited]) < 1).all()
    np.testing.assert_allclose(r.time[~r.exited], 50 * 0.1)
    assert np.all(np.isclose(r.time[r.exited] / 0.1, np.round(r.time[r.exited] / 0.1)))
    s = r.summary()
    assert not s.complete and math.isnan(s.mean_time) and s.n_exited == r.exited.sum()
    assert s.mean_time_exponential_mle == pytest.approx(r.time.sum() / r.exited.sum())
    assert r.survival(0.0) == pytest.approx(1.0) and math.isnan(r.survival(100.0))
    assert len(r.to_frame()) == 500 and r.to_dict()["summary"]["n_paths"] == 500


def test_progress_bar_runs():
    r = simulate_exit(
        Quadratic([1.0]),
        [0.0],
        alpha=1.2,
        eps=0.2,
        dt=0.1,
        domain=Box([-1.0], [1.0]),
        n_paths=50,
        max_steps=100,
        seed=7,
        progress=True,
    )
    assert r.n_steps <= 100
