"""The stationary law of SGD near a minimum is a power of the loss (Mori et al. 2022, papers.md §7).

Simulate the 1-D SDE of :func:`sgdnoise.dynamics.stationary_samples` for several ``B/(ηh)``, fit the
exponent φ of ``p(x) ∝ L(x)^{−φ}`` by maximum likelihood (the law is a scaled Student t:
``∫ (L* + hx²/2)^{−φ} dx = L*^{−φ} √(2πL*/h) Γ(φ − ½)/Γ(φ)``), and compare it with
``φ = 1 + B/(ηh*)`` (:func:`sgdnoise.theory.mori_stationary_exponent`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special

from sgdnoise.dynamics import stationary_samples
from sgdnoise.experiments.common import write_manifest
from sgdnoise.parallel import torch_threads
from sgdnoise.store import write_table
from sgdnoise.theory import mori_stationary_exponent


@dataclass(frozen=True)
class MoriConfig:
    curvature: float = 1.0
    loss_min: float = 0.1
    lrs: tuple[float, ...] = (0.25, 0.5, 1.0)
    batch_size: int = 1
    n_paths: int = 20000
    seed: int = 0


@dataclass(frozen=True)
class MoriResult:
    config: MoriConfig
    table: pd.DataFrame  # lr, phi_theory, phi_fit, phi_fit_stderr

    def to_dict(self) -> dict[str, Any]:
        return {"config": asdict(self.config), "table": self.table.to_dict("records")}

    def write(self, folder: str | Path) -> dict[str, Path]:
        folder = Path(folder)
        return {
            "table": write_table(self.table, folder / "mori_stationary.csv"),
            "manifest": write_manifest(self, folder),
        }


def fit_loss_power(x: np.ndarray, curvature: float, loss_min: float) -> tuple[float, float]:
    """MLE of φ in ``p(x) ∝ (L* + hx²/2)^{−φ}`` and its standard error (observed information)."""
    log_loss = np.log(loss_min + 0.5 * curvature * x**2)
    log_scale = 0.5 * math.log(2 * math.pi * loss_min / curvature)

    def nll(phi: float) -> float:
        log_z = -phi * math.log(loss_min) + log_scale + special.gammaln(phi - 0.5) - special.gammaln(phi)
        return phi * log_loss.sum() + len(x) * log_z

    phi = optimize.minimize_scalar(nll, bounds=(0.55, 200.0), method="bounded", options={"xatol": 1e-8}).x
    h = 1e-4 * phi
    info = (nll(phi + h) - 2 * nll(phi) + nll(phi - h)) / h**2
    return float(phi), float(1 / math.sqrt(info)) if info > 0 else float("nan")


def run_mori_stationary(config: MoriConfig = MoriConfig()) -> MoriResult:
    rows = []
    with torch_threads(1):  # thousands of small steps: dispatch-bound (see sgdnoise.parallel)
        for lr in config.lrs:
            x = stationary_samples(
                curvature=config.curvature,
                loss_min=config.loss_min,
                lr=lr,
                batch_size=config.batch_size,
                n_paths=config.n_paths,
                seed=config.seed,
            ).numpy()
            phi, stderr = fit_loss_power(x, config.curvature, config.loss_min)
            rows.append(
                {
                    "lr": lr,
                    "B_over_eta_h": config.batch_size / (lr * config.curvature),
                    "phi_theory": float(mori_stationary_exponent(lr, config.batch_size, config.curvature)),
                    "phi_fit": phi,
                    "phi_fit_stderr": stderr,
                }
            )
    return MoriResult(config, pd.DataFrame(rows))
