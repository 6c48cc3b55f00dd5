"""Argument checks shared by every layer: each raises the package's own error with a message
that names the argument, says what it must be and shows what was given."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from sgdnoise.errors import InvalidInputError, SgdNoiseError


def is_int(value: Any) -> bool:
    """Whether ``value`` is a Python int (a bool is not)."""
    return isinstance(value, int) and not isinstance(value, bool)


def positive_int(value: Any, name: str, *, minimum: int = 1, error: type[SgdNoiseError] = InvalidInputError) -> int:
    """``value`` if it is an int ``≥ minimum`` (default 1); else raise ``error`` naming ``name``."""
    if not (is_int(value) and value >= minimum):
        raise error(f"{name} must be an int ≥ {minimum}; got {value!r}")
    return value


def positive_number(value: Any, name: str, *, error: type[SgdNoiseError] = InvalidInputError) -> float:
    """``float(value)`` if it is a finite real number ``> 0``; else raise ``error`` naming ``name``."""
    if not (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0):
        raise error(f"{name} must be a finite number > 0; got {value!r}")
    return float(value)


def model_device(model: Any, *, error: type[SgdNoiseError] = InvalidInputError) -> torch.device:
    """The device of ``model``'s first parameter, if ``model`` is an ``nn.Module`` with parameters;
    else raise ``error``."""
    first = next(model.parameters(), None) if isinstance(model, nn.Module) else None
    if first is None:
        raise error(f"model must be a torch.nn.Module with parameters; got {type(model).__name__}")
    return first.device
