"""NoiseMonitor in a plain PyTorch loop: it measures the scheduled steps, never changes training
(bit-identical weights with and without it), and its Parquet and TensorBoard files read back."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn

from sgdnoise.errors import ConfigError, DataFileError, InvalidInputError
from sgdnoise.monitor import ENTRIES_FILE, LAYERS_FILE, TENSORBOARD_DIR, MonitorSchedule, NoiseMonitor

from .conftest import tiny_mlp

EPOCHS, BATCH = 3, 24  # 240 points: 10 steps per epoch


def train(data, monitor=None, attach=False, milestone=2):
    """SGD with a dropout model and a step LR decay after ``milestone`` epochs; the global
    generator drives dropout, so any draw the monitor took from it would change the weights."""
    x, y = data
    model = tiny_mlp(dropout=0.2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.CrossEntropyLoss()
    shuffle = torch.Generator().manual_seed(1)
    torch.manual_seed(2)
    handle = monitor.attach(opt, model, loss_fn) if attach else None
    for epoch in range(EPOCHS):
        if epoch == milestone:
            opt.param_groups[0]["lr"] = 0.01
        order = torch.randperm(len(x), generator=shuffle)
        for i in range(len(x) // BATCH):
            idx = order[i * BATCH : (i + 1) * BATCH]
            loss = loss_fn(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if monitor is not None and not attach:
                monitor.step(model, loss_fn, (x[idx], y[idx]), lr=opt.param_groups[0]["lr"], epoch=epoch + 1)
        if monitor is not None:
            monitor.epoch_end(model, loss_fn, epoch=epoch + 1)
    if monitor is not None:
        monitor.finish(model, loss_fn)
    if handle is not None:
        handle.remove()
    return model, torch.rand(2)


def _same(a: nn.Module, b: nn.Module) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from .conftest import blobs

    data = blobs()
    out = tmp_path_factory.mktemp("monitor")
    schedule = MonitorSchedule(every=12, epochs=(1,), lr_change=True, after_lr_change=(5,), at_end=True)
    monitor = NoiseMonitor(data, out=out, schedule=schedule, num_batches=24, entries=8, seed=3)
    model, after = train(data, monitor)
    return data, out, monitor, model, after


def test_weights_and_global_generator_bit_identical_without_monitor(run):
    data, _, monitor, model, after = run
    plain, plain_after = train(data)
    assert _same(model, plain) and torch.equal(after, plain_after)
    assert monitor.seconds > 0


def test_scheduled_steps_are_logged(run):
    _, _, monitor, _, _ = run
    # every 12: 12, 24; epoch 1 ends at 10; the LR falls at step 21 (first step of epoch 3) and
    # is measured again 5 steps later; end: 30
    assert monitor.measured_steps == [10, 12, 21, 24, 26, 30]
    frame = monitor.frame
    reasons = frame.drop_duplicates("step").set_index("step")["reason"].to_dict()
    assert reasons == {10: "epoch", 12: "every", 21: "lr_change", 24: "every", 26: "after_lr_change", 30: "end"}
    assert frame.drop_duplicates("step").set_index("step")["lr"].to_dict() == {
        10: 0.1, 12: 0.1, 21: 0.01, 24: 0.01, 26: 0.01, 30: 0.01
    }  # fmt: skip
    assert list(frame.drop_duplicates("step")["epoch"]) == [1, 2, 3, 3, 3, 3]
    assert set(frame["batch_size"]) == {BATCH} and set(frame["num_batches"]) == {24}


def test_parquet_files_read_back(run):
    _, out, monitor, model, _ = run
    layers = pd.read_parquet(out / LAYERS_FILE)
    pd.testing.assert_frame_equal(layers, monitor.frame)
    names = [n for n, _ in model.named_parameters()]
    assert len(layers) == 6 * len(names)
    assert {"step", "layer", "alpha", "scale", "beta", "b_simple", "b_simple_layer"} <= set(layers.columns)
    for _, group in layers.groupby("step"):
        assert list(group["layer"]) == names
    fitted = layers["n_entries"] > layers["n_degenerate"] + layers["n_lower_bound"]
    assert fitted.all() and layers["alpha"].between(0.5, 2.0).all() and (layers["scale"] > 0).all()
    entries = pd.read_parquet(out / ENTRIES_FILE)
    assert len(entries) == 6 * sum(min(8, p.numel()) for p in model.parameters())
    ok = entries[~entries["degenerate"]]
    medians = ok[ok["alpha"] > 0.5].groupby(["step", "layer"], sort=False)["alpha"].median()
    np.testing.assert_allclose(layers.set_index(["step", "layer"])["alpha"].loc[medians.index], medians.to_numpy())


def test_tensorboard_events_read_back(run):
    _, out, monitor, model, _ = run
    events = EventAccumulator(str(out / TENSORBOARD_DIR), size_guidance={"scalars": 0, "histograms": 0})
    events.Reload()
    tags = events.Tags()
    names = [n for n, _ in model.named_parameters()]
    expected = {f"noise/{k}/{n}" for k in ("alpha", "scale", "beta", "b_simple") for n in names}
    assert expected | {"noise/b_simple/model", "noise/loss", "noise/lr"} <= set(tags["scalars"])
    assert {f"noise/alpha_hist/{n}" for n in names} | {"noise/alpha_hist/all"} <= set(tags["histograms"])
    frame = monitor.frame
    for name in names:
        logged = events.Scalars(f"noise/alpha/{name}")
        rows = frame[frame["layer"] == name]
        assert [e.step for e in logged] == rows["step"].tolist()
        np.testing.assert_allclose([e.value for e in logged], rows["alpha"], rtol=1e-6)
    lr = events.Scalars("noise/lr")
    np.testing.assert_allclose([e.value for e in lr], [0.1, 0.1, 0.01, 0.01, 0.01, 0.01], rtol=1e-6)
    hist = events.Histograms("noise/alpha_hist/all")
    entries = monitor.entries_frame
    first = entries[(entries["step"] == 10) & ~entries["degenerate"]]
    assert [h.step for h in hist] == monitor.measured_steps
    assert hist[0].histogram_value.num == len(first)
    assert hist[0].histogram_value.min == pytest.approx(first["alpha"].min(), rel=1e-6)


def test_optimizer_hook_measures_the_same_steps(run, tmp_path):
    data, _, monitor, _, _ = run
    hooked = NoiseMonitor(
        data, out=tmp_path, schedule=monitor.schedule, num_batches=24, entries=8, seed=3, batch_size=BATCH
    )
    train(data, hooked, attach=True)
    assert hooked.measured_steps == monitor.measured_steps
    columns = ["step", "layer", "alpha", "scale", "beta", "b_simple"]
    pd.testing.assert_frame_equal(hooked.frame[columns], monitor.frame[columns], rtol=1e-5)


def test_resumed_run_replaces_the_rows_it_measures_again(run, tmp_path):
    data, out, _, _, _ = run
    (tmp_path / LAYERS_FILE).write_bytes((out / LAYERS_FILE).read_bytes())
    again = NoiseMonitor(data, out=tmp_path, num_batches=24, entries=8, seed=3, tensorboard=False, batch_size=BATCH)
    model = tiny_mlp()
    again.current_step = 20  # a run resumed from its checkpoint after step 20
    again.measure(model, reason="manual")
    steps = pd.read_parquet(tmp_path / LAYERS_FILE).drop_duplicates("step")["step"].tolist()
    assert steps == [10, 12, 20]


def test_bad_arguments_raise(data, tmp_path):
    (tmp_path / LAYERS_FILE).write_text("not parquet")
    with pytest.raises(DataFileError, match="resume=False"):
        NoiseMonitor(data, out=tmp_path, tensorboard=False)
    with pytest.raises(InvalidInputError, match="at least 20"):
        NoiseMonitor(data, num_batches=10)
    with pytest.raises(InvalidInputError, match="MonitorSchedule"):
        NoiseMonitor(data, schedule={"every": 10})
    with pytest.raises(InvalidInputError, match="seed"):
        NoiseMonitor(data, seed=-1)
    with pytest.raises(InvalidInputError, match="batch size"):
        NoiseMonitor(data).step(tiny_mlp(), batch=3.0)
    with pytest.raises(InvalidInputError, match="no noise to measure"):
        NoiseMonitor(data).step(tiny_mlp(), batch=data)  # at the first step, not at step 2000
    with pytest.raises(InvalidInputError, match="no noise to measure"):
        NoiseMonitor(data, batch_size=240)
    with pytest.raises(ConfigError, match="invalid monitor schedule"):
        MonitorSchedule(every=-5)


def test_importing_the_monitor_loads_no_optional_framework():
    code = (
        "import sys, sgdnoise.monitor; "
        "bad = [m for m in ('lightning', 'pytorch_lightning', 'transformers', 'tensorboard') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_milestones_are_changes_after_a_plateau(data):
    """A step schedule's changes are milestones; a rate that moves at every step has none."""
    monitor = NoiseMonitor(data, schedule=MonitorSchedule(every=None, at_end=False), num_batches=20, entries=2)
    model = tiny_mlp()
    rates = [0.1] * 5 + [0.01] * 5 + [0.008 * (1 - i / 10) for i in range(10)] + [0.001] * 3 + [0.0001]
    batch = (data[0][:24], data[1][:24])
    for lr in rates:
        monitor.step(model, batch=batch, lr=lr)
    # 6 and 11 end plateaus (the second starts the decay); the decay's steps 12–20 and the jump
    # out of it at 21 are no milestones; 24 ends the plateau 21–23
    assert monitor.measured_steps == [6, 11, 24]


def test_law_columns_reach_the_parquet_files(data, tmp_path):
    monitor = NoiseMonitor(data, out=tmp_path, num_batches=20, entries=3, laws=True, tensorboard=False, batch_size=24)
    monitor.measure(tiny_mlp())
    layers = pd.read_parquet(tmp_path / LAYERS_FILE)
    entries = pd.read_parquet(tmp_path / ENTRIES_FILE)
    wins = layers[[f"wins_{law}" for law in ("gauss", "sas", "stable", "t", "mixture")]].to_numpy()
    np.testing.assert_allclose(np.nansum(wins, axis=1), 1.0)
    assert set(layers["law"].dropna()) <= {"gauss", "sas", "stable", "t", "mixture"}
    assert {"entry_class", "law"} <= set(entries.columns)
