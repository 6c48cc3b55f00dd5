"""Section of the tail index against the batch size (a study analysis)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sgdnoise.report.document import Figure, Section, Table
from sgdnoise.report.sections import section_builder
from sgdnoise.report.sections.words import number


@section_builder("alpha_vs_batch")
def alpha_vs_batch_section(result: Any, folder: Path) -> Section:
    c, table = result.config, result.table
    first, last = table.iloc[0], table.iloc[-1]
    ratio = last["batch_size"] / first["batch_size"]
    scale = last["scale_median"] / first["scale_median"]
    trend = (
        "heavier"
        if last["alpha_median"] < first["alpha_median"] - 0.05
        else ("lighter" if last["alpha_median"] > first["alpha_median"] + 0.05 else "about as heavy")
    )
    return Section(
        key="alpha_vs_batch",
        title="Tail index against the batch size",
        text=(
            f"The noise of K = {c.num_batches} mini-batches at each batch size B in {list(c.batch_sizes)}, on the "
            f"same {c.per_layer} random entries of every parameter tensor, fitted per entry (method `{c.method}`).",
        ),
        reading=(
            f"From B = {first['batch_size']} to B = {last['batch_size']} the median α goes from "
            f"{number(first['alpha_median'])} to {number(last['alpha_median'])}: the tails get {trend} with larger "
            "batches.",
            f"The median noise scale changes ×{number(scale, 2)} for a batch {ratio:g}× larger (a Gaussian's would "
            f"change ×{number(ratio**-0.5, 2)}).",
        ),
        tables=(Table("alpha_vs_batch", "Median α and noise scale per batch size", table),),
        figures=(Figure(folder / "alpha_vs_batch.png", "Median α (IQR) and noise scale against the batch size"),),
    )
