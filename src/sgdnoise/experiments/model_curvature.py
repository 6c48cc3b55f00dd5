"""Hessian spectrum, trace and noise geometry of any model, loss and data at the current weights
(:func:`sgdnoise.curvature.summary.curvature_summary` on a random subset of the data): what
:mod:`sgdnoise.experiments.curvature` does for registry networks, for a user's own."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from sgdnoise.curvature.summary import CurvatureSummary, curvature_summary
from sgdnoise.errors import ConfigError
from sgdnoise.experiments.common import config_manifest
from sgdnoise.experiments.curvature import density_on_grid
from sgdnoise.plumbing import as_data_source, model_device, positive_int
from sgdnoise.report.figures import directional_alignment, spectral_density
from sgdnoise.rng import as_generator
from sgdnoise.store import write_json, write_table


@dataclass(frozen=True)
class ModelCurvatureConfig:
    """``k`` top eigenvalues to relative residual ``tol``, ``trace_products`` HVPs for Hutch++, Σ
    of SGD at ``batch_size``, on ``max_samples`` random points drawn from ``seed``."""

    k: int = 10
    tol: float = 1e-3
    batch_size: int = 32
    max_samples: int = 512
    trace_products: int = 99
    seed: int = 0

    def __post_init__(self) -> None:
        positive_int(self.k, "k", error=ConfigError)
        positive_int(self.max_samples, "max_samples", minimum=2, error=ConfigError)
        positive_int(self.batch_size, "batch_size", error=ConfigError)
        positive_int(self.trace_products, "trace_products", error=ConfigError)
        if not 0 < self.tol < 1:
            raise ConfigError(f"tol must lie in (0, 1); got {self.tol}")


@dataclass(frozen=True)
class ModelCurvatureResult:
    config: ModelCurvatureConfig
    summary: CurvatureSummary
    density: pd.DataFrame  # eigenvalue, density on a grid

    def to_dict(self) -> dict[str, Any]:
        return {"config": asdict(self.config), "summary": self.summary.to_dict()}

    def write(self, folder: str | Path) -> dict[str, Path]:
        folder = Path(folder)
        s = self.summary
        eigenvalues = s.eigen.eigenvalues.tolist()
        return {
            "density": write_table(self.density, folder / "density.csv"),
            "summary": write_json(
                {"summary": s.to_dict(), "manifest": config_manifest(self.config)}, folder / "summary.json"
            ),
            "spectral_density": spectral_density(
                self.density["eigenvalue"].to_numpy(),
                self.density["density"].to_numpy(),
                folder / "spectral_density.png",
                eigenvalues,
            ),
            "alignment": directional_alignment(eigenvalues, s.eigen_noise.tolist(), s.loss, folder / "alignment.png"),
        }


def run_model_curvature(
    model, loss_fn, data, config: ModelCurvatureConfig = ModelCurvatureConfig()
) -> ModelCurvatureResult:
    """Measure on a random subset of ``data`` (module docstring)."""
    x, y = as_data_source(data).tensors(model_device(model))
    pick = torch.randperm(len(x), generator=as_generator(config.seed))[: config.max_samples].to(x.device)
    summary = curvature_summary(
        model,
        loss_fn,
        (x[pick], y[pick]),
        k=config.k,
        batch_size=config.batch_size,
        n_products=config.trace_products,
        tol=config.tol,
        seed=config.seed,
    )
    return ModelCurvatureResult(config, summary, density_on_grid(summary.density))
