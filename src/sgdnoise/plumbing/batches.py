"""The mini-batches ``Ω_1 … Ω_K`` of eq. 1, drawn from a seed."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from sgdnoise.errors import InvalidInputError
from sgdnoise.plumbing.checks import positive_int
from sgdnoise.rng import Seed, as_generator


def sample_batch_indices(
    num_points: int, batch_size: int, num_batches: int, seed: Seed, *, replacement: bool = False
) -> torch.Tensor:
    """Indices of ``num_batches`` independent mini-batches, int64 of shape ``(K, B)``.

    Row ``k`` is ``Ω_k``: ``B`` of the ``D = num_points`` indices drawn uniformly *without*
    replacement within the row (``replacement=False``, a uniform random B-subset, as an epoch
    of shuffled SGD sees), or i.i.d. uniform *with* replacement (``replacement=True``). Rows are
    independent of each other. Same seed, same indices. The order of indices within a row
    carries no meaning.

    Without replacement, rows are drawn by Floyd's algorithm when ``B² ≤ 8·D`` (``B`` draws per
    row, ``O(K·B²)`` work, independent of ``D``) and otherwise as the positions of the ``B``
    largest of ``D`` i.i.d. uniforms (``O(K·D)``); both give uniform B-subsets. Either way the
    generator is consumed row by row, so drawing ``K`` rows at once gives the same rows as
    drawing them one at a time from the same generator (a stream does not depend on blocking).
    """
    _check_sizes(num_points, batch_size, num_batches, replacement)
    gen = as_generator(seed)
    if replacement:
        return torch.randint(num_points, (num_batches, batch_size), generator=gen, dtype=torch.int64)
    if _uses_floyd(num_points, batch_size):
        return _floyd_subsets(num_points, _floyd_uniforms(batch_size, num_batches, gen))
    return _top_uniform_subsets(num_points, batch_size, num_batches, gen)


def sample_batch_indices_per_stream(
    num_points: int, batch_size: int, num_batches: int, generators: Sequence[torch.Generator]
) -> torch.Tensor:
    """``(S, K, B)``: row ``s`` is exactly ``sample_batch_indices(num_points, batch_size, num_batches,
    generators[s])`` (without replacement), but the ``S`` streams' Floyd steps run as one batched
    computation — for many independent streams at once (one SGD seed each)."""
    _check_sizes(num_points, batch_size, num_batches, False)
    if not _uses_floyd(num_points, batch_size):
        return torch.stack([_top_uniform_subsets(num_points, batch_size, num_batches, g) for g in generators])
    uniforms = torch.stack([_floyd_uniforms(batch_size, num_batches, g) for g in generators])
    return _floyd_subsets(num_points, uniforms.reshape(-1, batch_size)).reshape(
        len(generators), num_batches, batch_size
    )


def _check_sizes(num_points: int, batch_size: int, num_batches: int, replacement: bool) -> None:
    for name, value in (("num_points", num_points), ("batch_size", batch_size), ("num_batches", num_batches)):
        positive_int(value, name)
    if not replacement and batch_size > num_points:
        raise InvalidInputError(
            f"batch_size={batch_size} is larger than the data set ({num_points} points); "
            "use a batch size of at most the number of points, or replacement=True"
        )


def _uses_floyd(num_points: int, batch_size: int) -> bool:
    return batch_size**2 <= 8 * num_points


def _floyd_uniforms(batch_size: int, num_batches: int, gen: torch.Generator) -> torch.Tensor:
    """The float64 uniforms of Floyd's draws, one row-major ``(K, B)`` array."""
    return torch.rand(num_batches, batch_size, generator=gen, dtype=torch.float64)


def _floyd_subsets(num_points: int, uniforms: torch.Tensor) -> torch.Tensor:
    """Floyd's algorithm (Bentley & Floyd 1987), vectorised over rows: for ``j = 0 … B−1`` and
    ``m_j = D−B+j``, draw ``t_j = ⌊u_j·(m_j+1)⌋`` uniform in ``{0 … m_j}`` (``u`` a float64 uniform;
    bias below ``D/2⁵³``) and take ``m_j`` instead if ``t_j`` is already in the row. ``uniforms``:
    ``(rows, B)``.

    Computed without a loop over ``j``: ``t_j`` is in the row if it equals an earlier draw ``t_i``
    (kept, or replaced because its value was already there), or equals ``m_i`` for the one
    ``i = t_j − (D−B) < j`` when that position was replaced. So the replaced positions are the
    fixed point of ``R = dup ∪ {j : i(j) ∈ R}``, reached after as many rounds as the longest such
    chain (rarely more than two)."""
    batch_size = uniforms.shape[1]
    base = num_points - batch_size
    bounds = torch.arange(base + 1, num_points + 1, dtype=torch.float64)
    draws = (uniforms * bounds).long()
    ordered, order = draws.sort(dim=1, stable=True)  # equal draws in position order
    repeats = torch.zeros_like(ordered, dtype=torch.bool)
    repeats[:, 1:] = ordered[:, 1:] == ordered[:, :-1]
    replaced = torch.zeros_like(repeats).scatter_(1, order, repeats)  # t_j equals an earlier t_i
    position = draws - base  # i with m_i = t_j, valid where 1 ≤ i < j
    points_back = (position >= 1) & (position < torch.arange(batch_size))
    source = position.clamp(0, batch_size - 1)
    while True:
        grown = replaced | (points_back & replaced.gather(1, source))
        if torch.equal(grown, replaced):
            break
        replaced = grown
    return torch.where(replaced, base + torch.arange(batch_size), draws)


def _top_uniform_subsets(num_points: int, batch_size: int, num_batches: int, gen: torch.Generator) -> torch.Tensor:
    """Positions of the B largest of D i.i.d. uniforms per row; blocks of ≤ 2^22 uniforms bound memory."""
    rows_per_block = max(1, (1 << 22) // num_points)
    blocks = [
        torch.rand(min(rows_per_block, num_batches - start), num_points, generator=gen).topk(batch_size, dim=1).indices
        for start in range(0, num_batches, rows_per_block)
    ]
    return torch.cat(blocks)
