"""Analytic gradients/Hessians against autograd; domains and schedulers on hand-made points."""

import math

import numpy as np
import pytest
import torch

from sgdnoise.dynamics import (
    Ackley,
    Ball,
    Box,
    ConstantSchedule,
    DoubleWell,
    ExponentialSchedule,
    FunctionPotential,
    MultiStepSchedule,
    PredicateDomain,
    Quadratic,
    ZhuToy,
)
from sgdnoise.errors import InvalidInputError


def _autograd_grad(potential, x):
    return FunctionPotential(potential.value).grad(x)


@pytest.mark.parametrize(
    "potential, dim",
    [
        (Quadratic([[2.0, 0.5, 0.0], [0.5, 1.0, -0.3], [0.0, -0.3, 4.0]], center=[0.1, -0.2, 0.3]), 3),
        (DoubleWell(barrier=0.7, well=1.3, dim=3, stiffness=2.0), 3),
        (Ackley(), 2),
        (ZhuToy(), 2),
    ],
)
def test_analytic_gradient_equals_autograd(potential, dim):
    x = torch.randn(64, dim, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 1.5
    torch.testing.assert_close(potential.grad(x), _autograd_grad(potential, x), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(potential.drift(x), -potential.grad(x))


def test_quadratic_value_and_hessian():
    h = torch.tensor([[3.0, 1.0], [1.0, 2.0]], dtype=torch.float64)
    q = Quadratic(h)
    x = torch.tensor([[0.3, -0.7]], dtype=torch.float64)
    hess = torch.autograd.functional.hessian(lambda v: q.value(v[None])[0], x[0])
    torch.testing.assert_close(hess, h)
    with pytest.raises(InvalidInputError, match="symmetric"):
        Quadratic([[1.0, 2.0], [0.0, 1.0]])


def test_double_well_landmarks():
    dw = DoubleWell(barrier=0.5, well=2.0)
    pts = torch.tensor([[-2.0], [0.0], [2.0]], dtype=torch.float64)
    torch.testing.assert_close(dw.value(pts), torch.tensor([0.0, 0.5, 0.0], dtype=torch.float64))
    hess_min = torch.autograd.functional.hessian(lambda v: dw.value(v[None])[0], pts[0])
    hess_saddle = torch.autograd.functional.hessian(lambda v: dw.value(v[None])[0], pts[1])
    assert hess_min.item() == pytest.approx(8 * 0.5 / 4) and hess_saddle.item() == pytest.approx(-4 * 0.5 / 4)


def test_ackley_minimum_and_subgradient_at_origin():
    zero = torch.zeros(1, 2, dtype=torch.float64)
    assert Ackley().value(zero).item() == pytest.approx(0.0, abs=1e-12)
    assert torch.all(Ackley().grad(zero) == 0)


def test_zhu_toy_hessian_and_per_sample_gradients():
    toy = ZhuToy()
    w = torch.tensor([[1.0, 1.0], [-1.0, -1.0], [1.05, 0.97]], dtype=torch.float64)
    for row in w:
        exact = torch.autograd.functional.hessian(lambda v: toy.value(v[None])[0], row)
        torch.testing.assert_close(toy.hessian(row[None])[0], exact)
    torch.testing.assert_close(toy.per_sample_grad(w).mean(dim=1), toy.grad(w))
    evals = torch.linalg.eigvalsh(toy.hessian(w[:1])[0])
    torch.testing.assert_close(evals, torch.tensor([20.0, 200.0], dtype=torch.float64))
    top = torch.linalg.eigh(toy.hessian(w[:1])[0]).eigenvectors[:, -1]
    assert abs(top @ torch.tensor([1.0, 1.0], dtype=torch.float64)) == pytest.approx(math.sqrt(2))  # sharp along (1, 1)


def test_box_and_ball_exit_axes():
    box = Box([-1.0, -2.0], [1.0, 0.5])
    x = torch.tensor([[0.0, 0.0], [1.2, 0.0], [0.0, -2.5], [1.1, 0.9]], dtype=torch.float64)
    assert box.contains(x).tolist() == [True, False, False, False]
    assert box.exit_axis(x[1:]).tolist() == [0, 1, 1]  # last: overshoot 0.4 on axis 1 beats 0.1 on axis 0
    ball = Ball([0.0, 0.0], 1.0)
    y = torch.tensor([[0.5, 0.5], [0.3, -1.2], [2.0, 0.1]], dtype=torch.float64)
    assert ball.contains(y).tolist() == [True, False, False]
    assert ball.exit_axis(y[1:]).tolist() == [1, 0]
    pred = PredicateDomain(lambda v: v[:, 0] < 0.5, origin=[0.0, 0.0])
    assert pred.contains(y).tolist() == [False, True, False]
    with pytest.raises(InvalidInputError, match="lower < upper"):
        Box([0.0], [0.0])


def test_schedules():
    t = torch.tensor([0.0, 1.0, 3.0, 10.0], dtype=torch.float64)
    torch.testing.assert_close(ConstantSchedule()(t), torch.ones(4, dtype=torch.float64))
    torch.testing.assert_close(ExponentialSchedule(0.5)(t), (t + 1) ** -0.5)
    torch.testing.assert_close(
        MultiStepSchedule([1.0, 5.0], factor=0.1)(t), torch.tensor([1.0, 0.1, 0.1, 0.01], dtype=torch.float64)
    )
    with pytest.raises(InvalidInputError):
        ExponentialSchedule(1.5)
    with pytest.raises(InvalidInputError):
        MultiStepSchedule([], 0.1)
    np.testing.assert_allclose(ExponentialSchedule(1.0)(t).numpy(), 1.0)
