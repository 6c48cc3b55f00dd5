"""K mini-batch gradients: sgdnoise's engines vs the plain loop, BackPACK BatchGrad and Opacus.

Run:  python3 benchmarks/bench_noise.py                 (about 10 minutes on 2 CPU cores)
      python3 benchmarks/bench_noise.py --threads 1 2   (every case with 1, then 2 threads; about 22 minutes)
      python3 benchmarks/bench_noise.py --quick         (smaller K, for a smoke test)

Cases: the grid (MLP, CNN, ResNet-20 × B ∈ {8, 32, 128}, D = 2048 random points, every method)
and the reuse cases (``REUSE_CASES``: K·B = 4–22·D, so every point is drawn about 4 to 22 times,
as in a real measurement — 500 mini-batches of 32 from the 1,797 digits are 8.9 draws per
point, the last cases, on ResNet-20 for the digits' 8×8 images, at B = 32 and at the B = 400 of
``sgdnoise measure``'s example; loop, our engine, ``ours-auto`` and ``ours-loop`` only).

Each (model, B, method) runs in a forked child process with the given number of intra-op threads
(default 1): one warm-up mini-batch, then K mini-batches timed. Peak memory is the child's peak
RSS (``VmHWM``, reset through ``/proc/self/clear_refs`` after the model and data are built)
minus its RSS at that point, so it counts what the method allocates (tracemalloc cannot see
torch's CPU allocations). Accuracy: max |difference| to the plain loop of mini-batch 0's
gradient at 10 random entries of every parameter tensor (float32).

Methods: ``loop`` — what a user writes: ``loss.backward()`` per mini-batch, gradients copied
out; ``ours-engine`` — the engine ``collect_noise(method="auto")`` picks, on the same pre-drawn
mini-batches, in chunks of the memory budget: K mini-batch gradients of every parameter and
nothing else (``entries`` for the MLP, and for conv nets when the chunks reuse samples;
``loop`` otherwise); ``ours-auto`` / ``ours-vmap`` / ``ours-loop`` — the whole
``collect_noise(params=None)`` (``full_grad`` given, so only the K mini-batch gradients are
computed, plus the noise of every entry; all of it is kept, so the statistics are not streamed
but computed from it when read, which the bench does not do); ``ours-auto+heap`` —
``ours-auto`` in a process whose allocator keeps freed memory
(``sgdnoise.parallel.retain_freed_memory``, what the ``sgdnoise`` command does);
``ours-entries`` — ``collect_noise(params=<10 entries per tensor>, method="entries")``,
computing and keeping only sampled entries; ``backpack`` — ``BatchGrad`` per-sample gradients of all
parameters summed per mini-batch; ``opacus`` — ``GradSampleModule`` per-sample gradients. Two
more, rows of ``bench_auto.py``'s grid: ``ours-entries-all`` — ``ours-entries`` on every entry
(``params=None``); ``plain-vmap`` — ``torch.func.vmap(grad(loss ∘ functional_call))`` over chunks
of mini-batches, what a user writes in ten lines; ``plain-vmap+noise`` — the same, each gradient
then made the noise in place and checked finite.
Per-sample methods process 256 samples per pass. BackPACK's converter fails on
``build_model("resnet20")`` under torch 2.13, so for ResNet-20 BackPACK runs on a twin built
from ``nn.Sequential`` and ``backpack...branching.Parallel`` (same depth and widths, 1×1-conv
shortcuts, 272k parameters); its error column is then blank. Opacus needs train mode: it runs
in train mode on the MLP (no BatchNorm or dropout, so the same function) and refuses BatchNorm.

Arithmetic floor: the FLOPs of one mini-batch's forward and backward (``torch.utils.flop_counter``)
divided by the measured single-thread throughput of a 1024² float32 GEMM — no engine that
computes each mini-batch on its own can beat it on this CPU, so ``loop ms / floor ms`` bounds
their speed-up. Reusing the forward and input-gradient halves of a point drawn several times
(``entries``) is the only way below it.

Timing: with one thread, CPU seconds of the child (the wall time on an idle machine, much less
disturbed by other jobs); with more threads, wall seconds (run those on an idle machine). A run
of the K mini-batches that takes more than 2 s is timed once; shorter ones are timed in 3
windows of at least 0.5 s each (the same run repeated), and the best window's mean counts — the
kernel samples CPU time per scheduler tick, which a single run of a few milliseconds (the MLP)
would mis-measure. Such short cases also run in 3 child processes, and the median child counts
(with the largest peak): the same run can differ by 10–30% from one process to the next.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import time
import traceback
import warnings

import torch
from torch import nn

MEMORY_BUDGET = 512 << 20
REPEATS, REPEAT_BELOW_SECONDS, PROCESSES = 3, 2.0, 3
MIN_WINDOW_SECONDS = 0.5  # CPU time is sampled per scheduler tick (~4 ms): average short runs over a longer window
PER_SAMPLE_PASS = 256
MODELS = {"mlp": 256, "cnn": 32, "resnet20": 8}  # name -> K
BATCH_SIZES = (8, 32, 128)
GRID_POINTS = 2048  # data size of the grid: K·B ≤ 4096 draws, little reuse of samples (CNN, ResNet-20)
REUSE_CASES = (  # (model, B, K, D): 4–22 draws per point (500 mini-batches of 32 from the digits: 8.9)
    ("mlp", 32, 256, 512),
    ("cnn", 32, 64, 512),
    ("cnn", 32, 144, 512),
    ("resnet20", 32, 16, 128),
    ("resnet20", 32, 36, 128),
    ("resnet20-8x8", 32, 500, 1797),
    ("resnet20-8x8", 400, 100, 1797),
)
REUSE_METHODS = ("loop", "ours-engine", "ours-auto", "ours-auto+heap", "ours-loop")
METHODS = (
    "loop",
    "ours-engine",
    "ours-auto",
    "ours-auto+heap",
    "ours-vmap",
    "ours-loop",
    "ours-entries",
    "backpack",
    "opacus",
)


def build(name: str) -> tuple[nn.Module, tuple[int, ...]]:
    torch.manual_seed(0)
    if name == "mlp":  # 64-64-32-10: 6.6k parameters (digits-sized)
        return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)), (64,)
    if name == "mlp-wide":  # 64-256-256-256-10: 151k parameters
        layers = [nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU()]
        return nn.Sequential(*layers, nn.Linear(256, 10)), (64,)
    if name == "cnn":  # small CNN with BatchNorm, 28x28 inputs
        return nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(32 * 7 * 7, 10),
        ), (1, 28, 28)
    from sgdnoise.models import build_model

    if name == "resnet20-8x8":  # the digits' 8×8 images: small feature maps (8×8, 4×4, 2×2)
        return build_model("resnet20", input_shape=(1, 8, 8), num_classes=10), (1, 8, 8)
    return build_model("resnet20", input_shape=(3, 32, 32), num_classes=10), (3, 32, 32)


def _rss_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(field))


def run_case(name: str, batch_size: int, k: int, num_points: int, method: str, threads: int) -> dict:
    try:
        torch.set_num_threads(threads)
        warnings.simplefilter("ignore")
        from sgdnoise.gradients import collect_noise, sample_batch_indices, select_parameters
        from sgdnoise.parallel import retain_freed_memory

        if method.endswith("+heap"):
            retain_freed_memory()

        model, shape = build(name)
        model.eval()
        gen = torch.Generator().manual_seed(1)
        data = (torch.randn(num_points, *shape, generator=gen), torch.randint(0, 10, (num_points,), generator=gen))
        probe = select_parameters({n: p.shape for n, p in model.named_parameters()}, per_layer=10, seed=0)
        indices = sample_batch_indices(num_points, batch_size, k, 0)  # what collect_noise(seed=0) draws
        seconds, peak_mb, g0 = timed_run(method_run(method, model, data, probe, collect_noise), indices, threads)
        twin = method == "backpack" and name == "resnet20"
        return {"status": "ok", "seconds": seconds, "peak_mb": peak_mb, "g0": None if twin else g0.tolist()}
    except Exception as exc:
        return failure(exc)


def failure(exc: Exception) -> dict:
    """What a child reports when its case raised."""
    return {"status": f"{type(exc).__name__}: {str(exc).splitlines()[0][:60]}", "trace": traceback.format_exc()}


def timed_run(run, indices, threads: int, repeats: int = REPEATS, min_window: float = MIN_WINDOW_SECONDS):
    """``(seconds, peak MiB, output)`` of ``run(indices)`` (module docstring: one warm-up mini-batch,
    then the whole run, repeated in ``repeats`` windows of at least ``min_window`` seconds when it
    is short, the best window counting; CPU time with one thread, wall time with more)."""
    run(indices[:1])  # warm-up
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    base = _rss_kb("VmRSS")
    clock = time.process_time if threads == 1 else time.perf_counter
    start = clock()
    out = run(indices)
    seconds = clock() - start
    runs_per_window = max(1, math.ceil(min_window / max(seconds, 1e-6)))
    windows = []
    for _ in range(repeats if seconds <= REPEAT_BELOW_SECONDS else 0):
        start = clock()
        for _ in range(runs_per_window):
            out = run(indices)
        windows.append((clock() - start) / runs_per_window)
    return min(windows, default=seconds), (_rss_kb("VmHWM") - base) / 1024, out


def method_run(method, model, data, probe, collect_noise):
    """A function ``run(batch_indices) -> gradient of the first mini-batch at the probe entries``."""
    x, y = data
    params = dict(model.named_parameters())
    loss_fn = nn.CrossEntropyLoss()

    def probe_entries(grads: dict[str, torch.Tensor]) -> torch.Tensor:
        if not set(probe.entries) <= set(grads):  # BackPACK's ResNet-20 twin: other names
            return torch.empty(0)
        return torch.cat([grads[n].flatten()[idx] for n, idx in probe.entries.items()])

    if method == "loop":

        def run(idx):
            kept = []
            for row in idx:
                model.zero_grad(set_to_none=True)
                loss_fn(model(x[row]), y[row]).backward()
                kept.append({n: p.grad.detach().clone() for n, p in params.items()})
            return probe_entries(kept[0])

        return run
    if method == "ours-engine":
        return _engine_run(model, loss_fn, data, probe_entries)
    if method.startswith("ours"):
        engine = method.split("-")[1].removesuffix("+heap")
        zeros = {n: torch.zeros_like(p) for n, p in params.items()}
        select = probe if method == "ours-entries" else None  # ours-entries-all: every entry

        def run(idx):
            # Same seed and no random selection: collect_noise draws exactly the rows of idx.
            result = collect_noise(
                model,
                loss_fn,
                data,
                batch_size=idx.shape[1],
                num_batches=idx.shape[0],
                seed=0,
                params=select,
                method=engine,
                memory_budget=MEMORY_BUDGET,
                full_grad=zeros,
            )
            noise = {n: -result.noise[n][0] for n in result.noise}
            return (
                torch.cat([noise[n].flatten() for n in probe.entries]) if select is not None else probe_entries(noise)
            )

        return run
    if method.startswith("plain-vmap"):
        return _plain_vmap_run(model, loss_fn, data, probe_entries, noise=method.endswith("+noise"))
    if method == "backpack":
        from backpack import backpack, extend
        from backpack.extensions import BatchGrad

        net = extend(model if isinstance(model, nn.Sequential) else _backpack_resnet20())
        sum_loss = extend(nn.CrossEntropyLoss(reduction="sum"))
        return _per_sample_run(
            net,
            lambda out, t: sum_loss(out, t),
            data,
            probe_entries,
            lambda loss: _backpack_backward(loss, backpack, BatchGrad),
            "grad_batch",
        )
    if method == "opacus":
        from opacus import GradSampleModule

        net = GradSampleModule(model.train(), loss_reduction="sum")
        sum_loss = nn.CrossEntropyLoss(reduction="sum")
        return _per_sample_run(net, sum_loss, data, probe_entries, lambda loss: loss.backward(), "grad_sample")
    raise ValueError(method)


def _engine_run(model, loss_fn, data, probe_entries):
    """The engine collect_noise(method="auto") picks, on pre-drawn mini-batches, in budget-sized chunks."""
    from sgdnoise.gradients import select_parameters
    from sgdnoise.gradients.engines import ChunkTask
    from sgdnoise.gradients.planning import Planner
    from sgdnoise.plumbing import as_indexed_source

    x, _ = data
    source = as_indexed_source(data)
    everything = select_parameters({n: p.shape for n, p in model.named_parameters()})

    def run(idx):
        k, b = idx.shape
        planner = Planner(
            model, x[:1], everything, batch_size=b, num_batches=k, num_points=x.shape[0], into_kept_noise=False
        )
        plan = planner.plan(MEMORY_BUDGET)
        first = None
        for s in range(0, k, plan.chunk_size):
            rows = idx[s : s + plan.chunk_size]
            task = ChunkTask(model, loss_fn, source, rows, x.device, everything, planner.probe, plan.micro_batch)
            grads, _ = plan.engine.gradients(task)
            if first is None:
                first = probe_entries({n: g[0] for n, g in grads.items()})
            del grads  # as collect_noise does: one chunk's gradients alive at a time
        return first

    return run


def _plain_vmap_run(model, loss_fn, data, probe_entries, noise: bool = False):
    """What a user writes with ``torch.func``: ``vmap(grad(loss ∘ functional_call))`` over the
    mini-batches, in chunks of as many as our vmap engine takes under ``MEMORY_BUDGET`` (the same
    memory rule), the gradients kept as vmap returns them. ``noise``: each chunk's gradients then
    made the noise ``∇U − g_k`` in place (``∇U = 0``, as the other rows are given) and checked
    finite, the arithmetic a collection adds to the gradients."""
    from torch.func import functional_call, grad, vmap

    from sgdnoise.gradients import select_parameters
    from sgdnoise.gradients.engines import VMAP, Workload
    from sgdnoise.gradients.probe import probe_model

    x, y = data
    weights = {n: p.detach() for n, p in model.named_parameters()}
    every = select_parameters({n: p.shape for n, p in weights.items()})
    sizes = probe_model(model, x[:1], set())

    def loss(p, xb, yb):
        return loss_fn(functional_call(model, p, (xb,)), yb)

    grads_of = vmap(grad(loss), in_dims=(None, 0, 0))
    zeros = {n: torch.zeros_like(w) for n, w in weights.items()}

    def run(idx):
        k, b = idx.shape
        chunk = max(1, MEMORY_BUDGET // VMAP.chunk_bytes(Workload(sizes, b, k, x.shape[0], every), 1))
        kept = [grads_of(weights, x[rows], y[rows]) for rows in idx.split(chunk)]
        if noise:
            for grads in kept:
                for n, g in grads.items():
                    if not torch.isfinite(torch.sub(zeros[n], g, out=g).sum()):
                        raise ValueError(f"the noise of {n} is not finite")
            return probe_entries({n: -g[0] for n, g in kept[0].items()})
        return probe_entries({n: g[0] for n, g in kept[0].items()})

    return run


def _backpack_resnet20() -> nn.Module:
    """ResNet-20 as nn.Sequential + BackPACK's Parallel (residual sum), eval mode."""
    from backpack.custom_module.branching import Parallel

    def block(cin: int, cout: int, stride: int) -> nn.Module:
        main = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False),
            nn.BatchNorm2d(cout),
        )
        short = (
            nn.Identity()
            if stride == 1 and cin == cout
            else nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        )
        return nn.Sequential(Parallel(main, short), nn.ReLU())

    torch.manual_seed(0)
    layers, cin = [nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()], 16
    for cout, stride in ((16, 1), (32, 2), (64, 2)):
        for i in range(3):
            layers.append(block(cin, cout, stride if i == 0 else 1))
            cin = cout
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10)).eval()


def _backpack_backward(loss, backpack, batch_grad):
    with backpack(batch_grad()):
        loss.backward()


def _per_sample_run(net, sum_loss, data, probe_entries, backward, attr):
    """Per-sample gradients of PER_SAMPLE_PASS samples per pass, summed per mini-batch / B."""
    x, y = data

    def run(idx):
        k, b = idx.shape
        per_pass = max(1, PER_SAMPLE_PASS // b)
        first = None
        for s in range(0, k, per_pass):
            rows = idx[s : s + per_pass]
            flat = rows.flatten()
            net.zero_grad(set_to_none=True)
            backward(sum_loss(net(x[flat]), y[flat]))
            grads = {
                n: getattr(p, attr).reshape(rows.shape[0], b, *p.shape).sum(1) / b for n, p in net.named_parameters()
            }
            for p in net.parameters():
                setattr(p, attr, None)
            if first is None:
                first = probe_entries({n.removeprefix("_module."): g[0] for n, g in grads.items()})
        return first

    return run


def gemm_gflops() -> float:
    """Single-thread float32 GEMM throughput (best of 5 products of 1024² matrices)."""
    torch.set_num_threads(1)
    a = torch.randn(1024, 1024)
    best = min(_timed(lambda: a @ a) for _ in range(5))
    return 2 * 1024**3 / best / 1e9


def in_child(ctx, fn, *args):
    """``fn(*args)`` in a forked child: the parent must not start torch's OpenMP pool, or children
    forked later with several threads can deadlock."""
    queue = ctx.Queue()
    proc = ctx.Process(target=lambda: queue.put(fn(*args)))
    proc.start()
    value = queue.get()
    proc.join()
    return value


def floor_ms(name: str, batch_size: int, gflops: float) -> float:
    """Milliseconds of one mini-batch's forward + backward at ``gflops`` (see module docstring)."""
    from torch.utils.flop_counter import FlopCounterMode

    torch.set_num_threads(1)

    model, shape = build(name)
    model.eval()
    with FlopCounterMode(display=False) as counter:
        nn.functional.cross_entropy(
            model(torch.randn(batch_size, *shape)), torch.randint(0, 10, (batch_size,))
        ).backward()
    return counter.get_total_flops() / (gflops * 1e9) * 1e3


def _measured(ctx, *case) -> dict:
    """``run_case(*case)`` in a forked child; a case shorter than ``REPEAT_BELOW_SECONDS`` runs in
    ``PROCESSES`` children and counts their median time and largest peak (a child's best window
    still moves by 10–30% from one process to the next)."""
    outs = [in_child(ctx, run_case, *case)]
    if outs[0]["status"] == "ok" and outs[0]["seconds"] <= REPEAT_BELOW_SECONDS:
        outs += [in_child(ctx, run_case, *case) for _ in range(PROCESSES - 1)]
    return median_child(outs)


def median_child(outs: list[dict]) -> dict:
    """The first failure among children's ``outs``, else the median time with the largest peak."""
    failed = [o for o in outs if o["status"] != "ok"]
    if failed:
        return failed[0]
    median = sorted(outs, key=lambda o: o["seconds"])[len(outs) // 2]
    return {**median, "peak_mb": max(o["peak_mb"] for o in outs)}


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="K/4 mini-batches, B in {8, 32}")
    parser.add_argument("--threads", type=int, nargs="+", default=[1], help="intra-op threads per case (default 1)")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--reuse-only", action="store_true", help="only the reuse cases")
    args = parser.parse_args()
    ctx = mp.get_context("fork")
    gflops = in_child(ctx, gemm_gflops)
    print(
        f"torch {torch.__version__}, {os.cpu_count()} CPUs; ours: memory_budget = {MEMORY_BUDGET >> 20} MiB; "
        f"1-thread GEMM {gflops:.0f} GFLOP/s"
    )
    header = (
        f"{'model':12s} {'B':>4s} {'K':>3s} {'thr':>3s} {'method':15s} "
        f"{'ms/batch':>9s} {'loop/this':>9s} {'peak MiB':>9s} {'max err':>9s}"
    )
    print(header)
    print("-" * len(header))
    cases = [
        (name, b, max(2, MODELS[name] // 4) if args.quick else MODELS[name], max(GRID_POINTS, 4 * b), METHODS)
        for name in args.models
        for b in (BATCH_SIZES[:2] if args.quick else BATCH_SIZES)
        if not args.reuse_only
    ]
    if not args.quick:
        cases += [
            (name, b, k, d, REUSE_METHODS) for name, b, k, d in REUSE_CASES if name.partition("-")[0] in args.models
        ]
    for name, b, k, num_points, methods in cases:
        floor = in_child(ctx, floor_ms, name, b, gflops)
        print(
            f"{name:12s} {b:4d} {k:3d}   - D = {num_points}, {k * b / num_points:.1f} draws per point; "
            f"arithmetic floor {floor:.3f} ms/batch at 1 thread"
        )
        for threads in args.threads:
            reference = None
            for method in methods:
                out = _measured(ctx, name, b, k, num_points, method, threads)
                if out["status"] != "ok":
                    print(f"{name:12s} {b:4d} {k:3d} {threads:3d} {method:15s} n/a: {out['status']}")
                    continue
                ms = 1000 * out["seconds"] / k
                if method == "loop":
                    reference = out
                ratio = reference["seconds"] / out["seconds"] if reference else float("nan")
                err = (
                    ""
                    if out["g0"] is None or reference is None
                    else f"{(torch.tensor(out['g0']) - torch.tensor(reference['g0'])).abs().max().item():9.1e}"
                )
                print(
                    f"{name:12s} {b:4d} {k:3d} {threads:3d} {method:15s} "
                    f"{ms:9.2f} {ratio:9.2f} {out['peak_mb']:9.1f} {err:>9s}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
