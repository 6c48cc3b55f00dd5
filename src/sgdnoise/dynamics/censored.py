"""Exit times cut at a horizon: the empirical survival function and the mean exit time.

Paths (SDE paths, or SGD seeds) that have not exited when the run stops are censored at the
horizon. The plain mean of the exit times is reported only when every path exited (a mean over
the paths that happened to exit early is biased low); the exponential-law maximum-likelihood mean,
the total time of all paths (censored ones included) over the number that exited, is the mean if
exit times are exponential (the Lévy and Kramers regimes) and stays usable when some were censored.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def survival(times: np.ndarray, exited: np.ndarray, horizon: float, u: Any) -> np.ndarray:
    """Empirical ``P(τ > u)`` at times ``u`` (any shape) from exit ``times`` and ``exited`` flags
    ``(n,)``; NaN beyond ``horizon``, where the run tells nothing."""
    u_arr = np.asarray(u, dtype=np.float64)
    exit_times = np.where(exited, times, np.inf)
    out = (exit_times[None, :] > u_arr.reshape(-1, 1)).mean(axis=1).reshape(u_arr.shape)
    return np.where(u_arr <= horizon, out, np.nan)


def mean_exit_time(times: np.ndarray, exited: np.ndarray) -> tuple[float, float, float]:
    """``(mean, stderr, exponential_mle)`` of exit ``times`` ``(n,)`` (censored ones at the
    horizon): the mean and its ``sd/√n``, NaN unless every path exited, and the exponential-law
    MLE (total time / number exited), ``inf`` when none exited."""
    n, n_exited = len(times), int(exited.sum())
    complete = n_exited == n
    t_exit = times[exited]
    return (
        float(t_exit.mean()) if complete else float("nan"),
        float(t_exit.std(ddof=1) / np.sqrt(n)) if complete and n > 1 else float("nan"),
        float(times.sum() / n_exited) if n_exited else float("inf"),
    )
