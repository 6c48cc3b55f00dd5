"""Model checkpoints: ``state_dict`` files written atomically, read with ``weights_only=True``.

A checkpoint file holds either a plain ``state_dict`` (``save_checkpoint(model, path)``) or a
training checkpoint, a dict whose ``"model_state"`` entry is the ``state_dict`` (written by
:mod:`sgdnoise.training`); :func:`load_checkpoint` accepts both. Loading never unpickles
arbitrary objects, and a checkpoint that does not fit the model raises
:class:`DataFileError` naming the missing, unexpected and mis-shaped entries.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sgdnoise.errors import DataFileError
from sgdnoise.store import atomic_path

MODEL_STATE_KEY = "model_state"
_SHOWN = 5


def save_checkpoint(obj: nn.Module | Mapping[str, Any], path: str | os.PathLike) -> Path:
    """Save ``obj`` (a module's ``state_dict``, or a dict of tensors/numbers/strings) atomically."""
    payload = obj.state_dict() if isinstance(obj, nn.Module) else dict(obj)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return Path(path)


def read_checkpoint(path: str | os.PathLike, *, map_location: torch.device | str | None = "cpu") -> dict[str, Any]:
    """The dict stored at ``path``, loaded with ``torch.load(weights_only=True)``."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataFileError(
            f"no checkpoint at {p}: give the path of a .pt file written by sgdnoise train or "
            "torch.save(model.state_dict(), path)"
        )
    try:
        obj = torch.load(p, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise DataFileError(
            f"cannot read checkpoint {p} safely (weights_only=True): {exc}. Save only a state_dict "
            "(torch.save(model.state_dict(), path))"
        ) from exc
    if not isinstance(obj, Mapping):
        raise DataFileError(f"checkpoint {p} holds a {type(obj).__name__}, not a state_dict")
    return dict(obj)


def model_state(checkpoint: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """The ``state_dict`` inside a checkpoint dict (plain or training checkpoint)."""
    state = checkpoint.get(MODEL_STATE_KEY, checkpoint)
    return dict(state)


def check_state_dict(model: nn.Module, state: Mapping[str, Any], source: str = "checkpoint") -> None:
    """Raise :class:`DataFileError` unless ``state`` has exactly ``model``'s keys and shapes."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mis_shaped = [
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in expected
        if k in state and isinstance(state[k], torch.Tensor) and state[k].shape != expected[k].shape
    ]
    if missing or unexpected or mis_shaped:
        parts = [
            f"{label} ({len(items)}): {', '.join(items[:_SHOWN])}{', …' if len(items) > _SHOWN else ''}"
            for label, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", mis_shaped))
            if items
        ]
        raise DataFileError(
            f"{source} does not match the model {type(model).__name__}: {'; '.join(parts)}. "
            "Build the model with the same name and options (input shape, number of classes) it was trained with"
        )


def load_checkpoint(
    model: nn.Module, path: str | os.PathLike, *, map_location: torch.device | str | None = "cpu"
) -> nn.Module:
    """Load the weights at ``path`` into ``model`` (in place) after checking keys and shapes; return ``model``."""
    state = model_state(read_checkpoint(path, map_location=map_location))
    check_state_dict(model, state, source=f"checkpoint {path}")
    model.load_state_dict(state)
    return model
