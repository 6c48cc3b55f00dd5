"""Checkpoints: atomic save, weights_only load, clear mismatch errors."""

import pickle

import pytest
import torch

from sgdnoise.errors import DataFileError
from sgdnoise.models import build_model, load_checkpoint, read_checkpoint, save_checkpoint


class _Payload:
    """An arbitrary class: unpickling it would import and run code, which weights_only refuses."""


def _cnn(**kw):
    return build_model("cnn", input_shape=(1, 8, 8), num_classes=10, batch_norm=True, **kw)


def test_round_trip_restores_weights_and_buffers(tmp_path):
    torch.manual_seed(0)
    a = _cnn()
    a(torch.randn(4, 1, 8, 8))  # train-mode pass moves the BatchNorm running statistics
    save_checkpoint(a, tmp_path / "m.pt")
    torch.manual_seed(1)
    b = load_checkpoint(_cnn(), tmp_path / "m.pt")
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # no temporary file left behind


def test_training_checkpoint_layout_is_accepted(tmp_path):
    a = _cnn()
    save_checkpoint({"model_state": a.state_dict(), "epoch": 3}, tmp_path / "last.pt")
    b = load_checkpoint(_cnn(), tmp_path / "last.pt")
    assert torch.equal(a[0].weight, b[0].weight)


def test_mismatch_names_keys_and_shapes(tmp_path):
    save_checkpoint(_cnn(), tmp_path / "m.pt")
    fewer_classes = build_model("cnn", input_shape=(1, 8, 8), num_classes=3, batch_norm=True)
    with pytest.raises(
        DataFileError, match=r"wrong shape \(2\): 9.weight: checkpoint \(10, 128\) vs model \(3, 128\), 9.bias"
    ):
        load_checkpoint(fewer_classes, tmp_path / "m.pt")
    without_bn = build_model("cnn", input_shape=(1, 8, 8), num_classes=10, batch_norm=False)
    with pytest.raises(DataFileError) as err:
        load_checkpoint(without_bn, tmp_path / "m.pt")
    msg = str(err.value)
    assert "unexpected" in msg and "1.running_mean" in msg  # BatchNorm buffers the new model lacks
    assert "missing" in msg and "0.bias" in msg  # conv bias exists only without BatchNorm


def test_unsafe_or_missing_files(tmp_path):
    with pytest.raises(DataFileError, match="no checkpoint"):
        read_checkpoint(tmp_path / "none.pt")

    with open(tmp_path / "evil.pt", "wb") as fh:
        pickle.dump({"x": _Payload()}, fh, protocol=2)
    with pytest.raises(DataFileError, match="weights_only"):
        read_checkpoint(tmp_path / "evil.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(DataFileError, match="not a state_dict"):
        read_checkpoint(tmp_path / "list.pt")
