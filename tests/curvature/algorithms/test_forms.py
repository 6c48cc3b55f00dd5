"""Quadratic forms of an operator against dense algebra."""

import torch

from sgdnoise.curvature import DenseOperator
from sgdnoise.curvature.algorithms import quadratic_forms


def test_quadratic_forms_are_the_diagonal_of_vt_a_v_in_any_blocking():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(30, 30, generator=gen, dtype=torch.float64)
    op = DenseOperator(a + a.T)
    v = torch.randn(30, 7, generator=gen, dtype=torch.float64)
    dense = torch.diagonal(v.T @ (a + a.T) @ v)
    torch.testing.assert_close(quadratic_forms(op, v), dense, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(quadratic_forms(op, v, 3), dense, rtol=1e-12, atol=1e-12)
    assert op.n_products == 14  # one product per column, whatever the blocks
