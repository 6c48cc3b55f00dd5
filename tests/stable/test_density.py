"""Tabulated SαS pdf/cdf against scipy.stats.levy_stable (Nolan's integral) and closed forms."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats
from scipy.stats import levy_stable

from sgdnoise.errors import InvalidInputError
from sgdnoise.stable import sas_cdf, sas_logpdf, sas_pdf

RNG = np.random.default_rng(2024)
ALPHAS = np.r_[RNG.uniform(0.5, 2.0, 12), 0.5, 1.0, 1.5, 1.99, 2.0]


def _points(scale):
    # Dense near the centre, Cauchy-spread into the tails. scipy is reliable for 0.005 <= |z| <= 200:
    # beyond ~500 its cdf returns exactly 0 or 1 for some alpha, and within 0.005 of the centre it
    # interpolates linearly (off by up to 4e-5 at alpha = 0.5); those ranges are tested apart.
    z = np.r_[RNG.uniform(-6, 6, 120), RNG.standard_cauchy(120) * 5]
    return scale * z[(np.abs(z) <= 200) & (np.abs(z) >= 0.005)]


@pytest.mark.parametrize("alpha", ALPHAS)
def test_pdf_and_cdf_within_1e5_of_scipy(alpha):
    loc, scale = 0.3, 1.7
    x = loc + _points(scale)
    np.testing.assert_allclose(
        sas_pdf(x, alpha, scale, loc), levy_stable.pdf(x, alpha, 0, loc, scale), atol=1e-5, rtol=0
    )
    np.testing.assert_allclose(
        sas_cdf(x, alpha, scale, loc), levy_stable.cdf(x, alpha, 0, loc, scale), atol=1e-5, rtol=0
    )


@pytest.mark.parametrize("alpha", [0.6, 1.2, 1.8])
def test_relative_accuracy_in_the_far_tail(alpha):
    # scipy's pdf stays accurate far out; the cdf tail is checked by integrating that pdf.
    x = np.array([50.0, 400.0, 2000.0, 1e5])
    np.testing.assert_allclose(sas_pdf(x, alpha), levy_stable.pdf(x, alpha, 0), rtol=1e-4)
    for xi in x[:3]:
        tail = integrate.quad(lambda t: levy_stable.pdf(t, alpha, 0), xi, np.inf, epsabs=0, epsrel=1e-8, limit=200)[0]
        assert abs((1 - sas_cdf(xi, alpha)) / tail - 1) < 1e-3


@pytest.mark.parametrize("alpha", [0.5, 0.8, 1.3, 2.0])
def test_centre_matches_the_two_term_series(alpha):
    # f(z) = (1/(pi alpha)) [Gamma(1/alpha) - Gamma(3/alpha) z^2/2 + O(z^4)],
    # F(z) = 1/2 + (1/(pi alpha)) Gamma(1/alpha) z + O(z^3);
    # at |z| <= 0.005 the omitted terms are below 3e-6 for alpha >= 0.5.
    z = np.linspace(-0.005, 0.005, 21)
    c = 1 / (np.pi * alpha)
    np.testing.assert_allclose(
        sas_pdf(z, alpha), c * (math.gamma(1 / alpha) - math.gamma(3 / alpha) * z**2 / 2), atol=1e-5
    )
    np.testing.assert_allclose(sas_cdf(z, alpha), 0.5 + c * math.gamma(1 / alpha) * z, atol=1e-5)


def test_alpha_two_is_exactly_the_gaussian_of_variance_two():
    x = np.linspace(-60, 60, 241)
    ref = stats.norm(scale=math.sqrt(2.0))
    np.testing.assert_allclose(sas_logpdf(x, 2.0), ref.logpdf(x), rtol=1e-12)
    np.testing.assert_allclose(sas_cdf(x, 2.0), ref.cdf(x), rtol=1e-10, atol=1e-300)


def test_cauchy_closed_form_at_alpha_one():
    x = np.linspace(-30, 30, 101)
    np.testing.assert_allclose(sas_pdf(x, 1.0, 2.0), stats.cauchy(scale=2.0).pdf(x), rtol=1e-6)


def test_batched_rows_with_their_own_alpha_match_row_by_row():
    x = RNG.standard_cauchy((4, 50))
    alpha = np.array([[0.7], [1.1], [1.6], [2.0]])
    batched = sas_logpdf(x, alpha, 1.5)
    rows = np.stack([sas_logpdf(x[i], alpha[i, 0], 1.5) for i in range(4)])
    np.testing.assert_allclose(batched, rows, rtol=1e-12)


def test_torch_float32_in_float32_out():
    x = torch.linspace(-5, 5, 11, dtype=torch.float32)
    p = sas_pdf(x, torch.tensor(1.5))
    assert p.dtype == torch.float32
    np.testing.assert_allclose(p.numpy(), levy_stable.pdf(x.numpy().astype(float), 1.5, 0), atol=1e-6)


def test_density_integrates_to_one():
    x = np.linspace(-2000, 2000, 800_001)
    for alpha in (0.9, 1.5):
        mass = np.trapezoid(sas_pdf(x, alpha), x) + 2 * (1 - sas_cdf(2000.0, alpha))
        assert abs(mass - 1) < 1e-5


@pytest.mark.parametrize("alpha", [0.4, 2.01])
def test_alpha_outside_the_table_is_rejected(alpha):
    with pytest.raises(InvalidInputError, match="alpha"):
        sas_pdf(1.0, alpha)


def test_non_positive_scale_is_rejected():
    with pytest.raises(InvalidInputError, match="scale"):
        sas_cdf(1.0, 1.5, 0.0)


def test_nan_points_give_nan_not_an_index_error():
    x = np.array([np.nan, 1.0])
    assert np.isnan(sas_pdf(x, 1.5)[0]) and np.isfinite(sas_pdf(x, 1.5)[1])
    assert np.isnan(sas_cdf(x, np.array([0.8, 1.2]))[0])
