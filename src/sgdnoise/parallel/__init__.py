"""Where work is executed, and how: thread control and memory policy.

- :func:`torch_threads` — at most ``n`` torch intra-op threads for a block of code. Many small
  ops (one row of samples, thousands of simulation steps on small tensors) are dispatch-bound:
  a second intra-op thread only adds hand-off cost, and on a busy machine its spin-waiting can
  make them many times slower. Recipes wrap such loops in ``with torch_threads(1):``.
- :func:`retain_freed_memory` keeps freed memory in the heap (glibc ``mallopt``), so chunked loops
  that reallocate the same large buffers do not pay page faults each time; process-wide, opt-in.
"""

from sgdnoise.parallel.memory import retain_freed_memory
from sgdnoise.parallel.threads import torch_threads

__all__ = ["retain_freed_memory", "torch_threads"]
