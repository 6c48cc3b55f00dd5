"""Is ``auto`` the fastest engine? Every engine, plain ``torch.func`` vmap and the plain loop, cell by cell.

Run:  python3 benchmarks/bench_auto.py                        (the whole grid, one intra-op thread)
      python3 benchmarks/bench_auto.py --models mlp cnn       (some models)
      python3 benchmarks/bench_auto.py --ks 16 128 2000       (K = 128 too)
      python3 benchmarks/bench_auto.py --overhead --models mlp mlp-wide --batch-sizes 1 8 32 128
                                                              (what a collection adds to plain vmap)

Grid: ``MODELS`` (bench_noise.py's ``build``: a 6.6k-parameter MLP, a 151k-parameter MLP, the
small CNN with BatchNorm on 28×28 inputs, ResNet-20 on 8×8 and on 32×32 inputs) × B ∈ {1, 8, 32,
128, 512} × K ∈ {16, 2000} × reuse r = K·B/D ∈ {1, 2, 5, 20} draws per point: D = max(B,
round(K·B/r)) random points (so r is at most K; the cell prints the r it got).

Rows, each in a forked child with one intra-op thread, on the same mini-batches
(``sample_batch_indices(D, B, K, 0)``): ``auto``, ``loop``, ``vmap``, ``entries`` — the whole
``collect_noise(params=None, method=…)`` with ``full_grad`` given, so that the mini-batch
gradients, the noise and its checks are timed (bench_noise.py's ``ours-auto``, ``ours-loop``,
``ours-vmap``, ``ours-entries-all``); ``plain-vmap`` — ``vmap(grad(loss ∘ functional_call))``
over chunks of mini-batches (as many as the vmap engine takes); ``plain-loop`` —
``loss.backward()`` per mini-batch, gradients copied out (bench_noise.py's ``plain-vmap`` and
``loop``). Memory budget 512 MiB (bench_noise.py's).

What is timed: the first ``n`` of the ``K`` mini-batches, as a collection of ``n`` from the same
``D`` points. ``n = K`` when ``K·B ≤ DRAWS[model]``; else ``n`` is the largest whole number of
the entries engine's chunks (of its plan for the full ``K``) within ``DRAWS[model]`` draws, so
each timed chunk of ``entries``, and of ``auto``, which reads that chunk to choose, is a chunk of
the full run (the cell checks that ``auto`` plans the same engine and chunk for ``n`` as for
``K``; ``≠`` marks a cell where it does not). The loop's and vmap's time per mini-batch does not
depend on ``n``. A cell is skipped when one entries chunk passes ``DRAWS[model]`` draws, or its
data pass ``DATA_BYTES``.

Timing: CPU time, one intra-op thread, each row in a fresh forked child (every row starts from the
same process state: the first run in a process pays page faults and kernel set-up that a later
one does not), the rows of a cell one after the other. In a child, bench_noise.py's ``timed_run``:
one warm-up mini-batch, the run, and for a short run ``WINDOWS`` windows of at least
``MIN_WINDOW`` seconds, the best counting. Rows whose run takes at most ``ONCE_ABOVE`` seconds run
in ``PROCESSES`` rounds of children, each round starting one row later (interleaved), and their
median child counts (the same run moves by 10–30% from one process to the next).

Printed per cell: ms per mini-batch of each row, the fastest row, ``auto/engine`` — auto over the
fastest of ``loop``, ``vmap`` and ``entries`` (``!`` above 1.10) —, ``pick/engine`` — the row of
the engine auto picked over that fastest one: the rule's choice, apart from auto's own planning
and from the noise between two runs of one engine —, and ``auto/all``, over the fastest row,
plain ones included; auto's plan: engine, chunk size, the draws per distinct point ``ρ`` in a
chunk of the entries engine and the ``ρ*`` auto asks of it (``≠``: auto plans another engine, or
another entries chunk, for the ``n`` timed mini-batches than for the ``K``). A summary lists the
cells over 1.10.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import subprocess
import sys
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from bench_noise import (
    MEMORY_BUDGET,
    PROCESSES,
    build,
    failure,
    in_child,
    median_child,
    method_run,
    timed_run,
)

MODELS = {  # name -> most draws (n·B) timed per cell
    "mlp": 1 << 20,
    "mlp-wide": 1 << 18,
    "cnn": 1 << 15,
    "resnet20-8x8": 1 << 15,
    "resnet20": 1 << 13,
}
BATCH_SIZES = (1, 8, 32, 128, 512)
NUM_BATCHES = (16, 2000)
REUSE = (1, 2, 5, 20)
DATA_BYTES = 1 << 30
ROWS = {  # row -> bench_noise.py method
    "auto": "ours-auto",
    "loop": "ours-loop",
    "vmap": "ours-vmap",
    "entries": "ours-entries-all",
    "plain-vmap": "plain-vmap",
    "plain-loop": "loop",
}
ENGINE_ROWS = ("loop", "vmap", "entries")
OVERHEAD_ROWS = {  # --overhead: what the vmap engine's collection adds to plain vmap
    "plain-vmap": "plain-vmap",
    "plain-vmap+noise": "plain-vmap+noise",
    "vmap": "ours-vmap",
    "entries": "ours-entries-all",
}
WINDOWS, MIN_WINDOW, ONCE_ABOVE = 2, 0.2, 0.5
SLOWER = 1.10


def run_row(name: str, data: tuple[torch.Tensor, torch.Tensor], indices: torch.Tensor, method: str) -> dict:
    """One row (a bench_noise.py ``method``) of a cell in this (forked) process:
    ``{"status", "seconds", "peak_mb"}`` from :func:`bench_noise.timed_run`, ``WINDOWS`` windows of
    at least ``MIN_WINDOW`` seconds when the run is short."""
    try:
        torch.set_num_threads(1)
        warnings.simplefilter("ignore")
        from sgdnoise.gradients import collect_noise, select_parameters

        model, _ = build(name)
        model.eval()
        probe = select_parameters({n: p.shape for n, p in model.named_parameters()}, per_layer=10, seed=0)
        run = method_run(method, model, data, probe, collect_noise)
        seconds, peak_mb, _ = timed_run(run, indices, 1, repeats=WINDOWS, min_window=MIN_WINDOW)
        return {"status": "ok", "seconds": seconds, "peak_mb": peak_mb}
    except Exception as exc:
        return failure(exc)


def plans(name: str, data, batch_size: int, k: int, draws: int):
    """``(n, auto's plan for K, auto's plan for n, ρ, ρ*)``: ``ρ`` the draws per distinct point in
    a chunk of the entries engine, ``ρ*`` the ρ auto asks of it against its rival; or ``None``
    when one chunk of the entries engine passes ``draws`` (module docstring)."""
    from sgdnoise.gradients import select_parameters
    from sgdnoise.gradients.engines import ENTRIES
    from sgdnoise.gradients.planning import Planner

    model, _ = build(name)
    model.eval()
    every = select_parameters({n: p.shape for n, p in model.named_parameters()})

    def planner(num_batches: int) -> Planner:
        x = data[0]
        return Planner(model, x[:1], every, batch_size=batch_size, num_batches=num_batches, num_points=x.shape[0])

    full = planner(k)
    chunk = full.chunk_size(ENTRIES, MEMORY_BUDGET)
    n = k if k * batch_size <= draws else chunk * (draws // (chunk * batch_size))
    if n == 0:
        return None
    plan = full.plan(MEMORY_BUDGET)
    timed = planner(n).plan(MEMORY_BUDGET) if n < k else plan
    reuse = chunk * batch_size / full.workload(ENTRIES).expected_distinct(chunk)
    return n, plan, timed, reuse, full.reuse_needed(full.rival)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=list(BATCH_SIZES))
    parser.add_argument("--ks", nargs="+", type=int, default=list(NUM_BATCHES))
    parser.add_argument("--reuse", nargs="+", type=float, default=list(REUSE))
    parser.add_argument("--overhead", action="store_true", help="what a collection adds to plain vmap (MLPs)")
    args = parser.parse_args()
    from sgdnoise.gradients import sample_batch_indices

    torch.set_num_threads(1)  # the parent makes each cell's data; its children inherit them
    ctx = mp.get_context("fork")
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, 1 thread; memory_budget = {MEMORY_BUDGET >> 20} MiB")
    print(f"load at start: {load}")
    if args.overhead:
        overhead(ctx, [m for m in args.models if m.startswith("mlp")], args.batch_sizes)
        print(f"load at end: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
        return
    header = (
        f"{'model':12s} {'B':>4s} {'K':>5s} {'r':>5s} {'D':>7s} {'n':>5s} | "
        + " ".join(f"{r:>10s}" for r in ROWS)
        + f" | {'fastest':10s} {'auto/engine':>11s} {'pick/engine':>11s} {'auto/all':>8s} | auto's plan"
    )
    print("ms per mini-batch, CPU time")
    print(header)
    print("-" * len(header))
    over = []
    for name in args.models:
        shape = build(name)[1]
        for b in args.batch_sizes:
            for k in args.ks:
                for reuse in args.reuse:
                    num_points = max(b, round(k * b / reuse))
                    cell = f"{name:12s} {b:4d} {k:5d} {k * b / num_points:5.1f} {num_points:7d}"
                    if num_points * 4 * torch.Size(shape).numel() > DATA_BYTES:
                        print(f"{cell}     - | skipped: the data pass {DATA_BYTES >> 20} MiB")
                        continue
                    data = _data(name, num_points)
                    planned = plans(name, data, b, k, MODELS[name])
                    if planned is None:
                        print(f"{cell}     - | skipped: one entries chunk passes {MODELS[name]} draws")
                        continue
                    n, plan, timed, reuse, needed = planned
                    indices = sample_batch_indices(num_points, b, n, 0)  # the first n rows of the K
                    ms = _measured_cell(ctx, name, data, indices)
                    _print_cell(f"{cell} {n:5d}", ms, plan, timed, f"ρ={reuse:.2f} ρ*={needed:.2f}", over)
    print(f"load at end: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    print(f"cells where auto is over {SLOWER:.2f}× the fastest engine: {len(over)}")
    for line in over:
        print(line)


def _measured_cell(ctx, name, data, indices, rows=ROWS) -> dict[str, float | str]:
    """Ms per mini-batch of each row (or why it failed): each row in a fresh forked child
    (:func:`run_row`), the rows one after the other; rows whose run takes at most ``ONCE_ABOVE``
    seconds again in ``PROCESSES − 1`` more rounds, each starting one row later, their median
    child counting."""
    outs: dict[str, list[dict]] = {row: [] for row in rows}
    order = list(rows)
    for rnd in range(PROCESSES):
        for row in order[rnd % len(order) :] + order[: rnd % len(order)]:
            first = outs[row][0] if outs[row] else None
            if first is None or (first["status"] == "ok" and first["seconds"] <= ONCE_ABOVE):
                outs[row].append(in_child(ctx, run_row, name, data, indices, rows[row]))
    result: dict[str, float | str] = {}
    for row, o in outs.items():
        out = median_child(o)
        result[row] = 1000 * out["seconds"] / indices.shape[0] if out["status"] == "ok" else out["status"]
    return result


def _data(name: str, num_points: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``num_points`` random inputs of model ``name`` and labels of 10 classes (seed 1)."""
    gen = torch.Generator().manual_seed(1)
    shape = build(name)[1]
    return torch.randn(num_points, *shape, generator=gen), torch.randint(0, 10, (num_points,), generator=gen)


def overhead(ctx, models: list[str], batch_sizes: list[int]) -> None:
    """``--overhead``: K = 2000 mini-batches, each point drawn once on average (r = 1): plain vmap,
    plain vmap making and checking the noise, and the vmap and entries engines' whole collections."""
    from sgdnoise.gradients import sample_batch_indices

    print("ms per mini-batch, CPU time; K = 2000, r = 1")
    print(f"{'model':12s} {'B':>4s} | " + " ".join(f"{r:>16s}" for r in OVERHEAD_ROWS) + " | each / plain-vmap")
    for name in models:
        for b in batch_sizes:
            data = _data(name, 2000 * b)
            ms = _measured_cell(ctx, name, data, sample_batch_indices(2000 * b, b, 2000, 0), OVERHEAD_ROWS)
            plain = ms["plain-vmap"]
            cols = " ".join(f"{v:16.4f}" if isinstance(v, float) else f"{'failed':>16s}" for v in ms.values())
            ratios = " ".join(f"{v / plain:5.2f}" for v in ms.values() if isinstance(v, float))
            print(f"{name:12s} {b:4d} | {cols} | {ratios}", flush=True)


def _print_cell(cell: str, ms: dict[str, float | str], plan, timed, reuse: str, over: list[str]) -> None:
    timings = {r: v for r, v in ms.items() if isinstance(v, float)}
    engines = [timings[r] for r in ENGINE_ROWS if r in timings]
    fastest = min(timings, key=timings.get)
    auto = timings.get("auto", float("nan"))
    vs_engine = auto / min(engines) if engines else float("nan")
    picked = timings.get(plan.engine.name, float("nan")) / min(engines) if engines else float("nan")
    mark = "!" if vs_engine > SLOWER else " "
    same = timed.engine is plan.engine and (timed.chunk_size == plan.chunk_size or plan.engine.name != "entries")
    cols = " ".join(f"{v:10.3f}" if isinstance(v, float) else f"{'failed':>10s}" for v in ms.values())
    line = (
        f"{cell} | {cols} | {fastest:10s} {vs_engine:10.2f}{mark} {picked:11.2f} {auto / timings[fastest]:8.2f} | "
        f"{plan.engine.name:7s} Kc={plan.chunk_size:<4d} {reuse}{'' if same else ' ≠'}"
    )
    print(line, flush=True)
    for r, v in ms.items():
        if not isinstance(v, float):
            print(f"    {r}: {v}")
    if vs_engine > SLOWER:
        over.append(line)


if __name__ == "__main__":
    main()
