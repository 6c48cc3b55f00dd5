"""Do the SαS estimators recover a known α? Samples of known (α, scale), fitted by every method.

The bundled default of ``sgdnoise reproduce``: it needs no data or model, runs in seconds, and
shows at a glance how much to trust α̂ at the sample size K used for gradient noise.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sgdnoise.errors import ConfigError
from sgdnoise.experiments.common import write_manifest
from sgdnoise.plumbing import positive_int
from sgdnoise.stable import METHODS, compare_fits, fit_sas, sample_sas, summarize_fits
from sgdnoise.store import write_table


@dataclass(frozen=True)
class RecoveryConfig:
    """``rows_per_alpha`` samples of ``k`` draws for each α in ``alphas`` (scale 1, loc 0)."""

    alphas: tuple[float, ...] = (1.1, 1.3, 1.5, 1.7, 1.9, 2.0)
    rows_per_alpha: int = 100
    k: int = 1000
    methods: tuple[str, ...] = METHODS
    seed: int = 0

    def __post_init__(self) -> None:
        if not all(0.5 <= a <= 2 for a in self.alphas):
            raise ConfigError(f"alphas must lie in [0.5, 2]; got {self.alphas}")
        positive_int(self.rows_per_alpha, "rows_per_alpha", error=ConfigError)
        positive_int(self.k, "k (draws per sample)", minimum=20, error=ConfigError)
        unknown = set(self.methods) - set(METHODS)
        if unknown:
            raise ConfigError(f"unknown methods {sorted(unknown)}; choose from {METHODS}")


@dataclass(frozen=True)
class RecoveryResult:
    config: RecoveryConfig
    accuracy: pd.DataFrame  # one row per (alpha, method): rmse_alpha, bias_alpha, rmse_scale, rows_per_s
    fits: pd.DataFrame  # compare_fits output of the default method, with the true alpha
    summary: pd.DataFrame  # summarize_fits(fits)
    extras: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "config": asdict(self.config),
            "accuracy": self.accuracy.to_dict("records"),
            "summary": self.summary.to_dict("records"),
            "summary_counts": dict(self.summary.attrs),
        }

    def rmse_by_method(self) -> pd.DataFrame:
        """RMSE of α̂: one row per true α (column ``true α``), one column per method."""
        table = self.accuracy.pivot(index="alpha", columns="method", values="rmse_alpha")
        return table.reset_index().rename(columns={"alpha": "true α"})

    def write(self, folder: str | Path) -> dict[str, Path]:
        """Write ``accuracy.csv``, ``fits.parquet``, ``summary.csv`` and ``manifest.json`` atomically."""
        folder = Path(folder)
        paths = {
            "accuracy": write_table(self.accuracy, folder / "accuracy.csv"),
            "fits": write_table(self.fits, folder / "fits.parquet"),
            "summary": write_table(self.summary, folder / "summary.csv"),
        }
        paths["manifest"] = write_manifest(self, folder)
        return paths


def run_recovery(config: RecoveryConfig = RecoveryConfig()) -> RecoveryResult:
    """Draw the samples, fit them with each method, and tabulate the errors."""
    true_alpha = np.repeat(np.asarray(config.alphas, dtype=np.float64), config.rows_per_alpha)
    x = sample_sas(true_alpha[:, None], 1.0, size=(len(true_alpha), config.k), seed=config.seed)
    records = []
    for method in config.methods:
        start = time.perf_counter()
        fit = fit_sas(x, method=method)
        rate = len(true_alpha) / (time.perf_counter() - start)
        for a in config.alphas:
            sel = true_alpha == a
            err = fit.alpha[sel] - a
            records.append(
                {
                    "alpha": a,
                    "method": method,
                    "rmse_alpha": float(np.sqrt(np.mean(err**2))),
                    "bias_alpha": float(np.mean(err)),
                    "rmse_scale": float(np.sqrt(np.mean((fit.scale[sel] - 1) ** 2))),
                    "rows_per_s": rate,
                }
            )
    fits = compare_fits(x, method=config.methods[0], names=[f"alpha={a:g}#{i}" for i, a in enumerate(true_alpha)])
    fits.insert(1, "true_alpha", true_alpha)
    return RecoveryResult(config, pd.DataFrame(records), fits, summarize_fits(fits))
