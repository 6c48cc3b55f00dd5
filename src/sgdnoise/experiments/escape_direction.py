"""SGD leaves a sharp minimum along flat directions; GD only along the sharpest (Wang & Wu 2023).

Over-parameterised linear regression (n < d, mean-square loss, inputs with anisotropic scales)
started at the interpolating minimum w* (minimum-norm solution), where the loss is exactly
quadratic. GD with ``η = gd_factor/λ_max`` (> 2/λ_max) is linearly unstable only along the top
Hessian eigenvector; SGD with batch ``batch_size`` and ``η = sgd_factor/λ_max`` (< 2/λ_max, where
GD would stay) is unstable through its noise. Every seed runs until ``‖w − w*‖ > radius``
(:func:`sgdnoise.dynamics.escape_by_distance`), and the exit displacement is split over the top-k
Hessian eigenvectors (:func:`sgdnoise.dynamics.project_displacements`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from sgdnoise.curvature import hessian_eigenvalues
from sgdnoise.dynamics import escape_by_distance, project_displacements
from sgdnoise.errors import ConfigError
from sgdnoise.experiments.common import write_manifest
from sgdnoise.parallel import torch_threads
from sgdnoise.rng import as_generator
from sgdnoise.store import write_table


@dataclass(frozen=True)
class EscapeDirectionConfig:
    n_points: int = 20
    dim: int = 50
    gd_factor: float = 2.1
    sgd_factor: float = 1.5
    batch_size: int = 1
    seeds: int = 50
    radius: float = 1.0
    k: int = 3
    max_steps: int = 5000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n_points >= self.dim:
            raise ConfigError("the model must be over-parameterised: n_points < dim")
        if not (self.gd_factor > 2 > self.sgd_factor > 0):
            raise ConfigError("need gd_factor > 2 (GD unstable) and 0 < sgd_factor < 2 (GD stable at the SGD rate)")


@dataclass(frozen=True)
class EscapeDirectionResult:
    config: EscapeDirectionConfig
    table: pd.DataFrame  # method, lr, lr_times_lambda_max, escaped, median_steps, share_top1, share_topk
    eigenvalues: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": asdict(self.config),
            "table": self.table.to_dict("records"),
            "eigenvalues": self.eigenvalues.tolist(),
        }

    def write(self, folder: str | Path) -> dict[str, Path]:
        folder = Path(folder)
        return {
            "table": write_table(self.table, folder / "escape_direction.csv"),
            "manifest": write_manifest(self, folder),
        }


def _problem(config: EscapeDirectionConfig) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    gen = as_generator(config.seed)
    scales = torch.linspace(0.3, 1.5, config.dim, dtype=torch.float64)
    x = torch.randn(config.n_points, config.dim, generator=gen, dtype=torch.float64) * scales
    y = x @ torch.randn(config.dim, 1, generator=gen, dtype=torch.float64)
    model = nn.Linear(config.dim, 1, bias=False).double()
    with torch.no_grad():
        model.weight.copy_((torch.linalg.pinv(x) @ y).T)  # the minimum-norm interpolating minimum w*
    return model, x, y


def run_escape_direction(config: EscapeDirectionConfig = EscapeDirectionConfig()) -> EscapeDirectionResult:
    model, x, y = _problem(config)
    top = hessian_eigenvalues(model, F.mse_loss, (x, y), k=config.k)
    lam_max = float(top.eigenvalues[0])
    rows = []
    with torch_threads(1):  # many small steps: dispatch-bound (see sgdnoise.parallel)
        for method, factor, batch, seeds in (
            ("GD", config.gd_factor, config.n_points, 1),
            ("SGD", config.sgd_factor, config.batch_size, config.seeds),
        ):
            esc = escape_by_distance(
                model,
                F.mse_loss,
                (x, y),
                radius=config.radius,
                seeds=range(config.seed, config.seed + seeds),
                lr=factor / lam_max,
                batch_size=batch,
                max_steps=config.max_steps,
            )
            shares = project_displacements(esc.displacement[esc.escaped], top)
            rows.append(
                {
                    "method": method,
                    "batch_size": batch,
                    "lr": factor / lam_max,
                    "lr_times_lambda_max": factor,
                    "escaped": float(np.mean(esc.escaped)),
                    "median_steps": float(np.median(esc.steps[esc.escaped])),
                    "share_top1": float(shares.share_each[:, 0].mean()),
                    "share_topk": float(shares.share_top.mean()),
                }
            )
    return EscapeDirectionResult(config, pd.DataFrame(rows), top.eigenvalues.numpy())
