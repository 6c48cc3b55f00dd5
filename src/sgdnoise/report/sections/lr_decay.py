"""Section of the learning-rate decay recipe (Battash et al. Fig. 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sgdnoise.report.document import Figure, Section, Table
from sgdnoise.report.sections import section_builder
from sgdnoise.report.sections.words import number


@section_builder("lr_decay")
def lr_decay_section(result: Any, folder: Path) -> Section:
    dc, table = result.config, result.table
    rows = table.set_index(["schedule", "stage"])
    reading = []
    for schedule in dict.fromkeys(table["schedule"]):
        before, after = rows.loc[(schedule, "before")], rows.loc[(schedule, "after")]
        step = after["step_noise_scale_median"] / before["step_noise_scale_median"]
        grad = after["noise_scale_median"] / before["noise_scale_median"]
        reading.append(
            f"`{schedule}`: the step noise η·u changes ×{number(step, 2)} "
            f"and the gradient noise u ×{number(grad, 2)} "
            f"across the milestone (median α {number(before['alpha_median'])} → {number(after['alpha_median'])}); "
            f"test accuracy {after['test_accuracy']:.3f} at the end."
        )
    return Section(
        key="lr_decay",
        title="Learning-rate decay acts by reducing the noise (Battash et al. Fig. 2)",
        text=(
            f"Three runs of `{dc.model}` on `{dc.data}` from one initialisation (lr {dc.lr}, batch {dc.batch_size}), "
            f"identical until epoch {dc.milestone}; then `lr_decay` divides the learning rate by {dc.factor}, "
            f"`batch_increase` multiplies the batch size by {dc.factor}, `constant` changes nothing. Noise of "
            f"K = {dc.noise_batches} mini-batches (at each run's batch size) before the milestone and after epoch "
            f"{dc.epochs}, same {dc.per_layer} entries per tensor.",
        ),
        reading=tuple(reading),
        tables=(Table("schedules", "Noise before/after the milestone (u: gradient noise, η·u: step noise)", table),),
        figures=(Figure(folder / "step_noise.png", "Step noise η·u of one entry before and after the milestone"),),
    )
