"""Section of Zhu et al.'s 2-D toy (anisotropic noise escapes a sharp minimum)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sgdnoise.report.document import Section, Table
from sgdnoise.report.sections import section_builder
from sgdnoise.report.sections.words import percent


@section_builder("zhu_toy")
def zhu_toy_section(result: Any, folder: Path) -> Section:
    c, table = result.config, result.table
    ranked = table.sort_values("success_rate", ascending=False)
    best, worst = ranked.iloc[0], ranked.iloc[-1]
    return Section(
        key="zhu_toy",
        title="Anisotropic noise escapes a sharp minimum (Zhu et al. 2019, 2-D toy)",
        text=(
            f"From the sharp minimum (1, 1), {c.n_steps} steps of lr {c.lr}; every noisy variant adds noise of total "
            f"variance {c.noise_variance} per step; success = both coordinates < −0.5 at the end ({c.n_repeats} "
            "repeats each).",
        ),
        reading=(
            f"`{best['variant']}` noise escapes most often ({percent(best['success_rate'])} of repeats), "
            f"`{worst['variant']}` least ({percent(worst['success_rate'])}).",
        ),
        tables=(Table("zhu_toy", "Escapes from the sharp minimum, equal noise variance (Zhu et al.)", table),),
    )
