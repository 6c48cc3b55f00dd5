"""Battash et al. §3.2/§4 formulas against direct integrals of the Lévy measure and hand formulas."""

import math

import numpy as np
import pytest
from scipy import integrate

from sgdnoise.errors import InvalidInputError
from sgdnoise.theory import (
    battash_exit_direction_ratio,
    battash_first_jump_exit_probability,
    battash_jump_intensity,
    battash_mean_exit_time_bound,
    battash_survival_bound,
    levy_measure_constant,
)

ALPHA = np.array([1.2, 1.5, 1.8])
LOWER = np.array([-1.0, -0.7, -1.5])
UPPER = np.array([0.8, 1.0, 1.2])
LAM = np.array([0.5, 1.0, 2.0])
EPS, RHO = 0.05, 0.4


def _tail(alpha, threshold, c=1.0):
    """ν(|y| > threshold) for ν(dy) = c|y|^{−1−α}dy, by quadrature."""
    one_side, _ = integrate.quad(lambda y: c * y ** (-1 - alpha), threshold, np.inf)
    return 2 * one_side


@pytest.mark.parametrize("measure", ["paper", "sas"])
def test_jump_intensity_is_the_measure_of_large_jumps(measure):
    s = 0.6
    beta = battash_jump_intensity(ALPHA, EPS, rho=RHO, schedule_value=s, levy_measure=measure)
    for i, a in enumerate(ALPHA):
        c = 1.0 if measure == "paper" else float(levy_measure_constant(a))
        threshold = EPS**-RHO * s ** (-RHO * (a - 1) / a)  # O of eq. 12
        assert beta[i] == pytest.approx(_tail(a, threshold, c), rel=1e-7)


def test_first_jump_exit_probability_is_a_ratio_of_measures():
    # A large jump J of parameter l moves it by s^{(α−1)/α} ε λ J; it exits if that leaves [d⁻, d⁺].
    s = 0.8
    p = battash_first_jump_exit_probability(ALPHA, EPS, LOWER, UPPER, rho=RHO, lam=LAM, schedule_value=s)
    for i, a in enumerate(ALPHA):
        amplitude = s ** ((a - 1) / a) * EPS * LAM[i]
        up, _ = integrate.quad(lambda y, a=a: y ** (-1 - a), UPPER[i] / amplitude, np.inf)
        down, _ = integrate.quad(lambda y, a=a: y ** (-1 - a), -LOWER[i] / amplitude, np.inf)
        large = _tail(a, EPS**-RHO * s ** (-RHO * (a - 1) / a))
        assert p[i] == pytest.approx((up + down) / large, rel=1e-7)


def _hand_quantities(measure="sas"):
    c = np.array([float(levy_measure_constant(a)) for a in ALPHA]) if measure == "sas" else np.ones(3)
    phi = (-LOWER) ** -ALPHA + UPPER**-ALPHA
    m = c * LAM**ALPHA * EPS**ALPHA / ALPHA
    beta = c * 2 * EPS ** (RHO * ALPHA) / ALPHA
    a_nu = ALPHA.mean()
    phi_nu = (-LOWER.mean()) ** -a_nu + UPPER.mean() ** -a_nu
    first_nu = LAM.mean() ** a_nu * phi_nu * EPS ** (a_nu * (1 - RHO)) / 2
    a_inv = 1 / ((1 - first_nu) * (1 - beta / beta.sum()))
    return phi, m, beta, a_inv


@pytest.mark.parametrize("measure", ["paper", "sas"])
def test_corollary_4_2_is_the_gamma_to_one_limit(measure):
    phi, _, beta, a_inv = _hand_quantities(measure)
    expected = (a_inv * 2 / (beta.sum() * LAM**ALPHA * EPS ** (ALPHA * (1 - RHO)) * phi)).sum()
    got = battash_mean_exit_time_bound(ALPHA, EPS, LOWER, UPPER, rho=RHO, lam=LAM, levy_measure=measure)
    assert got == pytest.approx(expected, rel=1e-10)


def test_corollary_4_6_closed_form():
    phi, m, beta, a_inv = _hand_quantities()
    u = np.array([0.0, 10.0, 300.0])
    expected = (a_inv * beta / beta.sum() * np.exp(-np.outer(u, m * phi))).sum(-1)
    np.testing.assert_allclose(
        battash_survival_bound(u, ALPHA, EPS, LOWER, UPPER, rho=RHO, lam=LAM), expected, rtol=1e-10
    )


@pytest.mark.parametrize("gamma", [1.0, 0.9, 0.7])
def test_mean_time_bound_is_the_integral_of_the_survival_bound(gamma):
    # E σ = ∫ P(σ > u) du links Thm 4.1 and Thm 4.5 (two separately coded formulas).
    bound = battash_mean_exit_time_bound(ALPHA, EPS, LOWER, UPPER, rho=RHO, gamma=gamma, lam=LAM)
    survival = lambda u: float(battash_survival_bound(u, ALPHA, EPS, LOWER, UPPER, rho=RHO, gamma=gamma, lam=LAM))  # noqa: E731
    integral, _ = integrate.quad(survival, 0, np.inf, limit=500)
    assert bound == pytest.approx(integral, rel=1e-6)


def test_slower_cooling_traps_longer():
    times = [battash_mean_exit_time_bound(ALPHA, EPS, LOWER, UPPER, rho=RHO, gamma=g) for g in (1.0, 0.9, 0.8)]
    assert times[0] < times[1] < times[2]


def test_exit_direction_ratio_eq_20():
    r = battash_exit_direction_ratio(ALPHA, EPS, UPPER, rho=RHO, lam=LAM)
    assert r.shape == (3, 3)
    for i in range(3):
        for j in range(3):
            expected = (
                LAM[i] ** ALPHA[i]
                / LAM[j] ** ALPHA[j]
                * EPS ** ((ALPHA[i] - ALPHA[j]) * (1 - RHO))
                * UPPER[i] ** -ALPHA[i]
                / UPPER[j] ** -ALPHA[j]
            )
            assert r[i, j] == pytest.approx(expected, rel=1e-12)
    # eq. 21: the ratio scales as ε^{Δ(1−ρ)}; the lower-α parameter wins as ε → 0.
    r_small = battash_exit_direction_ratio(ALPHA, EPS / 10, UPPER, rho=RHO, lam=LAM)
    assert r_small[0, 2] / r[0, 2] == pytest.approx(10 ** ((ALPHA[2] - ALPHA[0]) * (1 - RHO)))


def test_bounds_need_two_parameters_and_valid_rho():
    with pytest.raises(InvalidInputError, match="at least two"):
        battash_mean_exit_time_bound([1.5], 0.1, -1.0, 1.0, rho=0.5)
    with pytest.raises(InvalidInputError, match="rho"):
        battash_jump_intensity(1.5, 0.1, rho=1.5)
    with pytest.raises(InvalidInputError, match="levy_measure"):
        battash_mean_exit_time_bound(ALPHA, EPS, LOWER, UPPER, rho=RHO, levy_measure="other")
    with pytest.raises(InvalidInputError, match="small-noise"):
        battash_mean_exit_time_bound(ALPHA, 5.0, LOWER, UPPER, rho=RHO)
    assert math.isfinite(battash_mean_exit_time_bound(ALPHA, EPS, LOWER, UPPER, rho=RHO))
