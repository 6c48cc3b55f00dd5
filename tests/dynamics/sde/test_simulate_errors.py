"""Bad input to simulate_exit is rejected with a clear InvalidInputError."""

import math

import pytest
import torch

from sgdnoise.dynamics import Ball, Box, Quadratic, simulate_exit
from sgdnoise.errors import InvalidInputError

BASE = dict(alpha=1.5, eps=0.1, dt=0.1, domain=Box([-1.0], [1.0]), n_paths=10, max_steps=10, seed=0)


def _run(drift=None, x0=(0.0,), **changes):
    return simulate_exit(Quadratic([1.0]) if drift is None else drift, list(x0), **{**BASE, **changes})


@pytest.mark.parametrize(
    "changes, match",
    [
        (dict(alpha=2.5), r"alpha must lie in \(0, 2\]"),
        (dict(alpha=0.0), r"alpha must lie in \(0, 2\]"),
        (dict(alpha=None), "needs alpha"),
        (dict(dt=0.0), "dt must be"),
        (dict(dt=-0.1), "dt must be"),
        (dict(eps=0.0), "eps must be"),
        (dict(eps=-1.0), "eps must be"),
        (dict(n_paths=0), "n_paths"),
        (dict(max_steps=2.5), "max_steps must be an int ≥ 1"),
        (dict(block_steps=0), "block_steps must be an int ≥ 1"),
        (dict(record_every=0), "record_every must be an int ≥ 1"),
        (dict(noise="pink", alpha=None), "noise must be"),
        (dict(noise="gaussian"), "alpha applies to noise='levy' only"),
        (dict(domain=Ball([0.0, 0.0], 1.0)), "dimension"),
    ],
)
def test_bad_arguments(changes, match):
    with pytest.raises(InvalidInputError, match=match):
        _run(**changes)


def test_start_outside_domain():
    with pytest.raises(InvalidInputError, match="outside the domain"):
        _run(x0=(1.5,))


def test_drift_nan_at_start():
    with pytest.raises(InvalidInputError, match="NaN or Inf at the starting point"):
        _run(drift=lambda x: torch.full_like(x, math.nan))


def test_drift_nan_during_run():
    with pytest.raises(InvalidInputError, match="produced NaN"):
        _run(drift=lambda x: torch.where(x.abs() > 1e-3, torch.full_like(x, math.nan), -x), eps=0.5)


def test_drift_with_wrong_shape():
    with pytest.raises(InvalidInputError, match="shape"):
        _run(drift=lambda x: x.sum(dim=1))


def test_bad_covariance():
    with pytest.raises(InvalidInputError, match="positive semi-definite"):
        _run(alpha=None, noise=[[-1.0]])
