"""retain_freed_memory keeps a freed 20 MiB buffer in the process (glibc), which a fresh process
without it returns to the OS. Each case runs in its own interpreter: the setting is process-wide."""

import subprocess
import sys

import pytest

PROBE = """
import sys, torch
from sgdnoise.parallel import retain_freed_memory
def rss_mib():
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS")) / 1024
applied = retain_freed_memory() if sys.argv[1] == "retain" else False
base = rss_mib()
buffer = torch.ones(20 << 18)  # 20 MiB, touched
buffer.add_(1)
del buffer
print(applied, rss_mib() - base)
"""


def _freed_mib_kept(mode: str) -> tuple[bool, float]:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True).stdout.split()
    return out[0] == "True", float(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and glibc's mallopt are Linux-specific")
def test_freed_buffer_stays_in_the_process_only_when_asked():
    applied, kept = _freed_mib_kept("retain")
    _, kept_by_default = _freed_mib_kept("default")
    assert applied
    assert kept > 15 and kept_by_default < 10  # 20 MiB freed: kept (heap) vs returned (munmap)


def test_bad_thresholds_are_refused_and_a_missing_mallopt_is_reported(monkeypatch):
    import ctypes

    from sgdnoise.errors import InvalidInputError
    from sgdnoise.parallel import retain_freed_memory

    for bad in (-1, 2**31, 1.5, True):
        with pytest.raises(InvalidInputError, match="threshold must be an int"):
            retain_freed_memory(mmap_threshold=bad)

    def no_libc(*args, **kwargs):
        raise OSError("no C library here")

    monkeypatch.setattr(ctypes, "CDLL", no_libc)  # checked before any mallopt call: this process is unchanged
    assert retain_freed_memory() is False
