"""How long does SGD stay in a minimum of a real network? (Battash et al. Figs. 3 and 4)

A 3-layer ReLU MLP is trained on a bundled tabular data set with SGD (lr 0.05, batch 128, as the
paper) to a minimum w*. From w*, many seeds of plain SGD with a small batch run at once
(:func:`sgdnoise.dynamics.escape_by_loss`) until the training loss exceeds ``factor`` × its value
at w*. Fig. 3: the mean escape time for several learning rates, with the Lévy, Kramers and Mori
laws fitted to it (two free parameters each, :func:`sgdnoise.theory.compare_escape_fits`).
Fig. 4: survival curves ``P(σ > u)`` for several batch sizes. The paper uses ODDS tabular sets
(Speech, Ionosphere, Cardio); load them with ``data="path/to/file.mat"``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from torch.nn import functional as F

from sgdnoise.data import load_dataset
from sgdnoise.dynamics import escape_by_loss
from sgdnoise.errors import ConfigError
from sgdnoise.experiments.common import write_manifest
from sgdnoise.experiments.networks import network_for
from sgdnoise.parallel import torch_threads
from sgdnoise.plumbing import positive_int
from sgdnoise.report.figures import escape_time_plot
from sgdnoise.store import write_table
from sgdnoise.theory import compare_escape_fits
from sgdnoise.training import TrainConfig, train


@dataclass(frozen=True)
class EscapeTimeConfig:
    """``seeds`` SGD seeds per escape-time point (each of ``lrs`` at ``batch_size``, or at every
    size of ``batch_sizes`` when given) and ``survival_seeds`` (default ``seeds``) per survival
    curve (``survival_lr`` at each of ``survival_batch_sizes``)."""

    data: str = "breast_cancer"
    width: int = 32
    train_epochs: int = 100
    train_lr: float = 0.05
    train_batch_size: int = 128
    lrs: tuple[float, ...] = (0.3, 0.4, 0.5, 0.7)
    batch_size: int = 8
    survival_lr: float = 0.4
    survival_batch_sizes: tuple[int, ...] = (4, 8, 16)
    factor: float = 2.0
    seeds: int = 100
    max_steps: int = 2000
    seed: int = 0
    survival_seeds: int | None = None
    batch_sizes: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if len(self.lrs) < 3:
            raise ConfigError(
                f"the theory fits have two free parameters: give at least 3 learning rates; got {self.lrs}"
            )
        positive_int(self.seeds, "seeds", minimum=2, error=ConfigError)
        if self.survival_seeds is not None:
            positive_int(self.survival_seeds, "survival_seeds", minimum=2, error=ConfigError)
        for b in self.batch_sizes:
            positive_int(b, "batch_sizes (each)", error=ConfigError)
        if not self.factor > 1:
            raise ConfigError(f"factor (of the minimum's loss that counts as escaped) must be > 1; got {self.factor}")


@dataclass(frozen=True)
class EscapeTimeResult:
    config: EscapeTimeConfig
    times: pd.DataFrame  # lr, batch_size, n_escaped, mean_steps, mean_steps_stderr
    fits: pd.DataFrame  # one row per theory
    survival: pd.DataFrame  # batch_size, u, survival
    predictions: dict[str, np.ndarray]  # theory → predicted τ on ``times.lr``

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": asdict(self.config),
            "times": self.times.to_dict("records"),
            "fits": self.fits.to_dict("records"),
        }

    def write(self, folder: str | Path) -> dict[str, Path]:
        folder = Path(folder)
        return {
            "times": write_table(self.times, folder / "escape_times.csv"),
            "fits": write_table(self.fits, folder / "theory_fits.csv"),
            "survival": write_table(self.survival, folder / "survival.csv"),
            "figure": escape_time_plot(self.times, self.predictions, self.survival, folder / "escape_time.png"),
            "manifest": write_manifest(self, folder),
        }


def run_escape_time(config: EscapeTimeConfig = EscapeTimeConfig()) -> EscapeTimeResult:
    """Train to a minimum, then measure escapes for every learning rate and batch size."""
    data = load_dataset(config.data, split="train", seed=config.seed)
    model = network_for(data.info, "mlp", seed=config.seed, options={"depth": 2, "width": config.width})
    survival_seeds = config.survival_seeds or config.seeds
    with torch_threads(1):  # many small steps: dispatch-bound (see sgdnoise.parallel)
        train(
            model,
            data,
            TrainConfig(
                epochs=config.train_epochs, lr=config.train_lr, batch_size=config.train_batch_size, seed=config.seed
            ),
        )

        def escape(lr: float, batch: int, n_seeds: int = config.seeds):
            return escape_by_loss(
                model,
                F.cross_entropy,
                data,
                factor=config.factor,
                seeds=range(config.seed, config.seed + n_seeds),
                lr=lr,
                batch_size=batch,
                max_steps=config.max_steps,
            )

        times = pd.DataFrame(
            [
                {"lr": lr, "batch_size": batch, **escape(lr, batch).summary()}
                for batch in config.batch_sizes or (config.batch_size,)
                for lr in config.lrs
            ]
        )
        u = np.unique(np.geomspace(1, config.max_steps, 60).round())
        survival = pd.concat(
            [
                pd.DataFrame(
                    {"batch_size": b, "u": u, "survival": escape(config.survival_lr, b, survival_seeds).survival(u)}
                )
                for b in config.survival_batch_sizes
            ],
            ignore_index=True,
        )
    # τ: the exponential-law MLE (total steps, censored seeds included, / escapes), defined when some seeds
    # did not escape within max_steps; it equals the plain mean when all did.
    tau = times["mean_steps_exponential_mle"]
    fits = compare_escape_fits(times["lr"], times["batch_size"], tau)
    predictions = {f.model: f.predict(times["lr"].to_numpy(), times["batch_size"].to_numpy()) for f in fits.fits}
    return EscapeTimeResult(config, times, fits.to_frame(), survival, predictions)
