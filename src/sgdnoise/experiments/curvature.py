"""Hessian spectrum, trace and noise geometry of a named (trained) network on a named dataset.

Builds the network (its initial weights from ``seed``, or the weights of ``checkpoint``), draws a
uniform random subset of ``max_samples`` training points (from ``seed``) and measures on it
everything :func:`sgdnoise.curvature.summary.curvature_summary` does, with the model in eval
mode: the top-k Hessian eigenvalues with their residuals, ``Tr H`` ± stderr, the outliers
``(n, h*)``, Zhu's ``Tr(HΣ)`` against isotropic noise, the gradient noise scales, Mori's noise
strength and the noise variance along each top eigenvector. The SLQ spectral density is also
evaluated on a grid over its nodes, for the table and the figure.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from sgdnoise.curvature import SpectralDensity
from sgdnoise.curvature.summary import CurvatureSummary, curvature_summary
from sgdnoise.data import load_dataset
from sgdnoise.errors import ConfigError
from sgdnoise.experiments.common import config_manifest
from sgdnoise.experiments.networks import network_for
from sgdnoise.plumbing import default_loss, positive_int
from sgdnoise.report.figures import directional_alignment, spectral_density
from sgdnoise.rng import as_generator
from sgdnoise.store import write_json, write_table

GRID_POINTS = 400  # points of the density grid, which spans the SLQ nodes plus 5% on each side


@dataclass(frozen=True)
class CurvatureConfig:
    """What to measure: network ``model`` (registry name and ``model_options``; ``checkpoint``
    weights, else a fresh initialisation from ``seed``) on ``max_samples`` points of the training
    split of ``data``; ``k`` top eigenvalues to relative residual ``tol``; ``trace_products``
    Hessian-vector products for Hutch++; Σ of SGD at ``batch_size``; ``params``: parameter name
    globs to restrict to (``None``: all)."""

    model: str = "mlp"
    data: str = "digits"
    checkpoint: str | None = None
    model_options: dict[str, Any] = field(default_factory=dict)
    data_options: dict[str, Any] = field(default_factory=dict)
    k: int = 10
    tol: float = 1e-3
    batch_size: int = 32
    max_samples: int = 512
    trace_products: int = 99
    params: tuple[str, ...] | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.params is not None:
            object.__setattr__(self, "params", tuple(self.params))
        positive_int(self.k, "k", error=ConfigError)
        positive_int(self.max_samples, "max_samples", minimum=2, error=ConfigError)
        positive_int(self.batch_size, "batch_size", error=ConfigError)
        positive_int(self.trace_products, "trace_products", error=ConfigError)


@dataclass(frozen=True)
class CurvatureResult:
    config: CurvatureConfig
    dataset: str  # the dataset's own name (the config may hold a path)
    summary: CurvatureSummary
    density: pd.DataFrame  # eigenvalue, density: the smoothed SLQ density on its grid

    def to_dict(self) -> dict[str, Any]:
        return {"config": asdict(self.config), "dataset": self.dataset, "summary": self.summary.to_dict()}

    def write(self, folder: str | Path) -> dict[str, Path]:
        """``density.csv``, ``summary.json`` (the summary and the manifest), ``spectral_density.png``
        and ``alignment.png`` (noise variance along each top eigenvector against ``2L·λ``)."""
        folder = Path(folder)
        s = self.summary
        eigenvalues = s.eigen.eigenvalues.tolist()
        return {
            "density": write_table(self.density, folder / "density.csv"),
            "summary": write_json(
                {"summary": s.to_dict(), "manifest": config_manifest(self.config)},
                folder / "summary.json",
            ),
            "spectral_density": spectral_density(
                self.density["eigenvalue"].to_numpy(),
                self.density["density"].to_numpy(),
                folder / "spectral_density.png",
                eigenvalues,
            ),
            "alignment": directional_alignment(eigenvalues, s.eigen_noise.tolist(), s.loss, folder / "alignment.png"),
        }


def run_curvature(config: CurvatureConfig = CurvatureConfig()) -> CurvatureResult:
    """Build (or load) the network, subsample the training split, measure (module docstring)."""
    data = load_dataset(config.data, split="train", **config.data_options)
    model = network_for(
        data.info, config.model, seed=config.seed, options=config.model_options, checkpoint=config.checkpoint
    )
    x, y = data.inputs, data.targets
    pick = torch.randperm(len(x), generator=as_generator(config.seed))[: config.max_samples]
    summary = curvature_summary(
        model,
        default_loss(y),
        (x[pick], y[pick]),
        k=config.k,
        batch_size=config.batch_size,
        n_products=config.trace_products,
        tol=config.tol,
        params=config.params,
        seed=config.seed,
    )
    return CurvatureResult(config, data.info.name, summary, density_on_grid(summary.density))


def density_on_grid(density: SpectralDensity) -> pd.DataFrame:
    """The SLQ density smoothed by a Gaussian of width 1% of the nodes' range, on ``GRID_POINTS``
    points spanning the nodes plus 5% on each side: columns ``eigenvalue``, ``density``."""
    lo, hi = float(density.nodes.min()), float(density.nodes.max())
    pad = 0.05 * (hi - lo) + 1e-12
    grid = torch.linspace(lo - pad, hi + pad, GRID_POINTS, dtype=density.nodes.dtype)
    width = max((hi - lo) / 100, 1e-12)
    return pd.DataFrame({"eigenvalue": grid.numpy(), "density": density.density(grid, width).numpy()})
