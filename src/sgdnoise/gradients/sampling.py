"""The mini-batches ``Ω_1 … Ω_K`` of eq. 1, drawn from a seed."""

from __future__ import annotations

import torch

from sgdnoise.errors import InvalidInputError
from sgdnoise.rng import Seed, as_generator


def sample_batch_indices(
    num_points: int, batch_size: int, num_batches: int, seed: Seed, *, replacement: bool = False
) -> torch.Tensor:
    """Indices of ``num_batches`` independent mini-batches, int64 of shape ``(K, B)``.

    Row ``k`` is ``Ω_k``: ``B`` of the ``D = num_points`` indices drawn uniformly *without*
    replacement within the row (``replacement=False``, a uniform random B-subset, as an epoch
    of shuffled SGD sees), or i.i.d. uniform *with* replacement (``replacement=True``). Rows are
    independent of each other. Same seed, same indices.
    """
    for name, value in (("num_points", num_points), ("batch_size", batch_size), ("num_batches", num_batches)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InvalidInputError(f"{name} must be a positive int; got {value!r}")
    if not replacement and batch_size > num_points:
        raise InvalidInputError(
            f"batch_size={batch_size} is larger than the data set ({num_points} points); "
            "use a batch size of at most the number of points, or replacement=True"
        )
    gen = as_generator(seed)
    if replacement:
        return torch.randint(num_points, (num_batches, batch_size), generator=gen, dtype=torch.int64)
    # The positions of the B largest of D i.i.d. uniforms are a uniform random B-subset;
    # rows are drawn in blocks of at most 2^22 uniforms to bound memory.
    rows_per_block = max(1, (1 << 22) // num_points)
    blocks = [
        torch.rand(min(rows_per_block, num_batches - start), num_points, generator=gen).topk(batch_size, dim=1).indices
        for start in range(0, num_batches, rows_per_block)
    ]
    return torch.cat(blocks)
