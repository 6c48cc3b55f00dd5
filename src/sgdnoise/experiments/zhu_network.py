"""Does anisotropic noise escape a sharp, memorising minimum of a real network? (Zhu et al. 2019, §5)

The scaled-down version of Zhu et al.'s FashionMNIST experiment: a one-hidden-layer MLP on a
subset of the bundled ``digits`` set with a fraction of its labels replaced by random ones, trained
by full-batch GD until it fits every label (a sharp minimum that generalises poorly). From there,
GD, SGD and GD + noise of equal total variance but different shapes (isotropic, diagonal, full Σ,
Hessian, top eigenvector; :func:`sgdnoise.dynamics.zhu_network_dynamics`) each run
``n_repeats`` times, under two protocols for the noise magnitude: Zhu's (``match_at="start"``: total
variance fixed at SGD's at the start) and ``match_at="current"`` (each repeat's variance follows SGD's
at its current point, so the Σ-shaped variant is SGD's Gaussian twin). Per variant: final training
loss and accuracy (on the corrupted labels), test accuracy, and distance from the start, each
mean ± standard error over repeats; and at the start
Zhu's escape indicator ``Tr(HΣ)`` against its isotropic equivalent ``Tr H·Tr Σ/P``
(:func:`sgdnoise.curvature.geometry.noise_anisotropy`). Zhu et al. expect SGD and the anisotropic
variants to leave the minimum and generalise better than GD, isotropic and diagonal noise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch.func import vmap

from sgdnoise.curvature import HessianOperator, noise_covariance, per_sample_gradients
from sgdnoise.curvature.functional import FunctionalModel
from sgdnoise.curvature.geometry import NoiseAnisotropy, noise_anisotropy
from sgdnoise.data import load_dataset
from sgdnoise.dynamics import MATCH_AT, ZHU_VARIANTS, ZhuNetworkRun, zhu_network_dynamics
from sgdnoise.errors import ConfigError
from sgdnoise.experiments.common import write_manifest
from sgdnoise.models import seeded_model
from sgdnoise.parallel import torch_threads
from sgdnoise.plumbing import ParameterSpace, evaluation_mode, positive_int
from sgdnoise.report.figures import zhu_network_plot
from sgdnoise.rng import as_generator
from sgdnoise.store import write_table
from sgdnoise.training import TrainConfig, train

COLUMNS = (
    "variant",
    "match_at",
    "n_repeats",
    "train_loss",
    "train_loss_stderr",
    "train_accuracy",
    "train_accuracy_stderr",
    "test_accuracy",
    "test_accuracy_stderr",
    "distance",
    "distance_stderr",
)


@dataclass(frozen=True)
class ZhuNetworkConfig:
    """Data: ``n_train`` digits, ``corrupt_fraction`` of them relabelled uniformly at random (the
    label may come out unchanged); model: MLP ``depth × width``; start: ``gd_steps`` of full-batch GD
    at ``gd_lr``; then every variant ``n_repeats`` times for ``n_steps`` at ``lr`` (SGD batch
    ``batch_size``; shaped noise with SGD's total variance at the start (``"start"``, or
    ``noise_variance`` if given) and/or at each repeat's current point (``"current"``), one row per
    protocol in ``match_at``; gd and sgd do not depend on it and are run once)."""

    n_train: int = 300
    corrupt_fraction: float = 0.2
    width: int = 32
    depth: int = 1
    gd_lr: float = 0.5
    gd_steps: int = 1500
    lr: float = 0.2
    batch_size: int = 4
    n_steps: int = 1000
    n_repeats: int = 4
    noise_variance: float | None = None
    match_at: tuple[str, ...] = MATCH_AT
    hessian_k: int = 10
    refresh: int = 25
    lanczos_tol: float = 1e-2
    variants: tuple[str, ...] = ZHU_VARIANTS
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "variants", tuple(self.variants))
        object.__setattr__(self, "match_at", tuple(self.match_at))
        if (
            not self.match_at
            or any(m not in MATCH_AT for m in self.match_at)
            or len(set(self.match_at)) != len(self.match_at)
        ):
            raise ConfigError(f"match_at must be distinct values from {MATCH_AT}; got {self.match_at}")
        if self.noise_variance is not None and "current" in self.match_at:
            raise ConfigError("a fixed noise_variance cannot follow SGD's current variance; use match_at=('start',)")
        if not 0 <= self.corrupt_fraction <= 1:
            raise ConfigError(f"corrupt_fraction must be in [0, 1]; got {self.corrupt_fraction}")
        positive_int(self.n_repeats, "n_repeats (for standard errors)", minimum=2, error=ConfigError)


@dataclass(frozen=True)
class ZhuNetworkResult:
    config: ZhuNetworkConfig
    table: pd.DataFrame  # COLUMNS, one row per variant and noise protocol
    start: dict[str, float]  # train_loss, train_accuracy, test_accuracy at the GD minimum
    anisotropy: NoiseAnisotropy  # Tr(HΣ) vs Tr H·TrΣ/P at the start (Σ of SGD's batches)
    noise_variance: float  # v of the "start" protocol (η² Tr Σ_B at the start unless configured)

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": asdict(self.config),
            "table": self.table.to_dict("records"),
            "start": self.start,
            "anisotropy": self.anisotropy.to_dict(),
            "noise_variance": self.noise_variance,
        }

    def write(self, folder: str | Path) -> dict[str, Path]:
        folder = Path(folder)
        return {
            "table": write_table(self.table, folder / "zhu_network.csv"),
            "figure": zhu_network_plot(self.table, folder / "zhu_network.png"),
            "manifest": write_manifest(self, folder),
        }


def corrupted_digits(
    n_train: int, corrupt_fraction: float, seed: int
) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """``((x, y_corrupted), (x_test, y_test))``: the first ``n_train`` points of the digits training
    split, ``round(corrupt_fraction·n_train)`` of them (chosen by ``seed``) given a uniform random label."""
    train_set, test_set = (load_dataset("digits", split=s, seed=seed) for s in ("train", "test"))
    if not 1 <= n_train <= len(train_set):
        raise ConfigError(f"n_train must be in [1, {len(train_set)}]; got {n_train}")
    x, y = train_set.inputs[:n_train], train_set.targets[:n_train].clone()
    gen = as_generator(seed)
    n_bad = round(corrupt_fraction * n_train)
    y[torch.randperm(n_train, generator=gen)[:n_bad]] = torch.randint(
        train_set.info.num_outputs, (n_bad,), generator=gen
    )
    return (x, y), (test_set.inputs, test_set.targets)


def _evaluate(
    model: torch.nn.Module, params: torch.Tensor, x: torch.Tensor, y: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy and accuracy of the network at every row of ``params (R, P)``: two ``(R,)`` tensors."""
    fmodel = FunctionalModel(model, F.cross_entropy, ParameterSpace(model))

    def metrics(theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = fmodel.output(theta, x)
        return F.cross_entropy(out, y), (out.argmax(dim=1) == y).to(out.dtype).mean()

    with torch.no_grad():
        return vmap(metrics)(params)


def _mean_se(values: torch.Tensor) -> tuple[float, float]:
    v = values.detach().double().cpu().numpy()
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(len(v)))


def _rows(model: torch.nn.Module, run: ZhuNetworkRun, train_data, test_data) -> list[list[Any]]:
    """One table row per variant of ``run``; gd and sgd, which do not depend on the noise protocol, get ``"any"``."""
    rows = []
    for variant, params, distance in zip(run.variants, run.params, run.distance()):
        train_loss, train_acc = _evaluate(model, params, *train_data)
        _, test_acc = _evaluate(model, params, *test_data)
        protocol = "any" if variant in ("gd", "sgd") else run.match_at
        rows.append(
            [
                variant,
                protocol,
                len(params),
                *_mean_se(train_loss),
                *_mean_se(train_acc),
                *_mean_se(test_acc),
                *_mean_se(distance),
            ]
        )
    return rows


def run_zhu_network(config: ZhuNetworkConfig = ZhuNetworkConfig()) -> ZhuNetworkResult:
    """Train to the GD minimum, measure the indicator there, run every variant (single-threaded)."""
    with torch_threads(1):
        (x, y), test_data = corrupted_digits(config.n_train, config.corrupt_fraction, config.seed)
        model = seeded_model(
            "mlp",
            input_shape=tuple(x.shape[1:]),
            num_classes=10,
            seed=config.seed,
            depth=config.depth,
            width=config.width,
        )
        train(
            model,
            (x, y),
            TrainConfig(epochs=config.gd_steps, lr=config.gd_lr, batch_size=config.n_train, seed=config.seed),
        )
        with evaluation_mode(model):  # the GD minimum is measured and left with BatchNorm/dropout off
            start = ParameterSpace(model).vector()[None]
            start_loss, start_acc = _evaluate(model, start, x, y)
            start_test_acc = _evaluate(model, start, *test_data)[1]
            sigma = noise_covariance(
                per_sample_gradients(model, F.cross_entropy, (x, y)), config.batch_size, without_replacement=True
            )
            anisotropy = noise_anisotropy(HessianOperator(model, F.cross_entropy, (x, y)), sigma, seed=config.seed)
            rows, noise_variance = [], 0.0
            for i, protocol in enumerate(config.match_at):
                variants = config.variants if i == 0 else tuple(v for v in config.variants if v not in ("gd", "sgd"))
                if not variants:
                    continue
                run = zhu_network_dynamics(
                    model,
                    F.cross_entropy,
                    (x, y),
                    seeds=range(config.seed, config.seed + config.n_repeats),
                    variants=variants,
                    lr=config.lr,
                    n_steps=config.n_steps,
                    batch_size=config.batch_size,
                    noise_variance=config.noise_variance,
                    match_at=protocol,
                    hessian_k=config.hessian_k,
                    refresh=config.refresh,
                    lanczos_tol=config.lanczos_tol,
                )
                rows += _rows(model, run, (x, y), test_data)
                noise_variance = run.noise_variance  # the same v₀ = η² Tr Σ_B(w₀) in every protocol
    start_metrics = {
        "train_loss": float(start_loss[0]),
        "train_accuracy": float(start_acc[0]),
        "test_accuracy": float(start_test_acc[0]),
    }
    return ZhuNetworkResult(
        config, pd.DataFrame(rows, columns=list(COLUMNS)), start_metrics, anisotropy, noise_variance
    )
