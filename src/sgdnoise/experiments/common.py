"""What every recipe result shares: its manifest."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from sgdnoise.store import manifest, write_json


def write_manifest(result: Any, folder: str | Path) -> Path:
    """``folder/manifest.json`` of a recipe result: its config, seed, ``to_dict()`` and versions."""
    return write_json(
        manifest(asdict(result.config), seed=result.config.seed, result=result.to_dict()),
        Path(folder) / "manifest.json",
    )
