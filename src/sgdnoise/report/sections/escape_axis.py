"""Section of the escape-axis recipe on 2-D Ackley (Battash et al. Fig. 6)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sgdnoise.report.document import Figure, Section, Table
from sgdnoise.report.sections import section_builder
from sgdnoise.report.sections.words import percent


@section_builder("escape_axis")
def escape_axis_section(result: Any, folder: Path) -> Section:
    ec, table = result.config, result.table
    first, last = table.iloc[0], table.iloc[-1]
    return Section(
        key="escape_axis",
        title="Parameters with heavier tails are the escape route (Battash et al. Fig. 6)",
        text=(
            f"GD plus SαS noise (ε = {ec.eps}, dt = {ec.dt}) on the 2-D Ackley function from its minimum, "
            f"α₂ = {ec.alpha}, α₁ = α₂ − Δ, {ec.paths} paths per Δ; a path exits when it passes radius "
            f"{ec.radius}, through the axis of its larger coordinate.",
        ),
        reading=(
            f"With equal tails (Δ = {first['delta']:g}) {percent(first['p_exit_x1'])} of the paths leave through x₁; "
            f"with x₁'s tail heavier by Δ = {last['delta']:g}, {percent(last['p_exit_x1'])} do"
            + (
                " — the heavier-tailed coordinate is the escape route."
                if last["p_exit_x1"] > first["p_exit_x1"]
                else " — no preference for the heavier-tailed coordinate at this size."
            ),
        ),
        tables=(Table("escape_axis", "Exit through the heavier-tailed axis (2-D Ackley, α₁ = α₂ − Δ)", table),),
        figures=(Figure(folder / "escape_axis.png", "P(exit via x₁) against Δ, ±2 standard errors"),),
    )
