"""sample_sas / sample_stable / levy_increments against scipy.stats.levy_stable (an independent implementation)."""

import numpy as np
import pytest
import torch
from scipy import special, stats
from scipy.stats import levy_stable

from sgdnoise.errors import InvalidInputError, SgdNoiseError
from sgdnoise.stable import levy_increments, sample_sas, sample_stable

PROBS = np.array([0.05, 0.1, 0.25, 0.75, 0.9, 0.95])


@pytest.mark.parametrize("alpha", [0.7, 1.0, 1.5, 1.9, 2.0])
def test_quantiles_of_a_million_draws_match_scipy_within_one_percent(alpha):
    # With n = 1e6 the standard error of a sample quantile is sqrt(p(1-p)/n)/f(q_p), below 0.3% of
    # q_p for these p and alpha, so 1% is a > 3-sigma band.
    x = sample_sas(alpha, 2.0, size=1_000_000, seed=11)
    expected = levy_stable.ppf(PROBS, alpha, 0.0, scale=2.0)
    np.testing.assert_allclose(np.quantile(x, PROBS), expected, rtol=0.01)


@pytest.mark.parametrize("alpha", [0.8, 1.3, 1.8])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kolmogorov_smirnov_against_scipy_cdf(alpha, seed):
    x = sample_sas(alpha, 1.0, size=1000, seed=seed)
    assert stats.kstest(x, levy_stable(alpha, 0.0).cdf).pvalue > 0.001


def test_alpha_two_is_gaussian_with_variance_two_scale_squared():
    x = sample_sas(2.0, 3.0, size=400_000, seed=5)
    # variance of the sample variance: 2 sigma^4 / n -> relative sd 0.22%
    assert abs(x.var() / (2 * 9.0) - 1) < 0.01
    assert stats.kstest(x, stats.norm(scale=np.sqrt(18.0)).cdf).pvalue > 0.001


def test_one_alpha_per_row_broadcasts_and_keeps_rows_apart():
    alpha = np.array([[0.8], [2.0]])
    x = sample_sas(alpha, size=(2, 20_000), seed=0)
    assert x.shape == (2, 20_000)
    iqr = np.subtract(*np.quantile(x, [0.75, 0.25], axis=1))
    expected = np.array([np.subtract(*levy_stable.ppf([0.75, 0.25], a, 0)) for a in (0.8, 2.0)])
    np.testing.assert_allclose(iqr, expected, rtol=0.05)


def test_kind_dtype_and_seed_are_kept():
    a32 = torch.full((3, 1), 1.5, dtype=torch.float32)
    t = sample_sas(a32, size=(3, 5), seed=7)
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32 and t.shape == (3, 5)
    n = sample_sas(1.5, size=5, seed=7)
    assert isinstance(n, np.ndarray) and n.dtype == np.float64
    np.testing.assert_array_equal(n, sample_sas(1.5, size=5, seed=7))
    gen = torch.Generator().manual_seed(7)
    np.testing.assert_array_equal(sample_sas(1.5, size=5, seed=gen), n)
    assert not np.array_equal(n, sample_sas(1.5, size=5, seed=8))


def test_levy_increments_scale_as_dt_to_one_over_alpha():
    dt, alpha = 0.01, 1.5
    x = levy_increments(alpha, dt, scale=2.0, size=400_000, seed=3)
    iqr = np.subtract(*np.quantile(x, [0.75, 0.25]))
    expected = 2.0 * dt ** (1 / alpha) * np.subtract(*levy_stable.ppf([0.75, 0.25], alpha, 0))
    assert abs(iqr / expected - 1) < 0.01


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(alpha=0.0),
        dict(alpha=2.1),
        dict(alpha=1.5, scale=-1.0),
        dict(alpha=np.nan),
        dict(alpha=[1.5, 1.2], size=(3,)),
    ],
)
def test_bad_parameters_raise_clear_errors(kwargs):
    with pytest.raises(InvalidInputError):
        sample_sas(**kwargs)


@pytest.mark.parametrize("dt", [0.0, -1.0, float("nan")])
def test_levy_increments_reject_bad_dt(dt):
    with pytest.raises(SgdNoiseError, match="dt"):
        levy_increments(1.5, dt, size=3)


@pytest.mark.parametrize(
    "alpha, beta", [(1.5, 0.5), (1.8, -0.9), (1.2, 1.0), (1.0, 0.6), (1.0, -1.0), (0.8, -0.5), (0.6, 1.0), (2.0, 0.7)]
)
def test_skewed_draws_follow_scipys_s0_law(scipy_s0, alpha, beta):
    x = sample_stable(alpha, beta, 2.0, -0.5, size=3000, seed=4)
    assert stats.kstest(x, lambda q: scipy_s0.cdf(q, alpha, beta, loc=-0.5, scale=2.0)).pvalue > 0.001


def test_levy_closed_form_at_alpha_half_beta_one():
    # S(1/2, 1, 1, 0; 0) + 1 is the standard Levy law, P(L <= t) = erfc(sqrt(1/(2t))) (support t > 0).
    x = sample_stable(0.5, 1.0, size=200_000, seed=9)
    assert x.min() > -1.0
    assert stats.kstest(x + 1.0, lambda t: special.erfc(np.sqrt(0.5 / t))).pvalue > 0.001


def test_sample_quantiles_match_scipys_s0_distribution_function(scipy_s0):
    # With n = 400_000 draws, F(q_hat_p) - p has standard deviation sqrt(p(1-p)/n) <= 8e-4: a 5-sigma band is 4e-3.
    alpha, beta = 1.3, -0.7
    x = sample_stable(alpha, beta, size=400_000, seed=2)
    q = np.quantile(x, PROBS)
    np.testing.assert_allclose(scipy_s0.cdf(q, alpha, beta), PROBS, atol=4e-3)


def test_beta_zero_draws_are_the_sas_draws_plus_loc():
    x = sample_stable(1.3, 0.0, 1.5, 0.25, size=1000, seed=3)
    np.testing.assert_allclose(x, sample_sas(1.3, 1.5, size=1000, seed=3) + 0.25, rtol=1e-12, atol=1e-12)


def test_draws_are_continuous_across_alpha_one():
    # the law is continuous in alpha (S0); the draw for a given (U, W) moves by O(|alpha - 1|)
    at_one = sample_stable(1.0, 0.7, size=2000, seed=5)
    for eps in (1e-5, 1e-9):
        for a in (1 - eps, 1 + eps):
            moved = np.abs(sample_stable(a, 0.7, size=2000, seed=5) - at_one) / (1 + np.abs(at_one))
            assert moved.max() < 1e3 * eps


def test_skewed_parameters_per_row_kind_and_dtype():
    alpha = torch.tensor([[0.8], [1.7]], dtype=torch.float32)
    beta = torch.tensor([[-1.0], [0.5]], dtype=torch.float32)
    t = sample_stable(alpha, beta, size=(2, 50_000), seed=1)
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32 and t.shape == (2, 50_000)
    assert float(t[0].max()) <= np.tan(0.4 * np.pi) + 1e-4  # beta = -1, alpha < 1: support (-inf, tan(pi alpha/2)]
    n = sample_stable(1.5, 0.3, size=4, seed=7)
    assert isinstance(n, np.ndarray) and n.dtype == np.float64
    np.testing.assert_array_equal(n, sample_stable(1.5, 0.3, size=4, seed=7))


@pytest.mark.parametrize(
    "kwargs", [dict(beta=1.5), dict(beta=np.nan), dict(loc=np.inf), dict(alpha=0.0), dict(beta=[0.1, 0.2], size=(3,))]
)
def test_bad_skewed_parameters_raise_clear_errors(kwargs):
    with pytest.raises(InvalidInputError):
        sample_stable(**(dict(alpha=1.5) | kwargs))
