"""Anisotropic noise escapes a sharp minimum; isotropic noise does not (Zhu et al. 2019, 2-D toy).

GD plus noise of equal total variance but different shapes — isotropic, diagonal, the full
gradient covariance Σ, the Hessian, its top eigenvector — against GD and SGD, from the sharp
minimum (1, 1) of Zhu et al.'s 2-D toy loss (:func:`sgdnoise.dynamics.zhu_escape_table`).
Success: both coordinates below −0.5 (the flat basin) after the last step.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sgdnoise.dynamics import zhu_escape_table
from sgdnoise.experiments.common import write_manifest
from sgdnoise.parallel import torch_threads
from sgdnoise.store import write_table


@dataclass(frozen=True)
class ZhuConfig:
    n_repeats: int = 100
    lr: float = 0.005
    n_steps: int = 500
    noise_variance: float = 0.01
    seed: int = 0


@dataclass(frozen=True)
class ZhuResult:
    config: ZhuConfig
    table: pd.DataFrame  # variant, successes, n_repeats, success_rate, success_rate_stderr

    def to_dict(self) -> dict[str, Any]:
        return {"config": asdict(self.config), "table": self.table.to_dict("records")}

    def write(self, folder: str | Path) -> dict[str, Path]:
        folder = Path(folder)
        return {"table": write_table(self.table, folder / "zhu_toy.csv"), "manifest": write_manifest(self, folder)}


def run_zhu_toy(config: ZhuConfig = ZhuConfig()) -> ZhuResult:
    """All variants and repeats in one vectorised run (single-threaded: many tiny steps)."""
    with torch_threads(1):
        table = zhu_escape_table(
            n_repeats=config.n_repeats,
            lr=config.lr,
            n_steps=config.n_steps,
            noise_variance=config.noise_variance,
            seed=config.seed,
        )
    return ZhuResult(config, table.to_frame())
