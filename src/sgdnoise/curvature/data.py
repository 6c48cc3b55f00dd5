"""Dataset averages for full-dataset curvature, over the data in chunks.

``data`` is anything :func:`sgdnoise.plumbing.as_data_source` takes — a pair of tensors
``(X, Y)`` with a shared first axis (split into chunks of ``chunk_size`` rows), a map-style
``Dataset`` of ``(x, y)`` pairs (read in chunks of ``chunk_size`` points), a ``DataLoader``
(walked as it is) or a list of ``(x, y)`` batches — and is read once per operator product.
One-shot iterators (generators) are refused because every product must see the same data.

Convention: ``loss_fn(output, target)`` returns the *mean* loss over its batch (the PyTorch
default ``reduction="mean"``). The dataset loss is then ``L = (1/N) Σ_c n_c·loss_c`` over
chunks ``c`` of sizes ``n_c``, and every curvature quantity is averaged with the same weights.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch.utils.data import Dataset

from sgdnoise.errors import InvalidInputError
from sgdnoise.plumbing import DataSource, as_data_source, positive_int

Data = tuple[torch.Tensor, torch.Tensor] | Dataset | Iterable[Any] | DataSource
ChunkFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def data_source(data: Data, chunk_size: int) -> DataSource:
    """Validate ``data`` and ``chunk_size`` once, on entry (see the module docstring)."""
    positive_int(chunk_size, "chunk_size")
    return as_data_source(data)


def one_chunk(source: DataSource, chunk_size: int) -> bool:
    """Whether a pass over ``source`` is a single chunk: points held in memory (not a DataLoader
    walked as it is), at most ``chunk_size`` of them."""
    return source.indexed and source.loader is None and source.size <= chunk_size


def dataset_mean(source: DataSource, chunk_size: int, device: torch.device, fn: ChunkFn) -> torch.Tensor:
    """``(1/N) Σ_c n_c · fn(x_c, y_c)``: the dataset average of a per-chunk mean quantity."""
    total, count = None, 0
    for x, y in source.chunks(chunk_size, device):
        n = x.shape[0]
        value = fn(x, y) * n
        total = value if total is None else total + value
        count += n
    if count == 0:
        raise InvalidInputError("data yielded no samples; pass a data set with at least one (x, y) pair")
    return total / count


def dataset_concat(source: DataSource, chunk_size: int, device: torch.device, fn: ChunkFn) -> torch.Tensor:
    """``fn`` applied chunk by chunk, results concatenated along the first (sample) axis."""
    return torch.cat([fn(x, y) for x, y in source.chunks(chunk_size, device)])
