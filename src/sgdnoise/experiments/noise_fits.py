"""Is the gradient noise of a trained network Gaussian or SαS? (Battash et al. Tables 1–2, Figs. 1 and 5)

Train a network (or load its checkpoint), fix the weights, collect the noise of K random
mini-batches for a few sampled entries of every parameter tensor (per-parameter method of
Xie et al. / Battash et al., :func:`sgdnoise.gradients.collect_noise`), fit Gaussian and SαS
laws to each entry's K values (:func:`sgdnoise.stable.compare_fits`) and tabulate: Gauss vs SαS
by SSE, Chi², KS and AIC (Table 1), α per layer (Fig. 5), histograms with both densities (Fig. 1).
Degenerate entries (noise stuck at one value, e.g. behind dead ReLUs) are counted, not fitted.

Beyond the paper, every entry is classified (degenerate, spike_with_tail, multimodal, ordinary)
and the laws ``config.laws`` (Gaussian, SαS, skewed stable, Student-t, two-Gaussian mixture by
default) are compared on it by likelihood, AIC, BIC, KS and Hellinger distance, with the test of
β = 0 (:func:`sgdnoise.stable.compare_laws`): ``result.laws`` and ``result.laws_summary``, whose
``attrs`` carry the class counts.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from sgdnoise.data import load_dataset
from sgdnoise.errors import ConfigError
from sgdnoise.experiments.common import write_manifest
from sgdnoise.experiments.networks import trained_network_for
from sgdnoise.gradients import DEFAULT_MEMORY_BUDGET, ParameterSelection, collect_noise
from sgdnoise.gradients.planning import METHODS as ENGINES
from sgdnoise.plumbing import as_data_source, default_loss, model_device, positive_int
from sgdnoise.report.figures import alpha_by_layer, noise_histograms
from sgdnoise.stable import LAWS, METHODS, compare_fits, compare_laws, summarize_fits, summarize_laws
from sgdnoise.store import write_arrays, write_table
from sgdnoise.training import evaluate


@dataclass(frozen=True)
class NoiseFitConfig:
    """What to train (or load), and how to sample and fit its noise.

    ``batch_size`` (B) and ``num_batches`` (K) define the noise mini-batches; ``per_layer``
    entries are drawn at random from every parameter tensor. Without ``checkpoint`` the model is
    trained with plain SGD (``epochs``, ``lr``, ``train_batch_size``) from ``seed``.
    ``memory_budget`` (bytes) bounds the gradient engine's working memory and ``engine`` picks it
    (``"auto"``, ``"loop"``, ``"vmap"`` or ``"entries"``; see :mod:`sgdnoise.gradients.planning`).
    ``laws`` are compared per entry by :func:`sgdnoise.stable.compare_laws` with the SαS and stable
    estimator ``law_method`` (``"mle"``: every law by maximum likelihood, and the test of β = 0).
    """

    model: str = "mlp"
    data: str = "digits"
    model_options: dict[str, Any] = field(default_factory=dict)
    data_options: dict[str, Any] = field(default_factory=dict)
    checkpoint: str | None = None
    epochs: int = 30
    lr: float = 0.05
    train_batch_size: int = 32
    batch_size: int = 32
    num_batches: int = 1000
    per_layer: int = 16
    method: str = "cf"
    seed: int = 0
    memory_budget: int = DEFAULT_MEMORY_BUDGET
    engine: str = "auto"
    laws: tuple[str, ...] = LAWS
    law_method: str = "mle"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"unknown fit method {self.method!r}; choose one of {', '.join(METHODS)}")
        object.__setattr__(self, "laws", tuple(self.laws))
        unknown = [law for law in self.laws if law not in LAWS]
        if unknown or not self.laws:
            raise ConfigError(f"unknown laws {unknown}; choose one or more of {', '.join(LAWS)}")
        if self.law_method not in ("cf", "quantile", "mle"):
            raise ConfigError(f"unknown law_method {self.law_method!r}; choose cf, quantile or mle")
        positive_int(self.epochs, "epochs", minimum=0, error=ConfigError)
        for name in ("train_batch_size", "batch_size", "per_layer"):
            positive_int(getattr(self, name), name, error=ConfigError)
        positive_int(self.memory_budget, "memory_budget (bytes)", error=ConfigError)
        if self.engine not in ENGINES:
            raise ConfigError(f"unknown gradient engine {self.engine!r}; choose one of {', '.join(ENGINES)}")
        positive_int(self.num_batches, "num_batches (draws per fitted entry)", minimum=20, error=ConfigError)


@dataclass(frozen=True)
class NoiseFitResult:
    config: NoiseFitConfig
    fits: pd.DataFrame  # compare_fits output, one row per sampled entry, plus "layer"
    layers: pd.DataFrame  # per-layer α spread and win rates
    summary: pd.DataFrame  # summarize_fits(fits): Table-1 style
    samples: np.ndarray  # (n_entries, K) noise values, rows matching ``fits``
    training: dict[str, float]  # train/test loss and accuracy of the weights the noise was taken at
    collection: dict[str, Any]  # the collection's plan (engine that ran, mini-batches per chunk, …) and seconds
    laws: pd.DataFrame | None = None  # compare_laws output, one row per sampled entry, plus "layer"
    laws_summary: pd.DataFrame | None = None  # summarize_laws(laws); attrs: class counts, α, test of β = 0

    def to_dict(self) -> dict[str, Any]:
        out = {
            "config": asdict(self.config),
            "training": self.training,
            "collection": self.collection,
            "summary": self.summary.to_dict("records"),
            "summary_counts": dict(self.summary.attrs),
            "layers": self.layers.to_dict("records"),
        }
        if self.laws_summary is not None:
            out["laws_summary"] = self.laws_summary.to_dict("records")
            out["laws_counts"] = dict(self.laws_summary.attrs)
        return out

    def write(self, folder: str | Path) -> dict[str, Path]:
        """Write fits, per-layer table, summary, the noise samples (NPZ), figures and the manifest."""
        folder = Path(folder)
        paths = {
            "fits": write_table(self.fits, folder / "fits.parquet"),
            "layers": write_table(self.layers, folder / "layers.csv"),
            **(
                {}
                if self.laws is None
                else {
                    "laws": write_table(self.laws, folder / "laws.parquet"),
                    "laws_summary": write_table(self.laws_summary, folder / "laws_summary.csv"),
                }
            ),
            "summary": write_table(self.summary, folder / "summary.csv"),
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


def layer_table(fits: pd.DataFrame) -> pd.DataFrame:
    """Per layer: sampled and degenerate entries, α median/IQR/min, and SαS win rates (AIC, Chi²)."""
    rows = []
    for layer, group in fits.groupby("layer", sort=False):
        ok = group[~group["degenerate"].astype(bool)]
        alpha = ok["alpha"]
        rows.append(
            {
                "layer": layer,
                "entries": len(group),
                "degenerate": int(group["degenerate"].sum()),
                "alpha_median": alpha.median(),
                "alpha_q25": alpha.quantile(0.25),
                "alpha_q75": alpha.quantile(0.75),
                "alpha_min": alpha.min(),
                "sas_better_aic": float((ok["aic_sas"] < ok["aic_gauss"]).mean()) if len(ok) else np.nan,
                "sas_better_chi2": float((ok["chi2_sas"] < ok["chi2_gauss"]).mean()) if len(ok) else np.nan,
            }
        )
    return pd.DataFrame(rows)


class NetworkNoiseFits(NamedTuple):
    """:func:`fit_network_noise`'s fits (one row per entry, with a ``layer`` column), noise
    samples ``(n_entries, K)`` and how they were collected: the collection's plan
    (:attr:`sgdnoise.gradients.NoiseResult.collection`: the ``engine`` that ran — ``"auto"``
    resolved —, ``chunk_size`` in mini-batches, …) and the ``seconds`` it took."""

    fits: pd.DataFrame
    samples: np.ndarray
    collection: dict[str, Any]


def fit_network_noise(
    model,
    loss_fn,
    data,
    *,
    batch_size: int,
    num_batches: int,
    per_layer: int | ParameterSelection,
    seed: int,
    method: str = "cf",
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    engine: str = "auto",
    progress: bool = False,
) -> NetworkNoiseFits:
    """Noise of ``num_batches`` mini-batches at the model's current weights for ``per_layer`` random
    entries of every parameter tensor (or the entries of a given :class:`ParameterSelection`),
    fitted per entry (:class:`NetworkNoiseFits`).

    The entries depend only on ``seed`` and the architecture, so two checkpoints of one model are
    compared on the same entries.
    """
    start = time.perf_counter()
    noise = collect_noise(
        model,
        loss_fn,
        data,
        batch_size=batch_size,
        num_batches=num_batches,
        seed=seed,
        params=per_layer,
        method=engine,
        memory_budget=memory_budget,
        progress=progress,
    )
    collection = {**noise.collection, "seconds": time.perf_counter() - start}
    samples, names = noise.noise_matrix()
    samples = samples.double()
    fits = compare_fits(samples, method=method, names=names)
    fits.insert(1, "layer", [name.split("[")[0] for name in names])
    return NetworkNoiseFits(fits, samples.cpu().numpy(), collection)


def run_noise_fits(config: NoiseFitConfig = NoiseFitConfig(), *, progress: bool = False) -> NoiseFitResult:
    """Train or load, collect the noise at the fixed weights, fit and tabulate (see module docstring)."""
    data = load_dataset(config.data, split="train", seed=config.seed, **config.data_options)
    test = load_dataset(config.data, split="test", seed=config.seed, **config.data_options)
    model = trained_network_for(data, config, progress=progress)
    x, y = as_data_source(data).tensors(model_device(model))
    loss_fn = default_loss(y)
    train_loss, train_acc = evaluate(model, loss_fn, x, y)
    test_loss, test_acc = evaluate(model, loss_fn, *as_data_source(test).tensors(x.device))
    fits, samples, collection = fit_network_noise(
        model,
        loss_fn,
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
    training = {
        "train_loss": train_loss,
        "train_accuracy": train_acc,
        "test_loss": test_loss,
        "test_accuracy": test_acc,
    }
    laws = compare_laws(samples, laws=config.laws, method=config.law_method, names=list(fits["name"]))
    laws.insert(1, "layer", fits["layer"])
    return NoiseFitResult(
        config,
        fits,
        layer_table(fits),
        summarize_fits(fits),
        samples,
        training,
        collection,
        laws,
        summarize_laws(laws),
    )
