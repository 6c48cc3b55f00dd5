"""The network a recipe runs: a registry model sized for a dataset, its initial weights drawn
from a seed, then replaced by a checkpoint's when one is given.

Sized for the dataset means its input shape and outputs, and for text (token ids) also the
vocabulary and padding id the data's tokenizer gave (``info.vocab_size``, ``info.pad_token_id``),
passed to a model that takes them unless ``options`` set them. A ``checkpoint`` that is a folder
(a pretrained ``transformers`` model) goes to a model that takes a ``checkpoint`` option (the
BERTs); a file is a ``state_dict`` loaded after building."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import nn

from sgdnoise.data import DatasetInfo
from sgdnoise.models import load_checkpoint, model_options, seeded_model
from sgdnoise.training import TrainConfig, train


def network_for(
    info: DatasetInfo,
    name: str,
    *,
    seed: int,
    options: Mapping[str, Any] | None = None,
    checkpoint: str | os.PathLike | None = None,
) -> nn.Module:
    """Model ``name`` (with ``options``) for the inputs and outputs ``info`` describes, initialised
    from ``seed``; with ``checkpoint``, its weights are then loaded from that file (checked)."""
    options = dict(options or {})
    accepted = model_options(name)
    for key in ("vocab_size", "pad_token_id"):
        if getattr(info, key, None) is not None and key in accepted and key not in options:
            options[key] = getattr(info, key)
    if checkpoint and Path(checkpoint).expanduser().is_dir() and "checkpoint" in accepted:
        options["checkpoint"], checkpoint = str(checkpoint), None
    model = seeded_model(name, input_shape=info.input_shape, num_classes=info.num_outputs, seed=seed, **options)
    if checkpoint:
        load_checkpoint(model, checkpoint)
    return model


def trained_network_for(data: Any, config: Any, *, progress: bool = False) -> nn.Module:
    """The recipe's network for the training set ``data``: :func:`network_for` with ``config``'s
    ``model``, ``seed``, ``model_options`` and ``checkpoint``; without a checkpoint, trained with
    plain SGD for ``config.epochs`` at ``config.lr`` and batch ``config.train_batch_size``."""
    model = network_for(
        data.info, config.model, seed=config.seed, options=config.model_options, checkpoint=config.checkpoint
    )
    if not config.checkpoint:
        settings = TrainConfig(
            epochs=config.epochs, lr=config.lr, batch_size=config.train_batch_size, seed=config.seed, progress=progress
        )
        train(model, data, settings)
    return model
