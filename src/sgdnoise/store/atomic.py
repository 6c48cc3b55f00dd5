"""Atomic file writes: write to a temporary file beside the target, then ``os.replace``.

A run killed mid-write leaves either the old file or the new one, never a truncated file.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sgdnoise.errors import DataFileError

TABLE_SUFFIXES = (".parquet", ".csv")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder; on success it replaces ``path`` atomically.

    The folder is created if needed. On an exception the temporary file is removed and
    ``path`` is left untouched::

        with atomic_path("fits.parquet") as tmp:
            frame.to_parquet(tmp)
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_table(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``frame`` to ``path`` (``.parquet`` or ``.csv``) atomically; return the path."""
    target = Path(path)
    if target.suffix.lower() not in TABLE_SUFFIXES:
        raise DataFileError(f"cannot write a table to {target}: use a .parquet or .csv file name")
    with atomic_path(target) as tmp:
        if target.suffix.lower() == ".parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False)
    return target


def write_json(obj: Any, path: str | os.PathLike) -> Path:
    """Write ``obj`` as indented JSON atomically (NumPy scalars and paths are converted)."""
    target = Path(path)
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=_jsonable) + "\n")
    return target


def write_arrays(path: str | os.PathLike, *, compressed: bool = False, **arrays: Any) -> Path:
    """Write the named NumPy ``arrays`` to one ``.npz`` file atomically (``np.savez``, or
    ``np.savez_compressed`` when ``compressed``); return the path."""
    target = Path(path)
    save = np.savez_compressed if compressed else np.savez
    with atomic_path(target) as tmp, open(tmp, "wb") as fh:
        save(fh, **arrays)
    return target


def _jsonable(value: Any) -> Any:
    """NumPy/torch arrays and scalars to lists and numbers; anything else (paths, ...) to str."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
