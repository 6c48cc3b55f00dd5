"""Section of Zhu et al.'s noise variants on a network."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sgdnoise.report.document import Figure, Section, Table
from sgdnoise.report.sections import section_builder
from sgdnoise.report.sections.words import number


@section_builder("zhu_network")
def zhu_network_section(result: Any, folder: Path) -> Section:
    c, a, st, table = result.config, result.anisotropy, result.start, result.table
    ranked = table.sort_values("test_accuracy", ascending=False)
    best = ranked.iloc[0]
    gd = table[table["variant"] == "gd"]
    sgd = table[table["variant"] == "sgd"]
    reading = [
        f"At the start Tr(HΣ) is {a.ratio:.0f}× its value for isotropic noise of the same total variance.",
        f"The highest test accuracy is reached by `{best['variant']}` ({best['match_at']}): "
        f"{best['test_accuracy']:.3f}.",
    ]
    if len(gd) and len(sgd):
        reading.append(
            f"SGD travels {number(sgd['distance'].iloc[0])} from the minimum against GD's "
            f"{number(gd['distance'].iloc[0])}."
        )
    return Section(
        key="zhu_network",
        title="... and on a network? (Zhu et al. 2019, scaled down)",
        text=(
            f"An MLP (width {c.width}) trained by full-batch GD on {c.n_train} digits with {c.corrupt_fraction:.0%} "
            f"random labels to a memorising minimum (train accuracy {st['train_accuracy']:.3f}, test accuracy "
            f"{st['test_accuracy']:.3f}). From there {c.n_repeats} repeats of {c.n_steps} steps at lr {c.lr}: SGD "
            f"(batch {c.batch_size}), GD, and GD + Gaussian noise of SGD's total variance with the shapes of Zhu "
            f"et al. — either SGD's variance at the start (v = {result.noise_variance:.3g}, Zhu's protocol, "
            "`start`) or at each path's current point (`current`). Escape indicator at the start: "
            f"Tr(HΣ) = {a.trace_h_sigma:.3g} against {a.isotropic:.3g} for isotropic noise of the same total variance "
            f"({a.ratio:.0f}×). Mean ± standard error over repeats; train metrics on the corrupted labels.",
        ),
        reading=tuple(reading),
        tables=(Table("zhu_network", "Zhu et al. on a network: GD + noise of equal total variance vs SGD", table),),
        figures=(Figure(folder / "zhu_network.png", "Test accuracy and distance travelled per noise variant"),),
    )
