"""The dataset every loader returns, and how it is made from raw arrays.

:class:`TensorData` is a ``torch.utils.data.TensorDataset`` of ``(inputs, targets)`` with a
:class:`DatasetInfo` attached:

- ``inputs``: float32, shape ``(N, *input_shape)`` — ``(N, C, H, W)`` for images, ``(N, F)``
  for tables; int64 token ids ``(N, L)`` for text (:mod:`sgdnoise.data.cola`);
- ``targets``: int64 class labels ``0 … C−1`` of shape ``(N,)`` for classification, float32 of
  shape ``(N, T)`` for regression with ``T`` outputs.

Every loader makes it with :func:`build_tensor_data`, which turns raw NumPy arrays into one
split: a seeded random train/test split (unless the files define the split), then
standardisation with the *training* part's statistics (per feature for tables, per channel for
images), so train and test agree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import torch
from torch.utils.data import TensorDataset

from sgdnoise.errors import ConfigError, InvalidInputError
from sgdnoise.rng import as_generator

Task = Literal["classification", "regression"]
Split = Literal["train", "test", "all"]
SPLITS = ("train", "test", "all")
TASKS = ("classification", "regression")


@dataclass(frozen=True)
class DatasetInfo:
    """What a model and a loss need to know about a dataset.

    ``num_outputs`` is the width of the model's last layer: ``num_classes`` for classification,
    the number of targets ``T`` for regression. ``mean``/``std`` are the standardisation
    statistics (per feature or per channel) taken from the training part, empty if none.

    Text datasets (token ids) also say what a language model must know: ``vocab_size`` (the
    width of its embedding table), ``pad_token_id`` (the id that fills a sequence up to
    ``input_shape[0]``, masked out of attention) and ``tokenizer`` (which tokenizer made the ids,
    and how); ``None``/empty for other data.
    """

    name: str
    task: Task
    input_shape: tuple[int, ...]
    num_classes: int | None
    num_samples: int
    split: Split
    source: str
    class_names: tuple[str, ...] = ()
    target_dim: int | None = None
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    vocab_size: int | None = None
    pad_token_id: int | None = None
    tokenizer: str = ""

    @property
    def num_outputs(self) -> int:
        return self.num_classes if self.task == "classification" else self.target_dim

    def to_dict(self) -> dict:
        return {**asdict(self), "num_outputs": self.num_outputs}


class TensorData(TensorDataset):
    """``TensorDataset(inputs, targets)`` plus :attr:`info` (a :class:`DatasetInfo`)."""

    def __init__(self, inputs: torch.Tensor, targets: torch.Tensor, info: DatasetInfo):
        super().__init__(inputs, targets)
        self.info = info

    @property
    def inputs(self) -> torch.Tensor:
        return self.tensors[0]

    @property
    def targets(self) -> torch.Tensor:
        return self.tensors[1]

    def to(self, device: torch.device | str) -> TensorData:
        """The same data on ``device``."""
        return TensorData(self.inputs.to(device), self.targets.to(device), self.info)

    def __repr__(self) -> str:
        i = self.info
        return (
            f"TensorData({i.name!r}, split={i.split!r}, N={len(self)}, input_shape={i.input_shape}, "
            f"task={i.task!r}, num_outputs={i.num_outputs})"
        )


def check_split_args(split: str, test_fraction: float) -> None:
    """Validate the ``split`` and ``test_fraction`` arguments every loader takes."""
    if split not in SPLITS:
        raise ConfigError(f"split must be one of {SPLITS}; got {split!r}")
    if not 0.0 < float(test_fraction) < 1.0:
        raise ConfigError(f"test_fraction must lie strictly between 0 and 1; got {test_fraction}")


def build_tensor_data(
    name: str,
    inputs: np.ndarray,
    targets: np.ndarray,
    *,
    task: Task,
    source: str,
    class_names: tuple[str, ...] = (),
    split: Split = "train",
    test_fraction: float = 0.2,
    seed: int = 0,
    standardize: bool = True,
    test_part: tuple[np.ndarray, np.ndarray] | None = None,
) -> TensorData:
    """One split of a dataset as :class:`TensorData`.

    ``inputs``: ``(N, F)`` or ``(N, C, H, W)`` numbers; ``targets``: ``(N,)`` class labels
    (any integers or strings, mapped to ``0 … C−1`` in sorted order unless ``class_names`` is
    given, in which case they must already be ``0 … C−1``) or ``(N,)``/``(N, T)`` regression
    values. If ``test_part`` is given, ``inputs``/``targets`` are the training part and no
    random split is made; otherwise ``round(test_fraction·N)`` points chosen by ``seed`` form
    the test part. ``split="all"`` returns every point in the original order.
    """
    check_split_args(split, test_fraction)
    if task not in TASKS:
        raise ConfigError(f"task must be one of {TASKS}; got {task!r}")
    inputs = np.asarray(inputs)
    if inputs.ndim not in (2, 4):
        raise InvalidInputError(
            f"{name}: inputs must be a table (N, F) or images (N, C, H, W); got shape {inputs.shape}"
        )
    if test_part is not None:
        x_train, x_test = inputs, np.asarray(test_part[0])
        y_all = np.concatenate([np.asarray(targets), np.asarray(test_part[1])])
        train_idx = np.arange(len(x_train))
        test_idx = np.arange(len(x_train), len(x_train) + len(x_test))
        x_all = np.concatenate([x_train, x_test])
    else:
        x_all, y_all = inputs, np.asarray(targets)
        train_idx, test_idx = _random_split(len(x_all), test_fraction, seed, name)
    if len(y_all) != len(x_all):
        raise InvalidInputError(f"{name}: {len(x_all)} inputs but {len(y_all)} targets")
    y_all, class_names = _encode_targets(y_all, task, class_names, name)
    x_all = x_all.astype(np.float32)
    mean, std = _train_statistics(x_all[train_idx]) if standardize else (None, None)
    chosen = {"train": train_idx, "test": test_idx, "all": np.arange(len(x_all))}[split]
    x = x_all[chosen]
    if mean is not None:
        x = (x - mean) / std
    info = DatasetInfo(
        name=name,
        task=task,
        input_shape=tuple(int(s) for s in x_all.shape[1:]),
        num_classes=len(class_names) if task == "classification" else None,
        num_samples=len(chosen),
        split=split,
        source=source,
        class_names=tuple(class_names),
        target_dim=int(y_all.shape[1]) if task == "regression" else None,
        mean=() if mean is None else tuple(float(v) for v in mean.ravel()),
        std=() if std is None else tuple(float(v) for v in std.ravel()),
    )
    return TensorData(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y_all[chosen]), info)


def _random_split(n: int, test_fraction: float, seed: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    n_test = round(test_fraction * n)
    if n_test < 1 or n_test > n - 1:
        raise ConfigError(f"{name}: test_fraction={test_fraction} leaves an empty train or test part of {n} points")
    perm = torch.randperm(n, generator=as_generator(seed)).numpy()
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def _encode_targets(
    y: np.ndarray, task: Task, class_names: tuple[str, ...], name: str
) -> tuple[np.ndarray, tuple[str, ...]]:
    if task == "regression":
        try:
            y = y.astype(np.float32)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"{name}: regression targets must be numeric ({exc})") from exc
        if not np.isfinite(y).all():
            raise InvalidInputError(f"{name}: regression targets contain NaN or Inf; clean the data first")
        return (y[:, None] if y.ndim == 1 else y.reshape(len(y), -1)), ()
    if y.ndim != 1:
        raise InvalidInputError(f"{name}: class labels must be one label per point (N,); got shape {y.shape}")
    if class_names:
        labels = y.astype(np.int64)
        if labels.min() < 0 or labels.max() >= len(class_names):
            raise InvalidInputError(
                f"{name}: labels must lie in 0..{len(class_names) - 1}; got {labels.min()}..{labels.max()}"
            )
        return labels, tuple(class_names)
    values, labels = np.unique(y, return_inverse=True)
    return labels.astype(np.int64), tuple(str(v) for v in values)


def _train_statistics(x_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std per feature ``(1, F)`` or per channel ``(1, C, 1, 1)``; a constant gets std 1."""
    axes = (0,) if x_train.ndim == 2 else (0, 2, 3)
    mean = x_train.mean(axis=axes, keepdims=True, dtype=np.float64)
    std = x_train.std(axis=axes, keepdims=True, dtype=np.float64)
    std[std == 0] = 1.0
    return mean.astype(np.float32), std.astype(np.float32)
