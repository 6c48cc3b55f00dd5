"""The Hugging Face callback in a real ``transformers.Trainer`` on the CPU: it measures the
scheduled optimizer steps, reads the rate of the trainer's scheduler, and its files read back."""

import pandas as pd
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn
from transformers import Trainer, TrainingArguments

from sgdnoise.monitor import LAYERS_FILE, TENSORBOARD_DIR, MonitorSchedule
from sgdnoise.monitor.huggingface import NoiseMonitorCallback

from .conftest import blobs, tiny_mlp


class Classifier(nn.Module):
    """A model the way Hugging Face models look: keyword inputs, a dict with ``loss`` and ``logits``."""

    def __init__(self):
        super().__init__()
        self.net = tiny_mlp()

    def forward(self, features=None, labels=None):
        logits = self.net(features)
        out = {"logits": logits}
        if labels is not None:
            out["loss"] = nn.functional.cross_entropy(logits, labels)
        return out


@pytest.fixture(scope="module")
def hf(tmp_path_factory):
    out = tmp_path_factory.mktemp("hf")
    x, y = blobs()
    dataset = [{"features": xi, "labels": yi} for xi, yi in zip(x, y)]
    # lr_change on: the linear decay moves the rate at every step, which is no milestone
    schedule = MonitorSchedule(every=4, epochs=(1,), lr_change=True, at_end=True)
    callback = NoiseMonitorCallback(
        out=out / "noise", schedule=schedule, num_batches=20, entries=6, input_name="features"
    )
    args = TrainingArguments(
        output_dir=str(out / "trainer"),
        num_train_epochs=2,
        per_device_train_batch_size=24,
        learning_rate=0.1,
        optim="sgd",
        lr_scheduler_type="linear",
        report_to="none",
        save_strategy="no",
        logging_strategy="no",
        use_cpu=True,
        disable_tqdm=True,
        dataloader_num_workers=0,
        seed=0,
    )
    model = Classifier()
    trainer = Trainer(model=model, args=args, train_dataset=dataset, callbacks=[callback])
    trainer.train()
    return out / "noise", callback, model, trainer


def test_callback_measures_the_scheduled_steps(hf):
    _, callback, _, trainer = hf
    monitor = callback.monitor
    assert trainer.state.global_step == 20  # 240 points, 24 per step, 2 epochs
    # every 4: 4 … 20; epoch 1 ends at step 10; the end is step 20, measured already
    assert monitor.measured_steps == [4, 8, 10, 12, 16, 20]
    frame = monitor.frame.drop_duplicates("step").set_index("step")
    assert frame.loc[10, "reason"] == "epoch" and frame.loc[20, "reason"] == "every"
    # the linear schedule, read after the scheduler's update: the rate of the next step
    expected = {s: 0.1 * (1 - s / 20) for s in monitor.measured_steps}
    assert frame["lr"].to_dict() == pytest.approx(expected, abs=1e-9)
    assert frame["epoch"].tolist() == [1, 1, 1, 2, 2, 2] and frame["batch_size"].unique().tolist() == [24]


def test_files_read_back_with_the_models_own_names(hf):
    out, callback, model, _ = hf
    names = [n for n, _ in model.named_parameters()]
    layers = pd.read_parquet(out / LAYERS_FILE)
    assert list(layers["layer"][: len(names)]) == names and len(layers) == 6 * len(names)
    assert layers["alpha"].between(0.5, 2.0).all() and (layers["scale"] > 0).all()
    events = EventAccumulator(str(out / TENSORBOARD_DIR), size_guidance={"scalars": 0, "histograms": 0})
    events.Reload()
    assert {f"noise/alpha/{n}" for n in names} <= set(events.Tags()["scalars"])
    logged = events.Scalars("noise/scale/net.3.weight")
    rows = layers[layers["layer"] == "net.3.weight"]
    assert [e.step for e in logged] == callback.monitor.measured_steps
    assert [e.value for e in logged] == pytest.approx(rows["scale"].tolist(), rel=1e-6)
    lr = events.Scalars("noise/lr")
    assert [e.value for e in lr] == pytest.approx(layers.drop_duplicates("step")["lr"].tolist(), rel=1e-6)


def test_a_pretrained_model_class_with_its_default_inputs(tmp_path):
    """A real transformers model (a one-layer BERT built from a config, nothing downloaded) with the
    callback's defaults: ``input_ids`` in, ``logits`` out, labels from the dataset's ``labels``."""
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(
        vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
        max_position_embeddings=16, num_labels=2,
    )  # fmt: skip
    torch.manual_seed(0)
    model = BertForSequenceClassification(config)
    ids = torch.randint(1, 50, (96, 8), generator=torch.Generator().manual_seed(0))
    dataset = [{"input_ids": i, "labels": int(i[0] > 25)} for i in ids]
    callback = NoiseMonitorCallback(
        out=tmp_path / "noise", schedule=MonitorSchedule(every=3), num_batches=20, entries=4
    )  # fmt: skip
    args = TrainingArguments(
        output_dir=str(tmp_path / "trainer"), num_train_epochs=1, per_device_train_batch_size=16,
        learning_rate=0.01, report_to="none", save_strategy="no", logging_strategy="no", use_cpu=True,
        disable_tqdm=True, seed=0,
    )  # fmt: skip
    Trainer(model=model, args=args, train_dataset=dataset, callbacks=[callback]).train()
    assert callback.monitor.measured_steps == [3, 6]  # 6 steps; the linear decay has no milestones
    layers = pd.read_parquet(tmp_path / "noise" / LAYERS_FILE)
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert list(layers["layer"][: len(names)]) == names and len(layers) == 2 * len(names)
    fitted = layers[layers["n_entries"] > layers["n_degenerate"] + layers["n_lower_bound"]]
    assert len(fitted) > len(names) and fitted["alpha"].between(0.5, 2.0).all()
