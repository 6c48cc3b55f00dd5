"""``load_dataset(name_or_path, **kw)``: one entry point for every dataset.

Names (see :func:`dataset_names`): the bundled sets, the synthetic generators, and datasets the
user keeps on disk under a data root (``root=``, else ``$SGDNOISE_DATA``, else
``~/.sgdnoise/data``): ``cifar10``, ``cifar100``, ``cinic10``, ``cola`` (sentences as token ids)
and the ODDS files ``speech``, ``ionosphere``, ``cardio``. A path is loaded by what it is: a ``.mat`` file as ODDS, a
``.csv``/``.parquet``/``.npz`` file as a table, a folder as CIFAR batches or an image folder.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from sgdnoise.data.bundled import BUNDLED, load_bundled
from sgdnoise.data.cifar import CIFAR_LAYOUTS, find_cifar_folder, load_cifar
from sgdnoise.data.cola import load_cola
from sgdnoise.data.dataset import TensorData
from sgdnoise.data.images import CINIC10_URL, is_image_folder, load_image_folder
from sgdnoise.data.odds import ODDS_NAMES, load_odds
from sgdnoise.data.synthetic import gaussian_mixture, teacher_student
from sgdnoise.data.tables import TABLE_SUFFIXES, load_table
from sgdnoise.errors import ConfigError, DataFileError

DATA_ROOT_ENV = "SGDNOISE_DATA"


def default_root() -> Path:
    """``$SGDNOISE_DATA`` if set, else ``~/.sgdnoise/data``."""
    return Path(os.environ.get(DATA_ROOT_ENV, "~/.sgdnoise/data")).expanduser()


def _on_disk_cifar(kind: str, root: str | Path | None = None, **kw: Any) -> TensorData:
    return load_cifar(kind, Path(root) if root else default_root(), **kw)


def _on_disk_cinic(root: str | Path | None = None, **kw: Any) -> TensorData:
    base = Path(root) if root else default_root()
    folder = next((f for f in (base, base / "cinic-10", base / "CINIC-10") if (f / "train").is_dir()), None)
    if folder is None:
        raise DataFileError(
            f"no CINIC-10 folder (with train/ and test/) at {base}, {base / 'cinic-10'} or {base / 'CINIC-10'}: "
            f"download it from {CINIC10_URL} and extract it there, or pass root=<folder>"
        )
    return load_image_folder(folder, name="cinic10", **kw)


def _on_disk_cola(root: str | Path | None = None, **kw: Any) -> TensorData:
    return load_cola(Path(root) if root else default_root(), **kw)


def _on_disk_odds(name: str, root: str | Path | None = None, **kw: Any) -> TensorData:
    return load_odds((Path(root) if root else default_root()) / f"{name}.mat", name=name, **kw)


_LOADERS: dict[str, Callable[..., TensorData]] = {
    **{name: partial(load_bundled, name) for name in BUNDLED},
    "gaussian_mixture": gaussian_mixture,
    "teacher_student": teacher_student,
    **{kind: partial(_on_disk_cifar, kind) for kind in CIFAR_LAYOUTS},
    "cinic10": _on_disk_cinic,
    "cola": _on_disk_cola,
    **{name: partial(_on_disk_odds, name) for name in ODDS_NAMES},
}
_PATH_SUFFIXES = (".mat", *TABLE_SUFFIXES)


def dataset_names() -> tuple[str, ...]:
    """Every name :func:`load_dataset` knows."""
    return tuple(_LOADERS)


def load_dataset(name_or_path: str | os.PathLike, **kw: Any) -> TensorData:
    """Load a dataset by name or path; keyword arguments go to its loader.

    Common keywords: ``split`` ("train", "test", "all"), ``test_fraction``, ``seed``,
    ``standardize``; on-disk names also take ``root``. Returns :class:`TensorData` with float32
    inputs, int64 labels (or float32 regression targets) and ``.info``.

    Raises :class:`ConfigError` for an unknown name or keyword and :class:`DataFileError` for a
    missing or unreadable file (the message says where it looked and how to get the data).
    """
    loader = _LOADERS.get(str(name_or_path)) if not isinstance(name_or_path, Path) else None
    if loader is None:
        if not _looks_like_path(name_or_path):
            raise ConfigError(
                f"unknown dataset {str(name_or_path)!r}; known names: {', '.join(dataset_names())}, or give a "
                "file/folder path"
            )
        loader = _loader_for_path(Path(name_or_path).expanduser())
    _check_keywords(loader, kw, str(name_or_path))
    return loader(**kw)


def _looks_like_path(value: str | os.PathLike) -> bool:
    text = os.fspath(value)
    return (
        isinstance(value, os.PathLike)
        or os.sep in text
        or Path(text).suffix.lower() in _PATH_SUFFIXES
        or Path(text).exists()
    )


def _loader_for_path(path: Path) -> Callable[..., TensorData]:
    if path.is_file():
        if path.suffix.lower() == ".mat":
            return partial(load_odds, path)
        if path.suffix.lower() in TABLE_SUFFIXES:
            return partial(load_table, path)
        raise DataFileError(f"cannot load {path}: use a .mat (ODDS), {', '.join(TABLE_SUFFIXES)} file, or a folder")
    if path.is_dir():
        for kind in CIFAR_LAYOUTS:
            if find_cifar_folder(kind, path) is not None:
                return partial(load_cifar, kind, path)
        if is_image_folder(path):
            return partial(load_image_folder, path)
        raise DataFileError(
            f"{path} is neither a CIFAR python-batch folder nor an image folder with one sub-folder per class"
        )
    raise DataFileError(f"no such file or folder: {path} (known dataset names: {', '.join(dataset_names())})")


def _check_keywords(loader: Callable[..., TensorData], kw: dict[str, Any], label: str) -> None:
    """Raise :class:`ConfigError` for keywords neither ``loader`` nor the loader it forwards to takes."""
    target = loader.func if isinstance(loader, partial) else loader
    own = inspect.signature(loader).parameters
    forwarded = inspect.signature(_FORWARDS_TO.get(target, target)).parameters
    accepted = {
        n for n, p in own.items() if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    }
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in own.values()):
        accepted |= {n for n, p in forwarded.items() if p.kind is inspect.Parameter.KEYWORD_ONLY and n != "name"}
    unknown = sorted(set(kw) - accepted)
    if unknown:
        raise ConfigError(f"dataset {label!r} does not take {unknown}; it takes {sorted(accepted)}")


#: The loaders that the root-resolving wrappers hand their keywords to.
_FORWARDS_TO = {
    _on_disk_cifar: load_cifar,
    _on_disk_cinic: load_image_folder,
    _on_disk_cola: load_cola,
    _on_disk_odds: load_odds,
}
