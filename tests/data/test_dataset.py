"""build_tensor_data: seeded split, train-statistics standardisation, label encoding."""

import numpy as np
import pytest
import torch

from sgdnoise.data import build_tensor_data
from sgdnoise.errors import ConfigError, InvalidInputError


def _table(n=50, f=3, seed=0):
    """Features whose first column is the row id, so a split can be traced back to its rows."""
    rng = np.random.default_rng(seed)
    x = rng.normal(5.0, 3.0, size=(n, f))
    x[:, 0] = np.arange(n)
    return x, rng.integers(0, 3, size=n)


def _split(split, **kw):
    x, y = _table()
    return build_tensor_data("t", x, y, task="classification", source="test", split=split, **kw)


def _ids(data):
    return data.inputs[:, 0].round().long().tolist()


def test_split_is_disjoint_covering_and_seeded():
    train, test = _split("train", seed=3, standardize=False), _split("test", seed=3, standardize=False)
    assert len(test) == 10  # round(0.2 * 50)
    assert sorted(_ids(train) + _ids(test)) == list(range(50))
    assert _ids(_split("all", seed=3, standardize=False)) == list(range(50))
    assert _ids(_split("train", seed=3, standardize=False)) == _ids(train)
    assert _ids(_split("train", seed=4, standardize=False)) != _ids(train)
    assert _split("train", seed=3).targets.tolist() == [int(v) for v in _table()[1][_ids(train)]]


def test_standardisation_uses_training_statistics():
    x, _ = _table()
    raw_train = x[_ids(_split("train", seed=1, standardize=False))]
    raw_test = x[_ids(_split("test", seed=1, standardize=False))]
    train, test = _split("train", seed=1), _split("test", seed=1)
    np.testing.assert_allclose(train.info.mean, raw_train.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(train.info.std, raw_train.std(axis=0), rtol=1e-5)
    np.testing.assert_allclose(
        train.inputs.numpy(), (raw_train - raw_train.mean(0)) / raw_train.std(0), rtol=1e-4, atol=1e-5
    )
    np.testing.assert_allclose(
        test.inputs.numpy(), (raw_test - raw_train.mean(0)) / raw_train.std(0), rtol=1e-4, atol=1e-5
    )


def test_images_are_standardised_per_channel():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(40, 3, 4, 4)).astype(np.uint8)
    x[:, 1] //= 4  # channel 1 has a different scale
    d = build_tensor_data(
        "img", x, np.arange(40) % 2, task="classification", source="t", split="all", test_part=(x[:5], np.zeros(5))
    )
    train_stats_mean = x.astype(np.float64).mean(axis=(0, 2, 3))
    np.testing.assert_allclose(d.info.mean, train_stats_mean, rtol=1e-5)
    assert d.inputs.shape == (45, 3, 4, 4) and d.inputs.dtype == torch.float32
    assert d.info.input_shape == (3, 4, 4)


def test_string_labels_are_encoded_in_sorted_order():
    x = np.zeros((6, 2))
    d = build_tensor_data(
        "s", x, np.array(["b", "a", "c", "a", "b", "c"]), task="classification", source="t", split="all"
    )
    assert d.info.class_names == ("a", "b", "c") and d.info.num_classes == 3
    assert d.targets.tolist() == [1, 0, 2, 0, 1, 2] and d.targets.dtype == torch.int64


def test_regression_targets_are_float_columns():
    x, _ = _table()
    d = build_tensor_data("r", x, np.linspace(0, 1, 50), task="regression", source="t", split="all")
    assert d.targets.shape == (50, 1) and d.targets.dtype == torch.float32
    assert d.info.num_outputs == 1 and d.info.num_classes is None


@pytest.mark.parametrize(
    "kw, error",
    [
        ({"split": "valid"}, ConfigError),
        ({"test_fraction": 1.0}, ConfigError),
        ({"test_fraction": 0.001}, ConfigError),
        ({"task": "ranking"}, ConfigError),
    ],
)
def test_bad_arguments(kw, error):
    x, y = _table()
    with pytest.raises(error):
        build_tensor_data("t", x, y, **{"task": "classification", "source": "t", **kw})


def test_bad_shapes_and_labels():
    with pytest.raises(InvalidInputError, match="inputs"):
        build_tensor_data("t", np.zeros((5, 2, 2)), np.zeros(5), task="classification", source="t")
    with pytest.raises(InvalidInputError, match="targets"):
        build_tensor_data("t", np.zeros((5, 2)), np.zeros(4), task="classification", source="t")
    with pytest.raises(InvalidInputError, match="labels must lie"):
        build_tensor_data(
            "t", np.zeros((5, 2)), np.array([0, 1, 2, 3, 4]), task="classification", source="t", class_names=("a", "b")
        )
    with pytest.raises(InvalidInputError, match="NaN"):
        build_tensor_data("t", np.zeros((5, 2)), np.array([0, 1, np.nan, 3, 4]), task="regression", source="t")
