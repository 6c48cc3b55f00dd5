"""Least-squares theory fits on log escape times against numpy/scipy regressions."""

import numpy as np
import pytest
from scipy import stats

from sgdnoise.errors import InvalidInputError, TooFewSamplesError
from sgdnoise.theory import ESCAPE_MODELS, compare_escape_fits, fit_escape_time

LR = np.array([0.01, 0.02, 0.03, 0.05, 0.08, 0.1])


def test_exact_levy_data_is_recovered_and_preferred():
    batch = np.array([8, 8, 16, 16, 32, 32])
    tau = np.exp(2.0) * LR**-1.4 * batch**0.4
    comparison = compare_escape_fits(LR, batch, tau)
    frame = comparison.to_frame()
    assert list(frame["model"]) == ["levy", "kramers", "mori"]
    levy = comparison.fits[0]
    assert levy.params["a"] == pytest.approx(2.0) and levy.params["alpha"] == pytest.approx(1.4)
    assert levy.r2 == pytest.approx(1.0) and frame.loc[0, "delta_aic"] == 0.0
    np.testing.assert_allclose(levy.predict(LR, batch), tau, rtol=1e-9)


def test_kramers_fit_equals_scipy_linregress():
    rng = np.random.default_rng(0)
    batch = 16
    log_tau = 1.0 + 0.02 * batch / LR - np.log(LR) + rng.normal(0, 0.1, LR.size)
    fit = fit_escape_time("kramers", LR, batch, np.exp(log_tau))
    ref = stats.linregress(batch / LR, log_tau + np.log(LR))
    assert fit.params["b"] == pytest.approx(ref.slope) and fit.params["a"] == pytest.approx(ref.intercept)
    assert fit.param_stderr["b"] == pytest.approx(ref.stderr)
    assert fit.r2 == pytest.approx(1 - fit.rss / ((log_tau - log_tau.mean()) ** 2).sum())
    n, k = LR.size, 2
    assert fit.aic == pytest.approx(n * np.log(fit.rss / n) + 2 * k)
    np.testing.assert_allclose(
        fit.residuals, log_tau + np.log(LR) - (ref.intercept + ref.slope * batch / LR), atol=1e-10
    )


def test_every_model_has_two_parameters_and_mori_shares_kramers_form():
    assert all(len(m.param_names) == 2 for m in ESCAPE_MODELS.values())
    tau = np.exp(0.5 + 0.3 / LR)
    k, m = compare_escape_fits(LR, 1, tau, models=("kramers", "mori")).fits
    assert k.params == pytest.approx(m.params)


def test_fit_errors():
    with pytest.raises(TooFewSamplesError):
        fit_escape_time("levy", [0.1, 0.2], 8, [10.0, 5.0])
    with pytest.raises(InvalidInputError, match="unknown"):
        fit_escape_time("arrhenius", LR, 8, np.ones(6))
    with pytest.raises(InvalidInputError, match="tau"):
        fit_escape_time("levy", LR, 8, [1, 2, 3, np.inf, 5, 6])
    with pytest.raises(InvalidInputError, match="identifiable"):
        fit_escape_time("levy", np.full(4, 0.1), 8, [1.0, 2.0, 3.0, 4.0])
