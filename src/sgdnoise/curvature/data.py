"""Data for full-dataset curvature: chunks of ``(inputs, targets)`` and the dataset average.

``data`` is either a pair of tensors ``(X, Y)`` with a shared first axis (split into chunks of
``chunk_size`` rows), or a re-iterable of batches — a ``DataLoader`` or a list of ``(x, y)``
pairs — read once per operator product. One-shot iterators (generators) are refused because
every product must see the same data.

Convention: ``loss_fn(output, target)`` returns the *mean* loss over its batch (the PyTorch
default ``reduction="mean"``). The dataset loss is then ``L = (1/N) Σ_c n_c·loss_c`` over
chunks ``c`` of sizes ``n_c``, and every curvature quantity is averaged with the same weights.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch

from sgdnoise.errors import InvalidInputError

Data = tuple[torch.Tensor, torch.Tensor] | Iterable[Any]


def is_tensor_pair(data: Any) -> bool:
    return isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data)


def check_data(data: Data, chunk_size: int) -> None:
    """Validate ``data`` and ``chunk_size`` once, on entry (see the module docstring)."""
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise InvalidInputError(f"chunk_size must be a positive int; got {chunk_size!r}")
    if is_tensor_pair(data):
        x, y = data
        if x.shape[0] != y.shape[0] or x.shape[0] == 0:
            raise InvalidInputError(
                f"inputs and targets need the same non-zero first dimension; got {tuple(x.shape)} and {tuple(y.shape)}"
            )
        return
    if not isinstance(data, Iterable) or isinstance(data, (str, bytes)):
        raise InvalidInputError(
            f"data must be a pair (inputs, targets) of tensors or a DataLoader; got {type(data).__name__}"
        )
    if iter(data) is data:
        raise InvalidInputError(
            "data is a one-shot iterator; pass a DataLoader, a list of (x, y) batches or an "
            "(inputs, targets) pair, so that every operator product sees the same data"
        )


def iter_batches(data: Data, chunk_size: int, device: torch.device) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(x, y)`` chunks of ``data`` on ``device`` (extra batch fields are ignored)."""
    if is_tensor_pair(data):
        x, y = data
        for xs, ys in zip(x.split(chunk_size), y.split(chunk_size)):
            yield xs.to(device), ys.to(device)
        return
    for batch in data:
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise InvalidInputError(f"each batch must be (inputs, targets, ...); got {type(batch).__name__}")
        yield batch[0].to(device), batch[1].to(device)


def dataset_mean(
    data: Data, chunk_size: int, device: torch.device, fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
) -> torch.Tensor:
    """``(1/N) Σ_c n_c · fn(x_c, y_c)``: the dataset average of a per-chunk mean quantity."""
    total, count = None, 0
    for x, y in iter_batches(data, chunk_size, device):
        n = x.shape[0]
        value = fn(x, y) * n
        total = value if total is None else total + value
        count += n
    if count == 0:
        raise InvalidInputError("data yielded no samples")
    return total / count


def dataset_concat(
    data: Data, chunk_size: int, device: torch.device, fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
) -> torch.Tensor:
    """``fn`` applied chunk by chunk, results concatenated along the first (sample) axis."""
    parts = [fn(x, y) for x, y in iter_batches(data, chunk_size, device)]
    if not parts:
        raise InvalidInputError("data yielded no samples")
    return torch.cat(parts)
