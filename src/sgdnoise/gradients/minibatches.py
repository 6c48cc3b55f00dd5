"""The K mini-batches ``Ω_1 … Ω_K`` of a collection (eq. 1): drawn from the seed, or given.

Given mini-batches (a user's training batches, or the same batches at two checkpoints) are a
``(K, B)`` array of point indices, checked on entry: two axes, integers in ``[0, D)``, ``K, B ≥ 1``,
and distinct points in each row unless drawn with replacement. A run on disk is identified by
their SHA-256 (:func:`indices_digest`), since no seed describes them.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import torch

from sgdnoise.errors import InvalidInputError
from sgdnoise.plumbing.batches import sample_batch_indices


def mini_batches(
    num_points: int,
    batch_size: int | None,
    num_batches: int | None,
    gen: torch.Generator,
    *,
    replacement: bool,
    given: Any = None,
) -> torch.Tensor:
    """``(K, B)`` int64 on the CPU: ``given`` checked (:func:`checked_batch_indices`), or ``K``
    rows of ``B`` points drawn from ``gen`` (:func:`~sgdnoise.plumbing.batches.sample_batch_indices`)."""
    if given is not None:
        return checked_batch_indices(given, num_points, batch_size, num_batches, replacement=replacement)
    if batch_size is None or num_batches is None:
        raise InvalidInputError("pass batch_size and num_batches (the mini-batches are then drawn), or batch_indices")
    return sample_batch_indices(num_points, batch_size, num_batches, gen, replacement=replacement)


def checked_batch_indices(
    given: Any, num_points: int, batch_size: int | None, num_batches: int | None, *, replacement: bool
) -> torch.Tensor:
    """``given`` (a tensor or array of shape ``(K, B)``) as an int64 CPU tensor of its own, after
    checking it (module docstring; ``batch_size``/``num_batches``, when not ``None``, must be its
    ``B``/``K``). Raises :class:`InvalidInputError` saying what is wrong."""
    if isinstance(given, np.ndarray):
        given = torch.from_numpy(given)
    if not isinstance(given, torch.Tensor):
        raise InvalidInputError(
            f"batch_indices must be a (K, B) tensor or array of point indices; got {type(given).__name__}"
        )
    if given.dtype.is_floating_point or given.dtype.is_complex or given.dtype == torch.bool:
        raise InvalidInputError(f"batch_indices must hold integers (point indices); got dtype {given.dtype}")
    if given.ndim != 2 or given.shape[0] < 1 or given.shape[1] < 1:
        raise InvalidInputError(
            "batch_indices must have two axes, (K, B): one row of B ≥ 1 point indices per mini-batch, K ≥ 1 rows; "
            f"got shape {tuple(given.shape)}"
        )
    indices = given.detach().to("cpu", torch.int64, copy=True)
    low, high = int(indices.min()), int(indices.max())
    if low < 0 or high >= num_points:
        raise InvalidInputError(
            f"batch_indices must be point indices in [0, {num_points}) (the data has {num_points} points); "
            f"got values from {low} to {high}"
        )
    for name, value, axis in (("num_batches", num_batches, 0), ("batch_size", batch_size, 1)):
        if value is not None and value != indices.shape[axis]:
            raise InvalidInputError(
                f"{name}={value} disagrees with batch_indices of shape {tuple(indices.shape)}; "
                f"leave {name} out (it follows from batch_indices) or make them agree"
            )
    if not replacement:
        ordered = indices.sort(dim=1).values
        repeats = (ordered[:, 1:] == ordered[:, :-1]).any(1).nonzero()
        if repeats.numel():
            k = int(repeats[0])
            raise InvalidInputError(
                f"row {k} of batch_indices holds a point twice; pass replacement=True if the mini-batches "
                "were drawn with replacement"
            )
    return indices


def indices_digest(indices: torch.Tensor) -> str:
    """SHA-256 of the int64 indices ``(K, B)`` and their shape (what identifies given mini-batches)."""
    digest = hashlib.sha256(str(tuple(indices.shape)).encode())
    digest.update(indices.contiguous().numpy().tobytes())
    return digest.hexdigest()
