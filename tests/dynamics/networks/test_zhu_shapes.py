"""Zhu's noise shapes as factors: ``F Fᵀ`` equals each variant's exact unit-trace ``C`` (brute-force Σ,
exact Hessian)."""

import pytest
import torch
import torch.nn.functional as F

from sgdnoise.dynamics.networks.stacked_loss import StackedLoss
from sgdnoise.dynamics.networks.zhu_shapes import unit_trace_factor

from .zhu_reference import HESSIAN_K, NOISY, exact_shapes, flat


@pytest.mark.parametrize("variant", NOISY)
def test_unit_trace_factor_squares_to_the_exact_shape(setup, variant):
    model, x, y = setup
    loss = StackedLoss(model, F.cross_entropy, x, y)
    theta = flat(model)[None]
    factor = unit_trace_factor(
        variant, theta, loss, hessian_k=HESSIAN_K, tol=1e-10, generators=[torch.Generator().manual_seed(1)]
    )[0]
    c = torch.diag(factor.square()) if factor.ndim == 1 else factor @ factor.T
    exact = exact_shapes(model, x, y)[variant]
    assert torch.allclose(c, exact, atol=1e-9, rtol=0)
    assert c.trace().item() == pytest.approx(1.0, abs=1e-12)
