"""``sgdnoise reproduce``: run the bundled default experiments and write their report."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "reproduce",
        help="run the bundled default experiments and write a report",
        description="Run the bundled default experiments (no data download needed) and "
        "write tables, figures and a Markdown report to --out.",
    )
    p.add_argument("--out", type=Path, default=Path("results"), help="output folder (default: ./results)")
    p.add_argument("--rows", type=int, default=100, help="samples per alpha in the estimator check (default 100)")
    p.add_argument("--batches", type=int, default=1000, help="noise mini-batches K for the network (default 1000)")
    p.add_argument("--epochs", type=int, default=30, help="training epochs of the network (default 30)")
    p.add_argument(
        "--paths", type=int, default=1000, help="simulated paths per Δ in the escape-axis experiment (default 1000)"
    )
    p.add_argument(
        "--zhu-steps", type=int, default=1000, help="steps of each noise variant on the network (default 1000)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sgdnoise.experiments.escape_axis import EscapeAxisConfig, run_escape_axis
    from sgdnoise.experiments.escape_direction import EscapeDirectionConfig, run_escape_direction
    from sgdnoise.experiments.escape_time import EscapeTimeConfig, run_escape_time
    from sgdnoise.experiments.estimator_recovery import RecoveryConfig, run_recovery
    from sgdnoise.experiments.lr_decay import DecayConfig, run_lr_decay
    from sgdnoise.experiments.mori_stationary import MoriConfig, run_mori_stationary
    from sgdnoise.experiments.noise_fits import NoiseFitConfig, run_noise_fits
    from sgdnoise.experiments.zhu_network import ZhuNetworkConfig, run_zhu_network
    from sgdnoise.experiments.zhu_toy import ZhuConfig, run_zhu_toy
    from sgdnoise.report import frame_table, summary_table
    from sgdnoise.report.reproduce import ReproduceResults, write_reproduce_report
    from sgdnoise.report.tables import console as report_console
    from sgdnoise.report.tables import layers_table

    console = report_console()
    with console.status("gradient noise of an MLP trained on digits ..."):
        noise = run_noise_fits(NoiseFitConfig(num_batches=args.batches, epochs=args.epochs, seed=args.seed))
    noise.write(args.out / "noise_fits")
    console.print(layers_table(noise.layers))
    console.print(summary_table(noise.summary, title="Gradient noise of the digits MLP: Gaussian vs SαS"))
    decay = _step(
        console,
        "learning-rate decay vs batch increase: training three schedules ...",
        lambda: run_lr_decay(DecayConfig(seed=args.seed, noise_batches=max(20, args.batches // 2))),
        args.out / "lr_decay",
        "Noise before/after the milestone (u: gradient noise, η·u: step noise)",
    )
    escape = _step(
        console,
        "escape axis on 2-D Ackley: simulating Lévy-driven paths ...",
        lambda: run_escape_axis(EscapeAxisConfig(paths=args.paths, seed=args.seed)),
        args.out / "escape_axis",
        "Exit through the heavier-tailed axis (2-D Ackley, α₁ = α₂ − Δ)",
    )
    with console.status("escape from a minimum of an MLP: SGD ensembles over learning rates and batch sizes ..."):
        escape_time = run_escape_time(EscapeTimeConfig(seeds=max(10, args.paths // 10), seed=args.seed))
    escape_time.write(args.out / "escape_time")
    console.print(frame_table(escape_time.times, "Escape time from a trained minimum (steps)"))
    console.print(
        frame_table(escape_time.fits[["model", "formula", "r2", "aic"]], "Theories fitted to the escape times")
    )
    direction = _step(
        console,
        "escape directions of GD and SGD from a sharp minimum ...",
        lambda: run_escape_direction(EscapeDirectionConfig(seed=args.seed)),
        args.out / "escape_direction",
        "Share of the exit displacement on the top Hessian eigenvectors",
    )
    zhu = _step(
        console,
        "Zhu et al.'s 2-D toy: GD with noise of different shapes ...",
        lambda: run_zhu_toy(ZhuConfig(seed=args.seed)),
        args.out / "zhu_toy",
        "Escapes from the sharp minimum, equal noise variance (Zhu et al.)",
    )
    zhu_net = _step(
        console,
        "Zhu et al. on a network: GD + shaped noise vs SGD from a memorising minimum ...",
        lambda: run_zhu_network(ZhuNetworkConfig(n_steps=args.zhu_steps, seed=args.seed)),
        args.out / "zhu_network",
        "Zhu et al. on a network: GD + noise of equal total variance vs SGD",
    )
    mori = _step(
        console,
        "Mori et al.'s stationary law: simulating SGD's multiplicative-noise SDE ...",
        lambda: run_mori_stationary(MoriConfig(n_paths=20 * args.paths, seed=args.seed)),
        args.out / "mori_stationary",
        "Stationary law p ∝ L^-φ: fitted φ against 1 + B/(ηh)",
    )
    with console.status("estimator recovery: fitting samples of known α ..."):
        recovery = run_recovery(RecoveryConfig(rows_per_alpha=args.rows, seed=args.seed))
    recovery.write(args.out / "estimator_recovery")
    console.print(
        frame_table(
            recovery.rmse_by_method(),
            f"RMSE of α̂ at K = {recovery.config.k} ({recovery.config.rows_per_alpha} samples per α)",
            "{:.3f}",
        )
    )
    results = ReproduceResults(noise, decay, escape, escape_time, direction, zhu, zhu_net, mori, recovery)
    report = write_reproduce_report(results, args.out / "report.md")
    console.print(f"report: {report} (tables and figures in the folders beside it)")
    return 0


def _step(console, status: str, make, folder: Path, title: str):
    """Run one recipe under a status line, write its files to ``folder`` and print its table."""
    from sgdnoise.report import frame_table

    with console.status(status):
        result = make()
    result.write(folder)
    console.print(frame_table(result.table, title))
    return result
