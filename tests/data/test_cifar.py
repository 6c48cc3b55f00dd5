"""CIFAR loader on tiny batch files written in the official python-pickle layout."""

import pickle

import numpy as np
import pytest
import torch

from sgdnoise.data import load_cifar, load_dataset
from sgdnoise.errors import DataFileError


def _batch(rng, n, label_keys):
    # Python-2 pickles of the official archives come back with bytes keys under encoding="bytes".
    batch = {b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8), b"batch_label": b"test batch"}
    for key, classes in label_keys.items():
        batch[key] = rng.integers(0, classes, size=n).tolist()
    return batch


def _write(path, obj):
    with open(path, "wb") as fh:
        pickle.dump(obj, fh, protocol=2)


@pytest.fixture
def cifar10(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batches[name] = _batch(rng, 4, {b"labels": 10})
        _write(folder / name, batches[name])
    _write(folder / "batches.meta", {b"label_names": [f"class{i}".encode() for i in range(10)]})
    return tmp_path, batches


def test_cifar10_pixels_labels_and_split(cifar10):
    root, batches = cifar10
    train = load_cifar("cifar10", root, standardize=False)
    test = load_dataset("cifar10", root=root, split="test", standardize=False)
    assert train.inputs.shape == (20, 3, 32, 32) and test.inputs.shape == (4, 3, 32, 32)
    first = batches["data_batch_1"][b"data"][0]
    # Official layout: 1024 red values, then 1024 green, then 1024 blue, each row-major 32×32.
    assert train.inputs[0, 1, 2, 5] == first[1024 + 2 * 32 + 5]
    assert train.inputs[0, 2, 31, 31] == first[3071]
    labels = [label for i in range(1, 6) for label in batches[f"data_batch_{i}"][b"labels"]]
    assert train.targets.tolist() == labels and train.targets.dtype == torch.int64
    assert train.info.num_classes == 10 and train.info.class_names[3] == "class3"


def test_cifar10_standardised_with_training_channel_statistics(cifar10):
    root, batches = cifar10
    raw = (
        np.concatenate([batches[f"data_batch_{i}"][b"data"] for i in range(1, 6)])
        .reshape(-1, 3, 32, 32)
        .astype(np.float64)
    )
    test = load_cifar("cifar10", root / "cifar-10-batches-py", split="test")
    np.testing.assert_allclose(test.info.mean, raw.mean(axis=(0, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(test.info.std, raw.std(axis=(0, 2, 3)), rtol=1e-5)


def test_cifar100_fine_and_coarse_labels(tmp_path):
    rng = np.random.default_rng(1)
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    train = _batch(rng, 6, {b"fine_labels": 100, b"coarse_labels": 20})
    _write(folder / "train", train)
    _write(folder / "test", _batch(rng, 3, {b"fine_labels": 100, b"coarse_labels": 20}))
    fine = load_dataset(folder)  # a path is recognised as CIFAR-100 by its files
    coarse = load_cifar("cifar100", tmp_path, label_kind="coarse")
    assert fine.info.num_classes == 100 and coarse.info.num_classes == 20
    assert fine.targets.tolist() == train[b"fine_labels"] and coarse.targets.tolist() == train[b"coarse_labels"]


def test_missing_folder_says_where_and_how(tmp_path):
    with pytest.raises(DataFileError) as err:
        load_dataset("cifar10", root=tmp_path)
    assert str(tmp_path) in str(err.value) and "cifar-10-python.tar.gz" in str(err.value)


def test_pickle_with_code_is_refused(tmp_path, cifar10):
    root, _ = cifar10
    folder = root / "cifar-10-batches-py"

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    _write(folder / "data_batch_3", {b"data": Evil(), b"labels": [0]})
    with pytest.raises(DataFileError, match=r"refusing to load .*print"):
        load_cifar("cifar10", folder)
