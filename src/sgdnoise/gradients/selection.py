"""Which parameter entries keep their noise samples: all, name globs, or ``n`` random entries per
parameter tensor (seeded). Flat indices index ``param.flatten()``."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from sgdnoise.errors import InvalidInputError
from sgdnoise.plumbing.checks import is_int, positive_int
from sgdnoise.rng import Seed, as_generator


@dataclass(frozen=True)
class ParameterSelection:
    """Selected entries per parameter name, in model order.

    ``entries[name]`` is ``None`` for the whole tensor (noise kept as ``(K, *shape)``) or an
    int64 tensor of sorted flat indices (noise kept as ``(K, n)``). ``shapes[name]`` is the
    parameter's shape.
    """

    entries: dict[str, torch.Tensor | None]
    shapes: dict[str, tuple[int, ...]]

    @property
    def names(self) -> list[str]:
        return list(self.entries)

    def count(self, name: str) -> int:
        """Number of selected entries of ``name``."""
        idx = self.entries[name]
        return int(torch.Size(self.shapes[name]).numel()) if idx is None else int(idx.numel())

    @property
    def total(self) -> int:
        return sum(self.count(n) for n in self.entries)

    def flat_indices(self, name: str) -> torch.Tensor:
        """Flat indices of the selected entries of ``name`` (``arange`` for a whole tensor)."""
        idx = self.entries[name]
        return torch.arange(self.count(name)) if idx is None else idx

    def take(self, name: str, values: torch.Tensor) -> torch.Tensor:
        """Selected part of ``values`` of shape ``(K, *shape)``: itself, or ``(K, n)`` entries."""
        idx = self.entries[name]
        return values if idx is None else values.flatten(1)[:, idx.to(values.device)]

    def entry_labels(self) -> list[str]:
        """One label per selected entry, ``"name[flat]"``, in the order of :meth:`take` flattened."""
        return [f"{n}[{i}]" for n in self.entries for i in self.flat_indices(n).tolist()]

    def to_dict(self) -> dict[str, Any]:
        return {
            n: {"shape": list(self.shapes[n]), "flat_indices": None if i is None else i.tolist()}
            for n, i in self.entries.items()
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ParameterSelection:
        entries = {
            n: None if v["flat_indices"] is None else torch.tensor(v["flat_indices"], dtype=torch.int64)
            for n, v in d.items()
        }
        return cls(entries=entries, shapes={n: tuple(v["shape"]) for n, v in d.items()})


def select_parameters(
    named_shapes: Mapping[str, Sequence[int]],
    spec: Any = None,
    *,
    per_layer: int | None = None,
    seed: Seed = 0,
) -> ParameterSelection:
    """Build a :class:`ParameterSelection` over ``named_shapes`` (name → shape, model order).

    ``spec``: ``None`` or ``"all"`` (every parameter), a glob or list of globs matched against
    the names (``"layer1.*.weight"``), an int ``n`` (shorthand for ``per_layer=n`` over all
    parameters) or a ready :class:`ParameterSelection`. ``per_layer=n`` keeps ``n`` entries of
    each matched tensor drawn uniformly without replacement from ``seed`` (all entries of a
    tensor smaller than ``n``). Raises :class:`InvalidInputError` when nothing is selected.
    """
    if isinstance(spec, ParameterSelection):
        return _checked(spec, named_shapes)
    if is_int(spec):
        spec, per_layer = None, spec
    patterns = _patterns(spec)
    names = [n for n in named_shapes if any(fnmatch.fnmatchcase(n, p) for p in patterns)]
    if not names:
        raise InvalidInputError(
            f"the parameter selection {spec!r} matches none of the model's parameters "
            f"({', '.join(list(named_shapes)[:6])}{', ...' if len(named_shapes) > 6 else ''}); "
            "use None for all, or globs like 'fc1.*'"
        )
    shapes = {n: tuple(int(s) for s in named_shapes[n]) for n in names}
    if per_layer is None:
        return ParameterSelection({n: None for n in names}, shapes)
    positive_int(per_layer, "per_layer (entries per parameter tensor)")
    gen = as_generator(seed)
    entries = {}
    for n in names:
        size = int(torch.Size(shapes[n]).numel())
        entries[n] = torch.randperm(size, generator=gen)[: min(per_layer, size)].sort().values
    return ParameterSelection(entries, shapes)


def _patterns(spec: Any) -> list[str]:
    if spec is None or spec == "all":
        return ["*"]
    if isinstance(spec, str):
        return [spec]
    if isinstance(spec, Sequence) and all(isinstance(p, str) for p in spec):
        return list(spec)
    raise InvalidInputError(
        f"params must be None, 'all', a glob, a list of globs, an int (entries per layer) or a "
        f"ParameterSelection; got {type(spec).__name__}"
    )


def _checked(sel: ParameterSelection, named_shapes: Mapping[str, Sequence[int]]) -> ParameterSelection:
    if not sel.entries:
        raise InvalidInputError("the ParameterSelection is empty; select at least one parameter")
    for n, idx in sel.entries.items():
        if n not in named_shapes or tuple(named_shapes[n]) != tuple(sel.shapes[n]):
            raise InvalidInputError(
                f"selected parameter {n!r} is not a parameter of this model with shape {sel.shapes[n]}"
            )
        size = int(torch.Size(sel.shapes[n]).numel())
        if idx is not None and (idx.numel() == 0 or int(idx.min()) < 0 or int(idx.max()) >= size):
            raise InvalidInputError(f"selected flat indices of {n!r} must be non-empty and in [0, {size})")
    return sel
