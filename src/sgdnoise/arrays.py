"""NumPy/torch interoperability: compute in torch, hand back what the caller passed in.

Public functions of :mod:`sgdnoise.stable` (and others) accept NumPy arrays, torch tensors
and Python scalars. They convert once on entry with :func:`to_tensor`, work in torch, and
convert back on exit with :meth:`ArrayKind.restore`, so a NumPy caller gets NumPy and a torch
caller gets a tensor of the same dtype on the same device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from sgdnoise.errors import InvalidInputError

_FLOATS = (torch.float32, torch.float64)


@dataclass(frozen=True)
class ArrayKind:
    """What the caller passed: ``numpy`` or ``torch``, its float dtype and device."""

    is_torch: bool
    dtype: torch.dtype
    device: torch.device

    def restore(self, t: torch.Tensor) -> Any:
        """Return ``t`` as the caller's kind (NumPy array or tensor), dtype and device."""
        if self.is_torch:
            return t.to(dtype=self.dtype, device=self.device) if t.is_floating_point() else t.to(self.device)
        out = t.detach().cpu()
        if out.is_floating_point():
            out = out.to(self.dtype)
        return out.numpy()


def array_kind(*values: Any) -> ArrayKind:
    """The kind of the first tensor among ``values``, else NumPy float64 (or float32 if given)."""
    for v in values:
        if isinstance(v, torch.Tensor):
            dtype = v.dtype if v.dtype in _FLOATS else torch.get_default_dtype()
            return ArrayKind(True, dtype, v.device)
    for v in values:
        if isinstance(v, np.ndarray) and v.dtype == np.float32:
            return ArrayKind(False, torch.float32, torch.device("cpu"))
    return ArrayKind(False, torch.float64, torch.device("cpu"))


def to_tensor(x: Any, kind: ArrayKind, *, name: str = "x") -> torch.Tensor:
    """Convert ``x`` to a float tensor of ``kind``'s dtype and device.

    The result may share memory with ``x``: callers must not write into it.

    Raises :class:`InvalidInputError` when ``x`` is not numeric.
    """
    try:
        if isinstance(x, torch.Tensor):
            t = x.detach().to(dtype=kind.dtype, device=kind.device)
        else:
            t = torch.as_tensor(np.asarray(x, dtype=np.float64), device=kind.device).to(kind.dtype)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"{name} must be numeric (an array, tensor or number); got {type(x).__name__}: {exc}"
        ) from exc
    return t
