"""Section of the escape-direction recipe (Wang & Wu 2023)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sgdnoise.report.document import Section, Table
from sgdnoise.report.sections import section_builder
from sgdnoise.report.sections.words import percent


@section_builder("escape_direction")
def escape_direction_section(result: Any, folder: Path) -> Section:
    c, table = result.config, result.table
    rows = table.set_index("method")
    reading = tuple(
        f"{method} puts {percent(rows.loc[method, 'share_top1'])} of its squared exit displacement on the top "
        f"eigenvector and {percent(rows.loc[method, 'share_topk'])} on the top {c.k}."
        for method in rows.index
    )
    return Section(
        key="escape_direction",
        title="SGD leaves along flat directions, GD along the sharpest (Wang & Wu 2023)",
        text=(
            f"Over-parameterised linear regression (n = {c.n_points}, d = {c.dim}) from its interpolating minimum; "
            f"GD at η·λ_max = {c.gd_factor} (unstable), SGD (batch {c.batch_size}) at η·λ_max = {c.sgd_factor} "
            f"(where GD is stable); share of the squared exit displacement (‖w − w*‖ > {c.radius}) on the top "
            f"eigenvector and the top {c.k}.",
        ),
        reading=reading,
        tables=(Table("escape_direction", "Share of the exit displacement on the top Hessian eigenvectors", table),),
    )
