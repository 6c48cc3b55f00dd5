"""Does learning-rate decay act by reducing the noise? (Battash et al. Fig. 2 and their ResNet-20 table)

Three runs of one network from one initialisation, identical until a milestone epoch:
``constant`` (nothing changes), ``lr_decay`` (learning rate ÷ ``factor``) and ``batch_increase``
(batch size × ``factor``). The gradient noise ``u`` (papers.md §1 eq. 1) is measured at the
weights just before the milestone and at the end of each run, at the batch size each run uses
there, on the same sampled entries; each entry's K values are fitted by SαS. Reported per run
and stage: median α, median SαS scale of ``u``, and the scale of the noise that actually enters
the update, ``η_t·u`` (the paper's argument: LR decay shrinks this step noise by ``factor``,
batch increase shrinks ``u`` itself — by ``factor^{1−1/α}`` for SαS noise — and both end with
a similar accuracy, unlike the constant schedule).
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sgdnoise.data import load_dataset
from sgdnoise.errors import ConfigError
from sgdnoise.experiments.common import write_manifest
from sgdnoise.experiments.networks import network_for
from sgdnoise.experiments.noise_fits import fit_network_noise
from sgdnoise.plumbing import as_data_source, default_loss, positive_int
from sgdnoise.report.figures import step_noise_histograms
from sgdnoise.store import write_table
from sgdnoise.training import TrainConfig, evaluate, train

SCHEDULES = ("constant", "lr_decay", "batch_increase")


@dataclass(frozen=True)
class DecayConfig:
    """``epochs`` of plain SGD (``lr``, ``batch_size``), the change at ``milestone`` (0-based epoch).

    The defaults put the milestone mid-way through learning (about 90% train accuracy on digits),
    where the paper's question is asked, rather than after the network has memorised the data.
    """

    model: str = "mlp"
    data: str = "digits"
    epochs: int = 16
    milestone: int = 8
    lr: float = 0.01
    batch_size: int = 16
    factor: int = 10
    noise_batches: int = 500
    per_layer: int = 16
    method: str = "cf"
    seed: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.milestone < self.epochs:
            raise ConfigError(
                f"milestone must lie in [1, epochs); got milestone={self.milestone}, epochs={self.epochs}"
            )
        positive_int(self.factor, "factor", minimum=2, error=ConfigError)

    def train_config(self, schedule: str, folder: Path) -> TrainConfig:
        changes = {
            "lr_decay": dict(lr_milestones=(self.milestone,), lr_factor=1 / self.factor),
            "batch_increase": dict(batch_milestones=(self.milestone,), batch_factor=self.factor),
        }.get(schedule, {})
        return TrainConfig(
            epochs=self.epochs,
            lr=self.lr,
            batch_size=self.batch_size,
            seed=self.seed,
            checkpoint_dir=str(folder),
            keep_checkpoints="all",
            **changes,
        )


@dataclass(frozen=True)
class DecayResult:
    config: DecayConfig
    table: pd.DataFrame  # one row per (schedule, stage)
    fits: pd.DataFrame  # per-entry fits with schedule and stage columns
    step_noise: dict[str, np.ndarray]  # "schedule/stage" → η_t·u of one common entry, (K,)

    def to_dict(self) -> dict[str, Any]:
        return {"config": asdict(self.config), "table": self.table.to_dict("records")}

    def write(self, folder: str | Path) -> dict[str, Path]:
        folder = Path(folder)
        return {
            "table": write_table(self.table, folder / "schedules.csv"),
            "fits": write_table(self.fits, folder / "fits.parquet"),
            "figure": step_noise_histograms(self.step_noise, folder / "step_noise.png"),
            "manifest": write_manifest(self, folder),
        }


def run_lr_decay(config: DecayConfig = DecayConfig()) -> DecayResult:
    """Train the three schedules, measure and fit the noise before and after the milestone."""
    data = load_dataset(config.data, split="train", seed=config.seed)
    test = load_dataset(config.data, split="test", seed=config.seed)
    x, y = as_data_source(data).tensors("cpu")
    x_test, y_test = as_data_source(test).tensors("cpu")
    loss_fn = default_loss(y)

    rows, fits, samples_by_run = [], [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for schedule in SCHEDULES:
            train_config = config.train_config(schedule, Path(tmp) / schedule)
            train(network_for(data.info, config.model, seed=config.seed), data, train_config)
            for stage, epochs_done in (("before", config.milestone), ("after", config.epochs)):
                weights = Path(tmp) / schedule / f"epoch_{epochs_done:04d}.pt"
                model = network_for(data.info, config.model, seed=config.seed, checkpoint=weights)
                epoch = epochs_done - 1  # the last epoch trained with these weights' schedule values
                lr, batch = train_config.lr_at(epoch), train_config.batch_size_at(epoch)
                frame, samples, _ = fit_network_noise(
                    model,
                    loss_fn,
                    (x, y),
                    batch_size=batch,
                    num_batches=config.noise_batches,
                    per_layer=config.per_layer,
                    seed=config.seed,
                    method=config.method,
                )
                ok = ~frame["degenerate"].to_numpy(bool)
                _, train_acc = evaluate(model, loss_fn, x, y)
                _, test_acc = evaluate(model, loss_fn, x_test, y_test)
                rows.append(
                    {
                        "schedule": schedule,
                        "stage": stage,
                        "epoch": epochs_done,
                        "lr": lr,
                        "batch_size": batch,
                        "alpha_median": float(np.median(frame["alpha"][ok])),
                        "noise_scale_median": float(np.median(frame["scale"][ok])),
                        "step_noise_scale_median": float(lr * np.median(frame["scale"][ok])),
                        "train_accuracy": train_acc,
                        "test_accuracy": test_acc,
                    }
                )
                fits.append(frame.assign(schedule=schedule, stage=stage))
                samples_by_run[f"{schedule}/{stage}"] = lr * samples
    # one entry shown in every panel: the first that no run found degenerate (same selection everywhere)
    fits = pd.concat(fits, ignore_index=True)
    dead = fits.groupby("name", sort=False)["degenerate"].any()
    entry = int(np.flatnonzero(~dead.to_numpy(bool))[0])
    step_noise = {run: values[entry] for run, values in samples_by_run.items()}
    return DecayResult(config, pd.DataFrame(rows), fits, step_noise)
