"""The JSON manifest written beside every result: config, seed, versions, git hash."""

from __future__ import annotations

import datetime as _dt
import platform
import subprocess
from pathlib import Path
from typing import Any


def _git_hash() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).parent
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def manifest(config: dict[str, Any] | None = None, *, seed: int | None = None, **extra: Any) -> dict[str, Any]:
    """A manifest dict: ``config``, ``seed``, package versions, git hash (when available), time."""
    import numpy
    import scipy
    import torch

    import sgdnoise

    return {
        "config": config or {},
        "seed": seed,
        "versions": {
            "sgdnoise": sgdnoise.__version__,
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": numpy.__version__,
            "scipy": scipy.__version__,
        },
        "git": _git_hash(),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        **extra,
    }
