"""Keep freed memory in the process heap (glibc), so repeated large temporaries are not faulted in again.

glibc serves allocations above its mmap threshold with fresh ``mmap`` pages and returns freed heap
tops above its trim threshold to the OS; a loop that allocates and frees the same few large
buffers per chunk (noise collection on a small network: gradients, activations, noise of K
mini-batches) then pays the kernel's page faults and zeroing every time. Raising both thresholds
with ``mallopt`` keeps those buffers in the heap, at the price of a higher resident size (freed
memory up to ``trim_threshold`` stays with the process); ``benchmarks/RESULTS.md`` has what it
gains.

This changes the whole process, permanently: the library never calls it on its own; the
``sgdnoise`` command does, and a user may call it at the start of a script.
"""

from __future__ import annotations

import ctypes
import ctypes.util

from sgdnoise.errors import InvalidInputError
from sgdnoise.plumbing.checks import is_int

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers (malloc.h)
_INT_MAX = 2**31 - 1  # mallopt takes a C int


def retain_freed_memory(mmap_threshold: int = 256 << 20, trim_threshold: int = 1 << 30) -> bool:
    """Serve allocations up to ``mmap_threshold`` bytes from the heap and keep up to
    ``trim_threshold`` bytes of freed heap instead of returning them to the OS.

    Returns True when both were set (glibc), False where the C library has no ``mallopt`` or
    refuses the values. Raises :class:`InvalidInputError` for a threshold that is not an int in
    ``[0, 2³¹ − 1]``.
    """
    for name, value in (("mmap_threshold", mmap_threshold), ("trim_threshold", trim_threshold)):
        if not (is_int(value) and 0 <= value <= _INT_MAX):
            raise InvalidInputError(f"{name} must be an int number of bytes in [0, {_INT_MAX}]; got {value!r}")
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt(_M_MMAP_THRESHOLD, mmap_threshold) == 1 and mallopt(_M_TRIM_THRESHOLD, trim_threshold) == 1
