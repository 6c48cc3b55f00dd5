"""Tables on disk: CSV, Parquet (one row per point, a target column) and NPZ (two arrays).

- CSV/Parquet: ``target`` names the label column (default: the first of ``target``, ``y``,
  ``label``, ``class`` present); ``features`` picks the input columns (default: all the others,
  which must be numeric).
- NPZ: ``features`` names the input array (default: first of ``X``, ``x``, ``inputs``, ``data``)
  and ``target`` the label array (default: first of ``y``, ``targets``, ``target``, ``labels``).
  A 4-D input array ``(N, C, H, W)`` is kept as images.

``task=None`` infers it: targets that are strings, booleans or integers with at most
:data:`MAX_INFERRED_CLASSES` distinct values are class labels, anything else is regression.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from sgdnoise.data.dataset import Split, Task, TensorData, build_tensor_data
from sgdnoise.errors import ConfigError, DataFileError

TABLE_SUFFIXES = (".csv", ".parquet", ".npz")
MAX_INFERRED_CLASSES = 50
_TARGET_COLUMNS = ("target", "y", "label", "class")
_NPZ_FEATURES = ("X", "x", "inputs", "data")
_NPZ_TARGETS = ("y", "targets", "target", "labels")


def load_table(
    path: str | Path,
    *,
    target: str | None = None,
    features: Sequence[str] | str | None = None,
    task: Task | None = None,
    split: Split = "train",
    test_fraction: float = 0.2,
    seed: int = 0,
    standardize: bool = True,
    name: str | None = None,
) -> TensorData:
    """A CSV/Parquet/NPZ file as :class:`TensorData` (see the module doc for column rules)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataFileError(f"no table at {path}: give the path of a {', '.join(TABLE_SUFFIXES)} file")
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise DataFileError(f"cannot load {path}: the suffix must be one of {', '.join(TABLE_SUFFIXES)}")
    if suffix == ".npz":
        x, y, target = _read_npz(path, target, features)
    else:
        x, y, target = _read_frame(path, target, features)
    task = task or infer_task(y)
    return build_tensor_data(
        name or path.stem,
        x,
        y,
        task=task,
        source=f"table {path} (target {target!r})",
        split=split,
        test_fraction=test_fraction,
        seed=seed,
        standardize=standardize,
    )


def infer_task(y: np.ndarray) -> Task:
    """``"classification"`` for string/bool/few-valued integer targets, else ``"regression"``."""
    y = np.asarray(y)
    if y.ndim > 1 and y.shape[1] > 1:
        return "regression"
    if y.dtype.kind in "OUSb":
        return "classification"
    integral = y.dtype.kind in "iu" or (y.dtype.kind == "f" and np.isfinite(y).all() and np.all(y == np.round(y)))
    return "classification" if integral and len(np.unique(y)) <= MAX_INFERRED_CLASSES else "regression"


def _read_frame(
    path: Path, target: str | None, features: Sequence[str] | str | None
) -> tuple[np.ndarray, np.ndarray, str]:
    try:
        frame = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)
    except Exception as exc:
        raise DataFileError(f"could not read {path}: {exc}") from exc
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    target = target or next((c for c in _TARGET_COLUMNS if c in columns), None)
    if target is None or target not in columns:
        raise ConfigError(f"{path}: no target column {target or _TARGET_COLUMNS!r}; pass target=<one of {columns}>")
    chosen = [features] if isinstance(features, str) else list(features or [c for c in columns if c != target])
    unknown = [c for c in chosen if c not in columns]
    if unknown:
        raise ConfigError(f"{path}: unknown feature columns {unknown}; the table has {columns}")
    non_numeric = [c for c in chosen if not pd.api.types.is_numeric_dtype(frame[c])]
    if non_numeric:
        raise DataFileError(
            f"{path}: feature columns {non_numeric} are not numeric; encode them or pick numeric columns with "
            "features=[...]"
        )
    return frame[chosen].to_numpy(dtype=np.float64), frame[target].to_numpy(), target


def _read_npz(
    path: Path, target: str | None, features: Sequence[str] | str | None
) -> tuple[np.ndarray, np.ndarray, str]:
    if features is not None and not isinstance(features, str):
        raise ConfigError(f"{path}: for an .npz file, features is the name of one array; got {features!r}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
    except Exception as exc:
        raise DataFileError(f"could not read {path}: {exc}") from exc
    x_key = features or next((k for k in _NPZ_FEATURES if k in arrays), None)
    y_key = target or next((k for k in _NPZ_TARGETS if k in arrays), None)
    for role, key, defaults in (("features", x_key, _NPZ_FEATURES), ("target", y_key, _NPZ_TARGETS)):
        if key is None or key not in arrays:
            raise ConfigError(f"{path}: no {role} array {key or defaults!r}; pass {role}=<one of {sorted(arrays)}>")
    x = arrays[x_key]
    if x.ndim == 1:
        x = x[:, None]
    elif x.ndim not in (2, 4):
        x = x.reshape(len(x), -1)
    return x, arrays[y_key], y_key
