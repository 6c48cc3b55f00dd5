"""Section of the escape-time recipe (Battash et al. Figs. 3 and 4)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sgdnoise.report.document import Figure, Section, Table
from sgdnoise.report.sections import section_builder
from sgdnoise.report.sections.words import number


@section_builder("escape_time")
def escape_time_section(result: Any, folder: Path) -> Section:
    c, times, fits = result.config, result.times, result.fits
    tau = times["mean_steps_exponential_mle"]
    best = fits.sort_values("aic").iloc[0]
    reading = (
        f"The mean escape time goes from {number(tau.iloc[0])} steps at η = {times['lr'].iloc[0]:g} to "
        f"{number(tau.iloc[-1])} at η = {times['lr'].iloc[-1]:g}; {int(times['n_escaped'].sum())} of "
        f"{int(times['n_seeds'].sum())} seeds escaped within {c.max_steps} steps.",
        f"The best law by AIC is `{best['model']}` ({best['formula']}, R² = {number(best['r2'])}).",
    )
    if "note" in fits and (fits["model"] == "kramers = mori").any():
        reading += (
            "Kramers and Mori are one row: on one minimum the loss there, the barrier and h are constants, so both "
            "are log τ = a + b·B/η − log η.",
        )
    check = getattr(result, "alpha_check", None)
    if check is not None and len(check):
        c0 = check.iloc[0]
        verdict = {True: "consistent with", False: "not consistent with"}.get(c0["consistent"], "undecided against")
        reading += (
            f"The measured α (median over the entries) is {number(c0['alpha_measured'])}, "
            f"{verdict} the Lévy fit's slope α = {number(c0['alpha_fitted'])} ± {number(c0['alpha_fitted_stderr'])} "
            f"(z = {number(c0['z'], 2)}).",
        )
    minima, minima_fits = getattr(result, "minima", None), getattr(result, "minima_fits", None)
    if minima_fits is not None and len(minima_fits):
        best_m = minima_fits.sort_values("aic").iloc[0]
        two = minima_fits[minima_fits["model"].isin(["kramers", "mori"])].set_index("model")
        reading += (
            f"Across {int(minima_fits['n_minima'].iloc[0])} minima (training losses "
            f"{', '.join(number(v) for v in minima['loss_min'])}), where Kramers and Mori differ, the best law by AIC "
            f"is `{best_m['model']}` (R² = {number(best_m['r2'])}; Kramers R² = {number(two.loc['kramers', 'r2'])}, "
            f"Mori R² = {number(two.loc['mori', 'r2'])}, two free parameters each).",
        )
    tables = [
        Table("escape_times", "Escape time from a trained minimum (steps)", times),
        Table(
            "theory_fits",
            "Theories fitted to the escape times",
            fits[[c for c in ("model", "formula", "r2", "aic", "note") if c in fits]],
        ),
    ]
    if check is not None and len(check):
        tables.append(Table("alpha_check", "Measured α against the Lévy law's fitted slope", check))
    if minima is not None and minima_fits is not None:
        tables.append(Table("minima", "Minima of different loss (labels replaced at random)", minima))
        tables.append(
            Table(
                "minima_fits",
                "Theories fitted across minima",
                minima_fits[["model", "formula", "n_points", "r2", "aic", "delta_aic"]],
            )
        )
    return Section(
        key="escape_time",
        title="Escape time from a minimum of a network (Battash et al. Figs. 3 and 4)",
        text=(
            f"A 3-layer ReLU MLP trained on `{c.data}` (lr {c.train_lr}, batch {c.train_batch_size}) to a minimum; "
            f"from there {c.seeds} SGD seeds at once until the training loss exceeds {c.factor}× its minimum value "
            f"(at most {c.max_steps} steps). τ is the exponential-law estimate (total steps / escapes), the plain "
            "mean when every seed escaped.",
        ),
        reading=reading,
        tables=tuple(tables),
        figures=(Figure(folder / "escape_time.png", "Escape time against η with fitted laws; survival P(σ > u)"),),
    )
