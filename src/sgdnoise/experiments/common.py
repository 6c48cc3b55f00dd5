"""What every recipe result shares: its manifest (config, seed, versions, git hash)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from sgdnoise.store import manifest, write_json


def config_manifest(config: Any, **extra: Any) -> dict[str, Any]:
    """The manifest of a recipe run with ``config`` (a config dataclass with a ``seed``): the config,
    its seed, package versions and git hash, and ``extra``."""
    return manifest(asdict(config), seed=config.seed, **extra)


def write_manifest(result: Any, folder: str | Path) -> Path:
    """``folder/manifest.json`` of a recipe result: its config's manifest with ``result=to_dict()``."""
    return write_json(config_manifest(result.config, result=result.to_dict()), Path(folder) / "manifest.json")
