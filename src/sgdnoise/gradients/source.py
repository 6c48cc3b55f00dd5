"""Random access to a training set: ``(X, y)`` tensors, a ``Dataset`` or a ``DataLoader``.

The noise engines ask for the samples of given indices, ``take(idx) -> (x, y)`` with a leading
axis of ``len(idx)``, so every mini-batch is defined by its indices alone (eq. 1's ``Ω_k``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset
from torch.utils.data._utils.collate import default_collate

from sgdnoise.errors import InvalidInputError


@dataclass(frozen=True)
class IndexedData:
    """A training set of ``size`` points addressed by index.

    Either ``tensors = (X, y)`` with ``X.shape[0] == y.shape[0] == size``, or a map-style
    ``dataset`` whose items are ``(x, y)`` pairs (stacked with ``default_collate``).
    """

    size: int
    tensors: tuple[torch.Tensor, torch.Tensor] | None = None
    dataset: Dataset | None = None

    def take(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The samples ``idx`` (int64, shape ``(n,)``) as ``(x, y)``, each with leading axis ``n``."""
        if self.tensors is not None:
            x, y = self.tensors
            return x[idx.to(x.device)], y[idx.to(y.device)]
        items = [self.dataset[i] for i in idx.tolist()]
        x, y = default_collate(items)
        return x, y


def as_indexed_data(data: Any) -> IndexedData:
    """Wrap ``data``: a pair ``(X, y)`` of tensors, a map-style ``Dataset``, or a ``DataLoader``
    (its ``dataset`` is used; its batch size and shuffling are ignored, the mini-batches are
    drawn by :func:`~sgdnoise.plumbing.batches.sample_batch_indices`)."""
    if isinstance(data, DataLoader):
        data = data.dataset
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data):
        x, y = data
        if x.ndim == 0 or y.ndim == 0 or x.shape[0] != y.shape[0]:
            raise InvalidInputError(
                f"data=(X, y) needs tensors with the same leading (sample) axis; got shapes {tuple(x.shape)} and {tuple(y.shape)}"
            )
        return IndexedData(size=int(x.shape[0]), tensors=(x, y))
    if isinstance(data, Dataset) and hasattr(data, "__len__") and hasattr(data, "__getitem__"):
        size = len(data)
        if size > 0:
            first = data[0]
            if not (isinstance(first, (tuple, list)) and len(first) == 2):
                raise InvalidInputError(f"dataset items must be (x, y) pairs; item 0 is a {type(first).__name__}")
        return IndexedData(size=size, dataset=data)
    raise InvalidInputError(
        f"data must be a pair of tensors (X, y), a map-style torch Dataset or a DataLoader; got {type(data).__name__}"
    )
