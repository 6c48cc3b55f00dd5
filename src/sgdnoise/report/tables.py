"""Tables of result frames, for the terminal (rich) and for the report (Markdown): any frame, and
the goodness-of-fit frames of :func:`sgdnoise.stable.compare_fits` with their summaries."""

from __future__ import annotations

import math

import pandas as pd
from rich.console import Console
from rich.table import Table

PIPE_WIDTH = 140  # columns when output goes to a file or pipe (rich would assume 80 and wrap the tables)


def console() -> Console:
    """A rich console for command output: the terminal's width, or ``PIPE_WIDTH`` when redirected."""
    c = Console()
    return c if c.is_terminal else Console(width=PIPE_WIDTH)


FIT_COLUMNS = (
    ("name", "row"),
    ("alpha", "α"),
    ("scale", "scale"),
    ("loc", "loc"),
    ("gauss_std", "Gauss σ"),
    ("sse_gauss", "SSE G"),
    ("sse_sas", "SSE SαS"),
    ("chi2_gauss", "χ² G"),
    ("chi2_sas", "χ² SαS"),
    ("aic_gauss", "AIC G"),
    ("aic_sas", "AIC SαS"),
    ("symmetry_p", "sym p"),
    ("better", "better"),
)


def _fmt(value) -> str:
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, (bool,)):
        return "yes" if value else ""
    v = float(value)
    return f"{v:.4g}" if abs(v) < 1e5 else f"{v:.3e}"


def fits_table(frame: pd.DataFrame, max_rows: int = 20, title: str = "Per-sample fits") -> Table:
    """The first ``max_rows`` rows of a fit frame; columns absent from the frame are skipped."""
    columns = [(c, label) for c, label in FIT_COLUMNS if c in frame.columns]
    table = Table(title=title if len(frame) <= max_rows else f"{title} (first {max_rows} of {len(frame)})")
    for _, label in columns:
        table.add_column(label, justify="left" if label in ("row", "better") else "right")
    for _, row in frame.head(max_rows).iterrows():
        degenerate = bool(row.get("degenerate", False))
        cells = [_fmt(row[c]) for c, _ in columns]
        if degenerate:
            cells[-1] = "degenerate"
        table.add_row(*cells)
    return table


def layers_table(layers: pd.DataFrame, title: str = "Tail index α per layer (sampled entries)") -> Table:
    """Per-layer table of :func:`sgdnoise.experiments.noise_fits.layer_table`."""
    table = Table(title=title)
    for label in (
        "layer",
        "entries",
        "degenerate",
        "α median",
        "α IQR",
        "α min",
        "SαS better (AIC)",
        "SαS better (χ²)",
    ):
        table.add_column(label, justify="left" if label == "layer" else "right")
    for _, r in layers.iterrows():
        table.add_row(
            str(r["layer"]),
            str(r["entries"]),
            str(r["degenerate"]),
            _fmt(r["alpha_median"]),
            f"{_fmt(r['alpha_q25'])}–{_fmt(r['alpha_q75'])}",
            _fmt(r["alpha_min"]),
            f"{100 * r['sas_better_aic']:.0f}%",
            f"{100 * r['sas_better_chi2']:.0f}%",
        )
    return table


def summary_table(summary: pd.DataFrame, title: str = "Gaussian vs SαS (mean ± std over samples)") -> Table:
    """Table-1-style summary (:func:`sgdnoise.stable.summarize_fits`), with its counts as caption."""
    table = Table(title=title)
    for label in ("metric", "Gaussian", "SαS", "SαS better"):
        table.add_column(label, justify="left" if label == "metric" else "right")
    for _, r in summary.iterrows():
        table.add_row(
            r["metric"],
            f"{_fmt(r['gauss_mean'])} ± {_fmt(r['gauss_std'])}",
            f"{_fmt(r['sas_mean'])} ± {_fmt(r['sas_std'])}",
            f"{100 * r['sas_better_share']:.0f}%",
        )
    table.caption = summary_caption(summary)
    return table


def summary_caption(summary: pd.DataFrame) -> str:
    """One sentence with the counts behind a summary: rows, degenerate rows, α spread, asymmetry."""
    a = summary.attrs
    text = (
        f"{a['n_rows'] - a['n_degenerate']} samples fitted, {a['n_degenerate']} degenerate set aside; "
        f"median α = {_fmt(a['alpha_median'])} (IQR {_fmt(a['alpha_iqr'])})"
    )
    if a.get("n_alpha_at_min"):
        text += f"; α at the lower bound 0.5 for {a['n_alpha_at_min']} samples (tails heavier than the fit range)"
    if a.get("n_asymmetric"):
        text += f"; symmetry doubtful for {a['n_asymmetric']} samples (Wilcoxon p < 0.01)"
    return text + "."


LAW_COLUMNS = (
    ("name", "row"),
    ("class", "class"),
    ("atom_weight", "atom"),
    ("alpha_stable", "α"),
    ("beta_stable", "β"),
    ("beta_lr_pvalue", "β=0 p"),
    ("alpha_sas", "α SαS"),
    ("df_t", "ν"),
    ("hellinger_gauss", "H G"),
    ("hellinger_sas", "H SαS"),
    ("hellinger_stable", "H stable"),
    ("hellinger_t", "H t"),
    ("hellinger_mixture", "H mix"),
    ("best_aic", "best AIC"),
    ("best_bic", "best BIC"),
)


def laws_table(frame: pd.DataFrame, max_rows: int = 20, title: str = "Which law, per sample") -> Table:
    """The first ``max_rows`` rows of a :func:`sgdnoise.stable.compare_laws` frame (the columns it has);
    an α at a fit bound is shown with a ``*`` (no tail index)."""
    columns = [(c, label) for c, label in LAW_COLUMNS if c in frame.columns]
    if "alpha_stable" in frame.columns:  # the stable α says it; keep the table narrow
        columns = [(c, label) for c, label in columns if c != "alpha_sas"]
    table = Table(title=title if len(frame) <= max_rows else f"{title} (first {max_rows} of {len(frame)})")
    for c, label in columns:
        table.add_column(label, justify="left" if c in ("name", "class", "best_aic", "best_bic") else "right")
    for _, row in frame.head(max_rows).iterrows():
        cells = []
        for c, _ in columns:
            cell = _fmt(row[c])
            if c in ("alpha_stable", "alpha_sas") and bool(row.get(f"{c}_at_bound", False)):
                cell += "*"
            if c == "atom_weight" and not row[c]:
                cell = ""
            cells.append(cell)
        table.add_row(*cells)
    return table


def laws_summary_table(summary: pd.DataFrame, title: str = "Which law: win rates and scale-free medians") -> Table:
    """:func:`sgdnoise.stable.summarize_laws` as a table, with its class counts as caption."""
    table = Table(title=title)
    labels = ("law", "wins AIC", "wins BIC", "median ΔAIC", "median ΔBIC", "median KS", "median Hellinger")
    for label in labels:
        table.add_column(label, justify="left" if label == "law" else "right")
    for _, r in summary.iterrows():
        table.add_row(
            r["law"],
            f"{100 * r['wins_aic']:.0f}%",
            f"{100 * r['wins_bic']:.0f}%",
            _fmt(r["median_delta_aic"]),
            _fmt(r["median_delta_bic"]),
            _fmt(r["median_ks"]),
            _fmt(r["median_hellinger"]),
        )
    table.caption = laws_caption(summary.attrs)
    return table


def class_caption(attrs: dict) -> str:
    """``"classes: 90 ordinary, 3 spike_with_tail (median atom 0.31), 1 multimodal, 6 degenerate"``."""
    text = (
        f"classes: {attrs['n_ordinary']} ordinary, {attrs['n_spike_with_tail']} spike_with_tail, "
        f"{attrs['n_multimodal']} multimodal, {attrs['n_degenerate']} degenerate"
    )
    weight = attrs.get("atom_weight_median")
    if attrs["n_spike_with_tail"] and weight == weight:
        text += f" (median atom weight {weight:.3g})"
    return text


def laws_caption(attrs: dict) -> str:
    """The counts behind :func:`sgdnoise.stable.summarize_laws`: classes, α at bounds, the test of β = 0."""
    parts = [class_caption(attrs)]
    for law, label in (("stable", "stable"), ("sas", "SαS")):
        if f"alpha_{law}_median" in attrs:
            parts.append(
                f"{label} α median {_fmt(attrs[f'alpha_{law}_median'])} over rows with α inside (0.5, 2); "
                f"{attrs[f'n_alpha_{law}_at_bound']} at a bound (no tail index)"
            )
            break
    if attrs.get("n_beta_tested"):
        parts.append(f"β = 0 rejected (5%) for {attrs['n_beta_rejected']} of {attrs['n_beta_tested']}")
    return "; ".join(parts) + "."


def frame_table(frame: pd.DataFrame, title: str, float_format: str = "{:.4g}") -> Table:
    """A rich table of ``frame`` (no index): text columns left-aligned, numbers right-aligned."""
    table = Table(title=title)
    for column in frame.columns:
        table.add_column(str(column), justify="left" if frame[column].dtype == object else "right")
    for row in frame.itertuples(index=False):
        table.add_row(*_cells(row, float_format))
    return table


def markdown_table(frame: pd.DataFrame, float_format: str = "{:.4g}") -> str:
    """A GitHub-flavoured Markdown table of ``frame`` (no index)."""
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(_cells(row, float_format)) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def _cells(row: tuple, float_format: str) -> list[str]:
    """A frame row as text: floats by ``float_format``, anything else by ``str``."""
    return [float_format.format(v) if isinstance(v, float) else str(v) for v in row]
