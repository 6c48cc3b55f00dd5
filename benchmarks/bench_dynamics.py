"""SDE exit-time simulation throughput: sgdnoise.dynamics.simulate_exit vs plain NumPy.

Problem: the Battash/Imkeller–Pavlyukevich check, dX = −X dt + ε dL^α on (−1, 1), α = 1.5,
ε = 0.1, dt = 0.1, every path run until it exits (mean ≈ 790 steps). Throughput is path-steps
per second actually simulated. Alternatives a user would otherwise write:

* numpy-loop — a Python loop over paths, each path stepped in Python with its SαS increments
  drawn in chunks of 1024 by ``scipy.stats.levy_stable.rvs``;
* numpy-vectorised — all running paths as one NumPy array per step, increments by the same
  Chambers–Mallows–Stuck formula in NumPy (``levy_stable.rvs`` per step is slower still).

Accuracy column: simulated mean exit time / the small-noise theory (≈ 0.93-0.95 at this ε for
every correct simulator). Run: ``python benchmarks/bench_dynamics.py`` (about 1-2 minutes).

Rates are path-steps per second of process CPU time (the machine may be shared); on the
2-thread row CPU time adds up both threads, so compare its wall time instead.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from rich.console import Console
from rich.table import Table
from scipy import stats

from sgdnoise.dynamics import Box, Quadratic, simulate_exit
from sgdnoise.theory import levy_mean_exit_time

ALPHA, EPS, DT = 1.5, 0.1, 0.1
THEORY = float(levy_mean_exit_time(ALPHA, EPS, -1.0, 1.0))


def run_sgdnoise(n_paths: int, threads: int, dtype: torch.dtype = torch.float64) -> tuple[np.ndarray, float]:
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        r = simulate_exit(
            Quadratic([1.0]),
            [0.0],
            alpha=ALPHA,
            eps=EPS,
            dt=DT,
            domain=Box([-1.0], [1.0]),
            n_paths=n_paths,
            max_steps=10**6,
            seed=0,
            block_steps=128,
            dtype=dtype,
        )
        return r.time
    finally:
        torch.set_num_threads(previous)


def run_numpy_loop(n_paths: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    amp = EPS * DT ** (1 / ALPHA)
    times = np.empty(n_paths)
    for p in range(n_paths):
        x, n, noise, i = 0.0, 0, stats.levy_stable.rvs(ALPHA, 0.0, size=1024, random_state=rng), 0
        while True:
            if i == noise.size:
                noise, i = stats.levy_stable.rvs(ALPHA, 0.0, size=1024, random_state=rng), 0
            x = x - x * DT + amp * noise[i]
            i += 1
            n += 1
            if not -1.0 < x < 1.0:
                break
        times[p] = n * DT
    return times


def _cms(alpha: float, size: int, rng: np.random.Generator) -> np.ndarray:
    v = rng.uniform(-math.pi / 2, math.pi / 2, size)
    w = rng.exponential(1.0, size)
    return np.sin(alpha * v) / np.cos(v) ** (1 / alpha) * (np.cos((1 - alpha) * v) / w) ** ((1 - alpha) / alpha)


def run_numpy_vectorised(n_paths: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    amp = EPS * DT ** (1 / ALPHA)
    x = np.zeros(n_paths)
    alive = np.arange(n_paths)
    times = np.empty(n_paths)
    n = 0
    while alive.size:
        n += 1
        x = x - x * DT + amp * _cms(ALPHA, x.size, rng)
        left = (x <= -1.0) | (x >= 1.0)
        times[alive[left]] = n * DT
        alive, x = alive[~left], x[~left]
    return times


def main() -> None:
    rows = []
    runs = [
        ("numpy-loop (scipy rvs, per path)", lambda: run_numpy_loop(100)),
        ("numpy-vectorised over paths", lambda: run_numpy_vectorised(4000)),
        ("sgdnoise simulate_exit, 1 thread", lambda: run_sgdnoise(4000, 1)),
        (
            f"sgdnoise simulate_exit, {torch.get_num_threads()} threads",
            lambda: run_sgdnoise(4000, torch.get_num_threads()),
        ),
        ("numpy-vectorised over paths, 40k paths", lambda: run_numpy_vectorised(40000)),
        ("sgdnoise simulate_exit, 1 thread, 40k paths", lambda: run_sgdnoise(40000, 1)),
        ("sgdnoise simulate_exit, 1 thread, 40k paths, float32", lambda: run_sgdnoise(40000, 1, torch.float32)),
    ]
    for name, fn in runs:
        cpu, wall = time.process_time(), time.perf_counter()
        times = fn()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        path_steps = float(np.round(times / DT).sum())
        rows.append(
            (
                name,
                len(times),
                path_steps,
                cpu,
                wall,
                path_steps / cpu,
                times.mean() / THEORY,
                times.std(ddof=1) / math.sqrt(len(times)) / THEORY,
            )
        )
    baseline = rows[0][5]
    table = Table(title=f"Lévy SDE exit simulation, α={ALPHA}, ε={EPS}, dt={DT}; theory E τ = {THEORY:.2f}")
    for col in (
        "method",
        "paths",
        "path-steps",
        "cpu s",
        "wall s",
        "path-steps/s (cpu)",
        "× numpy-loop",
        "mean τ / theory",
    ):
        table.add_column(col, justify="right" if col != "method" else "left")
    for name, n, steps, cpu, wall, rate, acc, acc_se in rows:
        table.add_row(
            name,
            str(n),
            f"{steps:.3g}",
            f"{cpu:.2f}",
            f"{wall:.2f}",
            f"{rate:.3g}",
            f"{rate / baseline:.0f}×",
            f"{acc:.3f} ± {acc_se:.3f}",
        )
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
