"""How long does SGD stay in a minimum of a real network? (Battash et al. Figs. 3 and 4)

A 3-layer ReLU MLP is trained on a bundled tabular data set with SGD (lr 0.05, batch 128, as the
paper) to a minimum w*. From w*, many seeds of plain SGD with a small batch run at once
(:func:`sgdnoise.dynamics.escape_sweep`: every point's seeds are tasks of the current executor)
until the training loss exceeds ``factor`` × its value at w*. Fig. 3: the mean escape time for
several learning rates, with the Lévy, Kramers and Mori laws fitted to it (two free parameters
each, :func:`sgdnoise.theory.compare_escape_fits`).
Fig. 4: survival curves ``P(σ > u)`` for several batch sizes. The paper uses ODDS tabular sets
(Speech, Ionosphere, Cardio); load them with ``data="path/to/file.mat"``.

On one minimum Kramers (Xie et al.) and Mori are one law, ``log τ = a + b·B/η − log η``: the loss
at the minimum, the barrier and the curvature are constants there and end up in ``b``. The fits
table has them as one row ``"kramers = mori"`` with a ``note`` saying so, and adds the Lévy law
with α **fixed** to the measured α (the median SαS α of the noise at the minimum, batch
``batch_size``, :func:`sgdnoise.theory.fit_levy_fixed_alpha`); ``alpha_check`` says whether that α
is consistent with the free fit's slope (:func:`sgdnoise.theory.alpha_consistency`).

Across minima (``label_noise``): the same network trained on the same data with a share of the
labels replaced by another class reaches minima of higher loss. Escape times at every η from each
(with the clean minimum) are fitted by :func:`sgdnoise.theory.fit_escape_across_minima`, where
Kramers' exponent grows with the linear barrier ``ΔL = (f − 1)L*`` and Mori's with the log barrier
``log f`` (the same at every minimum), both over the top Hessian eigenvalue h; two free parameters
each.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from sgdnoise.curvature import hessian_eigenvalues
from sgdnoise.data import load_dataset
from sgdnoise.dynamics import EscapePoint, EscapeResult, escape_sweep
from sgdnoise.errors import ConfigError
from sgdnoise.experiments.common import write_manifest
from sgdnoise.experiments.networks import network_for
from sgdnoise.gradients import collect_noise
from sgdnoise.parallel import torch_threads
from sgdnoise.plumbing import as_data_source, positive_int
from sgdnoise.report.figures import escape_time_plot
from sgdnoise.stable import fit_sas
from sgdnoise.store import write_table
from sgdnoise.theory import (
    EscapeFit,
    EscapeFitComparison,
    alpha_consistency,
    compare_escape_fits,
    fit_escape_across_minima,
    fit_levy_fixed_alpha,
)
from sgdnoise.training import TrainConfig, evaluate, train


@dataclass(frozen=True)
class EscapeTimeConfig:
    """``seeds`` SGD seeds per escape-time point (each of ``lrs`` at ``batch_size``, or at every
    size of ``batch_sizes`` when given) and ``survival_seeds`` (default ``seeds``) per survival
    curve (``survival_lr`` at each of ``survival_batch_sizes``). ``alpha_batches`` noise mini-batches
    measure α at each minimum; ``label_noise`` are the shares of labels replaced at the further
    minima, each run with ``minima_seeds`` seeds per η for at most ``minima_max_steps`` steps."""

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
    alpha_batches: int = 200
    label_noise: tuple[float, ...] = (0.1, 0.25)
    minima_seeds: int = 20
    minima_max_steps: int = 500

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
        positive_int(self.alpha_batches, "alpha_batches", minimum=20, error=ConfigError)
        positive_int(self.minima_seeds, "minima_seeds", minimum=2, error=ConfigError)
        positive_int(self.minima_max_steps, "minima_max_steps", error=ConfigError)
        for p in self.label_noise:
            if not 0 < p < 1:
                raise ConfigError(f"label_noise entries are shares of labels replaced, in (0, 1); got {p}")
        if not self.factor > 1:
            raise ConfigError(f"factor (of the minimum's loss that counts as escaped) must be > 1; got {self.factor}")


@dataclass(frozen=True)
class EscapeTimeResult:
    config: EscapeTimeConfig
    times: pd.DataFrame  # lr, batch_size, n_escaped, mean_steps, mean_steps_stderr
    fits: pd.DataFrame  # one row per theory
    survival: pd.DataFrame  # batch_size, u, survival
    predictions: dict[str, np.ndarray]  # theory → predicted τ on ``times.lr``
    alpha_check: pd.DataFrame | None = None  # measured α against the Lévy fit's slope (one row)
    minima: pd.DataFrame | None = None  # one row per minimum: label_noise, loss_min, loss_level, top_eigenvalue, α
    minima_times: pd.DataFrame | None = None  # label_noise, lr, batch_size, escape summary
    minima_fits: pd.DataFrame | None = None  # the theories fitted across minima

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": asdict(self.config),
            "times": self.times.to_dict("records"),
            "fits": self.fits.to_dict("records"),
            "alpha_check": None if self.alpha_check is None else self.alpha_check.to_dict("records"),
            "minima_fits": None if self.minima_fits is None else self.minima_fits.to_dict("records"),
        }

    def write(self, folder: str | Path) -> dict[str, Path]:
        folder = Path(folder)
        extra = {
            name: write_table(frame, folder / f"{name}.csv")
            for name, frame in (
                ("alpha_check", self.alpha_check),
                ("minima", self.minima),
                ("minima_times", self.minima_times),
                ("minima_fits", self.minima_fits),
            )
            if frame is not None
        }
        return extra | {
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

        grid = [(lr, batch) for batch in config.batch_sizes or (config.batch_size,) for lr in config.lrs]
        escapes = _escapes(
            model,
            data,
            config,
            [(lr, b, config.seeds, config.max_steps) for lr, b in grid]
            + [(config.survival_lr, b, survival_seeds, config.max_steps) for b in config.survival_batch_sizes],
        )
        times = pd.DataFrame(
            [{"lr": lr, "batch_size": batch, **esc.summary()} for (lr, batch), esc in zip(grid, escapes)]
        )
        u = np.unique(np.geomspace(1, config.max_steps, 60).round())
        survival = pd.concat(
            [
                pd.DataFrame({"batch_size": b, "u": u, "survival": esc.survival(u)})
                for b, esc in zip(config.survival_batch_sizes, escapes[len(grid) :])
            ],
            ignore_index=True,
        )
        alpha = _measured_alpha(model, data, config) if config.alpha_batches else float("nan")
        minima = [_minimum_row(model, data, config, 0.0, alpha)]
        clean = times[times["batch_size"] == config.batch_size]
        minima_times = [clean.assign(label_noise=0.0)] if len(clean) else []
        for share in config.label_noise:
            noisy = _with_label_noise(data, share, config.seed)
            m = network_for(data.info, "mlp", seed=config.seed, options={"depth": 2, "width": config.width})
            train(
                m,
                noisy,
                TrainConfig(
                    epochs=config.train_epochs, lr=config.train_lr, batch_size=config.train_batch_size, seed=config.seed
                ),
            )
            minima.append(_minimum_row(m, noisy, config, share, _measured_alpha(m, noisy, config)))
            points = [(lr, config.batch_size, config.minima_seeds, config.minima_max_steps) for lr in config.lrs]
            minima_times.append(
                pd.DataFrame(
                    [
                        {"label_noise": share, "lr": lr, "batch_size": config.batch_size, **esc.summary()}
                        for lr, esc in zip(config.lrs, _escapes(m, noisy, config, points))
                    ]
                )
            )
    # τ: the exponential-law MLE (total steps, censored seeds included, / escapes), defined when some seeds
    # did not escape within max_steps; it equals the plain mean when all did.
    tau = times["mean_steps_exponential_mle"]
    comparison = compare_escape_fits(times["lr"], times["batch_size"], tau)
    fits_by_name = {f.model: f for f in comparison.fits}
    fits = [fits_by_name["levy"], fits_by_name["kramers"]]
    notes = {
        "levy": "α free",
        "kramers = mori": "one law on one minimum: L*, the barrier and h are constants here and end up in b; "
        "they differ across minima (minima_fits)",
    }
    alpha_check = None
    if np.isfinite(alpha):
        fits.append(fit_levy_fixed_alpha(times["lr"], times["batch_size"], tau, alpha))
        notes["levy_fixed_alpha"] = f"α fixed to the measured median α = {alpha:.3g} (one free parameter)"
        alpha_check = pd.DataFrame([alpha_consistency(fits_by_name["levy"], alpha)])
    frame = _fits_frame(fits, notes)
    predictions = {name: fit.fitted_tau for name, fit in zip(frame["model"], fits)}
    minima_frame = pd.DataFrame(minima)
    minima_times_frame = pd.concat(minima_times, ignore_index=True) if minima_times else None
    minima_fits = _fit_minima(minima_frame, minima_times_frame) if minima_times_frame is not None else None
    return EscapeTimeResult(
        config,
        times,
        frame,
        survival,
        predictions,
        alpha_check=alpha_check,
        minima=minima_frame,
        minima_times=minima_times_frame,
        minima_fits=minima_fits,
    )


def _escapes(model, data, config: EscapeTimeConfig, points: list[tuple[float, int, int, int]]) -> list[EscapeResult]:
    """The escapes of every ``(lr, batch size, seeds, max steps)`` point from the model's weights,
    as one sweep (its points and seeds are tasks of the current executor)."""
    return escape_sweep(
        model,
        F.cross_entropy,
        data,
        [
            EscapePoint(lr, batch, tuple(range(config.seed, config.seed + n_seeds)), max_steps, factor=config.factor)
            for lr, batch, n_seeds, max_steps in points
        ],
    )


def _with_label_noise(data, share: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, y)`` with ``round(share·N)`` labels (a seeded choice) replaced by another class, uniformly."""
    x, y = as_data_source(data).tensors(torch.device("cpu"))
    n_classes = int(y.max()) + 1
    gen = torch.Generator().manual_seed(seed + 7919)
    idx = torch.randperm(len(y), generator=gen)[: round(share * len(y))]
    y = y.clone()
    y[idx] = (y[idx] + torch.randint(1, n_classes, (len(idx),), generator=gen)) % n_classes
    return x, y


def _measured_alpha(model, data, config: EscapeTimeConfig) -> float:
    """Median SαS α over the non-degenerate entries of the noise at the minimum (batch ``batch_size``)."""
    noise = collect_noise(
        model, F.cross_entropy, data, batch_size=config.batch_size, num_batches=config.alpha_batches, seed=config.seed
    )
    rows, _ = noise.noise_matrix()
    fitted = fit_sas(rows).alpha
    alpha = np.asarray(fitted.cpu() if isinstance(fitted, torch.Tensor) else fitted, dtype=float)
    alpha = alpha[np.isfinite(alpha)]
    return float(np.median(alpha)) if alpha.size else float("nan")


def _minimum_row(model, data, config: EscapeTimeConfig, share: float, alpha: float) -> dict[str, Any]:
    x, y = as_data_source(data).tensors(torch.device("cpu"))
    loss, accuracy = evaluate(model, F.cross_entropy, x, y)
    top = hessian_eigenvalues(model, F.cross_entropy, (x, y), k=1, strict=False)
    return {
        "label_noise": share,
        "loss_min": loss,
        "loss_level": config.factor * loss,
        "train_accuracy": accuracy,
        "top_eigenvalue": float(top.eigenvalues[0]),
        "alpha_median": alpha,
    }


def _fits_frame(fits: list[EscapeFit], notes: dict[str, str]) -> pd.DataFrame:
    frame = EscapeFitComparison(tuple(fits)).to_frame()
    frame["model"] = [name for name in notes][: len(frame)]
    frame["note"] = [notes[m] for m in frame["model"]]
    return frame


def _fit_minima(minima: pd.DataFrame, times: pd.DataFrame) -> pd.DataFrame | None:
    """The theories fitted across minima, on the points where some seed escaped (τ finite)."""
    points = times.merge(minima, on="label_noise")
    points = points[np.isfinite(points["mean_steps_exponential_mle"])]
    if points["label_noise"].nunique() < 2 or len(points) < 4:
        return None
    alpha = points["alpha_median"].to_numpy()
    fits = fit_escape_across_minima(
        points["lr"],
        points["batch_size"],
        points["mean_steps_exponential_mle"],
        points["loss_min"],
        points["loss_level"],
        points["top_eigenvalue"],
        alpha=alpha if np.isfinite(alpha).all() else None,
    )
    frame = fits.to_frame()
    frame["n_minima"] = points["label_noise"].nunique()
    return frame
