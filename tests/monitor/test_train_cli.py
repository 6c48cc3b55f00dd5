"""``sgdnoise train --monitor``: the files the issue's check reads, the figure, the knobs, and the
same ``model.pt`` tensors, bit for bit, as the run without ``--monitor``."""

import pandas as pd
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from sgdnoise.cli import main
from sgdnoise.models.checkpoint import read_checkpoint

COMMON = ["train", "--model", "mlp", "--data", "digits", "--lr", "0.05", "--batch-size", "32", "--no-progress"]


def _tensors(path):
    state = read_checkpoint(path, map_location="cpu")
    state = state.get("model_state", state) if isinstance(state, dict) else state
    return {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}


def test_monitor_writes_its_files_and_leaves_the_model_bit_identical(tmp_path):
    plain, monitored = tmp_path / "plain", tmp_path / "monitored"
    assert main([*COMMON, "--epochs", "3", "--out", str(plain)]) == 0
    # the command with the default schedule: 132 steps, so the end only
    assert main([*COMMON, "--epochs", "3", "--monitor", "--out", str(monitored)]) == 0
    a, b = _tensors(plain / "model.pt"), _tensors(monitored / "model.pt")
    assert a.keys() == b.keys() and a and all(torch.equal(a[k], b[k]) for k in a)
    layers = pd.read_parquet(monitored / "monitor.parquet")
    assert {"step", "layer", "alpha", "scale"} <= set(layers.columns)
    assert layers["step"].unique().tolist() == [132] and layers["layer"].is_unique
    assert list(layers["layer"]) == ["1.weight", "1.bias", "3.weight", "3.bias", "5.weight", "5.bias"]
    assert layers["alpha"].between(0.5, 2.0).all() and (layers["scale"] > 0).all()
    events = EventAccumulator(str(monitored / "tb"))
    events.Reload()
    assert [e.step for e in events.Scalars("noise/alpha/1.weight")] == [132]
    assert (monitored / "monitor_alpha.png").stat().st_size > 10_000
    assert not (plain / "monitor.parquet").exists()


def test_schedule_knobs_and_lr_milestone(tmp_path, capsys):
    out = tmp_path / "run"
    knobs = ["--monitor-every", "30", "--monitor-epochs", "1", "--monitor-after-milestone", "10"]
    knobs += ["--monitor-batches", "20", "--monitor-entries", "5"]
    argv = [*COMMON, "--epochs", "2", "--milestones", "1", "--monitor", *knobs, "--out", str(out)]
    assert main(argv) == 0
    layers = pd.read_parquet(out / "monitor.parquet")
    steps = layers.drop_duplicates("step").set_index("step")
    # 44 steps per epoch: every 30 → 30, 60; epoch 1 ends at 44; the rate falls at 45 (and 10
    # steps later: 55); end 88
    reasons = {30: "every", 44: "epoch", 45: "lr_change", 55: "after_lr_change", 60: "every", 88: "end"}
    assert steps["reason"].to_dict() == reasons
    expected = {30: 0.05, 44: 0.05, 45: 0.005, 55: 0.005, 60: 0.005, 88: 0.005}
    assert steps["lr"].to_dict() == pytest.approx(expected)
    assert set(layers["num_batches"]) == {20} and layers["n_entries"].max() == 5
    assert "noise monitor: 6 measurements" in capsys.readouterr().out
    # resumed: the same command with one epoch more measures from the checkpoint on, once per step
    assert main([*argv[:-4], "--epochs", "3", *argv[-4:]]) == 0
    steps = pd.read_parquet(out / "monitor.parquet").drop_duplicates("step")["step"].tolist()
    assert steps == [30, 44, 45, 55, 60, 88, 90, 120, 132]  # 88: the end of the first run
