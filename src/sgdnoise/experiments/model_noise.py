"""The gradient-noise fits of :mod:`sgdnoise.experiments.noise_fits` on any model, loss and data,
at the model's current weights, and the tail index α against the batch size.

``run_model_noise``: the noise of K mini-batches for a few random entries of every parameter
tensor, each entry fitted with a Gaussian and an SαS law (Battash et al. Table 1, Figs. 1 and 5).
``run_alpha_batch``: the same entries at several batch sizes, median α and noise scale per size
(under SαS noise the scale of u falls as B^{1/α − 1}; a Gaussian's as B^{−1/2}).
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
from sgdnoise.report.figures import alpha_against_batch, alpha_by_layer, noise_histograms
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


@dataclass(frozen=True)
class AlphaBatchConfig:
    """The noise at each of ``batch_sizes`` (at least two), K = ``num_batches`` each, on the same
    ``per_layer`` entries per tensor."""

    batch_sizes: tuple[int, ...] = (8, 32, 128)
    num_batches: int = 300
    per_layer: int = 8
    method: str = "cf"
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "batch_sizes", tuple(self.batch_sizes))
        if len(set(self.batch_sizes)) < 2:
            raise ConfigError(f"batch_sizes needs at least two different sizes; got {self.batch_sizes}")
        for b in self.batch_sizes:
            positive_int(b, "batch_sizes (each)", error=ConfigError)
        ModelNoiseConfig(num_batches=self.num_batches, per_layer=self.per_layer, method=self.method)


@dataclass(frozen=True)
class AlphaBatchResult:
    config: AlphaBatchConfig
    table: pd.DataFrame  # batch_size, fitted, degenerate, alpha_median, alpha_q25, alpha_q75, scale_median
    fits: pd.DataFrame  # per-entry fits with a batch_size column

    def to_dict(self) -> dict[str, Any]:
        return {"config": asdict(self.config), "table": self.table.to_dict("records")}

    def write(self, folder: str | Path) -> dict[str, Path]:
        folder = Path(folder)
        return {
            "table": write_table(self.table, folder / "alpha_vs_batch.csv"),
            "fits": write_table(self.fits, folder / "fits.parquet"),
            "figure": alpha_against_batch(self.table, folder / "alpha_vs_batch.png"),
            "manifest": write_manifest(self, folder),
        }


def run_alpha_batch(model, loss_fn, data, config: AlphaBatchConfig = AlphaBatchConfig()) -> AlphaBatchResult:
    """Fit the noise at every batch size; tabulate α and the noise scale per size."""
    rows, frames = [], []
    for batch in sorted(config.batch_sizes):
        fits, _, _ = fit_network_noise(
            model,
            loss_fn,
            data,
            batch_size=batch,
            num_batches=config.num_batches,
            per_layer=config.per_layer,
            seed=config.seed,
            method=config.method,
        )
        ok = fits[~fits["degenerate"].astype(bool)]
        rows.append(
            {
                "batch_size": batch,
                "fitted": len(ok),
                "degenerate": len(fits) - len(ok),
                "alpha_median": float(ok["alpha"].median()),
                "alpha_q25": float(ok["alpha"].quantile(0.25)),
                "alpha_q75": float(ok["alpha"].quantile(0.75)),
                "scale_median": float(ok["scale"].median()),
            }
        )
        frames.append(fits.assign(batch_size=batch))
    return AlphaBatchResult(config, pd.DataFrame(rows), pd.concat(frames, ignore_index=True))
