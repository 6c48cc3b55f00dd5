"""Section of the estimator-recovery check (samples of known α)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sgdnoise.report.document import Section, Table
from sgdnoise.report.sections import section_builder
from sgdnoise.report.sections.words import number


@section_builder("estimator_recovery")
def recovery_section(result: Any, folder: Path) -> Section:
    c = result.config
    mean_rmse = result.accuracy.groupby("method")["rmse_alpha"].mean().sort_values()
    return Section(
        key="estimator_recovery",
        title="Estimator recovery",
        text=(
            f"{c.rows_per_alpha} samples of K = {c.k} SαS draws (scale 1) per α, seed {c.seed}; RMSE of α̂ by method.",
        ),
        reading=(
            f"The most accurate estimator here is `{mean_rmse.index[0]}` (mean RMSE of α̂ {number(mean_rmse.iloc[0])}), "
            f"the least `{mean_rmse.index[-1]}` ({number(mean_rmse.iloc[-1])}).",
        ),
        tables=(Table("rmse_by_method", f"RMSE of α̂ at K = {c.k}", result.rmse_by_method(), "{:.3f}"),),
    )
