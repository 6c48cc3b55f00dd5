"""Where work is executed, and how: executors, thread control and memory policy.

- :func:`run_tasks` runs a list of independent :class:`Task` s on the current executor — in this
  process by default, on Ray inside ``with use_executor(RayExecutor()):`` — and returns their
  values in order; library code above never knows which (:mod:`sgdnoise.parallel.executor`).
- :func:`torch_threads` — at most ``n`` torch intra-op threads for a block of code. Many small
  ops (one row of samples, thousands of simulation steps on small tensors) are dispatch-bound:
  a second intra-op thread only adds hand-off cost, and on a busy machine its spin-waiting can
  make them many times slower. Recipes wrap such loops in ``with torch_threads(1):``.
- :func:`retain_freed_memory` keeps freed memory in the heap (glibc ``mallopt``), so chunked loops
  that reallocate the same large buffers do not pay page faults each time; process-wide, opt-in.
"""

from sgdnoise.parallel.executor import (
    Executor,
    InProcessExecutor,
    Task,
    current_executor,
    executor_named,
    run_tasks,
    running_on,
    use_executor,
)
from sgdnoise.parallel.memory import retain_freed_memory
from sgdnoise.parallel.ray_executor import RayExecutor
from sgdnoise.parallel.splits import seed_chunks
from sgdnoise.parallel.threads import torch_threads

__all__ = [
    "Executor",
    "InProcessExecutor",
    "RayExecutor",
    "Task",
    "current_executor",
    "executor_named",
    "retain_freed_memory",
    "run_tasks",
    "running_on",
    "seed_chunks",
    "torch_threads",
    "use_executor",
]
