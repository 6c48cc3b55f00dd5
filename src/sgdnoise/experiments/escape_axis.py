"""Which axis does a Lévy-driven path leave a minimum through? (Battash et al. Fig. 6)

GD plus SαS noise on the 2-D Ackley function, started at its global minimum 0, with a different
tail index per coordinate, ``α_1 = α_2 − Δ``: a path exits when it passes a radius, through the
axis of its larger coordinate (:func:`sgdnoise.dynamics.simulate_exit` with a ``Ball``). The
paper's claim (Thm 4.3, Cor. 4.4): the heavier-tailed coordinate is the escape route, so
P(exit via x1) is ½ at Δ = 0 and grows with Δ.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sgdnoise.dynamics import Ackley, Ball, simulate_exit
from sgdnoise.errors import ConfigError
from sgdnoise.experiments.common import write_manifest
from sgdnoise.parallel import torch_threads
from sgdnoise.report.figures import exit_share_plot
from sgdnoise.store import write_table


@dataclass(frozen=True)
class EscapeAxisConfig:
    deltas: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.6)
    alpha: float = 1.8  # α_2; α_1 = α_2 − Δ
    eps: float = 0.3
    dt: float = 0.005
    radius: float = 0.6
    paths: int = 1000
    max_steps: int = 6000
    seed: int = 0

    def __post_init__(self) -> None:
        if not all(0 < self.alpha - d <= 2 for d in self.deltas) or self.alpha > 2:
            raise ConfigError(f"every α_1 = alpha − Δ must lie in (0, 2]; got alpha={self.alpha}, deltas={self.deltas}")


@dataclass(frozen=True)
class EscapeAxisResult:
    config: EscapeAxisConfig
    table: pd.DataFrame  # delta, alpha_1, alpha_2, exited, p_exit_x1, stderr, mean_exit_time

    def to_dict(self) -> dict[str, Any]:
        return {"config": asdict(self.config), "table": self.table.to_dict("records")}

    def write(self, folder: str | Path) -> dict[str, Path]:
        folder = Path(folder)
        return {
            "table": write_table(self.table, folder / "escape_axis.csv"),
            "figure": exit_share_plot(self.table, folder / "escape_axis.png"),
            "manifest": write_manifest(self, folder),
        }


def run_escape_axis(config: EscapeAxisConfig = EscapeAxisConfig()) -> EscapeAxisResult:
    """All Δ values in one simulation (``paths`` per Δ), then the exit share of x1 per Δ."""
    deltas = np.asarray(config.deltas, dtype=float)
    n = config.paths
    alpha = np.stack([np.repeat(config.alpha - deltas, n), np.full(deltas.size * n, config.alpha)], axis=1)
    with torch_threads(1):  # thousands of small steps: dispatch-bound (see sgdnoise.parallel)
        r = simulate_exit(
            Ackley(),
            [0.0, 0.0],
            alpha=alpha,
            eps=config.eps,
            dt=config.dt,
            domain=Ball([0.0, 0.0], config.radius),
            n_paths=len(alpha),
            max_steps=config.max_steps,
            seed=config.seed,
            block_steps=256,
        )
    axis = np.asarray(r.axis).reshape(deltas.size, n)
    exited = np.asarray(r.exited).reshape(deltas.size, n)
    time = np.asarray(r.time).reshape(deltas.size, n)
    rows = []
    for i, d in enumerate(deltas):
        m = exited[i]
        p = float((axis[i][m] == 0).mean()) if m.any() else float("nan")
        rows.append(
            {
                "delta": d,
                "alpha_1": config.alpha - d,
                "alpha_2": config.alpha,
                "exited": float(m.mean()),
                "p_exit_x1": p,
                "stderr": float(np.sqrt(p * (1 - p) / max(1, m.sum()))),
                "mean_exit_time": float(time[i][m].mean()) if m.any() else float("nan"),
            }
        )
    return EscapeAxisResult(config, pd.DataFrame(rows))
