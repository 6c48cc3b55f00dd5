"""The escape-model study on a registry network and data set: train (or load a checkpoint) to a
minimum, then :func:`~sgdnoise.experiments.escape_model.escape_model` — what ``sgdnoise escape`` runs.

:func:`run_escape_levels` runs the study at several minima of the same network — training stopped
after different numbers of epochs, so at different training losses (an earlier stop leaves fewer
near-interpolated points, hence less degenerate noise) — and tabulates how the results depend on
the minimum."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sgdnoise.data import load_dataset
from sgdnoise.errors import ConfigError
from sgdnoise.experiments.escape_model import EscapeModelConfig, EscapeModelResult, escape_model
from sgdnoise.experiments.networks import network_for
from sgdnoise.plumbing import as_data_source, default_loss, model_device, positive_int
from sgdnoise.store import write_table
from sgdnoise.training import TrainConfig, evaluate, train


@dataclass(frozen=True)
class EscapeRecipe:
    """Where the minimum comes from: ``model`` on ``data`` (registry names or a path), trained with
    plain SGD for ``epochs`` at ``train_lr`` / ``train_batch_size`` unless ``checkpoint`` is given."""

    model: str = "mlp"
    data: str = "breast_cancer"
    model_options: Mapping[str, Any] = field(default_factory=lambda: {"depth": 2, "width": 32})
    data_options: Mapping[str, Any] = field(default_factory=dict)
    checkpoint: str | None = None
    epochs: int = 200
    train_lr: float = 0.05
    train_batch_size: int = 128


def run_escape_recipe(recipe: EscapeRecipe, config: EscapeModelConfig) -> EscapeModelResult:
    """Build the network and its minimum as ``recipe`` says, then run the study with ``config``;
    the recipe and the minimum's training loss and accuracy go into ``config.network`` (the manifest)."""
    data = load_dataset(recipe.data, split="train", seed=config.seed, **dict(recipe.data_options))
    model = network_for(
        data.info, recipe.model, seed=config.seed, options=dict(recipe.model_options), checkpoint=recipe.checkpoint
    )
    if not recipe.checkpoint:
        train(
            model,
            data,
            TrainConfig(
                epochs=recipe.epochs,
                lr=recipe.train_lr,
                batch_size=recipe.train_batch_size,
                seed=config.seed,
                progress=config.progress,
            ),
        )
    x, y = as_data_source(data).tensors(model_device(model))
    loss_fn = default_loss(y)
    loss, accuracy = evaluate(model, loss_fn, x, y)
    network = {**dataclasses.asdict(recipe), "train_loss": loss, "train_accuracy": accuracy}
    return escape_model(model, loss_fn, (x, y), dataclasses.replace(config, network=network))


@dataclass(frozen=True)
class EscapeLevelsResult:
    """The study at several minima: ``results`` keyed ``"epochs=<n>"`` and ``levels``, one row per
    minimum (see :func:`levels_frame`)."""

    results: dict[str, EscapeModelResult]
    levels: pd.DataFrame

    def write(self, folder: str | Path) -> dict[str, Path]:
        """Each minimum's files in ``folder/<key>`` and ``levels.csv`` in ``folder``."""
        folder = Path(folder)
        for key, result in self.results.items():
            result.write(folder / key)
        return {"levels": write_table(self.levels, folder / "levels.csv")}


def run_escape_levels(
    recipe: EscapeRecipe,
    config: EscapeModelConfig,
    epochs: Sequence[int],
    known: Mapping[str, EscapeModelResult] | None = None,
) -> EscapeLevelsResult:
    """:func:`run_escape_recipe` once per entry of ``epochs`` (training from the same initial weights,
    stopped there); ``recipe.checkpoint`` must be unset. The escape rule (``threshold`` or
    ``delta_loss``) is applied at each minimum's own loss. ``known``: results already computed (e.g.
    ``{"epochs=200": result}``), added to the table without running again."""
    if recipe.checkpoint:
        raise ConfigError("minima at several training lengths need training: drop checkpoint")
    if not epochs:
        raise ConfigError("give at least one number of epochs")
    for n in epochs:
        positive_int(n, "epochs (each)", error=ConfigError)
    results = {f"epochs={n}": run_escape_recipe(dataclasses.replace(recipe, epochs=int(n)), config) for n in epochs}
    results |= dict(known or {})
    return EscapeLevelsResult(results, levels_frame(results))


def levels_frame(results: Mapping[str, EscapeModelResult]) -> pd.DataFrame:
    """One row per minimum: its training length and loss, the escape level, the inputs' degeneracy
    (degenerate entries, α at the fit bound, median fitted α, open sides), and per model the median
    escape steps (``summary_frame``), KS to SGD and, for SGD, Spearman's ρ(α, exits) with its CI, the
    median top-1 share and the TV distance between its exit shares and the prediction."""
    rows = []
    for key, r in results.items():
        inputs, summary = r.inputs, r.summary_frame().set_index("model")
        alpha = inputs.alpha[np.isfinite(inputs.alpha)]
        row = {
            "minimum": key,
            "epochs": (r.config.network or {}).get("epochs"),
            "train_loss": inputs.min_loss,
            "level": inputs.level,
            "n_parameters": inputs.dim,
            "share_degenerate": float(inputs.degenerate.mean()),
            "share_alpha_at_bound": float(inputs.at_bound.sum() / max(1, alpha.size)),
            "median_alpha": float(np.median(alpha)) if alpha.size else float("nan"),
            "share_open_sides": float(
                (inputs.basin.open_lower.sum() + inputs.basin.open_upper.sum()) / (2 * inputs.dim)
            ),
            "theory_mean_steps": float(summary.loc["theory", "mean_steps"]),
        }
        for m in summary.index:
            if m != "theory":
                row[f"{m}_median_steps"] = float(summary.loc[m, "median_steps"])
                if m != "sgd":
                    row[f"{m}_ks_to_sgd"] = float(summary.loc[m, "ks_to_sgd"])
        for col in ("spearman_alpha_exits", "spearman_ci_low", "spearman_ci_high", "tv_exits_to_predicted"):
            row[f"sgd_{col}"] = float(summary.loc["sgd", col])
        if "median_top1_share" in summary:
            row["sgd_median_top1_share"] = float(summary.loc["sgd", "median_top1_share"])
        rows.append(row)
    return pd.DataFrame(rows)
