"""Resumable steps: a step's result is kept in its folder under a content hash of what it was
computed from, and a rerun with the same inputs reads it back instead of computing it again.

A step folder holds what the result's own ``write(folder)`` writes, the result as a record
(:mod:`sgdnoise.store.records`, under ``record/``) and, written last, ``step.json`` with the
inputs' hash and the seconds the computation took. The marker is removed before a step is
recomputed, so an interruption at any point leaves either a complete step or one that is
recomputed: a run stopped by Ctrl-C and started again ends with the numbers of an uninterrupted
run (every step is seeded).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sgdnoise.errors import DataFileError
from sgdnoise.store.atomic import write_json
from sgdnoise.store.records import read_record, write_record
from sgdnoise.store.shards import ShardStore, shard_scope

MARKER = "step.json"
SHARDS = "shards"


@dataclass(frozen=True)
class StepOutcome:
    """A step's ``result``, the ``seconds`` its computation took (when it was first computed, for a
    resumed step), whether it was ``resumed`` from disk, and its inputs' hash ``key``."""

    result: Any
    seconds: float
    resumed: bool
    key: str


def fingerprint(value: Any) -> str:
    """A SHA-256 hex digest of ``value``'s content: dataclasses by their fields, mappings and
    sequences element by element, arrays and tensors by dtype, shape and bytes, modules by their
    layout and ``state_dict``, classes by module and name, tensor data sets by their tensors,
    functions by module, name, line and the values their closures and defaults hold (not their
    address, which changes from process to process), paths of existing files by their bytes,
    anything else by ``repr``."""
    digest = hashlib.sha256()
    _feed(digest, value)
    return digest.hexdigest()


def _feed(digest: Any, value: Any) -> None:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        digest.update(f"<{type(value).__qualname__}>".encode())
        for field in dataclasses.fields(value):
            digest.update(field.name.encode())
            _feed(digest, getattr(value, field.name))
    elif isinstance(value, Mapping):
        digest.update(b"{")
        for key in sorted(value, key=str):
            digest.update(str(key).encode() + b":")
            _feed(digest, value[key])
        digest.update(b"}")
    elif isinstance(value, (list, tuple)):
        digest.update(b"[")
        for item in value:
            _feed(digest, item)
        digest.update(b"]")
    elif isinstance(value, type):  # a class (an nn.Module subclass, too): by its name
        digest.update(f"<class {value.__module__}:{value.__qualname__}>".encode())
    elif callable(getattr(value, "state_dict", None)) and callable(getattr(value, "named_modules", None)):
        digest.update(f"<module {value!r}>".encode())  # an nn.Module: its layout, then its weights and buffers
        _feed(digest, dict(value.state_dict()))
    elif isinstance(getattr(value, "tensors", None), tuple):  # a TensorDataset
        digest.update(f"<{type(value).__qualname__}>".encode())
        _feed(digest, value.tensors)
    elif callable(value) and hasattr(value, "__qualname__"):  # a function: by name, not by its address
        code = getattr(value, "__code__", None)
        line = code.co_firstlineno if code is not None else ""
        digest.update(f"<function {getattr(value, '__module__', '')}:{value.__qualname__}:{line}>".encode())
        _feed(digest, getattr(value, "__defaults__", None))  # what a closure or default argument holds
        for cell in getattr(value, "__closure__", None) or ():
            try:
                contents = cell.cell_contents
            except ValueError:  # a cell not yet filled
                contents = None
            _feed(digest, None if contents is value else contents)
    elif type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        _feed(digest, value.detach().cpu().contiguous().numpy())
    elif isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(array.tobytes())
    elif isinstance(value, os.PathLike) and Path(value).is_file():
        digest.update(hashlib.sha256(Path(value).read_bytes()).digest())
    else:
        digest.update(repr(value).encode())


def run_step(folder: str | os.PathLike, inputs: Any, compute: Callable[[], Any]) -> StepOutcome:
    """The result of ``compute()`` for ``inputs``: read from ``folder`` when a finished step there
    has the same inputs' hash, else computed (the sweeps inside keep their shards in
    ``folder/shards``), written (``result.write(folder)`` when the result has it, then its
    record, then the marker) and returned."""
    folder = Path(folder)
    done = finished_step(folder, inputs)
    if done is not None:
        return done
    result, seconds = computed_step(compute, folder)
    return kept_step(folder, inputs, result, seconds)


def finished_step(folder: str | os.PathLike, inputs: Any) -> StepOutcome | None:
    """The step finished in ``folder`` with these ``inputs``, read back; ``None`` when there is none
    (or it is damaged: then it is computed again). A marker of other inputs is removed, so that a
    computation interrupted from here on leaves no finished-looking step."""
    folder = Path(folder)
    key = fingerprint(inputs)
    marker = folder / MARKER
    done = _finished(marker)
    if done.get("key") == key:
        try:
            return StepOutcome(read_record(folder / "record"), float(done["seconds"]), True, key)
        except DataFileError:
            pass  # damaged by hand: compute again
    marker.unlink(missing_ok=True)
    return None


def computed_step(compute: Callable[[], Any], folder: str | os.PathLike) -> tuple[Any, float]:
    """``compute()`` and the seconds it took, its sweeps keeping their shards in ``folder/shards``."""
    start = time.perf_counter()
    with shard_scope(Path(folder) / SHARDS):
        result = compute()
    return result, time.perf_counter() - start


def kept_step(folder: str | os.PathLike, inputs: Any, result: Any, seconds: float) -> StepOutcome:
    """Write a computed step into ``folder`` — its own files, its record, then the marker — and drop
    its shards, which the record now holds."""
    folder = Path(folder)
    key = fingerprint(inputs)
    marker = folder / MARKER
    marker.unlink(missing_ok=True)  # the folder's files change from here on
    if hasattr(result, "write"):
        result.write(folder)
    write_record(result, folder / "record")
    write_json({"key": key, "seconds": seconds}, marker)
    ShardStore(folder / SHARDS).clear()
    return StepOutcome(result, seconds, False, key)


def _finished(marker: Path) -> dict[str, Any]:
    try:
        done = json.loads(marker.read_text())
    except (OSError, ValueError):
        return {}
    return done if isinstance(done, dict) else {}
