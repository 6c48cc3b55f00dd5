"""The gradient noise of a generative model: a VAE's ELBO on the MNIST sample (Battash et al.,
AISTATS 2024: "discriminative and generative" models).

Train the VAE of :mod:`sgdnoise.models.vae` (Kingma & Welling 2014) briefly with plain SGD on
the negative ELBO, fix the weights, and measure the ELBO gradient's mini-batch noise
``u_k = ∇U(w) − (1/B) Σ_{ℓ∈Ω_k} ∇ℓ(x_ℓ, ε_ℓ; w)`` (eq. 1 with ``U`` the mean negative ELBO) for
``per_layer`` sampled entries of every parameter tensor, then fit Gaussian and SαS laws to each
entry exactly as for a classifier (:func:`sgdnoise.experiments.noise_fits.fit_network_noise`).

The reparameterisation's ε: during training a fresh draw at every step (the usual SGVB
estimator); during the measurement one fixed draw per point, drawn from ``seed`` with the data
(:func:`vae_dataset`), so the noise of a mini-batch is a function of the mini-batch alone and
measures the sampling of points, not the Monte-Carlo noise of ε (see :mod:`sgdnoise.models.vae`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from sgdnoise.data import DatasetInfo, TensorData, load_dataset
from sgdnoise.errors import ConfigError, InvalidInputError
from sgdnoise.experiments.common import write_manifest
from sgdnoise.experiments.networks import network_for
from sgdnoise.experiments.noise_fits import fit_network_noise, layer_table
from sgdnoise.gradients import DEFAULT_MEMORY_BUDGET
from sgdnoise.gradients.planning import METHODS as ENGINES
from sgdnoise.models import negative_elbo, vae_inputs
from sgdnoise.plumbing import positive_int
from sgdnoise.report.figures import alpha_by_layer, noise_histograms
from sgdnoise.rng import derived_seed
from sgdnoise.stable import METHODS, summarize_fits
from sgdnoise.store import write_arrays, write_table
from sgdnoise.training import TrainConfig, evaluate, train

_SPLIT_KEYS = {"train": 0, "test": 1, "all": 2}


def vae_dataset(
    name: str = "mnist_5k",
    *,
    latent_dim: int = 16,
    split: str = "train",
    seed: int = 0,
    max_points: int | None = None,
) -> TensorData:
    """A bundled image set as a VAE's data: inputs ``[x, ε]`` ``(N, D + latent_dim)``, targets the
    pixels ``x`` ``(N, D)`` (8-bit values / 255, Bernoulli means; a regression task with
    ``D`` targets), ``ε ~ N(0, I)`` one fixed draw per point from ``seed`` and the split.
    ``max_points`` keeps the first points only (small runs)."""
    images = load_dataset(name, split=split, seed=seed, standardize=False)
    x = images.inputs.reshape(len(images), -1)
    if float(x.max()) > 255 or float(x.min()) < 0:
        raise InvalidInputError(f"{name} is not 8-bit images (values {float(x.min())}..{float(x.max())})")
    if max_points is not None:
        x = x[: positive_int(max_points, "max_points", error=ConfigError)]
    x = x / 255.0
    rows = vae_inputs(x, latent_dim, seed=derived_seed(seed, _SPLIT_KEYS[split]))
    info = DatasetInfo(
        name=f"{name}_vae",
        task="regression",
        input_shape=(int(rows.shape[1]),),
        num_classes=None,
        num_samples=len(rows),
        split=images.info.split,
        source=f"{images.info.source}; pixels / 255 and a fixed ε ~ N(0, I_{latent_dim}) per point (seed {seed})",
        target_dim=int(x.shape[1]),
    )
    return TensorData(rows, x, info)


@dataclass(frozen=True)
class VaeNoiseConfig:
    """The VAE (``latent_dim``, ``hidden``), its training (``epochs``, ``lr``, ``train_batch_size``,
    plain SGD from ``seed``) and the noise measurement (``batch_size`` B, ``num_batches`` K,
    ``per_layer`` entries per tensor, SαS estimator ``method``, gradient ``engine``).
    ``max_points`` trains and measures on the first points of the training split only."""

    data: str = "mnist_5k"
    latent_dim: int = 16
    hidden: int = 256
    epochs: int = 10
    lr: float = 3e-3
    train_batch_size: int = 64
    batch_size: int = 32
    num_batches: int = 1000
    per_layer: int = 16
    method: str = "cf"
    seed: int = 0
    max_points: int | None = None
    memory_budget: int = DEFAULT_MEMORY_BUDGET
    engine: str = "auto"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"unknown fit method {self.method!r}; choose one of {', '.join(METHODS)}")
        if self.engine not in ENGINES:
            raise ConfigError(f"unknown gradient engine {self.engine!r}; choose one of {', '.join(ENGINES)}")
        positive_int(self.epochs, "epochs", minimum=0, error=ConfigError)
        for name in ("latent_dim", "hidden", "train_batch_size", "batch_size", "per_layer", "memory_budget"):
            positive_int(getattr(self, name), name, error=ConfigError)
        positive_int(self.num_batches, "num_batches (draws per fitted entry)", minimum=20, error=ConfigError)
        if not self.lr > 0:
            raise ConfigError(f"lr must be positive; got {self.lr}")


@dataclass(frozen=True)
class VaeNoiseResult:
    """Fits per sampled entry, per-layer table, Table-1-style summary, the noise samples
    ``(n_entries, K)``, the ELBO of the weights (``train_elbo``, ``test_elbo``: mean ELBO per
    point, nats, with the fixed ε) and how the noise was collected."""

    config: VaeNoiseConfig
    fits: pd.DataFrame
    layers: pd.DataFrame
    summary: pd.DataFrame
    samples: np.ndarray
    training: dict[str, float]
    collection: dict[str, Any]

    def table(self) -> pd.DataFrame:
        """One row in the layout of Battash et al.'s Tables 1–2: model, B, and mean ± std over the
        fitted entries of the Gaussian and SαS SSE and Chi²."""
        fitted = self.fits[~self.fits["degenerate"].astype(bool)]
        row: dict[str, Any] = {"model": "VAE", "data": self.config.data, "batch_size": self.config.batch_size}
        for metric in ("sse", "chi2"):
            for law in ("gauss", "sas"):
                values = fitted[f"{metric}_{law}"]
                row[f"{law}_{metric}_mean"], row[f"{law}_{metric}_std"] = float(values.mean()), float(values.std())
        row["entries"], row["degenerate"] = len(fitted), len(self.fits) - len(fitted)
        return pd.DataFrame([row])

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": asdict(self.config),
            "training": self.training,
            "collection": self.collection,
            "summary": self.summary.to_dict("records"),
            "layers": self.layers.to_dict("records"),
            "table": self.table().to_dict("records"),
        }

    def write(self, folder: str | Path) -> dict[str, Path]:
        """``fits.parquet``, ``layers.csv``, ``summary.csv``, ``table.csv``, ``histograms.png``,
        ``alpha_by_layer.png``, ``samples.npz`` (noise ``(n_entries, K)`` and entry names) and
        ``manifest.json`` in ``folder``, as :class:`~sgdnoise.experiments.noise_fits.NoiseFitResult`
        writes them."""
        folder = Path(folder)
        paths = {
            "fits": write_table(self.fits, folder / "fits.parquet"),
            "layers": write_table(self.layers, folder / "layers.csv"),
            "summary": write_table(self.summary, folder / "summary.csv"),
            "table": write_table(self.table(), folder / "table.csv"),
            "histograms": noise_histograms(self.samples, self.fits, folder / "histograms.png"),
            "alpha_by_layer": alpha_by_layer(self.fits, folder / "alpha_by_layer.png"),
            "samples": write_arrays(
                folder / "samples.npz",
                compressed=True,
                noise=self.samples,
                names=np.asarray(self.fits["name"], dtype=str),
            ),
        }
        paths["manifest"] = write_manifest(self, folder)
        return paths


def run_vae_noise(config: VaeNoiseConfig = VaeNoiseConfig(), *, progress: bool = False) -> VaeNoiseResult:
    """Train the VAE, fix its weights, collect and fit its ELBO-gradient noise (module docstring)."""
    data = vae_dataset(config.data, latent_dim=config.latent_dim, seed=config.seed, max_points=config.max_points)
    test = vae_dataset(config.data, latent_dim=config.latent_dim, split="test", seed=config.seed)
    model = network_for(
        data.info, "vae", seed=config.seed, options={"latent_dim": config.latent_dim, "hidden": config.hidden}
    )
    train(
        model,
        data,
        TrainConfig(
            epochs=config.epochs, lr=config.lr, batch_size=config.train_batch_size, seed=config.seed, progress=progress
        ),
        loss_fn=negative_elbo,
    )
    x, y = data.tensors
    with torch.no_grad():
        training = {
            "train_elbo": -evaluate(model, negative_elbo, x, y)[0],
            "test_elbo": -evaluate(model, negative_elbo, *test.tensors)[0],
        }
    fits, samples, collection = fit_network_noise(
        model,
        negative_elbo,
        (x, y),
        batch_size=config.batch_size,
        num_batches=config.num_batches,
        per_layer=config.per_layer,
        seed=config.seed,
        method=config.method,
        memory_budget=config.memory_budget,
        engine=config.engine,
        progress=progress,
    )
    return VaeNoiseResult(config, fits, layer_table(fits), summarize_fits(fits), samples, training, collection)
