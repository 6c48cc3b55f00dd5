"""SαS engine vs what a user would otherwise use, side by side in one run.

Fits (params/s and RMSE of α at K = 1000), against ``scipy.stats.levy_stable._fitstart``
(McCulloch), ``scipy.stats.levy_stable.fit`` (MLE; a handful of fits, extrapolated) and the
``levy-stable`` package's table-based MLE; one row of K = 1000 (the time of one call, where
fixed costs dominate) against ``_fitstart`` on the same row; the sampler against
``levy_stable.rvs``; the density against ``levy_stable.pdf``.
Run: ``python3 benchmarks/bench_stable.py [--quick]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
import torch
from rich.console import Console
from rich.table import Table
from scipy.stats import levy_stable

from sgdnoise.stable import fit_sas, sample_sas, sas_pdf

K = 1000


def timed(fn, *args, **kw):
    start = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - start


def one_row(row: np.ndarray, repeats: int, calls: int = 20) -> Table:
    """Time per call of one-row fits, side by side: blocks of ``calls`` calls of each contender
    in turn, ``repeats`` rounds, median over rounds of the mean time per call in a block (calls
    alternated one by one slow each other down through the caches)."""
    contenders = {
        "sgdnoise fit_sas cf": lambda: fit_sas(row),
        "sgdnoise fit_sas quantile": lambda: fit_sas(row, method="quantile"),
        "scipy levy_stable._fitstart": lambda: levy_stable._fitstart(row),
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fn in contenders.values():
            fn()
        for _ in range(repeats):
            for name, fn in contenders.items():
                start = time.perf_counter()
                for _ in range(calls):
                    fn()
                times[name].append((time.perf_counter() - start) / calls)
    median = {name: statistics.median(t) for name, t in times.items()}
    base = median["scipy levy_stable._fitstart"]
    table = Table(title=f"One row of K = {len(row)}: time per fit (median of {repeats} rounds of {calls} calls)")
    for col in ("method", "ms per fit", "× scipy _fitstart (speed)"):
        table.add_column(col, justify="left" if col == "method" else "right")
    for name, t in median.items():
        table.add_row(name, f"{1e3 * t:.3f}", f"{base / t:.2f}")
    return table


def rmse(a, truth):
    return float(np.sqrt(np.mean((np.asarray(a, dtype=float) - truth) ** 2)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args()
    rows_fast = 2000 if args.quick else 20000
    rows_slow = 10 if args.quick else 40
    alpha_true = 1.5
    rng = np.random.default_rng(0)
    x = levy_stable.rvs(alpha_true, 0.0, size=(rows_fast, K), random_state=rng)  # scipy's sampler: independent data
    x32 = x.astype(np.float32)
    fit_sas(x[:10])  # load tables once

    fits = []
    for label, data, method in (
        ("cf (float64)", x, "cf"),
        ("cf (float32)", x32, "cf"),
        ("quantile", x32, "quantile"),
        ("tail", x32, "tail"),
    ):
        f, dt = timed(fit_sas, data, method=method)
        fits.append((f"sgdnoise {label}", len(data), dt, rmse(f.alpha, alpha_true)))
    f, dt = timed(fit_sas, x[: rows_slow * 5], method="mle")
    fits.append(("sgdnoise mle", rows_slow * 5, dt, rmse(f.alpha, alpha_true)))
    n_fs = min(2000, rows_fast)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est, dt = timed(lambda: [levy_stable._fitstart(row) for row in x[:n_fs]])
    fits.append(("scipy levy_stable._fitstart (McCulloch, loop)", n_fs, dt, rmse([e[0] for e in est], alpha_true)))
    try:
        import levy

        est, dt = timed(lambda: [levy.fit(row, beta=0.0).params.alpha for row in x[:rows_slow]])
        fits.append(("levy-stable fit (table MLE, loop)", rows_slow, dt, rmse(est, alpha_true)))
        f, dt = timed(fit_sas, x[:rows_slow], method="mle")
        fits.append(("sgdnoise mle, the same rows as levy-stable", rows_slow, dt, rmse(f.alpha, alpha_true)))
    except ImportError:
        fits.append(("levy-stable fit: not installed (pip install levy-stable)", 0, float("nan"), float("nan")))
    n_scipy = 1 if args.quick else 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est, dt = timed(lambda: [levy_stable.fit(row, f1=0.0)[0] for row in x[:n_scipy]])
    fits.append((f"scipy levy_stable.fit (MLE, {n_scipy} fits, extrapolated)", n_scipy, dt, rmse(est, alpha_true)))

    base = next(r for r in fits if r[0].startswith("scipy levy_stable._fitstart"))
    base_rate = base[1] / base[2]
    table = Table(title=f"SαS fits at K = {K}, α = {alpha_true} (data from scipy's sampler)")
    for col in ("method", "rows", "seconds", "params/s", "× scipy _fitstart", "RMSE α"):
        table.add_column(col, justify="left" if col == "method" else "right")
    for name, n, dt, err in fits:
        rate = n / dt if n else float("nan")
        table.add_row(name, str(n), f"{dt:.2f}", f"{rate:,.1f}", f"{rate / base_rate:.2f}", f"{err:.4f}")

    n_draw = 2_000_000 if args.quick else 10_000_000
    speed = Table(title="Sampling and density")
    for col in ("operation", "ours /s", "scipy /s", "ratio"):
        speed.add_column(col, justify="left" if col == "operation" else "right")
    for label, dtype in (("samples, float64", np.float64), ("samples, float32", np.float32)):
        alpha = np.asarray([alpha_true], dtype=dtype)
        sample_sas(alpha, size=1000, seed=0)
        levy_stable.rvs(alpha_true, 0.0, size=1000, random_state=0)  # warm both up
        _, ours = timed(sample_sas, alpha, size=n_draw, seed=0)
        _, ref = timed(levy_stable.rvs, alpha_true, 0.0, size=n_draw // 5, random_state=1)
        speed.add_row(
            label, f"{n_draw / ours:,.0f}", f"{n_draw / 5 / ref:,.0f}", f"{(n_draw / ours) / (n_draw / 5 / ref):.1f}×"
        )
    points = rng.standard_cauchy(1_000_000)
    sas_pdf(points[:10], alpha_true)
    _, ours = timed(sas_pdf, points, alpha_true)
    _, ref = timed(levy_stable.pdf, points[:2000], alpha_true, 0.0)
    speed.add_row(
        "pdf evaluations",
        f"{len(points) / ours:,.0f}",
        f"{2000 / ref:,.0f}",
        f"{(len(points) / ours) / (2000 / ref):.0f}×",
    )

    single = one_row(x[0], repeats=10 if args.quick else 60)

    console = Console(width=140)
    console.print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    console.print(table)
    console.print(single)
    console.print(speed)


if __name__ == "__main__":
    main()
