"""Kramers and Mori across minima of different loss, and the Lévy law with α fixed: the designs
pinned on numbers computed by hand, and exact recovery of laws generated from them."""

import math

import numpy as np
import pytest

from sgdnoise.errors import InvalidInputError
from sgdnoise.theory import alpha_consistency, compare_escape_fits, fit_escape_across_minima, fit_levy_fixed_alpha

# three minima (L*, h) × three learning rates, B = 8, escape at twice the loss
LR = np.tile([0.3, 0.5, 0.7], 3)
B = 8.0
L_MIN = np.repeat([0.05, 0.2, 0.5], 3)
H = np.repeat([4.0, 3.0, 2.0], 3)
L_S = 2 * L_MIN


def mori_tau(a, b):
    r = np.log(L_S / L_MIN)
    return np.exp(a + b * B * r / (LR * H) + 0.5 * r - 0.5 * np.log(H) - np.log(LR))


def kramers_tau(a, b):
    return np.exp(a + b * B * (L_S - L_MIN) / (LR * H) - np.log(LR))


def test_the_designs_by_hand():
    # one point η = 0.5, B = 8, L* = 0.1, L^s = 0.2, h = 4:
    # Kramers x = 8·0.1/(0.5·4) = 0.4; Mori x = 8·ln 2/(0.5·4) = 2.7726, offset ½ln2 − ½ln4 − ln0.5 = ln√2 ≈ 0.34657
    lr, l_min, l_s, h = np.full(4, 0.5), np.full(4, 0.1), np.full(4, 0.2), np.full(4, 4.0)
    lr = np.array([0.3, 0.4, 0.5, 0.7])  # several η so both laws are identifiable; check the η = 0.5 point
    tau_k = np.exp(1.0 + 2.0 * 8 * 0.1 / (lr * 4.0) - np.log(lr))
    fits = {f.model: f for f in fit_escape_across_minima(lr, 8.0, tau_k, l_min, l_s, h).fits}
    assert fits["kramers"].params == pytest.approx({"a": 1.0, "b": 2.0})
    assert fits["kramers"].fitted_tau[2] == pytest.approx(math.exp(1.0 + 2.0 * 0.4 + math.log(2)))
    tau_m = np.exp(1.0 + 1.0 * 8 * math.log(2) / (lr * 4.0) + 0.5 * math.log(2) - 0.5 * math.log(4.0) - np.log(lr))
    fits = {f.model: f for f in fit_escape_across_minima(lr, 8.0, tau_m, l_min, l_s, h).fits}
    assert fits["mori"].params == pytest.approx({"a": 1.0, "b": 1.0})
    assert fits["mori"].fitted_tau[2] == pytest.approx(math.exp(1.0 + 2.772588722 + 0.34657359))
    # on one minimum the two laws are the same: same RSS
    assert fits["mori"].rss == pytest.approx(fits["kramers"].rss, abs=1e-9)


def test_across_minima_each_law_recovers_itself_and_not_the_other():
    for name, tau, other in (("mori", mori_tau(0.5, 1.0), "kramers"), ("kramers", kramers_tau(0.5, 2.0), "mori")):
        fits = {f.model: f for f in fit_escape_across_minima(LR, B, tau, L_MIN, L_S, H).fits}
        assert fits[name].rss == pytest.approx(0.0, abs=1e-18)
        assert fits[other].rss > 1e-3 and fits[other].aic > fits[name].aic
        assert len(fits[name].params) == len(fits[other].params) == len(fits["levy"].params) == 2


def test_levy_with_alpha_fixed_by_hand_and_consistency():
    lr = np.array([0.2, 0.4, 0.8, 0.4])
    batch = np.array([4.0, 8.0, 8.0, 16.0])
    # a = 1, α = 1.5; at η = 0.4, B = 8: log τ = 1 + 1.5·0.91629 + 0.5·2.07944 = 3.41416
    tau = np.exp(1.0 - 1.5 * np.log(lr) + 0.5 * np.log(batch))
    assert math.log(tau[1]) == pytest.approx(3.41416, abs=1e-5)
    fixed = fit_levy_fixed_alpha(lr, batch, tau, 1.5)
    assert fixed.params == pytest.approx({"a": 1.0}) and fixed.rss == pytest.approx(0.0, abs=1e-20)
    wrong = fit_levy_fixed_alpha(
        lr, batch, tau, 1.0
    )  # a = mean(log τ + log η) = 1 + ½ mean(log(B/η)) = 1 + ½ ln(20·20·10·40)/4
    assert wrong.params["a"] == pytest.approx(1.0 + 0.5 * math.log(160000.0) / 4)
    noisy = tau * np.exp([0.05, -0.1, 0.05, 0.0])
    free = {f.model: f for f in compare_escape_fits(lr, batch, noisy).fits}["levy"]
    check = alpha_consistency(free, 1.5)
    assert check["alpha_measured"] == 1.5 and check["z"] == pytest.approx(
        (free.params["alpha"] - 1.5) / free.param_stderr["alpha"]
    )
    assert check["consistent"] is (abs(check["z"]) <= 2)
    with pytest.raises(InvalidInputError, match="alpha must lie"):
        fit_levy_fixed_alpha(lr, batch, tau, 2.5)
    with pytest.raises(InvalidInputError, match="loss_level > loss_min"):
        fit_escape_across_minima(LR, B, mori_tau(0, 1), L_MIN, L_MIN, H)
