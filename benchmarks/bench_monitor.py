"""The noise monitor's overhead: the same training run (``sgdnoise.training.train``, the loop of
``sgdnoise train``) with and without a :class:`~sgdnoise.monitor.NoiseMonitor` at its default
schedule, side by side in one run, on the bundled MLP (digits) and CNN (mnist_5k).

    python3 benchmarks/bench_monitor.py                       # ≈ 6 min on 2 cores
    python3 benchmarks/bench_monitor.py --repeats 1 --every 500

The monitor writes everything it writes in ``sgdnoise train --monitor`` (``monitor.parquet``,
``monitor_entries.parquet``, TensorBoard events with per-layer scalars and α histograms). The two
runs are interleaved ``--repeats`` times and each timed by its fastest repeat (other work on a
shared machine only ever adds time); times are process CPU times on one intra-op thread (the
compute each run needs; the TensorBoard writer's thread is counted), wall times alongside. Each monitored run's
final weights are compared with the plain run's (``torch.equal``: the monitor never changes
training). One-time set-up (imports, the first measurement's warm-up) is paid before timing and
shown separately.

Columns: steps of the run and measurements taken; CPU seconds without and with the monitor; the
overhead ``with/without − 1``; the CPU seconds spent inside the monitor's measurements (logging
included) and their share of the run without it — the same overhead measured directly, without the
run-to-run noise of a difference of two long runs; one measurement's cost in training steps (from
that time); identical weights.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch
from rich.console import Console
from rich.table import Table

from sgdnoise.data import load_dataset
from sgdnoise.experiments.networks import network_for
from sgdnoise.monitor import DEFAULT_EVERY, MonitorSchedule, NoiseMonitor
from sgdnoise.monitor.train_hook import TrainHook
from sgdnoise.training import TrainConfig, train

CASES = (  # (model, data, epochs, lr, batch size): runs of a few thousand steps
    ("mlp", "digits", 100, 0.05, 32),
    ("cnn", "mnist_5k", 20, 0.05, 32),
)


def run(model_name, data, info, epochs, lr, batch, schedule, monitored):
    model = network_for(info, model_name, seed=0)
    config = TrainConfig(epochs=epochs, lr=lr, batch_size=batch, seed=0)
    monitor = hook = None
    inside = [0.0]  # CPU seconds inside the monitor's measurements (logging included)
    with tempfile.TemporaryDirectory() as out:
        if monitored:
            monitor = NoiseMonitor(data, out=out, schedule=schedule, seed=0)
            hook = TrainHook(monitor, model, config, num_points=len(data))
            measure = monitor.measure

            def timed(*args, **kwargs):
                start = time.process_time()
                try:
                    return measure(*args, **kwargs)
                finally:
                    inside[0] += time.process_time() - start

            monitor.measure = timed
        wall, cpu = time.perf_counter(), time.process_time()
        train(model, data, config, on_step=hook)
        if monitor is not None:
            monitor.finish(model)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    measured = 0 if monitor is None else len(monitor.measured_steps)
    return cpu, wall, measured, inside[0], torch.cat([p.detach().flatten() for p in model.parameters()])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--every", type=int, default=DEFAULT_EVERY, help="the schedule's every (default: the default)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    schedule = MonitorSchedule(every=args.every)
    table = Table(title=f"noise monitor overhead, schedule {schedule.to_dict()}, best of {args.repeats}")
    for column in (
        "model / data",
        "steps",
        "measurements",
        "CPU s without",
        "CPU s with",
        "overhead",
        "monitor's own CPU s",
        "own / without",
        "wall s without / with",
        "one measurement (steps)",
        "first-call set-up s",
        "same weights",
    ):
        table.add_column(column, justify="right")
    for model_name, data_name, epochs, lr, batch in CASES:
        data = load_dataset(data_name, split="train")
        info = data.info
        # warm-up: imports, kernels, the first measurement's one-time set-up (timed)
        run(model_name, data, info, 1, lr, batch, None, False)
        with tempfile.TemporaryDirectory() as out:
            t = time.process_time()
            warm = NoiseMonitor(data, out=out, seed=0)
            warm.current_step = 1
            warm.measure(network_for(info, model_name, seed=0))
            warm.close()
            first = time.process_time() - t
        without, with_, own, identical = [], [], [], True
        for _ in range(args.repeats):
            c0, w0, _, _, p0 = run(model_name, data, info, epochs, lr, batch, schedule, False)
            c1, w1, measured, inside, p1 = run(model_name, data, info, epochs, lr, batch, schedule, True)
            without.append((c0, w0))
            with_.append((c1, w1))
            own.append(inside)
            identical &= torch.equal(p0, p1)
        steps = epochs * (len(data) // batch)
        c0, c1 = min(c for c, _ in without), min(c for c, _ in with_)
        w0, w1 = min(w for _, w in without), min(w for _, w in with_)
        per_step = c0 / steps
        inside = min(own)
        per_measurement = inside / max(measured, 1)
        table.add_row(
            f"{model_name} / {data_name}",
            str(steps),
            str(measured),
            f"{c0:.2f}",
            f"{c1:.2f}",
            f"{c1 / c0 - 1:+.1%}",
            f"{inside:.2f}",
            f"{inside / c0:.1%}",
            f"{w0:.2f} / {w1:.2f}",
            f"{per_measurement / per_step:.0f}",
            f"{first:.2f}",
            "yes" if identical else "NO",
        )
    Console(width=200).print(table)


if __name__ == "__main__":
    main()
