"""Section of one of the paper's tables run as the paper ran it (or on bundled stand-ins)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sgdnoise.report.document import Section, Table
from sgdnoise.report.sections import section_builder
from sgdnoise.report.sections.words import number, percent


@section_builder("paper_table")
def paper_table_section(result: Any, folder: Path) -> Section:
    c, table = result.config, result.table
    better = (table["SaS-Chi2"] < table["Gauss-Chi2"]).mean() if len(table) else float("nan")
    reading = [
        f"SαS has the lower mean Chi² in {percent(better)} of the {len(table)} rows; the median α over rows is "
        f"{number(table['alpha_median'].median())}."
    ]
    if c.stand_in:
        reading.append(
            "These are stand-ins (bundled data, small networks) running the table's code path, not the paper's "
            f"numbers; the real table still needs: {'; '.join(result.missing) or 'nothing'}."
        )
    return Section(
        key="paper_table",
        title=f"Battash et al. {c.name}: {c.caption}" + (" (stand-ins)" if c.stand_in else ""),
        text=(
            "Each network trained (or loaded) and measured as the paper did; the settings its text does not give "
            "were chosen here: " + " ".join(c.assumptions),
        ),
        reading=tuple(reading),
        tables=(Table("table", f"{c.name}: Gaussian vs SαS per network and batch size", table),),
    )
