"""Student-t fits against scipy.stats.t.fit and scipy's density and distribution function."""

import numpy as np
import pytest
import torch
from scipy import stats

from sgdnoise.stable.ragged import from_rows
from sgdnoise.stable.student_t import DF_MAX, fit_student_t, fit_t, t_cdf, t_logpdf


@pytest.fixture(scope="module")
def rows():
    rng = np.random.default_rng(3)
    return np.concatenate([stats.t.rvs(df, loc=0.5, scale=3.0, size=(2, 1000), random_state=rng) for df in (1, 3, 8)])


def test_fit_reaches_scipy_maximum_likelihood(rows):
    fit = fit_student_t(rows)
    for i, row in enumerate(rows):
        ref = stats.t.fit(row)  # (df, loc, scale), Nelder–Mead from scipy's own start
        ref_loglik = stats.t.logpdf(row, *ref).sum()
        ours = stats.t.logpdf(row, fit.df[i], fit.loc[i], fit.scale[i]).sum()
        assert fit.loglik[i] == pytest.approx(ours, abs=1e-8)  # the reported log-likelihood is scipy's
        assert ours >= ref_loglik - 1e-7  # at least as high as scipy's optimum
        # both at the same optimum: parameters agree to the optimisers' precision
        assert fit.df[i] == pytest.approx(ref[0], rel=1e-3)
        assert fit.loc[i] == pytest.approx(ref[1], abs=1e-3 * fit.scale[i])
        assert fit.scale[i] == pytest.approx(ref[2], rel=1e-3)
    assert not fit.df_at_bound.any()


def test_gaussian_rows_end_at_the_df_bound():
    x = np.random.default_rng(0).normal(2.0, 0.5, size=(3, 2000))
    fit = fit_student_t(x)
    # a t with huge ν is the Gaussian: where ν runs off to the bound the fit is the Gaussian MLE
    for i in np.flatnonzero(fit.df_at_bound):
        assert fit.df[i] == pytest.approx(DF_MAX)
        assert fit.scale[i] == pytest.approx(x[i].std(), rel=1e-3)
    assert (fit.df > 30).all()


def test_density_and_distribution_function_match_scipy():
    x = torch.linspace(-50, 50, 201, dtype=torch.float64)
    for df in (0.5, 1.0, 4.0, 100.0):
        ref = stats.t(df, loc=1.0, scale=2.0)
        args = [torch.tensor(v, dtype=torch.float64) for v in (1.0, 2.0, df)]
        np.testing.assert_allclose(t_logpdf(x, *args), ref.logpdf(x), rtol=1e-12)
        np.testing.assert_allclose(t_cdf(x, *args), ref.cdf(x), rtol=1e-10, atol=1e-15)


def test_rows_of_different_lengths_fit_as_if_alone(rows):
    # a masked row of the batch gives the same fit as the shortened row on its own
    keep = torch.ones(rows.shape, dtype=torch.bool)
    keep[1, 700:] = False
    together = fit_t(from_rows(torch.from_numpy(rows), keep))
    alone = fit_student_t(rows[1, :700])
    for got, want in zip(together, (alone.loc, alone.scale, alone.df, alone.loglik)):
        assert got[1].item() == pytest.approx(float(want), rel=1e-6)


def test_kind_dtype_and_shape_are_kept(rows):
    t = torch.from_numpy(rows[:4].reshape(2, 2, 1000)).float()
    fit = fit_student_t(t)
    assert isinstance(fit.df, torch.Tensor) and fit.df.dtype == torch.float32 and fit.df.shape == (2, 2)
    assert isinstance(fit_student_t(rows[:2]).df, np.ndarray)
    assert list(fit_student_t(rows[:2]).to_frame().columns) == ["loc", "scale", "df", "loglik", "df_at_bound"]
