"""Battash et al. exit rates, Thm 4.3 (eq. 18–19), eq. 17 and the §3–4 scales, pinned to hand-computed numbers."""

import math

import numpy as np
import pytest
import torch

from sgdnoise.curvature import noise_covariance
from sgdnoise.errors import InvalidInputError
from sgdnoise.theory import (
    battash_convergence_bound,
    battash_covariance_row_sums,
    battash_epsilon,
    battash_exit_probabilities,
    battash_exit_probability_bound,
    battash_exit_rates,
    battash_mean_exit_time_bound,
    battash_mean_exit_time_lr,
    battash_relaxation_time,
    battash_time_between_large_jumps,
    levy_exit_rates,
    levy_measure_constant,
)

ALPHA = np.array([1.5, 1.2])
LOWER = np.array([-1.0, -2.0])
UPPER = np.array([0.5, 1.0])
LAM = np.array([2.0, 1.0])
EPS, RHO = 0.1, 0.5


def test_exit_rates_by_hand_and_equal_to_imkeller_pavlyukevich():
    # paper measure: r = λ^α ε^α Φ / α
    # l=0: 2^1.5 · 0.1^1.5 = 0.0894427191, Φ = 1 + 0.5^-1.5 = 3.8284271247, r = 0.0894427191·3.8284271247/1.5
    # l=1: 0.1^1.2 = 0.0630957344, Φ = 2^-1.2 + 1 = 1.4352752817, r = 0.0630957344·1.4352752817/1.2
    got = battash_exit_rates(ALPHA, EPS, LOWER, UPPER, lam=LAM, levy_measure="paper")
    np.testing.assert_allclose(got, [0.0894427191 * 3.8284271247 / 1.5, 0.0630957344 * 1.4352752817 / 1.2], rtol=1e-9)
    # sas measure: the same times c_α, i.e. Imkeller–Pavlyukevich with the jump amplitude ε λ_l
    sas = battash_exit_rates(ALPHA, EPS, LOWER, UPPER, lam=LAM)
    np.testing.assert_allclose(sas, got * levy_measure_constant(ALPHA), rtol=1e-12)
    np.testing.assert_allclose(sas, levy_exit_rates(ALPHA, EPS * LAM, LOWER, UPPER), rtol=1e-12)


def test_open_side_contributes_nothing():
    open_up = battash_exit_rates(ALPHA, EPS, LOWER, [np.inf, 1.0], lam=LAM, levy_measure="paper")
    assert open_up[0] == pytest.approx(0.0894427191 * 1.0 / 1.5, rel=1e-9)  # Φ = 1^-1.5 + 0
    with pytest.raises(InvalidInputError, match="NaN"):
        battash_exit_rates(ALPHA, EPS, LOWER, [np.nan, 1.0])


def _hand(measure="paper"):
    c = np.ones(2) if measure == "paper" else np.array([float(levy_measure_constant(a)) for a in ALPHA])
    phi = (-LOWER) ** -ALPHA + UPPER**-ALPHA
    m = c * LAM**ALPHA * EPS**ALPHA / ALPHA
    beta = c * 2 * EPS ** (RHO * ALPHA) / ALPHA
    a_nu = ALPHA.mean()  # 1.35
    phi_nu = 1.5**-a_nu + 0.75**-a_nu  # −mean(lower) = 1.5, mean(upper) = 0.75
    first_nu = 1.5**a_nu * phi_nu * EPS ** (a_nu * (1 - RHO)) / 2  # mean λ = 1.5
    a_inv = 1 / ((1 - first_nu) * (1 - beta / beta.sum()))
    return phi, m, beta, a_inv


@pytest.mark.parametrize("measure", ["paper", "sas"])
def test_theorem_4_3_eq_18_at_gamma_one(measure):
    phi, m, beta, a_inv = _hand(measure)
    common = (a_inv * beta**2 * (m * phi) ** -2.0 * math.gamma(2.0) / beta.sum()).sum()  # C_l = 2 at γ = 1
    upper = battash_exit_probability_bound(ALPHA, EPS, LOWER, UPPER, rho=RHO, lam=LAM, levy_measure=measure)
    np.testing.assert_allclose(upper, m * phi / beta * UPPER**-ALPHA * common, rtol=1e-10)
    lower = battash_exit_probability_bound(
        ALPHA, EPS, LOWER, UPPER, rho=RHO, lam=LAM, face="lower", levy_measure=measure
    )
    np.testing.assert_allclose(lower, m * phi / beta * (-LOWER) ** -ALPHA * common, rtol=1e-10)


def test_theorem_4_3_at_gamma_below_one_uses_c_l():
    phi, m, beta, a_inv = _hand("sas")
    gamma = 0.9
    a_nu = ALPHA.mean()
    g = 1 + (gamma - 1) * (ALPHA - 1)
    c_l = ((gamma - 1) * (ALPHA - 1 + RHO * (ALPHA - a_nu)) + 2) / g
    gam = np.array([math.gamma(c) for c in c_l])
    common = (a_inv * beta**2 * (m * phi) ** -c_l * gam / (beta.sum() * g)).sum()
    got = battash_exit_probability_bound(ALPHA, EPS, LOWER, UPPER, rho=RHO, lam=LAM, gamma=gamma)
    np.testing.assert_allclose(got, m * phi / beta * UPPER**-ALPHA * common, rtol=1e-10)


def test_normalised_exit_probabilities_eq_18_and_19():
    # m/β = λ^α ε^{α(1−ρ)}/2 (the measure constant cancels): 2^1.5·0.1^0.75/2 = 0.2514866859,
    # 0.1^0.6/2 = 0.1255943216; Φ = (3.8284271247, 1.4352752817)
    w19 = np.array([0.2514866859 * 3.8284271247, 0.1255943216 * 1.4352752817])
    w18 = w19 * np.array([3.8284271247, 1.4352752817])
    for eq, w in ((18, w18), (19, w19)):
        got = battash_exit_probabilities(ALPHA, EPS, LOWER, UPPER, rho=RHO, lam=LAM, equation=eq)
        np.testing.assert_allclose(got, w / w.sum(), rtol=1e-9)
        assert got.sum() == pytest.approx(1.0)
    with pytest.raises(InvalidInputError, match="equation"):
        battash_exit_probabilities(ALPHA, EPS, LOWER, UPPER, rho=RHO, equation=16)


def test_eq_17_is_cor_4_2_at_the_learning_rate_epsilon():
    lr = 0.05
    eps = np.array([lr ** (0.5 / 1.5), lr ** (0.2 / 1.2)])  # 0.3684031499, 0.6069622310
    np.testing.assert_allclose(battash_epsilon(ALPHA, lr), [0.3684031499, 0.6069622310], rtol=1e-9)
    lam = np.array([0.05, 0.02])
    expected = battash_mean_exit_time_bound(ALPHA, eps, LOWER * 5, UPPER * 5, rho=RHO, lam=lam)
    got = battash_mean_exit_time_lr(ALPHA, lr, LOWER * 5, UPPER * 5, rho=RHO, lam=lam)
    assert got == pytest.approx(expected, rel=1e-12)


def test_relaxation_time_eq_14_by_hand():
    # ε̄^ζ = 0.1^0.5 = 0.316227766; h = 2: max(ln(1/0.3162), ln(0.5/0.3162))/2 = ln(3.16227766)/2
    got = battash_relaxation_time(1.5, EPS, -1.0, 0.5, 2.0, zeta=0.5)
    assert got == pytest.approx(math.log(3.16227766) / 2, rel=1e-8)
    assert battash_relaxation_time(1.5, EPS, -1.0, 0.5, 0.0, zeta=0.5) == math.inf
    assert battash_relaxation_time(1.5, EPS, -0.1, 0.1, 1.0, zeta=0.5) == 0.0  # already inside ε̄^ζ
    with pytest.raises(InvalidInputError, match="zeta"):
        battash_relaxation_time(1.5, EPS, -1.0, 0.5, 2.0, zeta=0)


def test_time_between_large_jumps_eq_15():
    # paper measure: α/2 · ε^{−ρα} = 0.75 · 0.1^{−0.75} = 0.75 · 5.6234132519
    got = battash_time_between_large_jumps(1.5, EPS, rho=RHO, levy_measure="paper")
    assert got == pytest.approx(0.75 * 5.6234132519, rel=1e-9)


def test_lemma_3_1_bound():
    # 2·0.3/0.5 · e^{−2·0.5·2} = 1.2 · 0.1353352832
    assert battash_convergence_bound(0.3, 0.5, 2.0) == pytest.approx(1.2 * 0.1353352832, rel=1e-9)


def test_proposition_3_4_data_term_is_sigma_times_ones():
    gen = torch.Generator().manual_seed(0)
    g = torch.randn(50, 7, generator=gen, dtype=torch.float64) * torch.linspace(0.5, 2, 7, dtype=torch.float64)
    for replace in (False, True):
        sigma = noise_covariance(g, 5, without_replacement=replace)
        direct = sigma.matvec(torch.ones(7, dtype=torch.float64))
        torch.testing.assert_close(
            battash_covariance_row_sums(g, 5, without_replacement=replace), direct, rtol=1e-12, atol=1e-14
        )


def test_proposition_3_4_curvature_term_is_sigma_times_ones_of_the_displaced_gradients():
    # Per-sample losses ½ wᵀA_i w: at w*=0 every gradient is 0, at w the gradients are A_i w, so
    # Σ(w)·1 is eq. 11's curvature term with M = w wᵀ.
    gen = torch.Generator().manual_seed(1)
    a = torch.randn(40, 5, 5, generator=gen, dtype=torch.float64)
    a = a + a.transpose(1, 2)
    w = torch.randn(5, generator=gen, dtype=torch.float64)
    direct = noise_covariance(a @ w, 4).matvec(torch.ones(5, dtype=torch.float64))
    got = battash_covariance_row_sums(
        torch.zeros(40, 5, dtype=torch.float64), 4, sample_hessians=a, second_moment=torch.outer(w, w)
    )
    torch.testing.assert_close(got, direct, rtol=1e-10, atol=1e-12)
    with pytest.raises(InvalidInputError, match="together"):
        battash_covariance_row_sums(torch.zeros(40, 5), 4, sample_hessians=a)
