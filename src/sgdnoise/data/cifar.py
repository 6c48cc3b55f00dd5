"""CIFAR-10 / CIFAR-100 from the "python version" pickle folders.

Layout (as extracted from ``cifar-10-python.tar.gz`` / ``cifar-100-python.tar.gz``)::

    cifar-10-batches-py/  data_batch_1 … data_batch_5, test_batch, batches.meta
    cifar-100-python/     train, test, meta

Each batch file is a pickled dict with ``data`` (uint8, ``(n, 3072)``, rows are the red, green,
blue 32×32 planes) and ``labels`` (CIFAR-10) or ``fine_labels``/``coarse_labels`` (CIFAR-100).
Files are read with a restricted unpickler that only accepts NumPy arrays, lists, dicts and
scalars, so a tampered file cannot run code.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from sgdnoise.data.dataset import Split, TensorData, build_tensor_data
from sgdnoise.errors import ConfigError, DataFileError

CIFAR_LAYOUTS = {
    "cifar10": {
        "folder": "cifar-10-batches-py",
        "train": tuple(f"data_batch_{i}" for i in range(1, 6)),
        "test": ("test_batch",),
        "meta": ("batches.meta", "label_names"),
        "url": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    },
    "cifar100": {
        "folder": "cifar-100-python",
        "train": ("train",),
        "test": ("test",),
        "meta": ("meta", "fine_label_names"),
        "url": "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
    },
}
_SAFE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class _ArrayOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _SAFE_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: a CIFAR batch holds only arrays and lists")
        return super().find_class(module, name)


def find_cifar_folder(kind: str, root: Path) -> Path | None:
    """``root`` itself if it holds the batch files of ``kind``, else its standard sub-folder."""
    layout = CIFAR_LAYOUTS[kind]
    for folder in (root, root / layout["folder"]):
        if (folder / layout["test"][0]).is_file():
            return folder
    return None


def load_cifar(
    kind: str,
    root: str | Path,
    *,
    split: Split = "train",
    label_kind: str = "fine",
    standardize: bool = True,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> TensorData:
    """CIFAR-10 (``kind="cifar10"``) or CIFAR-100 (``"cifar100"``) from ``root``.

    ``root`` is the extracted folder or its parent. Returns images ``(N, 3, 32, 32)`` standardised
    per channel with training statistics; the official train/test files define the split
    (``test_fraction``/``seed`` are accepted for a uniform signature and unused). CIFAR-100
    takes ``label_kind="fine"`` (100 classes) or ``"coarse"`` (20 super-classes).
    """
    if kind not in CIFAR_LAYOUTS:
        raise ConfigError(f"unknown CIFAR kind {kind!r}; use one of {tuple(CIFAR_LAYOUTS)}")
    if label_kind not in ("fine", "coarse"):
        raise ConfigError(f"label_kind must be 'fine' or 'coarse'; got {label_kind!r}")
    layout = CIFAR_LAYOUTS[kind]
    root = Path(root).expanduser()
    folder = find_cifar_folder(kind, root)
    if folder is None:
        raise DataFileError(
            f"no {kind} batch files ({layout['test'][0]}, …) in {root} or {root / layout['folder']}: download "
            f"{layout['url']}, extract it (tar xzf) into {root}, or pass the extracted folder's path"
        )
    label_key = "labels" if kind == "cifar10" else f"{label_kind}_labels"
    x_train, y_train = _read_batches(folder, layout["train"], label_key)
    x_test, y_test = _read_batches(folder, layout["test"], label_key)
    meta_file, names_key = layout["meta"]
    if kind == "cifar100" and label_kind == "coarse":
        names_key = "coarse_label_names"
    num_classes = {"labels": 10, "fine_labels": 100, "coarse_labels": 20}[label_key]
    class_names = _class_names(folder / meta_file, names_key, num_classes)
    return build_tensor_data(
        kind,
        x_train,
        y_train,
        task="classification",
        source=f"{kind} python batches in {folder}",
        class_names=class_names,
        split=split,
        test_fraction=test_fraction,
        seed=seed,
        standardize=standardize,
        test_part=(x_test, y_test),
    )


def read_pickle_dict(path: Path) -> dict[str, object]:
    """A CIFAR pickle file as a dict with ``str`` keys (Python-2 files have ``bytes`` keys)."""
    if not path.is_file():
        raise DataFileError(f"missing CIFAR file {path}: the extracted folder is incomplete; extract the archive again")
    try:
        with path.open("rb") as fh:
            raw = _ArrayOnlyUnpickler(fh, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise DataFileError(f"cannot read {path} as a CIFAR python batch: {exc}") from exc
    if not isinstance(raw, dict):
        raise DataFileError(f"{path} is not a CIFAR python batch (expected a pickled dict, got {type(raw).__name__})")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in raw.items()}


def _read_batches(folder: Path, files: tuple[str, ...], label_key: str) -> tuple[np.ndarray, np.ndarray]:
    images, labels = [], []
    for name in files:
        batch = read_pickle_dict(folder / name)
        if "data" not in batch or label_key not in batch:
            raise DataFileError(f"{folder / name} lacks 'data' or {label_key!r}; it has keys {sorted(batch)}")
        data = np.asarray(batch["data"], dtype=np.uint8)
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
            raise DataFileError(f"{folder / name}: 'data' must have shape (n, 3072); got {data.shape}")
        images.append(data.reshape(-1, 3, 32, 32))
        labels.append(np.asarray(batch[label_key], dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels)


def _class_names(meta_path: Path, key: str, num_classes: int) -> tuple[str, ...]:
    if meta_path.is_file():
        names = read_pickle_dict(meta_path).get(key)
        if names is not None and len(names) == num_classes:
            return tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)
    return tuple(str(c) for c in range(num_classes))
