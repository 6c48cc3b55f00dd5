"""Reading samples for fitting: one sample (e.g. one parameter's noise) per row.

Formats: ``.npy``; ``.npz`` (the array named ``key``, or the only / first 2-D array; a 1-D
string array ``names`` in the same file labels the rows, as ``sgdnoise measure`` writes it);
``.csv`` (numeric columns, optional header, non-numeric columns such as a ``name`` column are
taken as row labels); ``.parquet`` (same as CSV). A 1-D array is one sample (one row).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from sgdnoise.errors import DataFileError

SAMPLE_SUFFIXES = (".npy", ".npz", ".csv", ".parquet")


def read_samples(path: str | os.PathLike, key: str | None = None) -> tuple[np.ndarray, list[str]]:
    """Read a file of samples; return ``(x, names)`` with ``x`` of shape ``(rows, K)``.

    ``names`` labels the rows: the file's first non-numeric column for tables, else
    ``"row0", "row1", ...``. Raises :class:`DataFileError` for a missing or unreadable file,
    an unknown suffix, a missing ``key`` or data that is not a numeric 1-D/2-D array.
    """
    p = Path(path)
    if not p.is_file():
        raise DataFileError(f"no such file: {p} (give the path of a .npy, .npz, .csv or .parquet file)")
    suffix = p.suffix.lower()
    if suffix not in SAMPLE_SUFFIXES:
        raise DataFileError(f"cannot read samples from {p}: the suffix must be one of {', '.join(SAMPLE_SUFFIXES)}")
    names: list[str] | None = None
    try:
        if suffix == ".npy":
            x = np.load(p, allow_pickle=False)
        elif suffix == ".npz":
            x, names = _pick_npz(p, key)
        else:
            frame = pd.read_parquet(p) if suffix == ".parquet" else pd.read_csv(p)
            labels = frame.select_dtypes(exclude="number")
            if labels.shape[1]:
                names = labels.iloc[:, 0].astype(str).tolist()
            x = frame.select_dtypes(include="number").to_numpy()
    except DataFileError:
        raise
    except Exception as exc:
        raise DataFileError(f"could not read {p}: {exc}") from exc
    x = np.asarray(x)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or not np.issubdtype(x.dtype, np.number) or x.size == 0:
        raise DataFileError(
            f"{p} must hold a non-empty numeric 1-D or 2-D array (rows = samples); got shape {x.shape}, dtype {x.dtype}"
        )
    return x.astype(np.float64, copy=False), names or [f"row{i}" for i in range(x.shape[0])]


def _pick_npz(p: Path, key: str | None) -> tuple[np.ndarray, list[str] | None]:
    with np.load(p, allow_pickle=False) as archive:
        if key is not None and key not in archive.files:
            raise DataFileError(f"{p} has no array named {key!r}; it has {archive.files}")
        candidates = [k for k in archive.files if archive[k].ndim == 2] or [k for k in archive.files if k != "names"]
        if key is None and not candidates:
            raise DataFileError(f"{p} holds no arrays")
        x = archive[key if key is not None else candidates[0]]
        names = archive["names"] if "names" in archive.files and key != "names" else None
        rows = x.shape[0] if x.ndim == 2 else 1
        if names is not None and (names.ndim != 1 or len(names) != rows):
            names = None
        return x, None if names is None else [str(n) for n in names]
