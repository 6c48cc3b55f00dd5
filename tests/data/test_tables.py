"""CSV / Parquet / NPZ tables with a target column, written by the test."""

import numpy as np
import pandas as pd
import pytest

from sgdnoise.data import infer_task, load_dataset, load_table
from sgdnoise.errors import ConfigError, DataFileError


def _frame(n=30, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "label": rng.choice(["x", "y"], size=n),
            "value": rng.normal(size=n),
        }
    )


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_frame_tables(tmp_path, suffix):
    frame = _frame()
    path = tmp_path / f"t{suffix}"
    frame.to_csv(path, index=False) if suffix == ".csv" else frame.to_parquet(path, index=False)
    d = load_dataset(path, target="label", features=["a", "b"], split="all", standardize=False)
    np.testing.assert_allclose(d.inputs.numpy(), frame[["a", "b"]].to_numpy(np.float32))
    assert d.info.task == "classification" and d.info.class_names == ("x", "y")
    assert d.targets.tolist() == (frame["label"] == "y").astype(int).tolist()
    r = load_table(path, target="value", features=["a", "b"], split="all")
    assert r.info.task == "regression" and r.targets.shape == (30, 1)


def test_npz_arrays_and_image_shapes(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "a.npz", X=rng.normal(size=(20, 1, 4, 4)), y=np.arange(20) % 4)
    d = load_dataset(tmp_path / "a.npz", split="all")
    assert d.inputs.shape == (20, 1, 4, 4) and d.info.num_classes == 4
    np.savez(tmp_path / "b.npz", feats=rng.normal(size=(20, 3)), out=rng.normal(size=(20, 2)))
    r = load_table(tmp_path / "b.npz", features="feats", target="out")
    assert r.info.task == "regression" and r.info.num_outputs == 2
    with pytest.raises(ConfigError, match="feats"):
        load_table(tmp_path / "b.npz")


def test_infer_task():
    assert infer_task(np.array([0, 1, 2, 1])) == "classification"
    assert infer_task(np.array([0.0, 1.0, 2.0])) == "classification"
    assert infer_task(np.array([0.5, 1.0])) == "regression"
    assert infer_task(np.arange(200)) == "regression"  # more than 50 distinct integers
    assert infer_task(np.array([True, False])) == "classification"


def test_table_errors(tmp_path):
    frame = _frame().rename(columns={"label": "kind"})
    frame.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(ConfigError, match="target"):
        load_table(tmp_path / "t.csv")  # no target/y/label/class column by default
    with pytest.raises(DataFileError, match="not numeric"):
        load_table(tmp_path / "t.csv", target="value")  # 'kind' would be a feature
    with pytest.raises(ConfigError, match="unknown feature"):
        load_table(tmp_path / "t.csv", target="value", features=["zzz"])
    with pytest.raises(DataFileError, match="no table"):
        load_table(tmp_path / "missing.csv")
