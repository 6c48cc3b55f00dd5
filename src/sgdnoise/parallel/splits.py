"""How a run splits its seeds (or mini-batches) into tasks.

In this process a split only adds per-task cost, so there is one part; on an executor with
several workers the work is cut into about one part per worker, none smaller than ``min_size``
(a part of a few seeds still runs them batched). The split never changes a number: every seed's
path (every mini-batch) is computed from its own seed, whatever part it falls in.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from sgdnoise.parallel.executor import current_executor
from sgdnoise.plumbing.checks import positive_int


def seed_chunks(seeds: Sequence[int], *, min_size: int = 8, parts: int | None = None) -> list[list[int]]:
    """``seeds`` cut into contiguous parts: ``parts`` of them (default: the current executor's
    worker count), fewer when a part would hold fewer than ``min_size`` seeds; never empty parts."""
    seeds = list(seeds)
    positive_int(min_size, "min_size")
    parts = current_executor().workers if parts is None else positive_int(parts, "parts")
    parts = max(1, min(parts, len(seeds) // min_size, len(seeds)))
    size, extra = divmod(len(seeds), parts)
    bounds = [0]
    for k in range(parts):
        bounds.append(bounds[-1] + size + (k < extra))
    return [seeds[a:b] for a, b in itertools.pairwise(bounds) if b > a]
