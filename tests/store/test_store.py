"""Sample readers and atomic writers."""

import json

import numpy as np
import pandas as pd
import pytest

from sgdnoise.errors import DataFileError
from sgdnoise.store import atomic_path, read_samples, write_arrays, write_json, write_table

X = np.arange(60, dtype=float).reshape(2, 30)


@pytest.mark.parametrize("suffix", [".npy", ".npz", ".csv", ".parquet"])
def test_every_format_reads_rows_as_samples(tmp_path, suffix):
    path = tmp_path / f"s{suffix}"
    if suffix == ".npy":
        np.save(path, X)
    elif suffix == ".npz":
        np.savez(path, meta=np.arange(3), noise=X)
    else:
        frame = pd.DataFrame(X, columns=[f"k{i}" for i in range(30)])
        frame.insert(0, "name", ["w1", "w2"])
        frame.to_csv(path, index=False) if suffix == ".csv" else frame.to_parquet(path)
    x, names = read_samples(path)
    np.testing.assert_array_equal(x, X)
    assert names == (["w1", "w2"] if suffix in (".csv", ".parquet") else ["row0", "row1"])


def test_npz_key_and_errors(tmp_path):
    path = tmp_path / "s.npz"
    np.savez(path, a=X, b=2 * X)
    np.testing.assert_array_equal(read_samples(path, key="b")[0], 2 * X)
    with pytest.raises(DataFileError, match="no array named 'c'"):
        read_samples(path, key="c")
    with pytest.raises(DataFileError, match="no such file"):
        read_samples(tmp_path / "missing.npy")
    (tmp_path / "x.txt").write_text("1 2 3")
    with pytest.raises(DataFileError, match="suffix"):
        read_samples(tmp_path / "x.txt")
    (tmp_path / "bad.npy").write_text("not numpy")
    with pytest.raises(DataFileError, match="could not read"):
        read_samples(tmp_path / "bad.npy")


def test_one_dimensional_array_is_one_sample(tmp_path):
    np.save(tmp_path / "v.npy", np.arange(25.0))
    assert read_samples(tmp_path / "v.npy")[0].shape == (1, 25)


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "out.json"
    write_json({"v": 1}, target)
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("partial")
        raise RuntimeError("killed")
    assert json.loads(target.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_write_table_formats_and_numpy_values_in_json(tmp_path):
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    write_table(frame, tmp_path / "t.parquet")
    write_table(frame, tmp_path / "t.csv")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "t.parquet"), frame)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "t.csv"), frame)
    with pytest.raises(DataFileError, match=r"parquet or \.csv"):
        write_table(frame, tmp_path / "t.xlsx")
    write_json({"x": np.float32(1.5), "y": np.arange(2)}, tmp_path / "m.json")
    assert json.loads((tmp_path / "m.json").read_text()) == {"x": 1.5, "y": [0, 1]}


def test_npz_names_label_the_rows(tmp_path):
    np.savez(tmp_path / "s.npz", noise=X, names=np.array(["a[0]", "b[3]"]))
    x, names = read_samples(tmp_path / "s.npz")
    np.testing.assert_array_equal(x, X)
    assert names == ["a[0]", "b[3]"]
    np.savez(tmp_path / "t.npz", noise=X, names=np.array(["only-one"]))
    assert read_samples(tmp_path / "t.npz")[1] == ["row0", "row1"]


@pytest.mark.parametrize("compressed", [False, True])
def test_write_arrays_round_trips_and_read_samples_takes_its_names(tmp_path, compressed):
    path = write_arrays(tmp_path / "s.npz", compressed=compressed, noise=X, names=np.array(["w1", "w2"]))
    with np.load(path) as archive:
        np.testing.assert_array_equal(archive["noise"], X)
    x, names = read_samples(path)
    np.testing.assert_array_equal(x, X)
    assert names == ["w1", "w2"] and not list(tmp_path.glob(".*.tmp"))
