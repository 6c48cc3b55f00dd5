"""Two-Gaussian mixture fits against scikit-learn's GaussianMixture, and the mode count against closed forms."""

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.mixture import GaussianMixture

from sgdnoise.stable.mixture import REG, fit_gaussian_mixture, mixture_cdf, mixture_logpdf, mixture_modes


def _sklearn(row):
    # the same regularisation: REG in units of the squared standardising scale IQR/1.349
    q25, q75 = np.quantile(row, [0.25, 0.75])
    reg = REG * ((q75 - q25) / 1.349) ** 2
    gm = GaussianMixture(2, reg_covar=reg, n_init=2, tol=1e-7, max_iter=1000, random_state=0).fit(row[:, None])
    return gm, gm.score(row[:, None]) * len(row)


@pytest.fixture(scope="module")
def rows():
    rng = np.random.default_rng(5)
    bumps = np.where(rng.random((2, 1000)) < 0.3, rng.normal(-4, 1, (2, 1000)), rng.normal(2, 1.5, (2, 1000)))
    heavy = stats.t.rvs(3, size=(1, 1000), random_state=rng) * 5 + 1
    return np.concatenate([bumps, heavy])


def test_fit_reaches_sklearn_maximum_likelihood(rows):
    fit = fit_gaussian_mixture(rows)
    references = [_sklearn(row) for row in rows]
    for i, row in enumerate(rows):
        gm, ref = references[i]
        assert fit.loglik[i] >= ref - 1e-4  # EM from 4 random starts in sklearn, 5 fixed starts here
        params = (fit.weight, fit.loc1, fit.scale1, fit.loc2, fit.scale2)
        ours = mixture_logpdf(torch.from_numpy(row), *(torch.tensor(v[i]) for v in params))
        assert fit.loglik[i] == pytest.approx(ours.sum().item(), rel=1e-12)
    # well-separated bumps: the same components
    for i in (0, 1):
        gm, _ = references[i]
        order = np.argsort(gm.means_.ravel())
        np.testing.assert_allclose([fit.loc1[i], fit.loc2[i]], gm.means_.ravel()[order], atol=1e-3)
        np.testing.assert_allclose([fit.scale1[i], fit.scale2[i]], np.sqrt(gm.covariances_.ravel()[order]), rtol=1e-3)
        assert fit.weight[i] == pytest.approx(gm.weights_[order[0]], abs=1e-3)
        assert fit.modes[i] == 2 and fit.dip[i] > 0.5


def test_modes_follow_the_closed_form_for_equal_components():
    # equal weights and variances: bimodal exactly when the means are more than 2σ apart
    sep = torch.tensor([1.8, 1.95, 2.05, 2.5, 4.0], dtype=torch.float64)
    half, one = torch.full_like(sep, 0.5), torch.ones_like(sep)
    modes, dip = mixture_modes(half, -sep / 2, one, sep / 2, one)
    assert modes.tolist() == [1, 1, 2, 2, 2]
    # the dip at separation 4: 1 − f(0)/f(mode), mode where tanh(x·d/2·…) balances; computed densely
    grid = np.linspace(0, 2.5, 200001)
    f = 0.5 * stats.norm.pdf(grid, -2) + 0.5 * stats.norm.pdf(grid, 2)
    assert dip[-1].item() == pytest.approx(1 - f[0] / f.max(), abs=1e-4)


def test_distribution_function_is_the_weighted_normal_sum():
    x = torch.linspace(-10, 10, 41, dtype=torch.float64)
    p = [torch.tensor(v, dtype=torch.float64) for v in (0.3, -2.0, 0.5, 1.0, 2.0)]
    ref = 0.3 * stats.norm.cdf(x, -2, 0.5) + 0.7 * stats.norm.cdf(x, 1, 2)
    np.testing.assert_allclose(mixture_cdf(x, *p), ref, rtol=1e-9)  # torch and scipy ndtr differ in the last digits
    np.testing.assert_allclose(
        mixture_logpdf(x, *p), np.log(0.3 * stats.norm.pdf(x, -2, 0.5) + 0.7 * stats.norm.pdf(x, 1, 2)), rtol=1e-12
    )
