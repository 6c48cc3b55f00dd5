"""load_dataset: names, paths, keywords, errors."""

import numpy as np
import pytest
import scipy.io

from sgdnoise.data import dataset_names, load_dataset
from sgdnoise.errors import ConfigError, DataFileError


def test_unknown_name_lists_known_names():
    with pytest.raises(ConfigError) as err:
        load_dataset("imagenet")
    for name in ("digits", "mnist_5k", "cifar10", "speech", "gaussian_mixture"):
        assert name in str(err.value)
    assert set(dataset_names()) >= {
        "digits",
        "mnist_5k",
        "breast_cancer",
        "wine",
        "cifar100",
        "cinic10",
        "ionosphere",
        "cardio",
        "teacher_student",
    }


def test_unknown_keyword_lists_accepted_ones():
    with pytest.raises(ConfigError, match="test_fraction"):
        load_dataset("wine", test_size=0.3)
    with pytest.raises(ConfigError, match="root"):
        load_dataset("cifar10", rooot="x")


def test_missing_path():
    with pytest.raises(DataFileError, match="no such file or folder"):
        load_dataset("/nonexistent/dir/")
    with pytest.raises(DataFileError, match=r"missing\.csv"):
        load_dataset("missing.csv")


def test_data_root_from_environment(tmp_path, monkeypatch):
    scipy.io.savemat(
        tmp_path / "ionosphere.mat", {"X": np.random.default_rng(0).normal(size=(10, 3)), "y": np.zeros((10, 1))}
    )
    monkeypatch.setenv("SGDNOISE_DATA", str(tmp_path))
    assert len(load_dataset("ionosphere", split="all")) == 10


def test_folder_of_unknown_kind(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataFileError, match="neither"):
        load_dataset(tmp_path)
