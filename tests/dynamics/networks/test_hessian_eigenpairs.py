"""Top Hessian eigenpairs at several points at once (one Lanczos per point) against ``torch.linalg.eigh``
of each point's exact Hessian."""

import pytest
import torch
import torch.nn.functional as F

from sgdnoise.dynamics.networks.hessian_eigenpairs import top_hessian_eigenpairs
from sgdnoise.dynamics.networks.stacked_loss import StackedLoss
from sgdnoise.errors import ConvergenceError

from .zhu_reference import exact_hessian, flat


def _problem(setup):
    model, x, y = setup
    start = flat(model)
    gen = torch.Generator().manual_seed(2)
    theta = torch.stack([start, start + 0.2 * torch.randn(start.shape, generator=gen, dtype=start.dtype)])
    starts = torch.randn(theta.shape, generator=gen, dtype=theta.dtype)
    return StackedLoss(model, F.cross_entropy, x, y), theta, starts, gen


def test_each_point_gets_its_own_top_eigenpairs(setup):
    model, x, y = setup
    loss, theta, starts, gen = _problem(setup)
    values, vectors = top_hessian_eigenpairs(loss, theta, 3, starts, tol=1e-10, generator=gen)
    assert values.shape == (2, 3) and vectors.shape == (2, theta.shape[1], 3)
    for r in range(2):
        lam, u = torch.linalg.eigh(exact_hessian(model, x, y, theta[r]))
        torch.testing.assert_close(values[r], lam.flip(0)[:3], rtol=0, atol=1e-8 * lam.abs().max().item())
        overlap = (vectors[r].T @ u.flip(1)[:, :3]).diagonal().abs()
        torch.testing.assert_close(overlap, torch.ones(3, dtype=overlap.dtype), rtol=0, atol=1e-6)
        peak = vectors[r].abs().argmax(dim=0)
        assert bool((vectors[r][peak, torch.arange(3)] > 0).all())  # sign: largest-magnitude entry positive


class _Diagonal:
    """A stand-in loss whose Hessian is ``diag(1 … P)`` at every point."""

    def __init__(self, dim):
        self.diagonal = torch.arange(1, dim + 1, dtype=torch.float64)

    def hessian_products(self, theta, vectors):
        return vectors * self.diagonal


def test_an_unreachable_tolerance_raises():
    # P = 300 > 100 Lanczos steps (the cap for k = 1); no residual reaches 1e-300·λ₁ (no invariant subspace)
    gen = torch.Generator().manual_seed(0)
    theta, starts = torch.zeros(2, 300, dtype=torch.float64), torch.randn(2, 300, generator=gen, dtype=torch.float64)
    with pytest.raises(ConvergenceError, match="top 1 Hessian eigenpairs of every repeat in 100 steps"):
        top_hessian_eigenpairs(_Diagonal(300), theta, 1, starts, tol=1e-300, generator=gen)
    values, _ = top_hessian_eigenpairs(_Diagonal(300), theta, 1, starts, tol=1e-3, generator=gen)
    torch.testing.assert_close(values, torch.full((2, 1), 300.0, dtype=torch.float64), rtol=1e-3, atol=0)
