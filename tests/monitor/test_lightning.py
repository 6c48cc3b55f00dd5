"""The Lightning callback in a real ``pytorch_lightning.Trainer`` on the CPU: it measures the
scheduled optimizer steps (also under gradient accumulation) and its files read back."""

import pandas as pd
import pytest
import pytorch_lightning as pl
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from sgdnoise.monitor import LAYERS_FILE, TENSORBOARD_DIR, MonitorSchedule
from sgdnoise.monitor.lightning import NoiseMonitorCallback

from .conftest import blobs, tiny_mlp


class Classifier(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = tiny_mlp()
        self.loss = nn.CrossEntropyLoss()

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return self.loss(self(x), y)

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=0.1)
        return [opt], [torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)]


def fit(tmp_path, callback, accumulate=1):
    x, y = blobs()
    loader = DataLoader(TensorDataset(x, y), batch_size=24, shuffle=True, generator=torch.Generator().manual_seed(0))
    trainer = pl.Trainer(
        max_epochs=2,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accumulate_grad_batches=accumulate,
        default_root_dir=tmp_path,
        callbacks=[callback],
    )
    module = Classifier()
    trainer.fit(module, loader)
    return module, trainer


@pytest.fixture(scope="module")
def lit(tmp_path_factory):
    out = tmp_path_factory.mktemp("lightning")
    schedule = MonitorSchedule(every=4, epochs=(1,), lr_change=True, at_end=True)
    callback = NoiseMonitorCallback(out=out / "noise", schedule=schedule, num_batches=20, entries=6)
    module, trainer = fit(out, callback)
    return out / "noise", callback, module, trainer


def test_callback_measures_the_scheduled_steps(lit):
    _, callback, module, trainer = lit
    monitor = callback.monitor
    assert trainer.global_step == 20  # 10 steps per epoch
    # every 4: 4 … 20. Lightning steps StepLR before the last batch's callback, so the callback
    # sees the halved rate at step 10, the end of epoch 1 (measured once), and again at step 20
    assert monitor.measured_steps == [4, 8, 10, 12, 16, 20]
    frame = monitor.frame.drop_duplicates("step").set_index("step")
    assert frame.loc[10, "reason"] == "lr_change" and frame.loc[12, "reason"] == "every"
    assert frame["lr"].to_dict() == {4: 0.1, 8: 0.1, 10: 0.05, 12: 0.05, 16: 0.05, 20: 0.025}
    assert frame["batch_size"].unique().tolist() == [24]
    assert frame["epoch"].tolist() == [1, 1, 1, 2, 2, 2]
    assert module.training  # Lightning's own mode, given back


def test_files_read_back(lit):
    out, callback, module, _ = lit
    names = [n for n, _ in module.named_parameters()]
    layers = pd.read_parquet(out / LAYERS_FILE)
    assert sorted(set(layers["layer"])) == sorted(names) and len(layers) == 6 * len(names)
    assert layers["alpha"].between(0.5, 2.0).all()
    events = EventAccumulator(str(out / TENSORBOARD_DIR), size_guidance={"scalars": 0, "histograms": 0})
    events.Reload()
    logged = events.Scalars("noise/alpha/net.0.weight")
    rows = layers[layers["layer"] == "net.0.weight"]
    assert [e.step for e in logged] == callback.monitor.measured_steps
    assert [e.value for e in logged] == pytest.approx(rows["alpha"].tolist(), rel=1e-6)
    assert "noise/alpha_hist/net.0.weight" in events.Tags()["histograms"]


def test_gradient_accumulation_measures_optimizer_steps(tmp_path):
    schedule = MonitorSchedule(every=3, epochs=(1,), lr_change=False, at_end=True)
    callback = NoiseMonitorCallback(schedule=schedule, num_batches=20, entries=4)
    _, trainer = fit(tmp_path, callback, accumulate=2)
    assert trainer.global_step == 10  # 10 batches per epoch, 2 per optimizer step
    assert callback.monitor.measured_steps == [3, 5, 6, 9, 10]
    reasons = callback.monitor.frame.drop_duplicates("step")["reason"].tolist()
    assert reasons == ["every", "epoch", "every", "every", "end"]
