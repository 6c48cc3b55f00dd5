"""compare_fits: each statistic against a plain per-row reference (numpy/scipy), and the verdicts."""

import functools

import numpy as np
import pytest
import torch
from scipy import stats

from sgdnoise.errors import InvalidInputError
from sgdnoise.stable import compare_fits, sample_sas, sas_cdf, sas_pdf, summarize_fits
from sgdnoise.stable.goodness import HIST_RANGE, pooled_chi2


def _pool_reference(observed, expected, min_expected):
    groups, o_acc, e_acc = [], 0.0, 0.0
    for o, e in zip(observed, expected):
        o_acc, e_acc = o_acc + o, e_acc + e
        if e_acc >= min_expected:
            groups.append([o_acc, e_acc])
            o_acc = e_acc = 0.0
    if e_acc > 0:
        groups[-1][0] += o_acc
        groups[-1][1] += e_acc
    return sum((o - e) ** 2 / e for o, e in groups), len(groups)


def test_pooling_matches_a_plain_loop():
    rng = np.random.default_rng(0)
    observed = rng.poisson(6, size=(50, 20)).astype(float)
    expected = rng.exponential(4, size=(50, 20)) * (rng.random((50, 20)) > 0.2)
    stat, groups = pooled_chi2(torch.from_numpy(observed), torch.from_numpy(expected), 5.0)
    for i in range(50):
        ref_stat, ref_groups = _pool_reference(observed[i], expected[i], 5.0)
        assert stat[i].item() == pytest.approx(ref_stat, rel=1e-12)
        assert groups[i].item() == ref_groups


@pytest.fixture(scope="module")
def mixed():
    heavy = sample_sas(1.4, 0.5, size=(30, 1000), seed=1)
    gauss = np.random.default_rng(2).normal(0.1, 2.0, size=(30, 1000))
    return np.concatenate([heavy, gauss]), compare_fits(np.concatenate([heavy, gauss]), method="mle")


def test_statistics_equal_per_row_references(mixed):
    x, frame = mixed
    for i in (0, 45):
        row, r = x[i], frame.iloc[i]
        # Gaussian: scipy's KS and log-likelihood with the same parameters
        gauss = stats.norm(r.gauss_loc, r.gauss_std)
        assert r.ks_gauss == pytest.approx(stats.kstest(row, gauss.cdf).statistic, rel=1e-9)
        assert r.loglik_gauss == pytest.approx(gauss.logpdf(row).sum(), rel=1e-9)
        sas_cdf_row = functools.partial(sas_cdf, alpha=r.alpha, scale=r.scale, loc=r["loc"])
        assert r.ks_sas == pytest.approx(stats.kstest(row, sas_cdf_row).statistic, rel=1e-9)
        # histogram SSE with numpy.histogram on the quantile-clipped range
        lo, hi = np.quantile(row, HIST_RANGE)
        counts, edges = np.histogram(row, bins=100, range=(lo, hi))
        centres = (edges[:-1] + edges[1:]) / 2
        density = counts / (len(row) * (hi - lo) / 100)
        assert r.sse_gauss == pytest.approx(((density - gauss.pdf(centres)) ** 2).sum(), rel=1e-6)
        assert r.sse_sas == pytest.approx(
            ((density - sas_pdf(centres, r.alpha, r.scale, r["loc"])) ** 2).sum(), rel=1e-6
        )
        assert r.aic_sas == pytest.approx(6 - 2 * r.loglik_sas)


def test_chi2_on_quantile_bins_matches_scipy_chisquare_without_pooling(mixed):
    x, frame = mixed
    row, r = x[3], frame.iloc[3]
    m = 32  # default for K = 1000
    edges = np.quantile(row, np.arange(1, m) / m)
    observed = np.diff(np.r_[0, np.searchsorted(np.sort(row), edges, side="right"), len(row)])
    expected = len(row) * np.diff(np.r_[0, sas_cdf(edges, r.alpha, r.scale, r["loc"]), 1])
    assert expected.min() >= 5  # no pooling needed for a good fit, so scipy's plain sum applies
    ref = stats.chisquare(observed, expected, ddof=3)
    assert r.chi2_sas == pytest.approx(ref.statistic, rel=1e-9)
    assert r.chi2_dof_sas == m - 1 - 3
    assert r.chi2_p_sas == pytest.approx(ref.pvalue, rel=1e-6)


def test_verdicts_follow_the_data(mixed):
    _, frame = mixed
    heavy, gauss = frame.iloc[:30], frame.iloc[30:]
    assert (heavy.better == "sas").all() and (heavy.chi2_sas < heavy.chi2_gauss).all()
    assert np.isfinite(heavy.chi2_gauss).all()  # pooling keeps Chi2 finite on heavy tails
    # Gaussian rows: alpha near 2, the extra parameter rarely pays off under AIC, LR test mostly silent
    assert (gauss.alpha > 1.85).all()
    assert (gauss.better == "gauss").mean() >= 0.7
    assert (gauss.lr_pvalue > 0.01).mean() >= 0.9
    assert (heavy.lr_pvalue < 1e-6).all()


def test_summary_counts_and_degenerate_rows():
    rng = np.random.default_rng(5)
    x = np.stack([rng.standard_cauchy(500), np.zeros(500), rng.standard_cauchy(500)])
    frame = compare_fits(x, names=["a", "dead", "c"])
    assert list(frame.name) == ["a", "dead", "c"]
    assert frame.degenerate.tolist() == [False, True, False]
    assert np.isnan(frame.loc[1, "chi2_sas"]) and frame.loc[1, "better"] == ""
    summary = summarize_fits(frame)
    assert summary.attrs["n_degenerate"] == 1 and summary.attrs["n_rows"] == 3
    assert set(summary.metric) == {"SSE", "Chi2", "KS", "AIC"}


def test_skewed_rows_are_flagged_by_the_symmetry_test():
    rng = np.random.default_rng(6)
    skewed = rng.exponential(size=(5, 1000)) - 1.0
    frame = compare_fits(skewed)
    assert (frame.symmetry_p < 0.01).all() and (frame.kelley_skew > 0.1).all()
    assert summarize_fits(frame).attrs["n_asymmetric"] == 5


def test_names_must_match_rows():
    with pytest.raises(InvalidInputError, match="names"):
        compare_fits(np.random.default_rng(0).normal(size=(2, 100)), names=["only-one"])
