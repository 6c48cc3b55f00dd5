"""The Ray executor against in-process runs on this machine, side by side in one run.

    python3 benchmarks/bench_ray.py                     # ≈ 3 min on 2 cores
    python3 benchmarks/bench_ray.py --repeats 1 --ks 16 64 256

A local Ray instance with ``--cpus`` CPUs (default 2) is started once; its set-up (start, and the
workers' first task: importing torch and sgdnoise) is timed apart. Every time after it is the
fastest of ``--repeats`` wall-clock runs (other work on a shared machine only ever adds time).

1. Per-task cost: ``run_tasks`` of ``--tasks`` tasks that do nothing (small), of tasks that read
   an 8 MB tensor they share (Ray puts it into its object store once), and of compute-bound tasks
   (a fixed torch workload of about ``--work`` seconds each, one intra-op thread): in this process
   one after another, and on Ray; the ratio in-process/Ray is the speed-up (below 1: Ray is slower).
2. Sharded ``collect_noise``: the same collection (``params=None``, the loop engine, so the
   mini-batches split into one range per worker whatever the plan's chunk) at several K, in this
   process on one and on two intra-op threads, and split over the Ray workers with one thread
   each (``MIN_SHARD_BATCHES`` lowered to 1, so that every K splits). Each Ray result is checked
   against the in-process one (``torch.equal``). A line fitted to each column's times against K
   gives its cost per mini-batch and, for Ray, its cost per call; where the lines cross is the K
   above which sharding pays ("never" when Ray's cost per mini-batch is not the lower).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))
from bench_noise import build

from sgdnoise.gradients import collect_noise
from sgdnoise.gradients import run as run_module
from sgdnoise.parallel import RayExecutor, Task, run_tasks, use_executor

CASES = {  # model -> (data points, B, Ks)
    "mlp": (4096, 32, (16, 32, 64, 128, 256, 512, 1024)),
    "cnn": (2048, 32, (8, 16, 32, 64, 128)),
}


def nothing(i: int) -> int:
    return i


def read_shared(i: int, big: torch.Tensor) -> float:
    return float(big[i])


def work(seconds: float, seed: int) -> float:
    """About ``seconds`` of single-threaded matrix products (at the rate :func:`calibrate` measured)."""
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(256, 256, generator=gen)
    for _ in range(max(1, round(seconds * PRODUCTS_PER_SECOND[0]))):
        a = torch.tanh(a @ a / 16)
    return float(a.sum())


PRODUCTS_PER_SECOND = [1.0]


def calibrate() -> None:
    """Set the rate of :func:`work`'s products on this machine, from 200 of them."""
    PRODUCTS_PER_SECOND[0] = 200 / 0.1
    start = time.perf_counter()
    work(0.1, 0)
    PRODUCTS_PER_SECOND[0] = 200 / (time.perf_counter() - start)


def warm_up(i: int) -> int:
    """A worker's first task: the imports every later task finds done."""
    import sgdnoise.gradients  # noqa: F401

    return i


def best(repeats: int, fn) -> tuple[float, object]:
    times, value = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return min(times), value


def task_costs(ray_executor: RayExecutor, args) -> Table:
    big = torch.randn(1 << 21)  # 8 MB
    groups = {
        "empty": [Task(f"t{i}", nothing, (i,)) for i in range(args.tasks)],
        "8 MB shared argument": [Task(f"t{i}", read_shared, (i, big)) for i in range(args.tasks)],
        f"≈{args.work:g} s of compute": [Task(f"t{i}", work, (args.work, i)) for i in range(4 * args.cpus)],
    }
    table = Table(title=f"per-task cost, {args.cpus} Ray workers, best of {args.repeats}")
    for col in ("tasks", "kind", "in-process ms/task", "Ray ms/task", "in-process / Ray"):
        table.add_column(col, justify="right")
    for kind, tasks in groups.items():
        here, _ = best(args.repeats, lambda tasks=tasks: run_tasks(tasks))
        with use_executor(ray_executor):
            there, _ = best(args.repeats, lambda tasks=tasks: run_tasks(tasks))
        n = len(tasks)
        table.add_row(str(n), kind, f"{1e3 * here / n:.3f}", f"{1e3 * there / n:.3f}", f"{here / there:.2f}")
    return table


def timed_collection(repeats: int, threads: int, *args, **kwargs):
    """The fastest of ``repeats`` runs of ``collect_noise(*args, **kwargs)`` on ``threads`` intra-op
    threads (the current executor's), and its result."""
    torch.set_num_threads(threads)
    try:
        return best(repeats, lambda: collect_noise(*args, **kwargs))
    finally:
        torch.set_num_threads(1)


def line(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares intercept and slope of ``ys`` against ``xs``."""
    x, y = torch.tensor(xs, dtype=torch.float64), torch.tensor(ys, dtype=torch.float64)
    slope = float(((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum())
    return float(y.mean()) - slope * float(x.mean()), slope


def break_even(here: tuple[float, float], there: tuple[float, float]) -> str:
    """The K above which the line ``there`` (Ray) runs below ``here``; "never" when its slope is not lower."""
    if there[1] >= here[1]:
        return "never"
    return f"{max(0.0, (there[0] - here[0]) / (here[1] - there[1])):.0f}"


def collections(ray_executor: RayExecutor, args) -> Table:
    table = Table(title=f"sharded collect_noise (loop engine, every entry kept), {args.cpus} Ray workers")
    columns = ("model", "D", "B", "K", "K per task", "in-proc 1 thr s", "in-proc 2 thr s", "Ray s")
    columns += ("1 thr / Ray", "2 thr / Ray", "same numbers")
    for col in columns:
        table.add_column(col, justify="right")
    run_module.MIN_SHARD_BATCHES = 1
    notes = []
    for name in args.models:
        points, b, ks = CASES[name]
        model, shape = build(name)
        gen = torch.Generator().manual_seed(0)
        data = (torch.randn(points, *shape, generator=gen), torch.randint(0, 10, (points,), generator=gen))
        loss = torch.nn.CrossEntropyLoss()
        full = collect_noise(model, loss, data, batch_size=b, num_batches=1, seed=0, method="loop").full_grad
        rows = []
        for k in [k for k in ks if args.ks is None or k in args.ks]:
            run = (model, loss, data)
            kwargs = dict(batch_size=b, num_batches=k, seed=0, method="loop", full_grad=full)
            one, ref = timed_collection(args.repeats, 1, *run, **kwargs)
            two, _ = timed_collection(args.repeats, 2, *run, **kwargs)
            with use_executor(ray_executor):
                there, res = timed_collection(args.repeats, 1, *run, **kwargs)
            same = all(torch.equal(ref.noise[n], res.noise[n]) for n in ref.noise)
            rows.append((k, one, two, there))
            times = (f"{one:.3f}", f"{two:.3f}", f"{there:.3f}", f"{one / there:.2f}", f"{two / there:.2f}")
            table.add_row(name, str(points), str(b), str(k), str(-(-k // args.cpus)), *times, "yes" if same else "NO")
        ks_done = [r[0] for r in rows]
        fits = [line(ks_done, [r[col] for r in rows]) for col in (1, 2, 3)]  # (fixed s, s per mini-batch)
        (_, t1), (_, t2), (fixed, t_ray) = fits
        notes.append(
            f"{name}: per mini-batch {t1 * 1e3:.2f} ms in this process on one thread, {t2 * 1e3:.2f} on two, "
            f"{t_ray * 1e3:.2f} on Ray plus {fixed * 1e3:.0f} ms per call; sharding pays above "
            f"K ≈ {break_even(fits[0], fits[2])} against one thread, K ≈ {break_even(fits[1], fits[2])} against two"
        )
    table.caption = "\n".join(notes)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--work", type=float, default=0.5)
    parser.add_argument("--models", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--ks", nargs="+", type=int, default=None)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    calibrate()
    console = Console(width=200)
    start = time.perf_counter()
    ray_executor = RayExecutor(num_cpus=args.cpus)
    assert ray_executor.workers == args.cpus
    started = time.perf_counter() - start
    with use_executor(ray_executor):
        warm, _ = best(1, lambda: run_tasks([Task(f"warm-up {i}", warm_up, (i,)) for i in range(2 * args.cpus)]))
    console.print(
        f"Ray: local instance started in {started:.1f} s; the workers' first tasks (imports) took {warm:.1f} s; "
        f"torch {torch.__version__}, one intra-op thread per task"
    )
    try:
        console.print(task_costs(ray_executor, args))
        console.print(collections(ray_executor, args))
    finally:
        ray_executor.close()


if __name__ == "__main__":
    main()
