"""Which law, per row: speed against per-row scipy/scikit-learn loops, the test of β = 0, the classes.

1. **Speed** at K = 1000 on Student-t rows (ν = 3): sgdnoise's batched Student-t fit
   (``fit_student_t``) against ``scipy.stats.t.fit`` in a loop over rows, and the batched
   two-Gaussian mixture (``fit_gaussian_mixture``) against scikit-learn's ``GaussianMixture``
   (2 components, 5 starts, as the batched fit) in a loop; then the whole comparison
   (``compare_laws`` with all five laws, ``mle``) per row. The log-likelihoods reached are
   compared on the same rows (median and worst difference, ours minus theirs).
2. **The likelihood-ratio test of β = 0** (``compare_laws(laws=("sas", "stable"))``): its size at
   the 5% level over ``--rows`` SαS rows (α = 1.5, K = 1000, default 1000 rows) with the
   binomial standard error, the mean statistic (1 for χ²₁) and a Kolmogorov–Smirnov test of the
   p-values against the uniform; its power on skewed rows (α = 1.5, β = 0.5).
3. **Classes**: the share of unimodal rows (SαS, skewed stable, Student-t, log-normal, gamma)
   flagged ``multimodal`` at the default thresholds, and the share of two unit-variance Gaussian
   bumps flagged, by separation and weight.

Run: ``python3 benchmarks/bench_laws.py [--quick] [--rows 1000]``.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch
from rich.console import Console
from rich.table import Table
from scipy import stats
from sklearn.mixture import GaussianMixture

from sgdnoise.stable import (
    classify_entries,
    compare_laws,
    fit_gaussian_mixture,
    fit_student_t,
    sample_sas,
    sample_stable,
)

K = 1000


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def speed(console: Console, rows: int, loop_rows: int) -> None:
    x = stats.t.rvs(3, size=(rows, K), random_state=np.random.default_rng(0))
    fit_student_t(x[:2])
    fit_gaussian_mixture(x[:2])  # warm up
    t_fit, t_ours = _timed(fit_student_t, x)
    mix, m_ours = _timed(fit_gaussian_mixture, x)
    _, laws_time = _timed(compare_laws, x[: max(loop_rows, 50)])
    t_ll, m_ll = [], []
    start = time.perf_counter()
    for i in range(loop_rows):
        ref = stats.t.fit(x[i])
        t_ll.append(t_fit.loglik[i] - stats.t.logpdf(x[i], *ref).sum())
    t_scipy = (time.perf_counter() - start) / loop_rows
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(loop_rows):
            gm = GaussianMixture(2, n_init=5, random_state=0).fit(x[i][:, None])
            m_ll.append(mix.loglik[i] - gm.score(x[i][:, None]) * K)
    m_sklearn = (time.perf_counter() - start) / loop_rows
    table = Table(title=f"Fits per row at K = {K} (Student-t ν = 3 rows; ours on {rows} rows at once)")
    for col in ("fit", "ours ms/row", "reference ms/row", "speed-up", "Δ loglik median", "Δ loglik worst"):
        table.add_column(col, justify="left" if col == "fit" else "right")
    table.add_row(
        "Student-t vs scipy t.fit",
        f"{1e3 * t_ours / rows:.2f}",
        f"{1e3 * t_scipy:.1f}",
        f"{t_scipy / (t_ours / rows):.0f}×",
        f"{np.median(t_ll):+.2e}",
        f"{np.min(t_ll):+.2e}",
    )
    table.add_row(
        "2-Gaussian mixture vs sklearn (5 starts)",
        f"{1e3 * m_ours / rows:.2f}",
        f"{1e3 * m_sklearn:.1f}",
        f"{m_sklearn / (m_ours / rows):.0f}×",
        f"{np.median(m_ll):+.2e}",
        f"{np.min(m_ll):+.2e}",
    )
    n = max(loop_rows, 50)
    table.add_row("compare_laws, all five laws (mle)", f"{1e3 * laws_time / n:.1f}", "", "", "", "")
    console.print(table)


def beta_test(console: Console, rows: int) -> None:
    table = Table(title=f"Likelihood-ratio test of β = 0 at K = {K} ({rows} rows each, level 5%)")
    for col in ("rows", "rejected", "binomial SE", "mean LR (χ²₁: 1)", "KS p (p-values uniform)", "seconds"):
        table.add_column(col, justify="left" if col == "rows" else "right")
    cases = (
        ("SαS α = 1.5 (size)", sample_sas(1.5, size=(rows, K), seed=41)),
        ("SαS α = 1.2 (size)", sample_sas(1.2, size=(rows // 2, K), seed=42)),
        ("stable α = 1.5, β = 0.5 (power)", sample_stable(1.5, 0.5, size=(rows, K), seed=43)),
    )
    for label, x in cases:
        frame, seconds = _timed(compare_laws, x, laws=("sas", "stable"))
        p = frame.beta_lr_pvalue.to_numpy()
        share = float((p < 0.05).mean())
        table.add_row(
            label,
            f"{share:.3f}",
            f"{np.sqrt(share * (1 - share) / len(p)):.3f}",
            f"{frame.beta_lr_stat.mean():.3f}",
            f"{stats.kstest(p, 'uniform').pvalue:.3f}",
            f"{seconds:.0f}",
        )
    console.print(table)


def classes(console: Console, rows: int) -> None:
    rng = np.random.default_rng(7)
    null = {
        "SαS α = 0.8": sample_sas(0.8, size=(rows, K), seed=51),
        "SαS α = 1.5": sample_sas(1.5, size=(rows, K), seed=52),
        "Gaussian": rng.normal(size=(rows, K)),
        "stable α = 1.3, β = 0.9": sample_stable(1.3, 0.9, size=(rows, K), seed=53),
        "stable α = 1.8, β = 0.9": sample_stable(1.8, 0.9, size=(rows, K), seed=54),
        "Student-t ν = 3": stats.t.rvs(3, size=(rows, K), random_state=rng),
        "log-normal σ = 1": rng.lognormal(0, 1, (rows, K)),
        "gamma, shape 2": rng.gamma(2.0, size=(rows, K)),
    }
    table = Table(title=f"Rows flagged multimodal at the default thresholds (K = {K}, {rows} rows each)")
    for col in ("rows", "multimodal"):
        table.add_column(col, justify="left" if col == "rows" else "right")
    for label, x in null.items():
        table.add_row(f"unimodal: {label}", f"{classify_entries(x)['multimodal'].mean():.3f}")
    for sep in (2.0, 3.0, 3.5, 4.0, 5.0):
        for weight in (0.5, 0.3, 0.1):
            x = np.where(
                rng.random((rows, K)) < weight, rng.normal(-sep / 2, 1, (rows, K)), rng.normal(sep / 2, 1, (rows, K))
            )
            table.add_row(
                f"two bumps {sep:g}σ apart, weight {weight:g}", f"{classify_entries(x)['multimodal'].mean():.3f}"
            )
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rows everywhere")
    parser.add_argument("--rows", type=int, default=1000, help="rows of the size and power runs (default 1000)")
    args = parser.parse_args()
    console = Console(width=140)
    console.print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    speed(console, rows=200 if args.quick else 1000, loop_rows=10 if args.quick else 50)
    beta_test(console, rows=100 if args.quick else args.rows)
    classes(console, rows=40 if args.quick else 200)


if __name__ == "__main__":
    main()
