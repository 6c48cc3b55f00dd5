"""The escape-model study on a registry network and data set: train (or load a checkpoint) to a
minimum, then :func:`~sgdnoise.experiments.escape_model.escape_model` — what ``sgdnoise escape`` runs."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sgdnoise.data import load_dataset
from sgdnoise.experiments.escape_model import EscapeModelConfig, EscapeModelResult, escape_model
from sgdnoise.experiments.networks import network_for
from sgdnoise.plumbing import as_data_source, default_loss, model_device
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
