"""Does the gradient noise become Gaussian as the batch grows? α, β and the better law against B.

The noise of a mini-batch of B points is a mean of B per-sample terms (eq. 1). When the
per-sample gradients have finite variance, the central-limit theorem pulls the mean towards a
Gaussian as B grows (Panigrahi et al. 2019; Xie et al. 2021); when their tails are heavy with
index α < 2, the generalised CLT keeps an α-stable law at every B (Simsekli et al. 2019). Which
holds for a network, and from which B on, is a question of measurement: this recipe fixes the
weights (trained, and also at initialisation, where Xie et al. measured), draws K mini-batches at
each B of a grid from 1 up to a quarter of the data set, takes the noise of the *same* sampled
entries at every B (the entries depend on the seed and the architecture only;
:func:`sgdnoise.experiments.noise_fits.fit_network_noise`) and fits per entry:

- α and scale of the SαS law with a bootstrap confidence interval (the K mini-batches resampled
  with replacement, one resampling shared by all entries so that per-layer summaries keep the
  entries' dependence),
- β of the skewed stable law (:func:`sgdnoise.stable.fit_stable`, S0), left out (NaN) where
  α̂ ≥ ``BETA_ALPHA_MAX``: near α = 2 the skewness term ``tan(πα/2)`` vanishes, β hardly changes
  the law and its estimate runs to ±1 on noise alone,
- the better law of Gaussian and SαS by AIC (:func:`sgdnoise.stable.compare_fits`),
- the entry's class, decided before any fit (:func:`sgdnoise.stable.classify_entries`: ordinary,
  spike-with-tail, multimodal, degenerate), counted per layer.

Per (weights, B, layer) the table gives the median α over the layer's entries with its bootstrap
interval, the median β, the share of entries where the Gaussian wins, and the degenerate count.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from sgdnoise.data import load_dataset
from sgdnoise.errors import ConfigError, InvalidInputError
from sgdnoise.experiments.common import write_manifest
from sgdnoise.experiments.networks import network_for, trained_network_for
from sgdnoise.experiments.noise_fits import fit_network_noise
from sgdnoise.gradients import DEFAULT_MEMORY_BUDGET
from sgdnoise.parallel import Task, run_tasks
from sgdnoise.plumbing import LossFn, as_data_source, default_loss, model_device, positive_int
from sgdnoise.report.figures import alpha_against_batch_size
from sgdnoise.rng import as_generator
from sgdnoise.stable import classify_entries, fit_sas, fit_stable
from sgdnoise.stable.classes import class_counts
from sgdnoise.stable.density import ALPHA_MIN
from sgdnoise.store import write_table

CONFIDENCE = 0.9
BETA_ALPHA_MAX = 1.9
_COUNTED_CLASSES = ("n_spike_with_tail", "n_multimodal")  # besides the fits' own degenerate count
_BOOT_VALUES = 1 << 23  # resampled values fitted at once (64 MB in float64)


def default_batch_sizes(n_points: int) -> tuple[int, ...]:
    """Powers of two from 1 up to a quarter of the data set (``n_points // 4``), at least ``(1,)``."""
    top = max(1, n_points // 4)
    return tuple(2**i for i in range(int(math.log2(top)) + 1))


def bootstrap_alpha(samples: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """SαS α of every row of ``samples`` (E, K) refitted on ``n_boot`` resamplings of its K values:
    (n_boot, E). Resampling b draws one index vector of length K (with replacement) for all rows,
    so that statistics over rows (a layer's median) are bootstrapped with their dependence kept.
    All E · n_boot rows are fitted in one vectorised call."""
    rows, k = samples.shape
    picks = torch.randint(0, k, (n_boot, k), generator=as_generator(seed))
    values = torch.as_tensor(samples)
    per_call = max(1, _BOOT_VALUES // (rows * k))  # resamplings fitted per call, bounding memory
    alpha = [fit_sas(values[:, part].reshape(-1, k)).alpha.reshape(rows, len(part)).T for part in picks.split(per_call)]
    return torch.cat(alpha).numpy()


def entry_table(
    fits: pd.DataFrame, samples: np.ndarray, *, n_boot: int, seed: int
) -> tuple[pd.DataFrame, np.ndarray | None]:
    """Per entry at one B and one set of weights: α and its bootstrap interval, β, the better law;
    and the bootstrap α's (n_boot, E_fitted) of the fitted entries (None when none is fitted).

    ``fits`` is :func:`~sgdnoise.stable.compare_fits`' frame (with ``layer``), ``samples`` its rows
    (E, K). Degenerate entries keep NaN estimates; ``alpha_at_lower_bound`` marks an α the
    estimator clipped to 0.5 — a bound, not a tail index (often an atom with a one-sided tail).
    α = 2 is the Gaussian, a law the family contains, so the upper bound is an estimate.
    """
    ok = ~fits["degenerate"].to_numpy(dtype=bool)
    frame = fits[["name", "layer", "alpha", "scale", "degenerate"]].copy()
    classes = classify_entries(samples, names=list(fits["name"]))
    frame["class"] = classes["class"].to_numpy()
    frame["atom_weight"] = classes["atom_weight"].to_numpy()
    frame["beta"] = np.nan
    frame["alpha_lo"] = np.nan
    frame["alpha_hi"] = np.nan
    frame["better_law"] = np.where(fits["aic_gauss"] <= fits["aic_sas"], "gauss", "sas")
    frame.loc[~ok, "better_law"] = "degenerate"
    boot = None
    if ok.any():
        boot = bootstrap_alpha(samples[ok], n_boot, seed)
        tail = (1 - CONFIDENCE) / 2
        frame.loc[ok, "alpha_lo"] = np.nanquantile(boot, tail, axis=0)
        frame.loc[ok, "alpha_hi"] = np.nanquantile(boot, 1 - tail, axis=0)
        beta = np.asarray(fit_stable(samples[ok]).beta)
        frame.loc[ok, "beta"] = np.where(frame.loc[ok, "alpha"] < BETA_ALPHA_MAX, beta, np.nan)
    frame["alpha_at_lower_bound"] = ok & (frame["alpha"] <= ALPHA_MIN + 1e-9)
    return frame, boot


def layer_summary(entries: pd.DataFrame, boot: np.ndarray | None) -> pd.DataFrame:
    """Per layer: median α over the layer's fitted entries with its bootstrap interval (the median
    of each bootstrap replicate ``boot`` (n_boot, E_fitted)), median SαS scale (under SαS noise it
    falls as B^{1/α − 1} with B, a Gaussian's as B^{−1/2}), median β, share of entries where the
    Gaussian wins, entries whose α sits at the estimator's lower bound, degenerate entries."""
    fitted = entries[~entries["degenerate"].astype(bool)]
    rows = []
    tail = (1 - CONFIDENCE) / 2
    for layer, group in entries.groupby("layer", sort=False):
        in_layer = (fitted["layer"] == layer).to_numpy()
        # a replicate's median over the layer's entries (NaN where every resampled entry degenerated)
        medians = pd.DataFrame(boot[:, in_layer]).median(axis=1).dropna().to_numpy() if boot is not None else []
        alpha = fitted.loc[in_layer, "alpha"]
        rows.append(
            {
                "layer": layer,
                "entries": len(group),
                "degenerate": int(group["degenerate"].sum()),
                **{k: v for k, v in class_counts(group["class"]).items() if k in _COUNTED_CLASSES},
                "alpha_median": alpha.median(),
                "alpha_median_lo": np.quantile(medians, tail) if len(medians) else np.nan,
                "alpha_median_hi": np.quantile(medians, 1 - tail) if len(medians) else np.nan,
                "scale_median": fitted.loc[in_layer, "scale"].median(),
                "beta_median": fitted.loc[in_layer, "beta"].median(),
                "gauss_wins": float((fitted.loc[in_layer, "better_law"] == "gauss").mean())
                if in_layer.any()
                else np.nan,
                "at_lower_bound": int(fitted.loc[in_layer, "alpha_at_lower_bound"].sum()),
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class AlphaVersusBatch:
    """Per-entry and per-layer tables over every (weights, B) pair measured."""

    entries: pd.DataFrame  # one row per (weights, batch_size, entry)
    layers: pd.DataFrame  # one row per (weights, batch_size, layer)


def alpha_against_batch(
    model: nn.Module,
    loss_fn: LossFn,
    data: Any,
    *,
    batch_sizes: Sequence[int],
    num_batches: int,
    per_layer: int,
    weights: Mapping[str, Mapping[str, torch.Tensor]] | None = None,
    n_boot: int = 100,
    seed: int = 0,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    engine: str = "auto",
    progress: bool = False,
) -> AlphaVersusBatch:
    """Noise fits of the same entries at every B of ``batch_sizes`` and every state of ``weights``
    (name → state dict; default the model's current weights, named ``"given"``); the model's
    weights are restored afterwards. See the module docstring for what is fitted.

    Each (weights, B) pair is a task (:func:`alpha_at_batch_size`) on the current executor
    (:func:`sgdnoise.parallel.run_tasks`); the tables are concatenated in the order of
    ``weights`` and ``batch_sizes``, the same numbers wherever the tasks ran."""
    if not batch_sizes:
        raise InvalidInputError("batch_sizes is empty; give at least one mini-batch size")
    for b in batch_sizes:
        positive_int(b, "batch size")
    positive_int(n_boot, "n_boot (bootstrap resamplings)")
    own = {k: v.detach().clone() for k, v in model.state_dict().items()}
    weights = dict(weights) if weights is not None else {"given": own}
    options = dict(
        num_batches=num_batches,
        per_layer=per_layer,
        n_boot=n_boot,
        seed=seed,
        memory_budget=memory_budget,
        engine=engine,
        progress=progress,
    )
    tasks = [
        Task(
            f"weights={state_name} B={b}" + (f" #{j}" if list(batch_sizes).count(b) > 1 else ""),
            alpha_at_batch_size,
            (model, loss_fn, data, state),
            {"batch_size": int(b), "weights_name": state_name, **options},
        )
        for state_name, state in weights.items()
        for j, b in enumerate(batch_sizes)
    ]
    try:
        tables = run_tasks(tasks)
    finally:
        model.load_state_dict(own)
    return AlphaVersusBatch(
        pd.concat([entries for entries, _ in tables], ignore_index=True),
        pd.concat([layers for _, layers in tables], ignore_index=True),
    )


def alpha_at_batch_size(
    model: nn.Module,
    loss_fn: LossFn,
    data: Any,
    state: Mapping[str, torch.Tensor],
    *,
    batch_size: int,
    weights_name: str,
    num_batches: int,
    per_layer: int,
    n_boot: int,
    seed: int,
    memory_budget: int,
    engine: str,
    progress: bool,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One point of :func:`alpha_against_batch` (a task): ``model`` with the weights ``state``,
    the noise of ``num_batches`` mini-batches of ``batch_size`` fitted; the per-entry table and
    the per-layer summary, each led by the ``weights`` and ``batch_size`` columns. Leaves
    ``state`` loaded in ``model``."""
    model.load_state_dict(state)
    fits, samples, _ = fit_network_noise(
        model,
        loss_fn,
        data,
        batch_size=batch_size,
        num_batches=num_batches,
        per_layer=per_layer,
        seed=seed,
        memory_budget=memory_budget,
        engine=engine,
        progress=progress,
    )
    table, boot = entry_table(fits, samples, n_boot=n_boot, seed=seed)
    summary = layer_summary(table, boot)
    for frame in (table, summary):
        frame.insert(0, "batch_size", batch_size)
        frame.insert(0, "weights", weights_name)
    return table, summary


@dataclass(frozen=True)
class BatchSweepConfig:
    """α against B at a model's current weights: K = ``num_batches`` mini-batches at each of
    ``batch_sizes``, on the same ``per_layer`` random entries per tensor, ``n_boot`` bootstrap
    resamplings per fit, all drawn from ``seed``."""

    batch_sizes: tuple[int, ...] = (8, 32, 128)
    num_batches: int = 300
    per_layer: int = 8
    n_boot: int = 100
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "batch_sizes", tuple(self.batch_sizes))
        if not self.batch_sizes:
            raise ConfigError("batch_sizes is empty; give at least one mini-batch size")
        for b in self.batch_sizes:
            positive_int(b, "batch_sizes (each a mini-batch size)", error=ConfigError)
        positive_int(self.num_batches, "num_batches (draws per fitted entry)", minimum=20, error=ConfigError)
        positive_int(self.per_layer, "per_layer", error=ConfigError)
        positive_int(self.n_boot, "n_boot", error=ConfigError)


def run_batch_sweep(model: nn.Module, loss_fn: LossFn, data: Any, config: BatchSweepConfig) -> AlphaBatchResult:
    """:func:`alpha_against_batch` at the model's current weights (a study analysis on any model)."""
    measured = alpha_against_batch(
        model,
        loss_fn,
        data,
        batch_sizes=config.batch_sizes,
        num_batches=config.num_batches,
        per_layer=config.per_layer,
        n_boot=config.n_boot,
        seed=config.seed,
    )
    return AlphaBatchResult(config, measured.entries, measured.layers, tuple(sorted(config.batch_sizes)))


@dataclass(frozen=True)
class AlphaBatchConfig:
    """The recipe: train (or load) a network, then measure α against B at the trained weights and
    at the initial ones (``include_init``). ``batch_sizes`` default: :func:`default_batch_sizes`."""

    model: str = "mlp"
    data: str = "digits"
    model_options: dict[str, Any] = field(default_factory=dict)
    data_options: dict[str, Any] = field(default_factory=dict)
    checkpoint: str | None = None
    epochs: int = 30
    lr: float = 0.05
    train_batch_size: int = 32
    batch_sizes: tuple[int, ...] | None = None
    num_batches: int = 500
    per_layer: int = 8
    n_boot: int = 100
    include_init: bool = True
    seed: int = 0
    memory_budget: int = DEFAULT_MEMORY_BUDGET
    engine: str = "auto"

    def __post_init__(self) -> None:
        positive_int(self.epochs, "epochs", minimum=0, error=ConfigError)
        for name in ("train_batch_size", "per_layer", "n_boot"):
            positive_int(getattr(self, name), name, error=ConfigError)
        positive_int(self.num_batches, "num_batches (draws per fitted entry)", minimum=20, error=ConfigError)
        for b in self.batch_sizes or ():
            positive_int(b, "batch_sizes (each a mini-batch size)", error=ConfigError)


@dataclass(frozen=True)
class AlphaBatchResult:
    """α against B: the per-entry and per-layer tables (:class:`AlphaVersusBatch`) and the config
    that made them (:class:`AlphaBatchConfig` for the recipe, :class:`BatchSweepConfig` for a study)."""

    config: AlphaBatchConfig | BatchSweepConfig
    entries: pd.DataFrame
    layers: pd.DataFrame
    batch_sizes: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": asdict(self.config),
            "batch_sizes": list(self.batch_sizes),
            "layers": self.layers.to_dict("records"),
        }

    def write(self, folder: str | Path) -> dict[str, Path]:
        """Per-entry and per-layer tables, the α-against-B figure and the manifest."""
        folder = Path(folder)
        paths = {
            "entries": write_table(self.entries, folder / "alpha_vs_batch_entries.parquet"),
            "layers": write_table(self.layers, folder / "alpha_vs_batch.csv"),
            "figure": alpha_against_batch_size(self.layers, folder / "alpha_vs_batch.png"),
        }
        paths["manifest"] = write_manifest(self, folder)
        return paths


def run_alpha_vs_batch(config: AlphaBatchConfig = AlphaBatchConfig(), *, progress: bool = False) -> AlphaBatchResult:
    """Train or load the network, then :func:`alpha_against_batch` at the trained weights and, with
    ``include_init``, at the weights it started from (same seed, same entries)."""
    data = load_dataset(config.data, split="train", seed=config.seed, **config.data_options)
    model = trained_network_for(data, config, progress=progress)
    x, y = as_data_source(data).tensors(model_device(model))
    batch_sizes = tuple(config.batch_sizes or default_batch_sizes(len(x)))
    weights = {"trained": {k: v.detach().clone() for k, v in model.state_dict().items()}}
    if config.include_init:  # the weights training started from (the seed's initialisation)
        weights["init"] = network_for(
            data.info, config.model, seed=config.seed, options=config.model_options
        ).state_dict()
    measured = alpha_against_batch(
        model,
        default_loss(y),
        (x, y),
        batch_sizes=batch_sizes,
        num_batches=config.num_batches,
        per_layer=config.per_layer,
        weights=weights,
        n_boot=config.n_boot,
        seed=config.seed,
        memory_budget=config.memory_budget,
        engine=config.engine,
        progress=progress,
    )
    return AlphaBatchResult(config, measured.entries, measured.layers, batch_sizes)
