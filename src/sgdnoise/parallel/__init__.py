"""Executors and thread control.

:func:`torch_threads` limits torch's intra-op threads for a block of code. Simulations that take
thousands of small steps on small tensors are dispatch-bound: a second intra-op thread only adds
hand-off cost, and on a busy machine its spin-waiting can make them tens of times slower
(measured here: Zhu et al.'s toy table 2.4 s on one thread against 80 s on two, on a loaded
2-core machine). Recipes wrap such loops in ``with torch_threads(1):``.

:func:`retain_freed_memory` keeps freed memory in the heap (glibc ``mallopt``), so chunked loops
that reallocate the same large buffers do not pay page faults each time; process-wide, opt-in.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from sgdnoise.parallel.memory import retain_freed_memory

__all__ = ["retain_freed_memory", "torch_threads"]


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads, then restore the previous setting."""
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
