"""A noise run on disk, written chunk by chunk so a killed run resumes where it stopped.

Layout of the run folder::

    manifest.json          config, seed, versions, chunk size, engine, status
    full_grad.npz          name → ∇U (eq. 1)
    batch_indices.npy      (K, B) int64, the mini-batches Ω_k
    chunks/chunk_00000.npz selected noise of chunk 0 (name → (Kc, ...)) and its losses
    running_state.npz      running moments after the last finished chunk, and ``chunks_done``
    shards/                finished tasks of a sharded run (:mod:`sgdnoise.store.shards`), until it is complete

Every file is written atomically (``sgdnoise.store.atomic_path``). A chunk file is written
before the state that counts it, so after a crash the state never counts a missing chunk. A run
sharded over several workers writes the same chunk files and states, in chunk order, once its
tasks have finished; a rerun after an interruption reads the finished tasks back from ``shards/``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sgdnoise.errors import ConfigError, DataFileError
from sgdnoise.store import atomic_path, manifest, write_arrays, write_json
from sgdnoise.store.shards import ShardStore


def save_npz(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    """Write ``name → tensor`` as an ``.npz`` atomically."""
    write_arrays(path, **{k: v.detach().cpu().numpy() for k, v in tensors.items()})


def load_npz(path: Path) -> dict[str, torch.Tensor]:
    """Read an ``.npz`` written by :func:`save_npz` back as ``name → tensor``."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {k: torch.from_numpy(archive[k].copy()) for k in archive.files}
    except (OSError, ValueError) as exc:
        raise DataFileError(f"could not read {path}: {exc}; delete the run folder to start again") from exc


class NoiseRunStore:
    """Reads and writes one run folder (layout in the module docstring)."""

    def __init__(self, folder: str | Path, config: dict[str, Any] | None = None) -> None:
        self.folder = Path(folder)
        self.config = config or {}  # what must match for the folder's run to be resumed

    @property
    def manifest_path(self) -> Path:
        return self.folder / "manifest.json"

    def chunk_path(self, c: int) -> Path:
        return self.folder / "chunks" / f"chunk_{c:05d}.npz"

    def read_manifest(self) -> dict[str, Any] | None:
        if not self.manifest_path.is_file():
            return None
        try:
            return json.loads(self.manifest_path.read_text())
        except (OSError, ValueError) as exc:
            raise DataFileError(
                f"could not read {self.manifest_path}: {exc}; delete the run folder to start again"
            ) from exc

    def check_same_run(self, saved: dict[str, Any]) -> None:
        """Raise :class:`ConfigError` when the folder holds a run with a config other than ours."""
        diff = sorted(
            k for k in set(self.config) | set(saved["config"]) if saved["config"].get(k) != self.config.get(k)
        )
        if diff:
            raise ConfigError(
                f"{self.folder} holds a different noise run (differs in {', '.join(diff)}); "
                "use another out folder, or delete this one to start again"
            )

    def start(self, seed: int, full_grad: dict[str, torch.Tensor], batch_indices: torch.Tensor, **extra: Any) -> None:
        save_npz(self.folder / "full_grad.npz", full_grad)
        with atomic_path(self.folder / "batch_indices.npy") as tmp, open(tmp, "wb") as fh:
            np.save(fh, batch_indices.numpy())
        write_json(manifest(self.config, seed=seed, status="running", **extra), self.manifest_path)

    def finish(self, saved: dict[str, Any]) -> None:
        write_json({**saved, "status": "complete"}, self.manifest_path)
        self.task_shards().clear()  # every chunk is written: the tasks' copies are not needed again

    def task_shards(self) -> ShardStore:
        """Where the tasks of a sharded run keep what they finished."""
        return ShardStore(self.folder / "shards")

    def full_grad(self) -> dict[str, torch.Tensor]:
        return load_npz(self.folder / "full_grad.npz")

    def write_chunk(self, c: int, noise: dict[str, torch.Tensor], losses: torch.Tensor) -> None:
        save_npz(self.chunk_path(c), {**{f"noise:{n}": t for n, t in noise.items()}, "losses": losses})

    def read_chunk(self, c: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        arrays = load_npz(self.chunk_path(c))
        noise = {k.partition(":")[2]: v for k, v in arrays.items() if k.startswith("noise:")}
        return noise, arrays["losses"]

    def save_state(self, chunks_done: int, state: dict[str, torch.Tensor]) -> None:
        save_npz(self.folder / "running_state.npz", {**state, "chunks_done": torch.tensor(chunks_done)})

    def load_state(self) -> tuple[int, dict[str, torch.Tensor]]:
        path = self.folder / "running_state.npz"
        if not path.is_file():
            return 0, {}
        state = load_npz(path)
        return int(state.pop("chunks_done")), state
