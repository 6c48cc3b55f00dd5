"""One adapter from what a user passes as ``data`` to what a layer reads.

Accepted everywhere: a pair ``(X, y)`` of tensors with one leading (sample) axis, a map-style
``Dataset`` of ``(x, y)`` pairs (a ``TensorDataset`` of two tensors is read as its tensors), a
``DataLoader``, or a re-iterable of ``(x, y, ...)`` batches (a list of batches; a one-shot
iterator is refused, since several passes must see the same data). Layers read it three ways:

- :meth:`DataSource.take` — the points of given indices, for mini-batches defined by their
  indices alone (eq. 1's ``Ω_k``). Needs random access: tensors, a map-style Dataset, or a
  DataLoader over one (its dataset is used; its batch size, sampler and shuffling are not).
- :meth:`DataSource.chunks` — a pass over all the data in chunks, for dataset averages; a
  DataLoader is walked as it is (its batches, its sampler).
- :meth:`DataSource.tensors` — all the data as one pair of tensors, for code that indexes them
  on the device many times (SGD ensembles, training).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset
from torch.utils.data._utils.collate import default_collate

from sgdnoise.errors import InvalidInputError
from sgdnoise.plumbing.checks import positive_int

Pair = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class DataSource:
    """A training set in one of three forms (see the module docstring): ``pair`` (tensors),
    ``dataset`` (map-style, indexed) or ``batches`` (a re-iterable of batches, walked in order).
    ``loader`` is the DataLoader the user passed, walked as it is by :meth:`chunks`.
    ``size`` is the number of points, ``None`` when only a pass over ``batches`` would tell."""

    size: int | None
    pair: Pair | None = None
    dataset: Dataset | None = None
    batches: Iterable[Any] | None = None
    loader: DataLoader | None = None

    @property
    def indexed(self) -> bool:
        """Whether points can be taken by index (:meth:`take`)."""
        return self.pair is not None or self.dataset is not None

    def take(self, idx: torch.Tensor) -> Pair:
        """The points ``idx`` (int64, ``(n,)``) as ``(x, y)``, each with leading axis ``n``."""
        if self.pair is not None:
            x, y = self.pair
            return x[idx.to(x.device)], y[idx.to(y.device)]
        if self.dataset is None:
            raise InvalidInputError(_NOT_INDEXED)
        x, y = default_collate([self.dataset[i] for i in idx.tolist()])
        return x, y

    def chunks(self, chunk_size: int, device: torch.device | str | None = None) -> Iterator[Pair]:
        """All the data once, as ``(x, y)`` chunks of at most ``chunk_size`` points on ``device``
        (the DataLoader's or the given batches as they come); extra batch fields are dropped."""
        positive_int(chunk_size, "chunk_size")
        if self.pair is not None and self.loader is None:
            x, y = self.pair
            for xs, ys in zip(x.split(chunk_size), y.split(chunk_size), strict=True):
                yield _to(xs, ys, device)
            return
        if self.dataset is not None and self.loader is None:
            for start in range(0, self.size, chunk_size):
                yield _to(*self.take(torch.arange(start, min(start + chunk_size, self.size))), device)
            return
        count = 0
        for batch in self.loader if self.loader is not None else self.batches:
            if not isinstance(batch, (tuple, list)) or len(batch) < 2:
                raise InvalidInputError(f"each batch must be (inputs, targets, ...); got {type(batch).__name__}")
            count += 1
            yield _to(batch[0], batch[1], device)
        if count == 0:
            raise InvalidInputError("data yielded no batches; pass a non-empty data set")

    def tensors(self, device: torch.device | str | None = None) -> Pair:
        """All the data as one pair ``(X, y)`` on ``device`` (stacked once when not tensors)."""
        if self.pair is not None:
            return _to(*self.pair, device)
        if self.dataset is not None:
            return _to(*self.take(torch.arange(self.size)), device)
        xs, ys = zip(*self.chunks(1 << 30, device), strict=True)
        return torch.cat(xs), torch.cat(ys)


def as_data_source(data: Any) -> DataSource:
    """Wrap ``data`` (module docstring); raise :class:`InvalidInputError` for anything else, for
    tensors of different lengths, for an empty data set and for a one-shot iterator."""
    if isinstance(data, DataSource):
        return data
    if isinstance(data, DataLoader):
        if isinstance(data.dataset, IterableDataset):
            return DataSource(size=None, batches=data, loader=data)
        try:
            inner = as_data_source(data.dataset)
        except InvalidInputError:  # items that only its collate_fn turns into (x, y) batches
            return DataSource(size=None, batches=data, loader=data)
        return DataSource(size=inner.size, pair=inner.pair, dataset=inner.dataset, loader=data)
    if isinstance(data, TensorDataset) and len(data.tensors) == 2:
        data = data.tensors
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data):
        x, y = data
        if x.ndim == 0 or y.ndim == 0 or x.shape[0] != y.shape[0] or x.shape[0] == 0:
            raise InvalidInputError(
                "data=(X, y) needs non-empty tensors with the same leading (sample) axis; got shapes "
                f"{tuple(x.shape)} and {tuple(y.shape)}"
            )
        return DataSource(size=int(x.shape[0]), pair=(x, y))
    if isinstance(data, Dataset) and not isinstance(data, IterableDataset) and hasattr(data, "__len__"):
        size = len(data)
        if size == 0:
            raise InvalidInputError("the dataset is empty; pass a data set with at least one (x, y) pair")
        first = data[0]
        if not (isinstance(first, (tuple, list)) and len(first) == 2):
            raise InvalidInputError(f"dataset items must be (x, y) pairs; item 0 is a {type(first).__name__}")
        return DataSource(size=size, dataset=data)
    if isinstance(data, Iterable) and not isinstance(data, (str, bytes, dict)):
        if iter(data) is data:
            raise InvalidInputError(
                "data is a one-shot iterator; pass a DataLoader, a list of (x, y) batches or an (X, y) pair, "
                "so that every pass sees the same data"
            )
        return DataSource(size=None, batches=data)
    raise InvalidInputError(
        "data must be a pair of tensors (X, y), a map-style torch Dataset of (x, y) pairs, a DataLoader or a "
        f"list of (x, y) batches; got {type(data).__name__}"
    )


def as_indexed_source(data: Any) -> DataSource:
    """:func:`as_data_source` for a layer that takes points by index (:meth:`DataSource.take`), such
    as mini-batches given by their indices: raises :class:`InvalidInputError` at once for data
    that can only be walked batch by batch (a list of batches, a DataLoader over an
    IterableDataset), instead of at the first :meth:`DataSource.take`."""
    source = as_data_source(data)
    if not source.indexed:
        raise InvalidInputError(_NOT_INDEXED)
    return source


_NOT_INDEXED = (
    "this data can only be walked batch by batch, but points must be taken by index here; pass "
    "(X, y) tensors, a map-style Dataset or a DataLoader over one"
)


def _to(x: torch.Tensor, y: torch.Tensor, device: torch.device | str | None) -> Pair:
    return (x, y) if device is None else (x.to(device), y.to(device))
