"""Section of the Lévy escape framework on a network (Battash et al. §3–4; issue 15)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from sgdnoise.report.document import Figure, Section, Table
from sgdnoise.report.sections import section_builder
from sgdnoise.report.sections.words import number, percent

# |Spearman ρ| below this is "no practical predictive power" even when its CI excludes 0
WEAK_CORRELATION = 0.3

MODEL_NAMES = {
    "sgd": "SGD",
    "levy": "GD + SαS (the paper's model)",
    "gauss": "GD + Gaussian (per-parameter variances)",
    "gauss_full": "GD + Gaussian (full Σ)",
    "stable": "GD + skewed stable",
    "theory": "small-noise Lévy law",
}


def alpha_reading(rho: float, low: float, high: float, who: str = "SGD's exits") -> str:
    """Say in words whether exits follow α, from Spearman's ρ(α_l, exits) and its 95% CI.

    The theory predicts a negative ρ (heavier tails, smaller α, more exits). Negative with a CI
    below 0 and ``|ρ| ≥ WEAK_CORRELATION``: they follow α; CI below 0 but weaker: the predicted sign
    without practical predictive power; otherwise: they do not follow α.
    """
    if math.isnan(rho):
        return f"{who}: no Spearman correlation with α (too few exits or eligible parameters)."
    ci = f"Spearman {rho:+.2f} [{low:+.2f}, {high:+.2f}]" if not math.isnan(low) else f"Spearman {rho:+.2f}"
    if high < 0 and rho <= -WEAK_CORRELATION:
        return f"{who} follow α as the theory predicts (heavier tails, more exits): {ci}."
    if high < 0:
        return f"{who} do not follow α in practice: {ci} has the predicted sign but is weak."
    return f"{who} do not follow α: {ci}."


def _steps(value: float) -> str:
    return "never (within the horizon)" if math.isinf(value) else f"{number(value)} steps"


@section_builder("escape_model")
def escape_model_section(result: Any, folder: Path) -> Section:
    c, inputs = result.config, result.inputs
    table = result.summary_frame()
    rows = {r["model"]: r for _, r in table.iterrows()}
    sgd, theory = rows["sgd"], rows["theory"]
    network = c.network or {}
    models = [m for m in rows if m not in ("sgd", "theory")]
    closest = min(models, key=lambda m: rows[m]["ks_to_sgd"]) if models else None
    reading = [
        f"SGD escaped {sgd['n_escaped']} of {sgd['n_seeds']} seeds, median {_steps(sgd['median_steps'])}; "
        + "; ".join(
            f"{MODEL_NAMES.get(m, m)}: median {_steps(rows[m]['median_steps'])} (KS {number(rows[m]['ks_to_sgd'], 2)} "
            f"to SGD)"
            for m in models
        )
        + f"; the small-noise law predicts a mean of {number(theory['mean_steps'])} steps "
        f"(KS {number(theory['ks_to_sgd'], 2)} to SGD).",
        alpha_reading(sgd["spearman_alpha_exits"], sgd["spearman_ci_low"], sgd["spearman_ci_high"])
        + f" The theory itself predicts Spearman {number(theory['spearman_alpha_exits'], 2)} between α and exit "
        f"probability; TV distance between predicted and SGD's exit shares {number(theory['tv_exits_to_sgd'], 2)}.",
    ]
    top1 = sgd.get("median_top1_share", math.nan)
    if not math.isnan(top1):
        levy = rows.get("levy")
        top5 = sgd.get("median_top5_share", math.nan)
        levy_top1 = levy.get("median_top1_share", math.nan) if levy is not None else math.nan
        reading.append(
            f"At SGD's exits the exit parameter carries a median {percent(top1)} of the relative displacement (Σr²)"
            + ("" if math.isnan(top5) else f", the top 5 {percent(top5)}")
            + ("" if math.isnan(levy_top1) else f"; at the Lévy model's exits {percent(levy_top1)}")
            + (": SGD's exits are collective, not single jumps." if top1 < 0.5 else ": one coordinate carries them.")
        )
    if closest is not None and sgd["n_escaped"] > 0:
        reading.append(
            f"Closest to SGD's escape times: {MODEL_NAMES.get(closest, closest)} "
            f"(KS {number(rows[closest]['ks_to_sgd'], 2)}, p = {number(rows[closest]['ks_pvalue'], 2)})"
            + (
                "; none of the noise models reproduces SGD's escape times (every KS ≥ 0.5)."
                if rows[closest]["ks_to_sgd"] >= 0.5
                else "."
            )
        )
    elif sgd["n_escaped"] == 0:
        reading.append(
            f"No SGD seed escaped within {c.max_steps} steps: the comparison of exits needs a longer horizon "
            "or a lower escape level."
        )
    reading.append(
        f"Inputs: {inputs.dim} parameters, {int(inputs.degenerate.sum())} degenerate (no fit), "
        f"{int(inputs.at_bound.sum())} with α at the estimator's bound 0.5; open sides "
        f"{int(inputs.basin.open_lower.sum())} down and {int(inputs.basin.open_upper.sum())} up."
    )
    where = (
        f"a `{network.get('model', 'model')}` on `{network.get('data', 'data')}` trained with plain SGD "
        f"({network.get('epochs')} epochs, lr {network.get('train_lr')}, batch {network.get('train_batch_size')}) "
        f"to a training loss of {number(inputs.min_loss)}"
        if network
        else f"the given model at a training loss of {number(inputs.min_loss)}"
    )
    return Section(
        key="escape_model",
        title="Does the measured α predict how SGD escapes? (Battash et al.'s Lévy framework)",
        text=(
            f"From {where}: α_l, σ_l of every parameter's noise (K = {c.num_batches} mini-batches of B = "
            f"{c.batch_size}), the Hessian diagonal and the basin half-widths where the loss reaches "
            f"{number(inputs.level)}. Then {c.n_seeds} seeds of SGD and of GD plus noise models of SGD from the "
            f"minimum (η = {c.lr}, at most {c.max_steps} steps). The exit parameter of a path is the coordinate "
            "with the largest displacement relative to its half-width; the theory row is the small-noise "
            "(Imkeller–Pavlyukevich) law of the paper on the measured inputs.",
        ),
        reading=tuple(reading),
        tables=(Table("escape_models", "SGD, its noise models and the theory", table),),
        figures=(
            Figure(
                folder / "escape_model.png",
                "Survival P(σ > u) per model with the Lévy law; predicted vs observed exit shares; exits by α bin",
            ),
        ),
    )
