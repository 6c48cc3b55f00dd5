"""torch's intra-op thread count, lowered for a block and given back.

torch hands an elementwise transcendental (``cos``, ``log``, ``exp``, ``sqrt``) on more than
about a hundred values to its thread pool. For a computation made of many such small ops —
one row of samples, a handful of parameters — waking the pool costs more than it saves, and
on a machine whose cores are busy the woken thread can wait milliseconds for one, on every
op. :func:`torch_threads` runs such a block on fewer threads; each value an elementwise op
computes is the same on any number of threads.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from sgdnoise.plumbing.checks import positive_int


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the ``with`` block with at most ``n`` torch intra-op threads; on exit (also when the
    block raises) the previous count comes back.

    Under torch's OpenMP backend (the default builds) the count belongs to the calling thread:
    threads that have already run torch code keep theirs, but a thread that runs its first
    torch code while the block is open starts with the lowered count (torch seeds new threads
    from the last count set). Other backends allow one setting per process; there the block
    runs unchanged.
    """
    positive_int(n, "n")
    previous = torch.get_num_threads()
    if previous <= n or not torch.backends.openmp.is_available():
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
