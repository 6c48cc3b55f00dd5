"""The S0 parameterisation: characteristic function and S0 <-> S1 conversion against closed forms and scipy."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate

from sgdnoise.errors import InvalidInputError
from sgdnoise.stable import s0_to_s1, s1_to_s0, stable_cf

U = np.r_[-5.0, -1.3, -0.2, 0.0, 0.4, 1.0, 3.7]


def test_beta_zero_is_the_package_sas_convention():
    got = stable_cf(U, 1.4, 0.0, 2.0, 0.3)
    np.testing.assert_allclose(got, np.exp(1j * 0.3 * U - (2.0 * np.abs(U)) ** 1.4), rtol=1e-14)


def test_alpha_two_is_the_gaussian_of_variance_two_scale_squared_whatever_beta():
    got = stable_cf(U, 2.0, 0.7, 1.5, -1.0)
    np.testing.assert_allclose(got, np.exp(-1j * U - 1.5**2 * U**2), rtol=1e-12, atol=1e-300)


def test_levy_law_in_s1_and_the_conversion():
    # S(1/2, 1, g, d; 1) is the Levy law with density sqrt(g/2pi) (x-d)^(-3/2) exp(-g/(2(x-d))),
    # whose characteristic function is exp(i d u - sqrt(-2 i g u)) (Nolan 2020, Example 1.5).
    g, d = 1.7, 0.4
    got = stable_cf(U, 0.5, 1.0, g, s1_to_s0(0.5, 1.0, g, d))
    np.testing.assert_allclose(got, np.exp(1j * d * U - np.sqrt(-2j * g * U)), rtol=1e-12)


@pytest.mark.parametrize("alpha, beta", [(1.5, 0.6), (0.8, -0.9), (1.0, 0.5), (1.2, 1.0)])
def test_fourier_inversion_of_the_cf_gives_scipys_s0_density(scipy_s0, alpha, beta):
    # pins the sign of beta and the S0 location against an independent implementation
    scale, loc = 1.3, 0.2
    for x in (-1.0, 0.5, 2.0):

        def integrand(u, x=x):
            return (np.exp(-1j * u * x) * stable_cf(u, alpha, beta, scale, loc)).real / math.pi

        density = integrate.quad(integrand, 0, np.inf, limit=400, epsabs=1e-12)[0]
        assert density == pytest.approx(scipy_s0.pdf(x, alpha, beta, loc=loc, scale=scale), abs=1e-8)


@pytest.mark.parametrize("alpha", [0.7, 1.0, 1.6])
def test_s1_location_gives_scipys_default_s1_density(scipy_s0, alpha):
    beta, scale, loc = -0.6, 2.5, 0.7
    x = np.array([-3.0, 0.1, 4.0])
    s0 = scipy_s0.pdf(x, alpha, beta, loc=loc, scale=scale)
    loc1 = s0_to_s1(alpha, beta, scale, loc)
    scipy_s0.parameterization = "S1"
    np.testing.assert_allclose(scipy_s0.pdf(x, alpha, beta, loc=loc1, scale=scale), s0, rtol=1e-9)
    expected = loc - beta * scale * (math.tan(math.pi * alpha / 2) if alpha != 1 else 2 / math.pi * math.log(scale))
    assert loc1 == pytest.approx(expected, rel=1e-14)


def test_conversions_are_inverse_and_keep_the_array_kind():
    alpha = torch.tensor([0.6, 1.0, 1.9], dtype=torch.float32)
    loc1 = s0_to_s1(alpha, 0.3, torch.tensor(2.0), 0.5)
    assert isinstance(loc1, torch.Tensor) and loc1.dtype == torch.float32
    np.testing.assert_allclose(s1_to_s0(alpha, 0.3, 2.0, loc1).numpy(), 0.5, rtol=1e-6)


def test_the_cf_is_continuous_across_alpha_one():
    for eps in (1e-4, 1e-7, 1e-10):
        for a in (1 - eps, 1 + eps):
            np.testing.assert_allclose(stable_cf(U, a, 0.8, 0.5, 0.0), stable_cf(U, 1.0, 0.8, 0.5, 0.0), atol=50 * eps)


@pytest.mark.parametrize("kwargs", [dict(beta=1.2), dict(beta=np.nan), dict(alpha=0.0), dict(scale=-1.0)])
def test_bad_parameters_raise_clear_errors(kwargs):
    args = dict(alpha=1.5, beta=0.2, scale=1.0, loc=0.0) | kwargs
    for fn in (s0_to_s1, s1_to_s0, lambda **kw: stable_cf(1.0, **kw)):
        with pytest.raises(InvalidInputError):
            fn(**args)
