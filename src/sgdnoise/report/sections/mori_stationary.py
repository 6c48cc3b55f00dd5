"""Section of Mori et al.'s stationary law."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sgdnoise.report.document import Section, Table
from sgdnoise.report.sections import section_builder
from sgdnoise.report.sections.words import percent


@section_builder("mori_stationary")
def mori_section(result: Any, folder: Path) -> Section:
    c, table = result.config, result.table
    error = ((table["phi_fit"] - table["phi_theory"]).abs() / table["phi_theory"]).max()
    return Section(
        key="mori_stationary",
        title="The stationary law is a power of the loss (Mori et al. 2022)",
        text=(
            f"1-D SDE of SGD near a minimum of a mean-square loss, L = {c.loss_min} + h x²/2 (h = {c.curvature}), "
            f"noise variance 2ηhL/B, {c.n_paths} paths; φ fitted by maximum likelihood against φ = 1 + B/(ηh).",
        ),
        reading=(f"The fitted exponent φ is within {percent(error)} of 1 + B/(ηh) at every learning rate.",),
        tables=(Table("mori_stationary", "Stationary law p ∝ L^-φ: fitted φ against 1 + B/(ηh)", table),),
    )
