"""compare_laws / summarize_laws: statistics against per-row scipy references, verdicts, and the
null distribution of the likelihood-ratio test of β = 0 checked by simulation."""

import numpy as np
import pytest
from scipy import stats

from sgdnoise.errors import InvalidInputError
from sgdnoise.stable import compare_laws, law_wins_by, sample_sas, sample_stable, summarize_laws
from sgdnoise.stable.goodness import HIST_RANGE, default_chi2_bins

K = 1000


@pytest.fixture(scope="module")
def mixed():
    rng = np.random.default_rng(21)
    x = np.concatenate(
        [
            rng.normal(0.5, 2.0, (3, K)),  # Gaussian
            stats.t.rvs(2.5, loc=1.0, scale=0.2, size=(3, K), random_state=rng),  # Student-t, ν = 2.5
            sample_stable(1.3, 0.9, scale=0.5, size=(3, K), seed=22),  # strongly skewed stable
            np.where(rng.random((2, K)) < 0.5, rng.normal(-4, 1, (2, K)), rng.normal(4, 1, (2, K))),  # two bumps
            np.where(rng.random((1, K)) < 0.25, 0.0, stats.cauchy.rvs(size=(1, K), random_state=rng)),  # spike
            np.zeros((1, K)),  # dead
        ]
    )
    return x, compare_laws(x)


def test_statistics_equal_per_row_scipy_references(mixed):
    x, frame = mixed
    for i in (1, 4):
        row, r = x[i], frame.iloc[i]
        t = stats.t(r.df_t, r.loc_t, r.scale_t)
        assert r.loglik_t == pytest.approx(t.logpdf(row).sum(), rel=1e-10)
        assert r.ks_t == pytest.approx(stats.kstest(row, t.cdf).statistic, rel=1e-9)
        assert r.aic_t == pytest.approx(6 - 2 * r.loglik_t)
        assert r.bic_t == pytest.approx(3 * np.log(K) - 2 * r.loglik_t)
        g = stats.norm(r.loc_gauss, r.scale_gauss)
        assert r.loglik_gauss == pytest.approx(g.logpdf(row).sum(), rel=1e-10)
        # Hellinger on the common binning, by numpy: interior bins on the [0.5%, 99.5%] range plus two tails
        edges = np.quantile(row, np.linspace(*HIST_RANGE, default_chi2_bins(K) + 1))
        counts = np.diff(np.r_[0, np.searchsorted(np.sort(row), edges, side="right"), K]) / K
        probs = np.diff(np.r_[0, t.cdf(edges), 1])
        assert r.hellinger_t == pytest.approx(np.sqrt(1 - np.sqrt(counts * probs).sum()), rel=1e-9)
    # the spike row is compared on its continuous part only
    spike = frame.iloc[11]
    rest = x[11][x[11] != 0.0]
    assert spike.n_continuous == len(rest)
    assert spike.loglik_t == pytest.approx(stats.t(spike.df_t, spike.loc_t, spike.scale_t).logpdf(rest).sum())


def test_each_law_wins_on_its_own_rows(mixed):
    _, frame = mixed
    assert frame["class"].tolist()[-3:] == ["multimodal", "spike_with_tail", "degenerate"]
    assert (frame.best_bic[:3] == "gauss").all()
    assert (frame.best_aic[3:6] == "t").sum() >= 2  # the stable law can come close on a t row
    assert (frame.best_aic[6:9] == "stable").all() and (frame.beta_lr_pvalue[6:9] < 1e-6).all()
    assert (frame.best_aic[9:11] == "mixture").all()
    assert frame.best_aic[12] == "" and np.isnan(frame.loglik_stable[12])
    # Gaussian rows: α̂ near 2; where it is at 2 that is a bound, not a tail index, and flagged
    assert (frame.alpha_sas[:3] > 1.95).all() and frame.alpha_sas_at_bound[:3].any()
    assert frame.alpha_sas_at_bound.eq(frame.alpha_sas.ge(2 - 1e-6) | frame.alpha_sas.le(0.5 + 1e-6)).all()


def test_summary_counts_classes_and_uses_scale_free_measures(mixed):
    _, frame = mixed
    summary = summarize_laws(frame)
    assert summary.law.tolist() == ["gauss", "sas", "stable", "t", "mixture"]
    assert summary.wins_aic.sum() == pytest.approx(1.0)
    assert not any("sse" in c for c in summary.columns)
    a = summary.attrs
    assert (a["n_ordinary"], a["n_multimodal"], a["n_spike_with_tail"], a["n_degenerate"]) == (9, 2, 1, 1)
    assert a["atom_weight_median"] == pytest.approx(0.25, abs=0.05)
    assert a["n_alpha_sas_at_bound"] >= 1 and a["n_beta_tested"] == 12
    # rescaling the data changes no scale-free number
    x, _ = mixed
    scaled = summarize_laws(compare_laws(x[:6] * 1e-4, laws=("gauss", "t")))
    plain = summarize_laws(compare_laws(x[:6], laws=("gauss", "t")))
    np.testing.assert_allclose(scaled.drop(columns="law"), plain.drop(columns="law"), rtol=1e-6, atol=1e-9)


def test_beta_test_null_distribution_by_simulation():
    """SαS rows (β = 0) at K = 1000: the likelihood-ratio statistic must follow χ²₁.

    120 rows keep the test to a few seconds (the benchmark runs 1000). Checks, each at about
    3 standard deviations: rejections at 5% ≤ 14 (Binomial(120, 0.05): mean 6, SD 2.4); the mean
    statistic within 1 ± 0.39 (SD of a χ²₁ mean over 120 rows: √(2/120) = 0.13); p-values uniform
    (Kolmogorov–Smirnov p > 0.001).
    """
    x = sample_sas(1.5, scale=1.0, size=(120, K), seed=31)
    frame = compare_laws(x, laws=("sas", "stable"))
    assert frame.beta_lr_pvalue.notna().all()
    assert (frame.beta_lr_pvalue < 0.05).sum() <= 14
    assert abs(frame.beta_lr_stat.mean() - 1.0) < 0.39
    assert stats.kstest(frame.beta_lr_pvalue, "uniform").pvalue > 1e-3


def test_beta_test_has_power_on_skewed_rows():
    x = sample_stable(1.5, 0.5, size=(20, K), seed=32)
    frame = compare_laws(x, laws=("sas", "stable"))
    assert (frame.beta_lr_pvalue < 0.05).mean() >= 0.7


def test_other_methods_fit_without_the_beta_test():
    x = sample_stable(1.5, 0.5, size=(3, K), seed=33)
    frame = compare_laws(x, laws=("sas", "stable"), method="cf")
    assert frame.alpha_stable.between(1.3, 1.7).all() and frame.beta_lr_stat.isna().all()


def test_bad_arguments_are_refused():
    x = np.random.default_rng(0).normal(size=(2, 100))
    with pytest.raises(InvalidInputError, match="unknown laws"):
        compare_laws(x, laws=("gauss", "cauchy"))
    with pytest.raises(InvalidInputError, match="method"):
        compare_laws(x, method="tail")


def test_law_wins_by_groups_the_comparison_per_layer():
    x = np.concatenate(
        [
            sample_sas(np.full((6, 1), 1.2), scale=1.0, size=(6, 600), seed=5),
            np.random.default_rng(5).standard_normal((6, 600)),
        ]
    )
    frame = compare_laws(x, laws=("gauss", "sas"), method="cf")
    frame["layer"] = ["heavy"] * 6 + ["gauss"] * 6
    table = law_wins_by(frame, "layer")
    assert list(table["layer"]) == ["heavy", "gauss"] and list(table["entries"]) == [6, 6]
    by_layer = table.set_index("layer")
    assert by_layer.loc["heavy", "wins_sas"] == 1.0  # α = 1.2 at K = 600: SαS wins every row by far
    assert by_layer.loc["heavy", "wins_sas"] + by_layer.loc["heavy", "wins_gauss"] == 1.0
    assert by_layer.loc["gauss", "n_ordinary"] == 6
    with pytest.raises(InvalidInputError, match="no column"):
        law_wins_by(frame, "module")
