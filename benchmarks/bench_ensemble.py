"""SGD ensembles: ``sgd_ensemble`` (all seeds at once, torch.func) against the seed-by-seed loop a
user would otherwise write (copy the model, ``torch.optim.SGD``, one mini-batch per step from the
seed's own generator), and against a plain ``vmap(grad(functional_call))`` without the exactness
fix-ups. Same seeds, same batches, measured side by side in one run; each final weight vector is
compared with the loop's (``torch.equal``).

    python3 benchmarks/bench_ensemble.py                 # 256 seeds, ≈ 3-4 min on 2 cores
    python3 benchmarks/bench_ensemble.py --seeds 64 --steps 50 --threads 2

3-layer ReLU MLPs: the small tabular one of the escape experiments (breast_cancer, 30-32-32-2) at
batch 32 and at the reduced batch 8 of the escape protocols, where a step is dispatch-bound and
batching seeds pays most, and a wider one on digits (64-128-128-10), where a step is mostly GEMM
and the loop is closer to the compute floor.
Exactness (the last column) holds with one intra-op thread; with several, MKL may split one
product's sum across threads differently in the batched and the single call.

Times are process CPU times (one thread, so the compute each method needs, whatever else runs on a
shared machine); the speed-up is the ratio of CPU times. Wall times are shown alongside. The
batched methods are timed as the median of 3 runs (the first full-size run in a process pays
one-time set-up, up to 3× a later one for plain vmap); the loop, 256 runs in one, is timed once.
"""

from __future__ import annotations

import argparse
import copy
import time

import torch
import torch.nn.functional as F
from rich.console import Console
from rich.table import Table
from torch.func import functional_call, grad_and_value, vmap

from sgdnoise.data import load_dataset
from sgdnoise.dynamics import batch_indices, sgd_ensemble
from sgdnoise.models import MLP


def loop_runs(model, x, y, seeds, *, lr, batch, steps):
    """The plain loop: one seed after the other. Returns (S, D) final weights."""
    finals = []
    for s in seeds:
        net = copy.deepcopy(model)
        opt = torch.optim.SGD(net.parameters(), lr=lr)
        batches = batch_indices(s, len(x), batch, steps)
        for idx in batches:
            loss = F.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        finals.append(torch.cat([p.detach().reshape(-1) for p in net.parameters()]))
    return torch.stack(finals)


def plain_vmap_runs(model, x, y, seeds, *, lr, batch, steps):
    """torch.func as in its tutorials: stacked parameters, vmap(grad_and_value(functional_call))."""
    params = {k: v.detach().expand(len(seeds), *v.shape).clone() for k, v in model.named_parameters()}
    step = vmap(grad_and_value(lambda p, xb, yb: F.cross_entropy(functional_call(model, p, (xb,)), yb)))
    batches = torch.stack([batch_indices(s, len(x), batch, steps) for s in seeds])  # (S, T, B)
    for t in range(steps):
        idx = batches[:, t]
        grads, _ = step(params, x[idx], y[idx])
        params = {k: torch.add(p, grads[k], alpha=-lr) for k, p in params.items()}
    return torch.cat([p.reshape(len(seeds), -1) for p in params.values()], dim=1)


def ensemble_runs(model, x, y, seeds, *, lr, batch, steps):
    return sgd_ensemble(model, F.cross_entropy, (x, y), seeds=seeds, lr=lr, batch_size=batch, steps=steps).flat()


def timed(fn, *args, repeats: int = 1, **kwargs):
    """(cpu seconds, wall seconds, output): the run with the median CPU time of ``repeats`` calls."""
    runs = []
    for _ in range(repeats):
        cpu, wall = time.process_time(), time.perf_counter()
        out = fn(*args, **kwargs)
        runs.append((time.process_time() - cpu, time.perf_counter() - wall, out))
    return sorted(runs, key=lambda r: r[0])[len(runs) // 2]


def bench_config(data_name: str, width: int, dtype: torch.dtype, seeds: list[int], *, batch: int, steps: int):
    """Rows (method, cpu seconds, wall seconds, final weights) for one data set / width / dtype."""
    x, y = load_dataset(data_name).tensors
    x = x.reshape(len(x), -1).to(dtype)
    n_classes = int(y.max()) + 1
    torch.manual_seed(0)
    model = MLP((x.shape[1],), n_classes, depth=2, width=width).to(dtype)
    kw = dict(lr=0.05, batch=batch, steps=steps)
    ensemble_runs(model, x, y, seeds[:2], lr=0.05, batch=batch, steps=2)  # warm-up
    label = f"{data_name} {x.shape[1]}-{width}-{width}-{n_classes}"
    return label, [
        (name, *timed(fn, model, x, y, seeds, repeats=repeats, **kw))
        for name, fn, repeats in (
            ("loop (torch.optim.SGD)", loop_runs, 1),
            ("plain vmap", plain_vmap_runs, 3),
            ("sgd_ensemble", ensemble_runs, 3),
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=256)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    seeds = list(range(args.seeds))
    table = Table(
        title=f"{args.seeds} seeds × {args.steps} plain-SGD steps, lr 0.05, torch.set_num_threads({args.threads})"
    )
    for col in (
        "data / MLP",
        "batch",
        "dtype",
        "method",
        "cpu time (s)",
        "wall time (s)",
        "seed-steps/s (cpu)",
        "speed-up vs loop",
        "seeds equal to loop",
    ):
        table.add_column(col, justify="right")
    for data_name, width, batch in (("breast_cancer", 32, 32), ("breast_cancer", 32, 8), ("digits", 128, 32)):
        for dtype_name in args.dtypes:
            label, rows = bench_config(
                data_name, width, getattr(torch, dtype_name), seeds, batch=batch, steps=args.steps
            )
            t_loop, ref = rows[0][1], rows[0][3]
            for method, t, wall, out in rows:
                equal = sum(torch.equal(a, b) for a, b in zip(out, ref))
                table.add_row(
                    label,
                    str(batch),
                    dtype_name,
                    method,
                    f"{t:.2f}",
                    f"{wall:.2f}",
                    f"{args.seeds * args.steps / t:,.0f}",
                    f"{t_loop / t:.1f}×",
                    f"{equal}/{args.seeds}",
                )
    Console(width=170).print(table)


if __name__ == "__main__":
    main()
