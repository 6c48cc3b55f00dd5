"""Kramers/Xie and Mori escape formulas against exact 1-D first-passage integrals and hand formulas."""

import math

import numpy as np
import pytest
from scipy import integrate

from sgdnoise.errors import InvalidInputError
from sgdnoise.theory import (
    kramers_escape_time,
    mori_escape_rate,
    mori_stationary_exponent,
    mori_stationary_normalisable,
    xie_sgd_escape_time,
)


def _exact_mean_first_passage(potential, start, target, diffusion):
    """Exact MFPT of dX = −U'dt + √(2D)dW from ``start`` to ``target`` > start (reflecting at −∞):
    T = (1/D) ∫_start^target e^{U(y)/D} ∫_{−∞}^y e^{−U(z)/D} dz dy."""
    inner = lambda y: integrate.quad(lambda z: math.exp(-potential(z) / diffusion), -np.inf, y)[0]  # noqa: E731
    outer, _ = integrate.quad(lambda y: math.exp(potential(y) / diffusion) * inner(y), start, target, limit=200)
    return outer / diffusion


def test_kramers_matches_exact_first_passage_at_high_barrier():
    # U = (x² − 1)², barrier 1, U''(±1) = 8, U''(0) = −4. Passage from −1 to the other minimum +1.
    potential = lambda x: (x * x - 1) ** 2  # noqa: E731
    for diffusion in (1 / 8, 1 / 12):
        exact = _exact_mean_first_passage(potential, -1.0, 1.0, diffusion)
        # corrections are O(D/ΔU): ~10% at ΔU/D = 8, ~7% at 12
        assert kramers_escape_time(1.0, 8.0, -4.0, diffusion) == pytest.approx(exact, rel=0.8 * diffusion + 0.02)


def test_kramers_multidimensional_prefactor():
    h_a, h_b = np.array([2.0, 5.0, 3.0]), np.array([-1.5, 4.0, 6.0])
    expected = 2 * math.pi * math.sqrt(1.5 * 4 * 6 / (2 * 5 * 3)) / 1.5 * math.exp(0.7 / 0.1)
    assert kramers_escape_time(0.7, h_a, h_b, 0.1) == pytest.approx(expected)
    batched = kramers_escape_time(
        np.array([0.7, 0.7]), np.stack([h_a, h_a]), np.stack([h_b, h_b]), np.array([0.1, 0.2])
    )
    assert batched.shape == (2,) and batched[0] == pytest.approx(expected)


def test_xie_reduces_to_kramers_with_isotropic_curvature():
    # With H_ae = |H_be| = h the SGD exponent 2BΔL/(ηh) is Kramers' ΔL/D with D = ηh/(2B).
    h, lr, batch, barrier = 3.0, 0.1, 16, 0.05
    xie = xie_sgd_escape_time(barrier, h, -h, lr, batch, s=0.3)
    kramers = kramers_escape_time(barrier, h, -h, lr * h / (2 * batch))
    assert xie == pytest.approx(kramers)
    ratio = xie_sgd_escape_time(barrier, h, -h, lr, 2 * batch) / xie
    assert math.log(ratio) == pytest.approx(2 * batch * barrier / (lr * h))  # log τ linear in B/η


def test_mori_one_outlier_closed_form():
    l_min, l_s, h_star, h_s, lr, batch = 0.1, 0.4, 5.0, -2.0, 0.05, 8
    expected = math.sqrt(h_star * abs(h_s)) / (2 * math.pi) * (l_s / l_min) ** -(0.5 + batch / (lr * h_star))
    assert mori_escape_rate(l_min, l_s, h_star, h_s, lr, batch) == pytest.approx(expected)


def test_mori_n_outliers():
    h_a, h_b = np.array([4.0, 6.0]), np.array([-2.0, 3.0])
    lr, batch, h_star = 0.1, 4, 5.0
    exponent = batch / (lr * h_star) + 1 - 2 / 2
    expected = 2.0 / (2 * math.pi) * math.sqrt(24 / 6) * 3.0**-exponent
    assert mori_escape_rate(0.2, 0.6, h_a, h_b, lr, batch) == pytest.approx(expected)  # h* defaults to mean = 5
    assert mori_escape_rate(0.2, 0.6, h_a, h_b, lr, batch, h_star=10.0) > expected  # smaller exponent, faster


def test_mori_stationary_law():
    assert mori_stationary_exponent(0.1, 4, 5.0) == pytest.approx(1 + 4 / 0.5)
    np.testing.assert_array_equal(
        mori_stationary_normalisable(np.array([1, 17, 18, 19]), 0.1, 4, 5.0), [True, True, False, False]
    )


def test_bad_inputs():
    with pytest.raises(InvalidInputError, match="exactly one negative"):
        kramers_escape_time(1.0, [1.0, 2.0], [1.0, 2.0], 0.1)
    with pytest.raises(InvalidInputError, match="hessian_min"):
        kramers_escape_time(1.0, [-1.0], [-1.0], 0.1)
    with pytest.raises(InvalidInputError, match="loss_saddle"):
        mori_escape_rate(1.0, 0.5, 1.0, -1.0, 0.1, 4)
    with pytest.raises(InvalidInputError, match="diffusion"):
        kramers_escape_time(1.0, 1.0, -1.0, 0.0)
