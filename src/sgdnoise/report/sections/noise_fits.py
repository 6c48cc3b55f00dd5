"""Section of the gradient-noise fits: the bundled recipe's (a trained registry network) or a
study's (a user's model at its weights), with the same reading."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from sgdnoise.report.document import Figure, Section, Table
from sgdnoise.report.sections import section_builder
from sgdnoise.report.sections.words import number, percent
from sgdnoise.report.tables import summary_caption
from sgdnoise.stable import law_wins_by


def noise_reading(summary: pd.DataFrame, layers: pd.DataFrame) -> tuple[str, ...]:
    """What the fits say: SαS against the Gaussian by AIC and χ², the share of entries whose
    symmetry is rejected, the degenerate entries set aside, the α spread and the heaviest layer."""
    a = summary.attrs
    fitted = int(a["n_rows"] - a["n_degenerate"])
    share = dict(zip(summary["metric"], summary["sas_better_share"]))
    lines = [
        f"SαS beats the Gaussian on AIC for {percent(share.get('AIC', float('nan')))} of the {fitted} fitted "
        f"entries and on χ² for {percent(share.get('Chi2', float('nan')))}"
        + (
            f"; symmetry is rejected (Wilcoxon p < 0.01) for {percent(a.get('n_asymmetric', 0) / fitted)}."
            if fitted
            else "."
        ),
        f"{a['n_degenerate']} of {a['n_rows']} sampled entries are degenerate (their noise sits at one value, "
        "e.g. behind a dead ReLU) and were set aside, not fitted.",
        f"The median tail index is α = {number(a['alpha_median'])} (IQR {number(a['alpha_iqr'])}); "
        + (
            "α = 2 is the Gaussian, so "
            + ("the noise is close to Gaussian." if a["alpha_median"] > 1.9 else "the typical entry is heavy-tailed.")
        ),
    ]
    ranked = layers.dropna(subset=["alpha_median"]).sort_values("alpha_median")
    if len(ranked) > 1:
        low, high = ranked.iloc[0], ranked.iloc[-1]
        lines.append(
            f"The heaviest tails are in `{low['layer']}` (median α {number(low['alpha_median'])}), the lightest in "
            f"`{high['layer']}` (median α {number(high['alpha_median'])})."
        )
    if a.get("n_alpha_at_min"):
        lines.append(
            f"{a['n_alpha_at_min']} entries have α at the fit's lower bound 0.5: their tails are heavier than the "
            "fit can say, so no tail index is reported for them."
        )
    return tuple(lines)


def _tables(result: Any) -> tuple[Table, ...]:
    tables = (
        Table("summary", "Gaussian vs SαS (mean ± std over fitted entries; share where SαS is better)", result.summary),
        Table("layers", "Tail index α per layer (sampled entries)", result.layers),
    )
    laws = getattr(result, "laws", None)
    if laws is None:
        return tables
    return (
        *tables,
        Table(
            "laws_by_layer",
            "Which law wins per layer (share of fitted entries by AIC), entry classes, β = 0 rejected (p < 0.05)",
            law_wins_by(laws, "layer"),
        ),
        Table(
            "laws_summary", "Every law: win rates (AIC, BIC), medians of ΔAIC, ΔBIC, KS, Hellinger", result.laws_summary
        ),
    )


def laws_reading(summary: pd.DataFrame) -> tuple[str, ...]:
    """What the comparison of laws says: the entry classes, the winner by AIC and by BIC, and the test of β = 0."""
    a = summary.attrs
    wins = summary.set_index("law")
    best_aic, best_bic = wins["wins_aic"].idxmax(), wins["wins_bic"].idxmax()
    lines = [
        f"Entry classes, decided before any fit: {a.get('n_ordinary', 0)} ordinary, {a.get('n_spike_with_tail', 0)} "
        f"spike-with-tail (an atom, median weight {percent(a.get('atom_weight_median', float('nan')))}, plus a "
        f"continuous part), {a.get('n_multimodal', 0)} multimodal, {a.get('n_degenerate', 0)} degenerate.",
        f"Among Gaussian, SαS, skewed stable, Student-t and a two-Gaussian mixture, `{best_aic}` wins most often on "
        f"AIC ({percent(wins.loc[best_aic, 'wins_aic'])} of the fitted entries) and `{best_bic}` on BIC "
        f"({percent(wins.loc[best_bic, 'wins_bic'])}).",
    ]
    if a.get("n_beta_tested"):
        lines.append(
            f"Symmetry (β = 0, likelihood-ratio test) is rejected at 5% for {a['n_beta_rejected']} of "
            f"{a['n_beta_tested']} tested entries."
        )
    return tuple(lines)


def noise_figures(folder: Path) -> tuple[Figure, ...]:
    return (
        Figure(folder / "histograms.png", "Noise histograms of six entries with the fitted Gaussian and SαS densities"),
        Figure(folder / "alpha_by_layer.png", "Fitted α of the sampled entries, per layer"),
    )


@section_builder("noise_fits")
def noise_fits_section(result: Any, folder: Path) -> Section:
    if not hasattr(result, "training"):
        return _model_noise_section(result, folder)
    cfg, t = result.config, result.training
    return Section(
        key="noise_fits",
        title="Gradient noise of a trained network (Battash et al. Table 1, Figs. 1 and 5)",
        text=(
            f"`{cfg.model}` trained on `{cfg.data}` with plain SGD ({cfg.epochs} epochs, lr {cfg.lr}, batch "
            f"{cfg.train_batch_size}; train accuracy {t['train_accuracy']:.3f}, test accuracy "
            f"{t['test_accuracy']:.3f}). At the final weights, the noise u_k = ∇U − g_k of K = {cfg.num_batches} "
            f"random mini-batches of B = {cfg.batch_size} was collected for {cfg.per_layer} random entries of every "
            f"parameter tensor ({result.collection['engine']} gradient engine, {result.collection['seconds']:.1f} s) "
            f"and fitted per entry (method `{cfg.method}`).",
            summary_caption(result.summary),
            "SSE has the units of a squared density and favours SαS, which nests the Gaussian; AIC and χ² account "
            "for the extra parameter.",
        ),
        reading=noise_reading(result.summary, result.layers)
        + (laws_reading(result.laws_summary) if getattr(result, "laws_summary", None) is not None else ()),
        tables=_tables(result),
        figures=noise_figures(folder),
    )


def _model_noise_section(result: Any, folder: Path) -> Section:
    cfg = result.config
    return Section(
        key="noise_fits",
        title="Gradient noise per parameter: Gaussian or SαS?",
        text=(
            f"At the model's weights, the noise u_k = ∇U − g_k of K = {cfg.num_batches} random mini-batches of "
            f"B = {cfg.batch_size} was collected for {cfg.per_layer} random entries of every parameter tensor "
            f"({result.collection['engine']} gradient engine) and each entry's K values fitted with a Gaussian and "
            f"an SαS law (method `{cfg.method}`).",
            summary_caption(result.summary),
        ),
        reading=noise_reading(result.summary, result.layers),
        tables=_tables(result),
        figures=noise_figures(folder),
    )
