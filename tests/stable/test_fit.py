"""fit_sas / fit_gaussian: accuracy on scipy samples of known alpha, the reference MLE, bad input."""

import math

import numpy as np
import pytest
import torch

from sgdnoise.errors import InvalidInputError, TooFewSamplesError
from sgdnoise.stable import fit_gaussian, fit_sas
from sgdnoise.stable.tail import block_size, fit_tail

ACCURACY_ALPHAS = (1.1, 1.3, 1.5, 1.7, 1.9, 2.0)


def _rmse(values, target):
    return float(np.sqrt(np.mean((np.asarray(values) - target) ** 2)))


@pytest.mark.parametrize("alpha", ACCURACY_ALPHAS)
def test_default_method_meets_the_accuracy_targets(scipy_samples, alpha):
    # 120 rows: the RMSE itself has a relative standard error of about 1/sqrt(2*120) = 6%, and the
    # measured values (0.042-0.053 for alpha < 2, 0.016 at 2) sit more than 2 such errors below the bounds.
    fit = fit_sas(scipy_samples(alpha))
    assert _rmse(fit.alpha, alpha) <= (0.06 if alpha < 2 else 0.02)
    assert _rmse(fit.scale, 1.0) <= 0.06
    assert not fit.degenerate.any()


@pytest.mark.parametrize("method, bound", [("quantile", 0.1), ("tail", 0.16)])
def test_other_methods_are_consistent(scipy_samples, method, bound):
    for alpha in (1.3, 1.7):
        assert _rmse(fit_sas(scipy_samples(alpha), method=method).alpha, alpha) <= bound


@pytest.mark.parametrize("alpha", [1.1, 1.5, 1.9])
def test_mle_is_as_accurate_as_the_levy_stable_reference(scipy_samples, alpha):
    levy = pytest.importorskip("levy", reason="levy-stable is a test dependency: pip install -e '.[test]'")
    x = scipy_samples(alpha)[:40]  # levy.fit takes ~0.2 s per row
    ref = np.array([levy.fit(row, beta=0.0).params.alpha for row in x])
    ours = fit_sas(x, method="mle").alpha
    assert _rmse(ours, alpha) <= 1.15 * _rmse(ref, alpha)


def test_mle_does_not_lower_the_likelihood_of_the_cf_start(scipy_samples):
    from sgdnoise.stable import sas_logpdf

    x = scipy_samples(1.5)[:30]
    cf, mle = fit_sas(x, "cf"), fit_sas(x, "mle")
    ll = lambda f: sas_logpdf(x, f.alpha[:, None], f.scale[:, None], f.loc[:, None]).sum(1)  # noqa: E731
    assert np.all(ll(mle) >= ll(cf) - 1e-9)


def test_tail_estimator_reproduces_the_published_formula_and_never_uses_blocks_of_one():
    rng = np.random.default_rng(0)
    k = 997  # prime: Simsekli et al.'s largest-divisor rule would give blocks of size 1
    x = rng.standard_cauchy((3, k))
    k1 = block_size(k)
    assert k1 == 32
    median = np.median(x, axis=1)
    got = fit_tail(torch.from_numpy(x), torch.from_numpy(median), n_orders=1).numpy()
    for row, m, a in zip(x, median, got):
        c = row - m
        k2 = k // k1
        y = c[: k1 * k2].reshape(k2, k1).sum(1)
        used = c[: k1 * k2]
        used = used[used != 0]  # the median of an odd-length row is one of its values
        inv = (np.mean(np.log(np.abs(y))) - np.mean(np.log(np.abs(used)))) / math.log(k1)
        assert a == pytest.approx(min(2.0, max(0.5, 1 / inv)), rel=1e-10)


def test_degenerate_rows_are_flagged_not_fitted():
    rng = np.random.default_rng(1)
    atom = np.r_[np.full(800, 0.25), rng.normal(size=200)]
    x = np.stack([rng.standard_cauchy(1000), np.full(1000, 3.0), atom])
    fit = fit_sas(x)
    np.testing.assert_array_equal(fit.degenerate, [False, True, True])
    assert np.isnan(fit.alpha[1:]).all() and np.isfinite(fit.alpha[0])
    assert fit.atom_share[2] == pytest.approx(0.8)
    assert fit.to_frame().shape == (3, 5)


def test_input_is_not_mutated_and_kind_dtype_dim_are_respected():
    rng = np.random.default_rng(2)
    x = rng.standard_cauchy((100, 4)).astype(np.float32)  # samples along dim 0
    before = x.copy()
    fit = fit_sas(x, dim=0)
    np.testing.assert_array_equal(x, before)
    assert fit.alpha.shape == (4,) and fit.alpha.dtype == np.float32
    np.testing.assert_allclose(fit.alpha, fit_sas(x.T).alpha)
    t = fit_sas(torch.from_numpy(x.T.astype(np.float64)))
    assert isinstance(t.alpha, torch.Tensor) and t.alpha.dtype == torch.float64


@pytest.mark.parametrize(
    "bad, error",
    [
        (np.r_[np.ones(50), np.nan], InvalidInputError),
        (np.r_[np.ones(50), np.inf], InvalidInputError),
        (np.ones(19), TooFewSamplesError),
        (np.float64(1.0), InvalidInputError),
        (["a"] * 30, InvalidInputError),
    ],
)
def test_bad_input_raises_clear_errors(bad, error):
    with pytest.raises(error):
        fit_sas(bad)


def test_unknown_method_is_rejected():
    with pytest.raises(InvalidInputError, match="method"):
        fit_sas(np.random.default_rng(0).normal(size=100), method="magic")


def test_fit_gaussian_is_the_maximum_likelihood_fit():
    x = np.random.default_rng(3).normal(2.0, 3.0, size=(5, 300))
    g = fit_gaussian(x)
    np.testing.assert_allclose(g.loc, x.mean(1))
    np.testing.assert_allclose(g.std, x.std(1))


# α, scale, loc of three rows (Student-t with 1.5 degrees of freedom, a shifted Cauchy, a
# Gaussian), recorded before small inputs took their fast path: the numbers did not change.
RECORDED = {
    ("cf", torch.float64): (
        (1.2708249007969652, 0.9704928069325707, 2.0),
        (0.9124757100868067, 0.3048526869508878, 0.7053804720745186),
        (0.017370776425319968, 0.9803329089983193, -0.017494395459531888),
    ),
    ("cf", torch.float32): (
        (1.2708247900009155, 0.970492422580719, 2.0),
        (0.9124757647514343, 0.3048524856567383, 0.7053806781768799),
        (0.01737077720463276, 0.9803329110145569, -0.01749439537525177),
    ),
    ("quantile", torch.float64): (
        (1.266864259483616, 0.9885339154247177, 1.916490081178612),
        (0.8972048175954935, 0.31607864604320557, 0.6979811035661515),
        (0.018310702217330888, 0.9805154467885667, -0.016821950597765187),
    ),
    ("quantile", torch.float32): (
        (1.2668644189834595, 0.9885340332984924, 1.9164901971817017),
        (0.8972049355506897, 0.31607869267463684, 0.6979811191558838),
        (0.018310703337192535, 0.9805154800415039, -0.016821950674057007),
    ),
    ("tail", torch.float64): (
        (1.419071225847559, 0.9131006281203908, 2.0),
        (0.9029700292271979, 0.31197730049601374, 0.6997706836035367),
        (0.018310702217330888, 0.9805154467885667, -0.016821950597765187),
    ),
    ("tail", torch.float32): (
        (1.4036158323287964, 0.9276064038276672, 1.9514762163162231),
        (0.9024537205696106, 0.31287211179733276, 0.6987312436103821),
        (0.018310703337192535, 0.9805154800415039, -0.016821950674057007),
    ),
}


def _three_rows() -> np.ndarray:
    rng = np.random.default_rng(2024)
    return np.stack([rng.standard_t(1.5, 1000), 0.3 * rng.standard_cauchy(1000) + 1.0, rng.normal(size=1000)])


@pytest.mark.parametrize("method, dtype", list(RECORDED))
def test_numbers_are_those_recorded_before_the_small_input_path(method, dtype):
    x = torch.as_tensor(_three_rows(), dtype=dtype)
    rtol = 1e-12 if dtype == torch.float64 else 0.0  # float32: bit for bit
    recorded = np.asarray(RECORDED[method, dtype])  # (alpha, scale, loc) × 3 rows
    # the tail estimator draws its orderings for the whole array, so only cf and quantile fit a
    # row alone to the same numbers as in a batch
    batches = [slice(0, 3)] if method == "tail" else [slice(0, 3), slice(0, 1), slice(1, 2), slice(2, 3)]
    for rows in batches:
        fit = fit_sas(x[rows], method=method)
        got = np.stack([fit.alpha.double().numpy(), fit.scale.double().numpy(), fit.loc.double().numpy()])
        np.testing.assert_allclose(got, recorded[:, rows], rtol=rtol, atol=0)


@pytest.mark.parametrize("method", ["cf", "quantile", "mle"])  # tail: see above
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_row_fitted_alone_gets_the_numbers_it_gets_among_many(scipy_samples, method, dtype):
    x = scipy_samples(1.5)[:24].astype(dtype)  # 24 rows: the many-row path; one row: the small-input path
    x[5, :400] = 0.5  # a degenerate row, so the fitted rows are picked out of the batch
    many = fit_sas(x, method=method)
    assert many.degenerate[5] and many.degenerate.sum() == 1
    for i in (0, 7, 23):
        alone = fit_sas(x[i], method=method)
        for field in ("alpha", "scale", "loc", "atom_share"):
            assert getattr(alone, field) == getattr(many, field)[i], (i, field)
