"""What ``sgdnoise study`` is pointed at: a model, data and a loss, each given by a registry
name or by an import path ``pkg.module:function`` (or ``path/to/file.py:function``).

A model function returns an ``nn.Module``; a data function returns a Dataset, an ``(X, y)``
pair or a DataLoader; a loss is ``cross-entropy``, ``mse`` or an import path of a callable
``loss(output, target) -> mean loss`` (an ``nn.Module`` class is instantiated).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import nn
from torch.nn import functional as F

from sgdnoise.errors import ConfigError

LOSSES: dict[str, Callable] = {"cross-entropy": F.cross_entropy, "cross_entropy": F.cross_entropy, "mse": F.mse_loss}


def is_import_path(spec: str) -> bool:
    """``pkg.module:function`` or ``file.py:function`` (a registry name has no colon)."""
    return ":" in spec


def resolve(spec: str, what: str) -> Any:
    """The object an import path names; :class:`ConfigError` saying which part failed."""
    module_name, _, attribute = spec.rpartition(":")
    if not module_name or not attribute:
        raise ConfigError(f"--{what} {spec!r}: write an import path as pkg.module:function")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name).expanduser()
            if not path.is_file():
                raise ConfigError(f"--{what} {spec!r}: no such file {path}")
            module_spec = importlib.util.spec_from_file_location(f"sgdnoise_user_{path.stem}", path)
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"--{what} {spec!r}: cannot import {module_name} ({exc}); is its folder on PYTHONPATH "
            "(or give the file: path/to/file.py:function)?"
        ) from exc
    if not hasattr(module, attribute):
        raise ConfigError(f"--{what} {spec!r}: {module_name} has no {attribute!r}")
    return getattr(module, attribute)


def load_data(spec: str, seed: int) -> tuple[Any, str]:
    """The training data ``spec`` names, and a name for the report."""
    if is_import_path(spec):
        return resolve(spec, "data")(), spec
    from sgdnoise.data import load_dataset

    data = load_dataset(spec, split="train", seed=seed)
    return data, data.info.name


def load_model(spec: str, data: Any, seed: int, checkpoint: str | os.PathLike | None) -> nn.Module:
    """The model ``spec`` names (a registry model sized for ``data``, which must then be a
    registry dataset), with ``checkpoint``'s weights when given."""
    from sgdnoise.models import load_checkpoint

    if is_import_path(spec):
        model = resolve(spec, "model")()
        if not isinstance(model, nn.Module):
            raise ConfigError(f"--model {spec!r} returned a {type(model).__name__}, not a torch nn.Module")
    else:
        info = getattr(data, "info", None)
        if info is None:
            raise ConfigError(
                f"--model {spec!r} is a registry name, which needs a registry dataset to be sized for; give "
                "--data as a registry name too, or --model as pkg.module:function"
            )
        from sgdnoise.models import seeded_model

        model = seeded_model(spec, input_shape=info.input_shape, num_classes=info.num_outputs, seed=seed)
    if checkpoint:
        load_checkpoint(model, checkpoint)
    return model


def load_loss(spec: str | None, targets: Any) -> Callable:
    """The loss ``spec`` names; ``None``: cross-entropy for integer labels, else mean-squared error."""
    if spec is None:
        from sgdnoise.plumbing import default_loss

        return default_loss(targets)
    if spec in LOSSES:
        return LOSSES[spec]
    if not is_import_path(spec):
        raise ConfigError(f"--loss {spec!r}: use cross-entropy, mse or an import path pkg.module:function")
    loss = resolve(spec, "loss")
    if isinstance(loss, type) and issubclass(loss, nn.Module):
        loss = loss()
    if not callable(loss):
        raise ConfigError(f"--loss {spec!r} is not callable")
    return loss
