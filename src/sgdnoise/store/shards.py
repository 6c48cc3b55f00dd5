"""Finished shards of a run on disk, so that a rerun after an interruption or a failure only
computes what is missing.

A shard is one task's result (some seeds of a sweep point, a chunk of mini-batches, one step),
kept as a record (:mod:`sgdnoise.store.records`) in ``folder/<name>`` where ``name`` is the
task's label and a content hash of what it computes (its function and arguments,
:func:`~sgdnoise.store.steps.fingerprint`). Writing a shard twice writes the same files again:
the record's JSON is written last and atomically, so a shard is either complete or absent.

:func:`shard_scope` names the folder that the runs inside a block keep their shards in; a
resumable step (:func:`sgdnoise.store.steps.run_step`) opens one in its own folder, so the sweeps
a step runs resume too.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sgdnoise.errors import DataFileError
from sgdnoise.store.records import RECORD, read_record, write_record

_SCOPE: contextvars.ContextVar[Path | None] = contextvars.ContextVar("sgdnoise_shard_scope", default=None)
_UNSAFE = re.compile(r"[^A-Za-z0-9_.=+-]+")


class ShardStore:
    """The shards kept in ``folder`` (created on the first write)."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def path(self, name: str) -> Path:
        return self.folder / _UNSAFE.sub("_", name)

    def has(self, name: str) -> bool:
        return (self.path(name) / RECORD).is_file()

    def read(self, name: str) -> Any:
        """The shard ``name``; :class:`DataFileError` when it is missing or damaged."""
        return read_record(self.path(name))

    def get(self, name: str) -> tuple[bool, Any]:
        """``(True, value)`` for a finished, readable shard, else ``(False, None)`` (a damaged one is
        computed again)."""
        if not self.has(name):
            return False, None
        try:
            return True, self.read(name)
        except DataFileError:
            return False, None

    def write(self, name: str, value: Any) -> None:
        write_record(value, self.path(name))

    def names(self) -> list[str]:
        """The names (as stored) of the finished shards."""
        if not self.folder.is_dir():
            return []
        return sorted(p.name for p in self.folder.iterdir() if (p / RECORD).is_file())

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


@contextlib.contextmanager
def shard_scope(folder: str | os.PathLike | None) -> Iterator[ShardStore | None]:
    """Keep the shards of the runs inside the block in ``folder`` (``None``: keep none)."""
    token = _SCOPE.set(None if folder is None else Path(folder))
    try:
        yield current_shards()
    finally:
        _SCOPE.reset(token)


def current_shards() -> ShardStore | None:
    """The shard store of the innermost :func:`shard_scope`, or ``None`` outside any."""
    folder = _SCOPE.get()
    return None if folder is None else ShardStore(folder)
