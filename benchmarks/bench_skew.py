"""The general α-stable law S(α, β, σ, μ; 0) vs what a user would otherwise use, side by side in one run.

Fits at K = 1000 on scipy's S0 samples (α ∈ [1.2, 1.95], β ∈ [−0.9, 0.9], scales log-uniform on
[0.01, 5], locations up to 2 scales): RMSE of α and β, relative RMSE of the scale, RMSE of
loc/scale, and rows per second, against ``scipy.stats.levy_stable._fitstart`` (McCulloch's
estimator, S0) and the ``levy-stable`` package's table MLE on the same rows. Speeds are medians
over interleaved rounds (our call, then scipy's loop on its share of the rows, alternately).
Densities: max abs error of ``stable_pdf``/``stable_cdf`` against the quadrature of Nolan's
integral that built the tables (``tools/build_stable_tables.py``) on random (α, β, x), and against
scipy where scipy does not round its input (α not within 0.01 of 1, x not within 0.02 of ζ) —
with scipy's own cdf error against the quadrature beside it (it fails in the short tails of
skewed laws); points per second against scipy and against the symmetric tables (``sas_pdf``),
interleaved, per thread count.

Fit speeds are given per torch thread count (``--threads``, default 1 and 2): scipy's estimator
is a single-threaded Python loop, so one thread is the like-for-like comparison.

Run: ``python3 benchmarks/bench_skew.py [--quick] [--threads 1 2]``.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table
from scipy.stats import levy_stable

from sgdnoise.stable import fit_stable, sas_pdf, stable_cdf, stable_pdf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from build_stable_tables import standard_law  # the quadrature behind the tables

K = 1000
levy_stable.parameterization = "S0"


def timed(fn, *args, **kw):
    start = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - start


def rows_of_scipy_samples(n: int, seed: int):
    rng = np.random.default_rng(seed)
    truth = {"alpha": rng.uniform(1.2, 1.95, n), "beta": rng.uniform(-0.9, 0.9, n)}
    truth["scale"] = np.exp(rng.uniform(math.log(0.01), math.log(5.0), n))
    truth["loc"] = rng.uniform(-2, 2, n) * truth["scale"]
    x = np.stack(
        [
            levy_stable.rvs(a, b, loc=m, scale=s, size=K, random_state=rng)
            for a, b, s, m in zip(truth["alpha"], truth["beta"], truth["scale"], truth["loc"])
        ]
    )
    return x, truth


def errors(alpha, beta, scale, loc, truth, rows=slice(None)):
    def rmse(v):
        return float(np.sqrt(np.mean(np.asarray(v, dtype=float) ** 2)))

    t = {k: v[rows] for k, v in truth.items()}
    return (
        rmse(alpha - t["alpha"]),
        rmse(beta - t["beta"]),
        rmse(scale / t["scale"] - 1),
        rmse((loc - t["loc"]) / t["scale"]),
    )


def mcculloch(x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = np.array([levy_stable._fitstart(row) for row in x])  # (alpha, beta, loc, scale) in S0
    return est[:, 0], est[:, 1], est[:, 3], est[:, 2]


def fits_tables(args) -> list[Table]:
    n_rows = 400 if args.quick else 2000
    n_slow = 10 if args.quick else 40
    rounds = 3 if args.quick else 5
    x, truth = rows_of_scipy_samples(n_rows, seed=16)
    x32 = x.astype(np.float32)
    first = slice(0, n_slow)
    fits = {m: fit_stable(x, method=m) for m in ("cf", "quantile")}
    fits["cf32"] = fit_stable(x32)
    fits["mle"] = fit_stable(x[first], method="mle")
    scipy_all = mcculloch(x)
    try:
        import levy

        ref = np.array([levy.fit(row).params.as_tuple() for row in x[first]])  # (alpha, beta, mu, sigma), S0
    except ImportError:
        levy, ref = None, None

    accuracy = Table(title=f"S0 fits at K = {K} on scipy's S0 samples, {n_rows} rows")
    for col in ("method", "rows", "RMSE α", "RMSE β", "rel. RMSE σ", "RMSE μ/σ"):
        accuracy.add_column(col, justify="left" if col == "method" else "right")
    lines = [
        ("sgdnoise fit_stable cf (default)", n_rows, errors(*_params(fits["cf"]), truth)),
        ("sgdnoise fit_stable cf, float32 input", n_rows, errors(*_params(fits["cf32"]), truth)),
        ("sgdnoise fit_stable quantile (exact McCulloch)", n_rows, errors(*_params(fits["quantile"]), truth)),
        ("scipy levy_stable._fitstart (McCulloch)", n_rows, errors(*scipy_all, truth)),
        (f"sgdnoise fit_stable mle, first {n_slow} rows", n_slow, errors(*_params(fits["mle"]), truth, first)),
        (
            f"sgdnoise fit_stable cf, first {n_slow} rows",
            n_slow,
            errors(*(v[first] for v in _params(fits["cf"])), truth, first),
        ),
        (f"scipy _fitstart, first {n_slow} rows", n_slow, errors(*(v[first] for v in scipy_all), truth, first)),
    ]
    if ref is not None:
        lines.append(
            (
                f"levy-stable fit (table MLE), first {n_slow} rows",
                n_slow,
                errors(ref[:, 0], ref[:, 1], ref[:, 3], ref[:, 2], truth, first),
            )
        )
    for name, n, err in lines:
        accuracy.add_row(name, str(n), *(f"{e:.4f}" for e in err))
    gain = 1 - errors(*_params(fits["cf"]), truth)[1] / errors(*scipy_all, truth)[1]
    accuracy.caption = f"β RMSE of the default fit {100 * gain:.0f}% below scipy's McCulloch estimator on the same rows"

    speed = Table(title=f"Fit speed, ms per row at K = {K} (medians of {rounds} interleaved rounds)")
    for col in (
        "method",
        *(f"{t} thread{'s' * (t > 1)}" for t in args.threads),
        *(f"× _fitstart ({t})" for t in args.threads),
    ):
        speed.add_column(col, justify="left" if col == "method" else "right")
    calls = {
        "sgdnoise cf (float64)": lambda: fit_stable(x),
        "sgdnoise cf (float32)": lambda: fit_stable(x32),
        "sgdnoise quantile": lambda: fit_stable(x, method="quantile"),
        "scipy _fitstart (loop)": lambda: mcculloch(x[: n_rows // 4]),
    }
    rows_of = {name: n_rows // 4 if name.startswith("scipy") else n_rows for name in calls}
    per_row = {name: {} for name in (*calls, "sgdnoise mle", "levy-stable fit (loop)")}
    previous = torch.get_num_threads()
    for threads in args.threads:
        torch.set_num_threads(threads)
        times = {name: [] for name in calls}
        for _ in range(rounds):
            for name, call in calls.items():
                times[name].append(timed(call)[1] / rows_of[name])
        for name in calls:
            per_row[name][threads] = statistics.median(times[name])
        per_row["sgdnoise mle"][threads] = timed(fit_stable, x[first], method="mle")[1] / n_slow
        if levy is not None:
            per_row["levy-stable fit (loop)"][threads] = timed(lambda: [levy.fit(row) for row in x[first]])[1] / n_slow
    torch.set_num_threads(previous)
    base = per_row["scipy _fitstart (loop)"]
    for name, by_threads in per_row.items():
        if not by_threads:
            continue
        cells = [f"{1e3 * by_threads[t]:.3f}" for t in args.threads]
        ratios = [f"{base[t] / by_threads[t]:.2f}" for t in args.threads]
        speed.add_row(name, *cells, *ratios)
    return [accuracy, speed]


def _params(fit):
    return fit.alpha, fit.beta, fit.scale, fit.loc


def density_table(args) -> Table:
    rng = np.random.default_rng(7)
    n_pairs = 60 if args.quick else 400
    worst = {"quadrature": [0.0, 0.0], "scipy": [0.0, 0.0, 0.0]}
    n_scipy = 0
    for i in range(n_pairs):
        a = rng.uniform(0.5, 2.0)
        b = rng.uniform(-1, 1) if i % 3 else float(np.sign(rng.uniform(-1, 1)) * (1 - rng.uniform(0, 0.1) ** 2))
        x = np.r_[rng.uniform(-3, 3, 30), rng.standard_cauchy(10) * 4]
        pdf, sf, _ = standard_law(x, a, b)
        ours_pdf, ours_cdf = stable_pdf(x, a, b), stable_cdf(x, a, b)
        worst["quadrature"][0] = max(worst["quadrature"][0], float(np.abs(ours_pdf - pdf).max()))
        worst["quadrature"][1] = max(worst["quadrature"][1], float(np.abs(ours_cdf - (1 - sf)).max()))
        zeta = -b * math.tan(math.pi * a / 2)
        keep = np.abs(x - zeta) > 0.02
        if abs(a - 1) > 0.01 and i % 4 == 0:
            n_scipy += int(keep.sum())
            scipy_cdf = levy_stable.cdf(x[keep], a, b)
            worst["scipy"][0] = max(worst["scipy"][0], float(np.abs(ours_pdf - levy_stable.pdf(x, a, b))[keep].max()))
            worst["scipy"][1] = max(worst["scipy"][1], float(np.abs(ours_cdf[keep] - scipy_cdf).max()))
            worst["scipy"][2] = max(worst["scipy"][2], float(np.abs(scipy_cdf - (1 - sf[keep])).max()))
    table = Table(title="Density accuracy and speed")
    for col in ("quantity", "value"):
        table.add_column(col, justify="left" if col == "quantity" else "right")
    table.add_row(f"max |pdf − quadrature| ({n_pairs} (α, β) × 40 x)", f"{worst['quadrature'][0]:.2e}")
    table.add_row("max |cdf − quadrature|", f"{worst['quadrature'][1]:.2e}")
    table.add_row(
        f"max |pdf − scipy| ({n_scipy} points: α not within 0.01 of 1, x not within 0.02 of ζ)",
        f"{worst['scipy'][0]:.2e}",
    )
    table.add_row("max |cdf − scipy|, same points", f"{worst['scipy'][1]:.2e}")
    table.add_row("  max |scipy cdf − quadrature| there (scipy's own error, short tails)", f"{worst['scipy'][2]:.2e}")

    n_points = 200_000 if args.quick else 1_000_000
    points = rng.standard_cauchy(n_points)
    per_param = np.stack([rng.uniform(0.6, 1.9, 20_000), rng.uniform(-0.9, 0.9, 20_000)])
    xs = rng.standard_cauchy(20_000)
    stable_pdf(points[:10], 1.5, 0.5), sas_pdf(points[:10], 1.5)  # load the tables
    previous = torch.get_num_threads()
    for threads in args.threads:
        torch.set_num_threads(threads)
        rates = {"skew": [], "sas": [], "scipy": [], "skew_pts": [], "sas_pts": []}
        for _ in range(3 if args.quick else 5):  # interleaved
            rates["skew"].append(n_points / timed(stable_pdf, points, 1.5, 0.5)[1])
            rates["sas"].append(n_points / timed(sas_pdf, points, 1.5)[1])
            rates["skew_pts"].append(len(xs) / timed(stable_pdf, xs, per_param[0], per_param[1])[1])
            rates["sas_pts"].append(len(xs) / timed(sas_pdf, xs, per_param[0])[1])
            rates["scipy"].append(1000 / timed(levy_stable.pdf, points[:1000], 1.5, 0.5)[1])
        r = {k: statistics.median(v) for k, v in rates.items()}
        t = f"{threads} thread{'s' * (threads > 1)}"
        table.add_row(f"stable_pdf, one (α, β), points/s, {t}", f"{r['skew']:,.0f}")
        table.add_row("  sas_pdf (symmetric tables), same points", f"{r['sas']:,.0f}")
        table.add_row("  scipy levy_stable.pdf (S0)", f"{r['scipy']:,.0f}")
        table.add_row("  stable_pdf ÷ sas_pdf, ÷ scipy", f"{r['skew'] / r['sas']:.2f}×, {r['skew'] / r['scipy']:,.0f}×")
        table.add_row(f"stable_pdf, own (α, β) per point, points/s, {t}", f"{r['skew_pts']:,.0f}")
        table.add_row("  sas_pdf, own α per point", f"{r['sas_pts']:,.0f}")
    torch.set_num_threads(previous)
    return table


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch thread counts to time fits with")
    args = parser.parse_args()
    console = Console(width=150)
    console.print(
        f"torch {torch.__version__}, default {torch.get_num_threads()} threads; scipy's _fitstart is single-threaded"
    )
    for table in fits_tables(args):
        console.print(table)
    console.print(density_table(args))


if __name__ == "__main__":
    main()
