"""How long would ``sgdnoise reproduce --full`` take on N workers? An estimate from measured task times.

Runs the bundled recipes in this process at one size (``--size default``: ≈ 2 min on 2 idle cores)
and measures, for every step, its wall time T and the time P spent inside its tasks — the parts
of its sweeps (seeds of an escape point, chunks of mini-batches, points of a sweep) that an
executor with several workers runs at once. The rest, T − P, runs in one piece (training to a
minimum, fits, figures). Each step's T and P are scaled to ``--full`` by the ratio of the size
parameter its work grows with (``sgdnoise.studies.reproduce.DEFAULT_SECONDS``, the same scaling as
the command's own time estimate), and on N workers

    step time(N) ≈ (T − P) + P / min(N, parts),   run time(N) ≈ max(max_step time(N), Σ step time(N) / N),

``parts`` the most tasks one of its sweeps splits into (``sgdnoise.parallel.seed_chunks``: no
part under 8 seeds), and the second term the steps themselves running as tasks side by side
(a lower bound of list scheduling; Ray's per-task overhead, ``bench_ray.py``, is not included).

    python3 benchmarks/bench_reproduce_workers.py [--size quick|default] [--workers 1 2 4 8 16 32]
"""

from __future__ import annotations

import argparse
import tempfile
import time

from rich.console import Console
from rich.table import Table

from sgdnoise.parallel import executor as executor_module
from sgdnoise.studies.reproduce import DEFAULT_SECONDS, SIZES, _work, reproduce_steps
from sgdnoise.studies.steps import run_steps


def _task_seconds() -> tuple[list[float], object]:
    """Patch the in-process executor so that every task's wall time is appended to a list."""
    seconds: list[float] = []
    original = executor_module.InProcessExecutor.submit

    def timed(self, tasks, settings):
        start = time.perf_counter()
        for item in original(self, tasks, settings):
            seconds.append(time.perf_counter() - start)
            yield item
            start = time.perf_counter()

    executor_module.InProcessExecutor.submit = timed
    return seconds, original


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=("quick", "default"), default="default")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32])
    args = parser.parse_args()
    size, full = SIZES[args.size], SIZES["full"]
    seconds, original = _task_seconds()
    rows = []
    try:
        with tempfile.TemporaryDirectory() as out:
            for step in reproduce_steps(size):
                before = len(seconds)
                start = time.perf_counter()
                run_steps([step], out, title="bench")
                total = time.perf_counter() - start
                parallel = sum(seconds[before:])
                parameter = DEFAULT_SECONDS[step.key][1]
                ratio = _work(full, parameter) / _work(size, parameter)
                parts = _parts(step.key, full)
                rows.append((step.key, total, parallel, len(seconds) - before, ratio, parts))
    finally:
        executor_module.InProcessExecutor.submit = original

    console = Console(width=150)
    table = Table(title=f"measured at --{args.size}, scaled to --full")
    for column in ("step", "T s", "in tasks P s", "tasks", "× to full", "full T s", "full P s", "max parts"):
        table.add_column(column, justify="right")
    for key, total, parallel, n, ratio, parts in rows:
        table.add_row(
            key, f"{total:.1f}", f"{parallel:.1f}", str(n), f"{ratio:.1f}", f"{total * ratio:.0f}",
            f"{parallel * ratio:.0f}", str(parts),
        )  # fmt: skip
    console.print(table)
    estimate = Table(title="estimated wall time of reproduce --full")
    for column in ("workers", "minutes", "speed-up", "longest step", "its minutes"):
        estimate.add_column(column, justify="right")
    one = None
    for n in args.workers:
        steps = {key: (t - p) * r + p * r / min(n, parts) for key, t, p, _, r, parts in rows}
        wall = max(max(steps.values()), sum(steps.values()) / n) if n > 1 else sum(steps.values())
        one = one or wall
        longest = max(steps, key=steps.get)
        estimate.add_row(str(n), f"{wall / 60:.1f}", f"{one / wall:.1f}", longest, f"{steps[longest] / 60:.1f}")
    console.print(estimate)


def _parts(key: str, size) -> int:
    """The most tasks one of the step's sweeps splits into at ``size``: an escape point's seeds in
    parts of ≥ 8 (the largest point: a survival curve, or the escape model's seeds per model);
    other steps' tasks (points of a sweep, chunks of mini-batches) are taken as unbounded."""
    seeds = {"escape_time": size.survival_seeds, "escape_model": size.escape_model_seeds}.get(key)
    return 10**9 if seeds is None else max(1, seeds // 8)


if __name__ == "__main__":
    main()
