"""Result types of exit-time simulations: per-path arrays and their summary with standard errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sgdnoise.dynamics.censored import mean_exit_time, survival


@dataclass(frozen=True)
class ExitSummary:
    """Summary of an :class:`ExitResult`.

    ``mean_time`` (± ``mean_time_stderr`` = sd/√n) is the mean exit time, NaN unless every path
    exited (``complete``); ``mean_time_exponential_mle`` = (total time of all paths, censored ones
    included)/n_exited, usable when the run was cut at ``max_steps`` (see
    :mod:`sgdnoise.dynamics.censored`). ``exit_fraction[i]`` is the share of exited paths that left
    through axis i, with binomial standard errors.
    """

    n_paths: int
    n_exited: int
    complete: bool
    mean_time: float
    mean_time_stderr: float
    mean_time_exponential_mle: float
    exit_fraction: tuple[float, ...]
    exit_fraction_stderr: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class ExitResult:
    """Per-path outcome of :func:`sgdnoise.dynamics.simulate_exit`.

    time : (P,) exit time (end of the step on which the path first left), or the simulated time
        ``n_steps·dt`` for paths that did not exit.
    position : (P, d) position at exit (first point outside), or the last position.
    exited : (P,) bool.
    axis : (P,) int, coordinate through which the path left (−1 if it did not).
    trajectory : (R, P, d) positions every ``record_every`` steps (row 0 is the start; exited
        paths stay at their exit position), or None unless asked for.
    """

    time: np.ndarray
    position: np.ndarray
    exited: np.ndarray
    axis: np.ndarray
    dt: float
    n_steps: int
    trajectory: np.ndarray | None = field(default=None, repr=False)

    def summary(self) -> ExitSummary:
        n = len(self.time)
        n_exit = int(self.exited.sum())
        d = self.position.shape[1]
        counts = np.bincount(self.axis[self.exited], minlength=d).astype(float)
        frac = counts / n_exit if n_exit else np.full(d, np.nan)
        frac_se = np.sqrt(frac * (1 - frac) / n_exit) if n_exit else np.full(d, np.nan)
        mean, stderr, mle = mean_exit_time(self.time, self.exited)
        return ExitSummary(
            n_paths=n,
            n_exited=n_exit,
            complete=n_exit == n,
            mean_time=mean,
            mean_time_stderr=stderr,
            mean_time_exponential_mle=mle,
            exit_fraction=tuple(float(v) for v in frac),
            exit_fraction_stderr=tuple(float(v) for v in frac_se),
        )

    def survival(self, u: Any) -> np.ndarray:
        """Empirical ``P(τ > u)`` at times ``u`` (any shape); NaN beyond the simulated time."""
        return survival(self.time, self.exited, self.n_steps * self.dt, u)

    def to_frame(self) -> pd.DataFrame:
        """One row per path: time, exited, axis, x0 … x{d−1} (the exit position)."""
        frame = pd.DataFrame({"time": self.time, "exited": self.exited, "axis": self.axis})
        for i in range(self.position.shape[1]):
            frame[f"x{i}"] = self.position[:, i]
        return frame

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": self.time.tolist(),
            "position": self.position.tolist(),
            "exited": self.exited.tolist(),
            "axis": self.axis.tolist(),
            "dt": self.dt,
            "n_steps": self.n_steps,
            "trajectory": None if self.trajectory is None else self.trajectory.tolist(),
            "summary": self.summary().to_dict(),
        }
