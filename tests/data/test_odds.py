"""ODDS .mat loader on files the test writes with scipy.io.savemat (the ODDS layout)."""

import numpy as np
import pytest
import scipy.io

from sgdnoise.data import load_dataset, load_odds
from sgdnoise.errors import DataFileError


def test_reads_x_and_outlier_labels(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 7))
    y = (rng.random((40, 1)) < 0.2).astype(np.float64)  # ODDS stores y as an (n, 1) column
    scipy.io.savemat(tmp_path / "speech.mat", {"X": x, "y": y})
    d = load_odds(tmp_path / "speech.mat", split="all", standardize=False)
    np.testing.assert_allclose(d.inputs.numpy(), x.astype(np.float32))
    assert d.targets.tolist() == y.ravel().astype(int).tolist()
    assert d.info.class_names == ("inlier", "outlier") and d.info.name == "speech"
    by_name = load_dataset("speech", root=tmp_path, split="test")
    assert len(by_name) == 8 and by_name.info.input_shape == (7,)


def test_missing_file_and_wrong_keys(tmp_path):
    with pytest.raises(DataFileError) as err:
        load_dataset("cardio", root=tmp_path)
    assert str(tmp_path / "cardio.mat") in str(err.value) and "odds.cs.stonybrook.edu" in str(err.value)
    scipy.io.savemat(tmp_path / "bad.mat", {"data": np.zeros((3, 2))})
    with pytest.raises(DataFileError, match="lacks"):
        load_dataset(tmp_path / "bad.mat")
    (tmp_path / "junk.mat").write_bytes(b"not a mat file at all")
    with pytest.raises(DataFileError):
        load_odds(tmp_path / "junk.mat")
