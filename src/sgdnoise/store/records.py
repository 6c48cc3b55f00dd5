"""A result object on disk and back, without pickle: ``record.json`` plus one Parquet file per data
frame and one ``.npz`` for every array and tensor.

Why: a resumed run must hand back the very result an uninterrupted run returns (frames, arrays,
nested result dataclasses), and a results folder must never be able to run code when read. The
JSON tree names each dataclass by ``module:qualname``; only classes of the ``sgdnoise`` package
are rebuilt, through their constructors. Supported values: ``None``, bool, int, float, str,
lists, tuples, dicts with string keys, NumPy scalars, NumPy arrays, torch tensors, pandas frames
(their ``attrs`` kept) and dataclasses made of these.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sgdnoise.errors import DataFileError
from sgdnoise.store.atomic import atomic_path, write_arrays, write_json

RECORD = "record.json"
ARRAYS = "record_arrays.npz"
TRUSTED_PACKAGE = "sgdnoise"


def write_record(obj: Any, folder: str | os.PathLike) -> Path:
    """Write ``obj`` to ``folder`` (``record.json``, ``record_frame_<i>.parquet``,
    ``record_arrays.npz``), every file atomically, the JSON last; return the JSON's path."""
    folder = Path(folder)
    encoder = _Encoder(folder)
    tree = encoder.encode(obj)
    write_arrays(folder / ARRAYS, compressed=True, **encoder.arrays)
    return write_json({"format": 1, "value": tree}, folder / RECORD)


def read_record(folder: str | os.PathLike) -> Any:
    """The object :func:`write_record` wrote to ``folder``; :class:`DataFileError` when it is
    missing, damaged or names a class outside the sgdnoise package."""
    folder = Path(folder)
    try:
        tree = json.loads((folder / RECORD).read_text())["value"]
        with np.load(folder / ARRAYS, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, KeyError) as exc:
        raise DataFileError(f"cannot read the saved result in {folder}: {exc}; delete the folder to recompute") from exc
    return _Decoder(folder, arrays).decode(tree)


class _Encoder:
    def __init__(self, folder: Path):
        self.folder = folder
        self.arrays: dict[str, np.ndarray] = {}
        self.frames = 0

    def encode(self, value: Any) -> Any:
        if value is None or isinstance(value, (bool, str, int)):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else {"__float__": repr(value)}
        if isinstance(value, np.generic):
            return self.encode(value.item())
        if isinstance(value, np.ndarray):
            return {"__array__": self._array(value)}
        if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
            return {"__tensor__": self._array(value.detach().cpu().numpy()), "dtype": str(value.dtype)}
        if isinstance(value, pd.DataFrame):
            return self._frame(value)
        if isinstance(value, Path):
            return {"__path__": str(value)}
        if isinstance(value, tuple):
            return {"__tuple__": [self.encode(v) for v in value]}
        if isinstance(value, list):
            return [self.encode(v) for v in value]
        if isinstance(value, dict):
            if not all(isinstance(k, str) for k in value):
                raise DataFileError(f"cannot save a dict with non-string keys: {list(value)[:5]}")
            return {"__dict__": {k: self.encode(v) for k, v in value.items()}}
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            cls = type(value)
            fields = {f.name: self.encode(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
            return {"__dataclass__": f"{cls.__module__}:{cls.__qualname__}", "fields": fields}
        raise DataFileError(f"cannot save a value of type {type(value).__name__} in a result record")

    def _array(self, array: np.ndarray) -> str:
        key = f"a{len(self.arrays)}"
        self.arrays[key] = array
        return key

    def _frame(self, frame: pd.DataFrame) -> dict[str, Any]:
        name = f"record_frame_{self.frames}.parquet"
        self.frames += 1
        with atomic_path(self.folder / name) as tmp:
            frame.to_parquet(tmp, index=True)
        return {"__frame__": name, "attrs": self.encode(dict(frame.attrs))}


class _Decoder:
    def __init__(self, folder: Path, arrays: dict[str, np.ndarray]):
        self.folder = folder
        self.arrays = arrays

    def decode(self, tree: Any) -> Any:
        if isinstance(tree, list):
            return [self.decode(v) for v in tree]
        if not isinstance(tree, dict):
            return tree
        if "__float__" in tree:
            return float(tree["__float__"])
        if "__array__" in tree:
            return self.arrays[tree["__array__"]]
        if "__tensor__" in tree:
            import torch

            return torch.from_numpy(self.arrays[tree["__tensor__"]].copy())
        if "__frame__" in tree:
            frame = pd.read_parquet(self.folder / tree["__frame__"])
            frame.attrs.update(self.decode(tree["attrs"]))
            return frame
        if "__path__" in tree:
            return Path(tree["__path__"])
        if "__tuple__" in tree:
            return tuple(self.decode(v) for v in tree["__tuple__"])
        if "__dict__" in tree:
            return {k: self.decode(v) for k, v in tree["__dict__"].items()}
        if "__dataclass__" in tree:
            cls = _trusted_class(tree["__dataclass__"])
            return cls(**{k: self.decode(v) for k, v in tree["fields"].items()})
        raise DataFileError(f"unknown entry in a result record: {sorted(tree)}")


def _trusted_class(name: str) -> type:
    """The dataclass ``module:qualname``, only from the sgdnoise package."""
    module, _, qualname = name.partition(":")
    if module != TRUSTED_PACKAGE and not module.startswith(TRUSTED_PACKAGE + "."):
        raise DataFileError(f"a result record names the class {name!r}, outside sgdnoise; refusing to build it")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    if not (isinstance(obj, type) and dataclasses.is_dataclass(obj)):
        raise DataFileError(f"a result record names {name!r}, which is not a result dataclass")
    return obj
