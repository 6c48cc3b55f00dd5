"""Tabulated S0 pdf/cdf against scipy (where reliable), Fourier inversion of the characteristic
function, mpmath at 20 digits, and closed forms (Gaussian, Cauchy, Lévy)."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate, special, stats

from sgdnoise.errors import InvalidInputError
from sgdnoise.stable import sas_cdf, sas_pdf, stable_cdf, stable_cf, stable_logpdf, stable_pdf

RNG = np.random.default_rng(16)
# scipy replaces alpha within 0.005 of 1 by 1 and x within 0.005 of zeta = -beta tan(pi alpha/2) by zeta, and
# its cdf fails in the short tail of skewed laws (e.g. exactly 1 at x = 14.2 for alpha = 1.146, beta = -0.97,
# where P(X > x) = 3e-4; 0.00414 instead of 0.00473 at x = -7 for alpha = 0.93, beta = 0.9, mpmath below):
# those are checked against the other references.
PAIRS = [(a, b) for a, b in zip(RNG.uniform(0.5, 2.0, 14), RNG.uniform(-1, 1, 14)) if abs(a - 1) > 0.02]
PAIRS += [(0.5, 1.0), (0.5, -0.97), (0.62, 1.0), (0.75, -1.0), (0.93, 0.9), (1.25, -1.0), (1.6, 0.99), (1.97, -0.6)]


def _points(alpha, beta):
    z = np.r_[RNG.uniform(-4, 4, 60), RNG.standard_cauchy(40) * 5]
    z = z[np.abs(z) <= 200]
    zeta = -beta * math.tan(math.pi * alpha / 2)
    return z[np.abs(z - zeta) > 0.02]


def _fourier_pdf_cdf(x, alpha, beta):
    """Inversion of the characteristic function:
    f = (1/pi) int Re(e^{-iux} phi) du, F = 1/2 - (1/pi) int Im(e^{-iux} phi)/u du over u > 0."""

    def re(u):
        return (np.exp(-1j * u * x) * stable_cf(u, alpha, beta)).real / math.pi

    def im(u):
        return (np.exp(-1j * u * x) * stable_cf(u, alpha, beta)).imag / (math.pi * u)

    opts = dict(limit=500, epsabs=1e-13, epsrel=1e-12)
    return integrate.quad(re, 0, np.inf, **opts)[0], 0.5 - integrate.quad(im, 0, np.inf, **opts)[0]


@pytest.mark.parametrize("alpha, beta", PAIRS)
def test_pdf_and_cdf_within_1e5_of_scipy(scipy_s0, alpha, beta):
    loc, scale = -0.4, 2.3
    x = loc + scale * _points(alpha, beta)
    ref_pdf = scipy_s0.pdf(x, alpha, beta, loc=loc, scale=scale)
    np.testing.assert_allclose(stable_pdf(x, alpha=alpha, beta=beta, scale=scale, loc=loc), ref_pdf, atol=1e-5 / scale)
    bulk = x[np.abs(x - loc) <= 4 * scale]
    ref_cdf = scipy_s0.cdf(bulk, alpha, beta, loc=loc, scale=scale)
    np.testing.assert_allclose(stable_cdf(bulk, alpha=alpha, beta=beta, scale=scale, loc=loc), ref_cdf, atol=1e-5)


@pytest.mark.parametrize("alpha", [0.97, 0.996, 1.0, 1.004])
@pytest.mark.parametrize("beta", [-0.8, 1.0])
def test_near_alpha_one_against_fourier_inversion(alpha, beta):
    # where scipy rounds alpha to 1; S0 is continuous there and so are the tables
    for x in (-2.5, -0.6, 0.4, 1.7, 6.0):
        pdf, cdf = _fourier_pdf_cdf(x, alpha, beta)
        assert stable_pdf(x, alpha, beta) == pytest.approx(pdf, abs=1e-5)
        assert stable_cdf(x, alpha, beta) == pytest.approx(cdf, abs=1e-5)


def test_near_zeta_against_fourier_inversion():
    # where scipy replaces x by zeta
    for alpha, beta in ((1.5, 0.8), (0.8, -0.5), (1.9, 1.0)):
        zeta = -beta * math.tan(math.pi * alpha / 2)
        for x in zeta + np.array([-3e-3, 0.0, 1e-4, 4e-3]):
            pdf, cdf = _fourier_pdf_cdf(x, alpha, beta)
            assert stable_pdf(x, alpha, beta) == pytest.approx(pdf, abs=1e-5)
            assert stable_cdf(x, alpha, beta) == pytest.approx(cdf, abs=1e-5)


def test_spot_values_against_mpmath_at_20_digits():
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 20

    def reference(x, alpha, beta):
        x, a, b = mp.mpf(x), mp.mpf(alpha), mp.mpf(beta)
        phase = (
            (lambda u: x * u + 2 * b / mp.pi * u * mp.log(u))
            if alpha == 1
            else (lambda u: x * u + b * mp.tan(mp.pi * a / 2) * (u - u**a))
        )
        pts = mp.linspace(0, 60 ** (1 / a), 120)
        pdf = mp.quad(lambda u: mp.exp(-(u**a)) * mp.cos(phase(u)), pts) / mp.pi
        cdf = mp.mpf(1) / 2 + mp.quad(lambda u: mp.exp(-(u**a)) * mp.sin(phase(u)) / u, pts) / mp.pi
        return float(pdf), float(cdf)

    cases = (
        (0.3, 0.55, -0.9),
        (-1.2, 0.999, 0.7),
        (2.0, 1.0, -0.4),
        (0.9, 1.33, 1.0),
        (-7.0, 0.93, 0.9),
        (-150.0, 1.146, 0.97),
    )
    for x, alpha, beta in cases:
        pdf, cdf = reference(x, alpha, beta)
        assert stable_pdf(x, alpha, beta) == pytest.approx(pdf, abs=1e-5)
        assert stable_cdf(x, alpha, beta) == pytest.approx(cdf, abs=1e-5)


def test_alpha_two_is_the_gaussian_of_variance_two_whatever_beta():
    x = np.linspace(-40, 40, 161)
    ref = stats.norm(scale=math.sqrt(2.0))
    for beta in (-1.0, 0.4):
        np.testing.assert_allclose(stable_logpdf(x, 2.0, beta), ref.logpdf(x), rtol=1e-12)
        np.testing.assert_allclose(stable_cdf(x, 2.0, beta), ref.cdf(x), rtol=1e-10, atol=1e-300)


def test_cauchy_at_alpha_one_beta_zero():
    x = np.linspace(-30, 30, 121)
    np.testing.assert_allclose(stable_pdf(x, 1.0, 0.0, 2.0), stats.cauchy(scale=2.0).pdf(x), rtol=1e-6)
    np.testing.assert_allclose(stable_cdf(x, 1.0, 0.0, 2.0), stats.cauchy(scale=2.0).cdf(x), atol=1e-7)


def test_levy_law_at_the_corner_of_the_table():
    # S(1/2, 1, 1, 0; 0) = L - 1 with L standard Levy: f(t) = exp(-1/(2t)) / sqrt(2 pi t^3), F(t) = erfc(1/sqrt(2t))
    t = np.r_[np.linspace(0.02, 3, 150), 10.0, 100.0, 2000.0]
    pdf = np.exp(-1 / (2 * t)) / np.sqrt(2 * np.pi * t**3)
    np.testing.assert_allclose(stable_pdf(t - 1, 0.5, 1.0), pdf, atol=1e-5)
    np.testing.assert_allclose(stable_cdf(t - 1, 0.5, 1.0), special.erfc(1 / np.sqrt(2 * t)), atol=1e-5)
    np.testing.assert_allclose(stable_pdf(t[-3:] - 1, 0.5, 1.0), pdf[-3:], rtol=1e-4)  # relative accuracy in the tail
    outside = np.array([-5.0, -1.001])
    assert np.all(stable_pdf(outside, 0.5, 1.0) == 0) and np.all(stable_cdf(outside, 0.5, 1.0) == 0)
    assert np.all(np.isneginf(stable_logpdf(outside, 0.5, 1.0)))
    assert np.all(stable_cdf(-outside, 0.5, -1.0) == 1)


@pytest.mark.parametrize("alpha", [0.7, 1.3, 1.9])
def test_beta_zero_agrees_with_the_independent_sas_tables(alpha):
    x = np.r_[np.linspace(-8, 8, 101), 60.0, -500.0]
    np.testing.assert_allclose(stable_pdf(x, alpha, 0.0, 1.5), sas_pdf(x, alpha, 1.5), atol=2e-6)
    np.testing.assert_allclose(stable_cdf(x, alpha, 0.0, 1.5), sas_cdf(x, alpha, 1.5), atol=2e-6)


@pytest.mark.parametrize("alpha, beta", [(0.6, 0.8), (1.0, -0.5), (1.2, 1.0), (1.7, 0.3)])
def test_far_tails_follow_the_tail_series(alpha, beta):
    # f(x) ~ alpha c_alpha (1 + beta) x^(-alpha-1) and P(X > x) ~ c_alpha (1 + beta) x^(-alpha), with
    # c_alpha = Gamma(alpha) sin(pi alpha/2)/pi: at x = 1e9 the next terms are below 1e-4 relative for these laws.
    c = math.gamma(alpha) * math.sin(math.pi * alpha / 2) / math.pi
    x = 1e9
    assert stable_pdf(x, alpha, beta) == pytest.approx(alpha * c * (1 + beta) * x ** (-alpha - 1), rel=1e-4)
    assert 1 - stable_cdf(x, alpha, beta) == pytest.approx(c * (1 + beta) * x ** (-alpha), rel=1e-4)
    if beta < 1:
        assert stable_pdf(-x, alpha, beta) == pytest.approx(alpha * c * (1 - beta) * x ** (-alpha - 1), rel=1e-4)
        assert stable_cdf(-x, alpha, beta) == pytest.approx(c * (1 - beta) * x ** (-alpha), rel=1e-4)
    else:  # the short tail of a totally skewed law with alpha > 1 is lighter than exponential
        assert stable_pdf(-x, alpha, beta) < 1e-30 and stable_cdf(-x, alpha, beta) < 1e-30


def test_tail_values_inside_the_table_against_scipy(scipy_s0):
    for alpha, beta in ((0.8, -0.6), (1.5, 0.7)):
        x = np.array([-300.0, -40.0, 40.0, 300.0])
        np.testing.assert_allclose(stable_pdf(x, alpha, beta), scipy_s0.pdf(x, alpha, beta), rtol=1e-4)


def test_reflection_location_and_scale():
    x = RNG.standard_cauchy(200) * 3
    np.testing.assert_allclose(stable_pdf(x, 0.83, 0.61), stable_pdf(-x, 0.83, -0.61), rtol=1e-10)
    np.testing.assert_allclose(stable_cdf(x, 1.41, -0.3), 1 - stable_cdf(-x, 1.41, 0.3), atol=1e-12)
    np.testing.assert_allclose(
        stable_logpdf(x, 1.1, 0.4, 3.0, -2.0), stable_logpdf((x + 2) / 3, 1.1, 0.4) - math.log(3), rtol=1e-12
    )


def test_continuous_across_alpha_one():
    x = np.linspace(-5, 5, 41)
    at_one = stable_pdf(x, 1.0, 0.8)
    for eps in (1e-3, 1e-6):
        np.testing.assert_allclose(stable_pdf(x, 1 - eps, 0.8), at_one, atol=200 * eps)
        np.testing.assert_allclose(stable_pdf(x, 1 + eps, 0.8), at_one, atol=200 * eps)


def test_density_integrates_to_one_and_to_the_cdf():
    for alpha, beta in ((0.9, 0.7), (1.5, -0.8)):
        x = np.linspace(-2000, 2000, 800_001)
        mass = (
            np.trapezoid(stable_pdf(x, alpha, beta), x)
            + stable_cdf(-2000.0, alpha, beta)
            + 1
            - stable_cdf(2000.0, alpha, beta)
        )
        assert abs(mass - 1) < 1e-5
        a, b = -1.3, 2.2
        inner = integrate.quad(stable_pdf, a, b, args=(alpha, beta), epsabs=1e-10)[0]
        assert inner == pytest.approx(stable_cdf(b, alpha, beta) - stable_cdf(a, alpha, beta), abs=1e-6)


def test_rows_with_their_own_parameters_match_row_by_row():
    # many points per row take the combine-rows-first path, single points the per-point path
    x = RNG.standard_cauchy((4, 3000))
    alpha = np.array([[0.7], [1.0], [1.6], [2.0]])
    beta = np.array([[-1.0], [0.5], [0.9], [0.2]])
    batched = stable_logpdf(x, alpha, beta, 1.5)
    for i in range(4):
        single = np.array([stable_logpdf(x[i, j], alpha[i, 0], beta[i, 0], 1.5) for j in range(0, 3000, 300)])
        np.testing.assert_allclose(batched[i, ::300], single, rtol=1e-10)


def test_torch_float32_in_float32_out_and_nan_propagates():
    x = torch.tensor([-2.0, 0.5, float("nan")], dtype=torch.float32)
    p = stable_pdf(x, torch.tensor(1.5), 0.5)
    assert isinstance(p, torch.Tensor) and p.dtype == torch.float32
    np.testing.assert_allclose(p[:2].numpy(), stable_pdf(x[:2].double().numpy(), 1.5, 0.5), rtol=1e-5)
    assert torch.isnan(p[2]) and np.isnan(stable_cdf(np.nan, 1.5, 0.5))


@pytest.mark.parametrize(
    "kwargs", [dict(alpha=0.45), dict(alpha=2.1), dict(beta=1.01), dict(beta=np.nan), dict(scale=0.0)]
)
def test_bad_parameters_are_rejected(kwargs):
    with pytest.raises(InvalidInputError):
        stable_pdf(1.0, **(dict(alpha=1.5, beta=0.0) | kwargs))
