"""A subset of a model's parameters as one flat vector: the space curvature is measured in, and
the one a network's loss at stacked parameter vectors takes (``sgdnoise.dynamics``).

The vector has length ``D``, the number of *selected* scalar parameters, laid out in
``model.named_parameters()`` order, each tensor flattened row-major. Parameters are selected by
name globs (``fnmatch``: ``"fc1.*"``, ``"*.weight"``), by default every one with
``requires_grad``; unselected parameters and all buffers stay fixed at their current values.

Tied weights: ``named_parameters()`` lists a shared tensor once, under its first name, and
:func:`torch.func.functional_call` (``tie_weights=True``) feeds the same value to every place
that uses it, so a tied weight is one block of the vector and its curvature sums all its uses.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Sequence

import torch
from torch import nn

from sgdnoise.errors import InvalidInputError


def trainable_parameters(model: nn.Module) -> dict[str, torch.Tensor]:
    """``name → parameter`` for every parameter with ``requires_grad``, in model order."""
    return {n: p for n, p in model.named_parameters() if p.requires_grad}


def _as_patterns(globs: str | Sequence[str] | None) -> tuple[str, ...] | None:
    if globs is None:
        return None
    return (globs,) if isinstance(globs, str) else tuple(globs)


class ParameterSpace:
    """A flat view of the selected parameters of ``model``.

    Parameters
    ----------
    model : the network; its parameters are read (never written).
    include : glob or globs of parameter names to select; default every parameter with
        ``requires_grad``.
    exclude : glob or globs removed from the selection.

    Attributes
    ----------
    names, shapes : the selected parameters, in ``named_parameters()`` order.
    dim : D, the total number of selected scalars.
    """

    def __init__(
        self, model: nn.Module, include: str | Sequence[str] | None = None, exclude: str | Sequence[str] | None = None
    ) -> None:
        if not isinstance(model, nn.Module):
            raise InvalidInputError(f"model must be a torch.nn.Module; got {type(model).__name__}")
        inc, exc = _as_patterns(include), _as_patterns(exclude)
        named = dict(model.named_parameters())
        chosen = [
            n
            for n, p in named.items()
            if (p.requires_grad if inc is None else any(fnmatch.fnmatchcase(n, g) for g in inc))
            and not (exc and any(fnmatch.fnmatchcase(n, g) for g in exc))
        ]
        if not chosen:
            raise InvalidInputError(
                f"no parameter matches include={inc}, exclude={exc}; the model's parameters are "
                f"{list(named)[:12]}{' ...' if len(named) > 12 else ''}"
            )
        dtypes = {named[n].dtype for n in chosen}
        if len(dtypes) != 1 or not next(iter(dtypes)).is_floating_point:
            raise InvalidInputError(
                f"selected parameters must share one float dtype; got {sorted(map(str, dtypes))}. "
                "Convert the model with model.double() or model.float()."
            )
        self.model = model
        self.names: tuple[str, ...] = tuple(chosen)
        self.shapes: tuple[torch.Size, ...] = tuple(named[n].shape for n in chosen)
        self.numels: tuple[int, ...] = tuple(math.prod(s) for s in self.shapes)
        self.dim: int = sum(self.numels)
        self.dtype: torch.dtype = named[chosen[0]].dtype
        self.device: torch.device = named[chosen[0]].device

    def vector(self) -> torch.Tensor:
        """The current values of the selected parameters, shape ``(D,)`` (a detached copy)."""
        named = dict(self.model.named_parameters())
        return torch.cat([named[n].detach().reshape(-1) for n in self.names])

    def unflatten(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        """Split ``flat`` of shape ``(D,)`` into ``{name: tensor of the parameter's shape}`` (views)."""
        return {n: chunk.view(s) for n, chunk, s in zip(self.names, flat.split(self.numels), self.shapes)}

    def flatten(self, tensors: dict[str, torch.Tensor]) -> torch.Tensor:
        """Concatenate ``{name: tensor}`` (the selected names) into one ``(D,)`` vector."""
        return torch.cat([tensors[n].reshape(-1) for n in self.names])

    def slices(self) -> dict[str, slice]:
        """Where each selected parameter sits in the flat vector."""
        out, start = {}, 0
        for n, k in zip(self.names, self.numels):
            out[n] = slice(start, start + k)
            start += k
        return out
