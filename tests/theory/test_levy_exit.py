"""Imkeller–Pavlyukevich exit rates and the Lévy-measure constant c_α of sgdnoise's SαS convention."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from sgdnoise.errors import InvalidInputError
from sgdnoise.theory import levy_exit_probabilities, levy_exit_rates, levy_mean_exit_time, levy_measure_constant


@pytest.mark.parametrize("alpha", [0.5, 1.0, 1.5, 1.9])
@pytest.mark.parametrize("u", [0.5, 2.0])
def test_levy_khintchine_with_c_alpha_gives_the_characteristic_exponent(alpha, u):
    # ∫ (1 − cos uy) c_α |y|^{−1−α} dy must equal |u|^α for E e^{iuX} = exp(−|u|^α).
    c = levy_measure_constant(alpha)
    # on (0, 1] integrate the smooth 2 sin²(uy/2)/y² against the algebraic weight y^{1−α}
    smooth = lambda y: 2 * math.sin(u * y / 2) ** 2 / y**2 if y > 0 else u**2 / 2  # noqa: E731
    near, _ = integrate.quad(smooth, 0, 1, weight="alg", wvar=(1 - alpha, 0))
    far, _ = integrate.quad(lambda y: y ** (-1 - alpha), 1, np.inf)
    oscillating, _ = integrate.quad(lambda y: y ** (-1 - alpha), 1, np.inf, weight="cos", wvar=u)
    exponent = 2 * c * (near + far - oscillating)
    assert exponent == pytest.approx(abs(u) ** alpha, rel=1e-6)


@pytest.mark.parametrize("alpha", [0.8, 1.5])
def test_c_alpha_matches_scipy_stable_tail(alpha):
    # P(X > x) ~ (c_α/α) x^{−α} for standard SαS (scipy's S1 with β = 0, scale 1 is our convention).
    x = 200.0  # scipy's sf underflows to 0 further out for α = 1.5; the x^{−2α} correction is < 1% here
    sf = stats.levy_stable.sf(x, alpha, 0.0)
    assert sf == pytest.approx(levy_measure_constant(alpha) / alpha * x**-alpha, rel=0.02)


def test_c_alpha_special_values():
    assert levy_measure_constant(1.0) == pytest.approx(1 / math.pi)  # Cauchy density ~ 1/(π y²)
    assert levy_measure_constant(2.0) == 0.0  # Brownian motion has no jumps


def test_rates_equal_levy_measure_of_the_exit_set():
    alpha, eps, lower, upper = np.array([0.7, 1.3, 1.8]), 0.1, np.array([-1.0, -0.5, -2.0]), np.array([0.8, 1.5, 1.0])
    rates = levy_exit_rates(alpha, eps, lower, upper)
    for i in range(3):
        c = float(levy_measure_constant(alpha[i]))
        density = lambda y, a=alpha[i], c=c: c * y ** (-1 - a)  # noqa: E731
        above, _ = integrate.quad(density, upper[i] / eps, np.inf)
        below, _ = integrate.quad(density, -lower[i] / eps, np.inf)
        assert rates[i] == pytest.approx(above + below, rel=1e-7)


def test_mean_time_and_probabilities_from_rates():
    alpha = np.array([[1.2, 1.6], [1.5, 1.5]])
    rates = levy_exit_rates(alpha, 0.05, -1.0, 1.0)
    np.testing.assert_allclose(levy_mean_exit_time(alpha, 0.05, -1.0, 1.0), 1 / rates.sum(-1))
    probs = levy_exit_probabilities(alpha, 0.05, -1.0, 1.0)
    np.testing.assert_allclose(probs.sum(-1), 1.0)
    np.testing.assert_allclose(probs[1], [0.5, 0.5])
    assert probs[0, 0] > probs[0, 1]  # lower α is the likelier exit at small ε


def test_one_dimensional_closed_form():
    a, eps = 1.5, 0.1
    c = math.gamma(1 + a) * math.sin(math.pi * a / 2) / math.pi
    assert levy_mean_exit_time(a, eps, -1.0, 1.0) == pytest.approx(a / (c * eps**a * 2))


def test_gaussian_axes_never_exit_by_jumps():
    assert levy_mean_exit_time([2.0, 2.0], 0.1, -1.0, 1.0) == np.inf
    np.testing.assert_allclose(levy_exit_probabilities([1.5, 2.0], 0.1, -1.0, 1.0), [1.0, 0.0])


def test_kind_is_preserved():
    out = levy_mean_exit_time(torch.tensor([1.2, 1.7], dtype=torch.float32), 0.1, -1.0, 1.0)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    assert isinstance(levy_exit_rates(np.array([1.2]), 0.1, -1.0, 1.0), np.ndarray)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(alpha=2.5, eps=0.1, lower=-1, upper=1), "alpha"),
        (dict(alpha=0.0, eps=0.1, lower=-1, upper=1), "alpha"),
        (dict(alpha=1.5, eps=0.0, lower=-1, upper=1), "eps"),
        (dict(alpha=1.5, eps=0.1, lower=0.5, upper=1), "lower"),
        (dict(alpha=1.5, eps=0.1, lower=-1, upper=-0.5), "upper"),
        (dict(alpha=[1.5, 1.2], eps=0.1, lower=[-1, -1, -1], upper=1), "broadcast"),
        (dict(alpha=float("nan"), eps=0.1, lower=-1, upper=1), "NaN"),
    ],
)
def test_bad_inputs(kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        levy_mean_exit_time(**kwargs)
