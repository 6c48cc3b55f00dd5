"""Section of α against the batch size (the reproduce recipe and the study analysis)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from sgdnoise.report.document import Figure, Section, Table
from sgdnoise.report.sections import section_builder
from sgdnoise.report.sections.words import number, percent

GAUSSIAN_MAJORITY = 0.5


def gaussian_from(layers: pd.DataFrame) -> float:
    """The smallest B from which on the Gaussian beats SαS on AIC for more than half of the fitted
    entries of every layer (NaN when it never does within the measured sizes)."""
    majority = layers.groupby("batch_size")["gauss_wins"].min() > GAUSSIAN_MAJORITY
    sizes = majority.index.to_numpy()
    for i, size in enumerate(sizes):
        if majority.iloc[i:].all():
            return float(size)
    return float("nan")


def _reading(state: str, layers: pd.DataFrame) -> str:
    per_b = layers.groupby("batch_size").agg(alpha=("alpha_median", "median"), gauss=("gauss_wins", "mean"))
    first, last = per_b.index.min(), per_b.index.max()
    onset = gaussian_from(layers)
    where = (
        f"from B = {onset:g} on the Gaussian wins for most entries of every layer"
        if onset == onset
        else f"up to B = {last} SαS still wins for at least half the entries of some layer"
    )
    bound = int(layers.loc[layers["batch_size"] == first, "at_lower_bound"].sum())
    fitted = int((layers["entries"] - layers["degenerate"])[layers["batch_size"] == first].sum())
    return (
        f"At the {state} weights the median α over layers is {number(per_b.loc[first, 'alpha'])} at B = {first} "
        f"and {number(per_b.loc[last, 'alpha'])} at B = {last}; the Gaussian wins for "
        f"{percent(per_b.loc[first, 'gauss'])} and {percent(per_b.loc[last, 'gauss'])} of the entries; {where}. "
        f"At B = {first}, {bound} of {fitted} fitted entries sit at the estimator's lower bound α = 0.5 "
        "(an atom with a one-sided tail, not a tail index)."
    )


@section_builder("alpha_vs_batch")
def alpha_vs_batch_section(result: Any, folder: Path) -> Section:
    c, layers = result.config, result.layers
    states = list(dict.fromkeys(layers["weights"]))
    return Section(
        key="alpha_vs_batch",
        title="α against the batch size: does the noise become Gaussian?",
        text=(
            f"The noise of K = {c.num_batches} mini-batches at each B in {list(result.batch_sizes)}, on the same "
            f"{c.per_layer} random entries of every parameter tensor, at the {' and the '.join(states)} weights. "
            "Per entry: the SαS α with a bootstrap interval (K mini-batches resampled, "
            f"{c.n_boot} times), β of the skewed stable law (left out where α ≥ 1.9, where it is not identified), "
            "and whether the Gaussian or SαS wins on AIC. Per layer: the median α with its bootstrap interval.",
        ),
        reading=tuple(_reading(state, layers[layers["weights"] == state]) for state in states),
        tables=(Table("alpha_vs_batch", "Median α, β and the Gaussian's win rate per weights, B and layer", layers),),
        figures=(
            Figure(
                folder / "alpha_vs_batch.png",
                "Median α per layer against B (band: bootstrap interval) and the share of entries the Gaussian wins",
            ),
        ),
    )
