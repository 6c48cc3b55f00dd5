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
        tables=(
            Table("escape_times", "Escape time from a trained minimum (steps)", times),
            Table("theory_fits", "Theories fitted to the escape times", fits[["model", "formula", "r2", "aic"]]),
        ),
        figures=(Figure(folder / "escape_time.png", "Escape time against η with fitted laws; survival P(σ > u)"),),
    )
