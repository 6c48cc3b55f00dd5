"""The gradient-noise fits of :mod:`sgdnoise.experiments.noise_fits` on any model, loss and data,
at the model's current weights (a study analysis): the noise of K mini-batches for a few random
entries of every parameter tensor, each entry fitted with a Gaussian and an SαS law (Battash et
al. Table 1, Figs. 1 and 5). α against the batch size on any model:
:func:`sgdnoise.experiments.alpha_vs_batch.run_batch_sweep`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sgdnoise.errors import ConfigError
from sgdnoise.experiments.common import write_manifest
from sgdnoise.experiments.noise_fits import fit_network_noise, layer_table
from sgdnoise.plumbing import positive_int
from sgdnoise.report.figures import alpha_by_layer, noise_histograms
from sgdnoise.stable import METHODS, summarize_fits
from sgdnoise.store import write_arrays, write_table


@dataclass(frozen=True)
class ModelNoiseConfig:
    """K = ``num_batches`` mini-batches of B = ``batch_size``; ``per_layer`` entries per tensor;
    SαS estimator ``method``; entries and mini-batches drawn from ``seed``."""

    batch_size: int = 32
    num_batches: int = 1000
    per_layer: int = 16
    method: str = "cf"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"unknown fit method {self.method!r}; choose one of {', '.join(METHODS)}")
        positive_int(self.batch_size, "batch_size", error=ConfigError)
        positive_int(self.per_layer, "per_layer", error=ConfigError)
        positive_int(self.num_batches, "num_batches (draws per fitted entry)", minimum=20, error=ConfigError)


@dataclass(frozen=True)
class ModelNoiseResult:
    config: ModelNoiseConfig
    fits: pd.DataFrame  # compare_fits output, one row per sampled entry, plus "layer"
    layers: pd.DataFrame  # per-layer α spread and win rates
    summary: pd.DataFrame  # summarize_fits(fits)
    samples: np.ndarray  # (n_entries, K)
    collection: dict[str, Any]  # the gradient engine's plan and seconds

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": asdict(self.config),
            "collection": self.collection,
            "summary": self.summary.to_dict("records"),
            "summary_counts": dict(self.summary.attrs),
            "layers": self.layers.to_dict("records"),
        }

    def write(self, folder: str | Path) -> dict[str, Path]:
        folder = Path(folder)
        return {
            "fits": write_table(self.fits, folder / "fits.parquet"),
            "layers": write_table(self.layers, folder / "layers.csv"),
            "summary": write_table(self.summary, folder / "summary.csv"),
            "histograms": noise_histograms(self.samples, self.fits, folder / "histograms.png"),
            "alpha_by_layer": alpha_by_layer(self.fits, folder / "alpha_by_layer.png"),
            "samples": write_arrays(folder / "samples.npz", compressed=True, noise=self.samples),
            "manifest": write_manifest(self, folder),
        }


def run_model_noise(model, loss_fn, data, config: ModelNoiseConfig = ModelNoiseConfig()) -> ModelNoiseResult:
    """Collect and fit the noise of ``model`` at its current weights (module docstring)."""
    fits, samples, collection = fit_network_noise(
        model,
        loss_fn,
        data,
        batch_size=config.batch_size,
        num_batches=config.num_batches,
        per_layer=config.per_layer,
        seed=config.seed,
        method=config.method,
    )
    return ModelNoiseResult(config, fits, layer_table(fits), summarize_fits(fits), samples, collection)
