"""Basin half-widths along every parameter of a 3-layer ReLU MLP: one batched line search
(``sgdnoise.dynamics.basin_half_widths`` on ``StackedLoss.losses``, all coordinates and both sides per
round; for this plain MLP the displaced losses come from ``DisplacedLoss``, which keeps the layers
before the displaced weight) against the generic batched path (``vmap`` over per-row weights) and the
loops a user would otherwise write, measured side by side in one run.

    python3 benchmarks/bench_escape_model.py               # breast_cancer MLP 30-32-32-2 (2,114 parameters)
    python3 benchmarks/bench_escape_model.py --every 4     # the loops on every 4th coordinate (default 8)

The MLP is trained with SGD (lr 0.05, batch 128, 200 epochs) to the minimum of the escape
experiments; the level is twice its training loss (the issue's "basins where the loss doubles"),
the cap 64. Alternatives, on every ``--every``-th coordinate and extrapolated to all of them:

* loop, same search — the same bracketing and Illinois refinement, one coordinate at a time, the
  loss evaluated by the plain model (parameters written in, one forward per trial point);
* loop, bisection — what one writes by hand: double the step until the loss reaches the level,
  then 40 bisection steps, one forward per trial point.

The batched search must give the same widths as the one-at-a-time search (checked, printed).
Times are wall-clock seconds with one intra-op thread.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F
from rich.console import Console
from rich.table import Table

from sgdnoise.data import load_dataset
from sgdnoise.dynamics import basin_half_widths
from sgdnoise.dynamics.networks.displaced_loss import DisplacedLoss
from sgdnoise.dynamics.networks.stacked_loss import StackedLoss
from sgdnoise.experiments.networks import network_for
from sgdnoise.training import TrainConfig, train


def plain_rows(model, x, y):
    """``(R, P) → (R,)`` by writing each row into the model and calling it: the loop's loss."""
    params = list(model.parameters())

    def losses(rows: torch.Tensor) -> torch.Tensor:
        out = []
        with torch.no_grad():
            for row in rows:
                torch.nn.utils.vector_to_parameters(row, params)
                out.append(F.cross_entropy(model(x), y))
        return torch.stack(out)

    return losses


def bisection_loop(model, x, y, center, level, coords, cap, iterations=40):
    """Hand-written: per coordinate and side, double from 1e-2 until the level, then bisect."""
    params = list(model.parameters())
    widths = []
    with torch.no_grad():
        for c in coords:
            for sign in (1.0, -1.0):

                def loss_at(t: float, c=c, sign=sign) -> float:
                    w = center.clone()
                    w[c] += sign * t
                    torch.nn.utils.vector_to_parameters(w, params)
                    return float(F.cross_entropy(model(x), y))

                lo, hi = 0.0, 1e-2
                while loss_at(hi) < level and hi < cap:
                    lo, hi = hi, min(2 * hi, cap)
                if hi >= cap and loss_at(cap) < level:
                    widths.append(np.inf)
                    continue
                for _ in range(iterations):
                    mid = 0.5 * (lo + hi)
                    lo, hi = (mid, hi) if loss_at(mid) < level else (lo, mid)
                widths.append(hi)
    torch.nn.utils.vector_to_parameters(center, params)
    return np.asarray(widths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=8, help="loops run on every n-th coordinate")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    console = Console()
    data = load_dataset("breast_cancer", split="train", seed=0)
    model = network_for(data.info, "mlp", seed=0, options={"depth": 2, "width": 32})
    train(model, data, TrainConfig(epochs=args.epochs, lr=0.05, batch_size=128, seed=0))
    model.eval()
    x, y = data.tensors
    stacked = StackedLoss(model, F.cross_entropy, x, y)
    center = stacked.start.clone()
    level = 2.0 * float(stacked.losses(center[None])[0])
    dim = center.numel()
    sub = np.arange(0, dim, args.every)
    console.print(f"torch {torch.__version__}, {args.threads} thread(s); MLP with {dim} parameters, N = {len(x)}")

    t0 = time.perf_counter()
    fast = DisplacedLoss.of(model, F.cross_entropy, x, y)
    batched = basin_half_widths(stacked.losses, center, level, cap=64.0, displaced=fast)
    t_batched = time.perf_counter() - t0

    t0 = time.perf_counter()
    generic = basin_half_widths(stacked.losses, center, level, cap=64.0)
    t_generic = time.perf_counter() - t0
    with np.errstate(invalid="ignore"):
        gen_ratio = np.concatenate([generic.upper / batched.upper, generic.lower / batched.lower])
    gen_diff = float(np.nanmax(np.abs(gen_ratio[np.isfinite(gen_ratio)] - 1)))

    rows = plain_rows(model, x, y)
    t0 = time.perf_counter()
    one_by_one = [basin_half_widths(rows, center, level, coords=[c], cap=64.0) for c in sub]
    t_same = (time.perf_counter() - t0) * dim / len(sub)
    torch.nn.utils.vector_to_parameters(center, list(model.parameters()))

    t0 = time.perf_counter()
    bis = bisection_loop(model, x, y, center, level, sub, 64.0)
    t_bis = (time.perf_counter() - t0) * dim / len(sub)

    up = np.array([r.upper[0] for r in one_by_one])
    lo = np.array([r.lower[0] for r in one_by_one])
    with np.errstate(invalid="ignore"):
        both = np.concatenate([batched.upper[sub] / up, batched.lower[sub] / lo])
    same = float(np.nanmax(np.abs(both[np.isfinite(both)] - 1))) if np.isfinite(both).any() else 0.0
    same_open = bool(np.array_equal(np.isinf(batched.upper[sub]), np.isinf(up)))
    bis_up, bis_lo = bis[0::2], -bis[1::2]
    finite = np.isfinite(bis_up) & np.isfinite(batched.upper[sub])
    agree = np.nanmax(np.abs(bis_up[finite] / batched.upper[sub][finite] - 1)) if finite.any() else float("nan")

    table = Table(title=f"Basin half-widths of all {dim} parameters (loops timed on every {args.every}th)")
    for col in ("method", "seconds (all P)", "loss evaluations", "× batched"):
        table.add_column(col, justify="right" if col != "method" else "left")
    table.add_row("batched, MLP path (sgdnoise default)", f"{t_batched:.2f}", f"{batched.evaluations:,}", "1.0")
    table.add_row(
        "batched, generic vmap path", f"{t_generic:.2f}", f"{generic.evaluations:,}", f"{t_generic / t_batched:.1f}"
    )
    table.add_row("loop, same search", f"{t_same:.2f}", "—", f"{t_same / t_batched:.1f}")
    table.add_row("loop, doubling + 40 bisections", f"{t_bis:.2f}", "—", f"{t_bis / t_batched:.1f}")
    console.print(table)
    console.print(
        f"open sides: {int(batched.open_lower.sum())} down, {int(batched.open_upper.sum())} up; "
        f"median smaller half-width {np.median(np.minimum(-batched.lower, batched.upper)):.3g}; "
        f"batched vs one-at-a-time: max relative difference {same:.1e}, same open sides {same_open}; "
        f"bisection vs batched, max relative difference {agree:.1e}; "
        f"rounds (batched calls): {batched.calls}; generic vs MLP path, max relative difference {gen_diff:.1e}"
    )
    del bis_lo


if __name__ == "__main__":
    main()
