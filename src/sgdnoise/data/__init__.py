"""Datasets as tensors: bundled real sets, synthetic generators and loaders for data on disk.

Every loader returns :class:`TensorData` — a ``TensorDataset(inputs, targets)`` with ``.info``
(:class:`DatasetInfo`: task, number of classes, input shape, split, source)::

    from sgdnoise.data import load_dataset
    train = load_dataset("digits", split="train", seed=0)    # (1437, 1, 8, 8) float32, int64 labels
    test = load_dataset("digits", split="test", seed=0)      # same split, train statistics
    cifar = load_dataset("cifar10", root="~/data")            # or load_dataset("~/data/cifar-10-batches-py")
"""

from sgdnoise.data.bundled import BUNDLED, load_bundled
from sgdnoise.data.cifar import load_cifar
from sgdnoise.data.cola import load_cola, write_cola_folder
from sgdnoise.data.dataset import DatasetInfo, TensorData, build_tensor_data
from sgdnoise.data.images import load_image_folder
from sgdnoise.data.odds import load_odds
from sgdnoise.data.registry import dataset_names, default_root, load_dataset
from sgdnoise.data.synthetic import gaussian_mixture, teacher_student
from sgdnoise.data.tables import infer_task, load_table

__all__ = [
    "BUNDLED",
    "DatasetInfo",
    "TensorData",
    "build_tensor_data",
    "dataset_names",
    "default_root",
    "gaussian_mixture",
    "infer_task",
    "load_bundled",
    "load_cifar",
    "load_cola",
    "load_dataset",
    "load_image_folder",
    "load_odds",
    "load_table",
    "teacher_student",
    "write_cola_folder",
]
