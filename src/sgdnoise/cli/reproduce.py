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
    from sgdnoise.report.reproduce import ReproduceResults, write_reproduce_report
    from sgdnoise.report.tables import console as report_console

    console = report_console()
    results = {}
    for name, status, make, folder, tables in _steps(args):
        with console.status(status):
            result = make()
        result.write(args.out / folder)
        for table in tables(result):
            console.print(table)
        results[name] = result
    report = write_reproduce_report(ReproduceResults(**results), args.out / "report.md")
    console.print(f"report: {report} (tables and figures in the folders beside it)")
    return 0


def _steps(args: argparse.Namespace) -> tuple:
    """The bundled recipes in the report's order, each as ``(name in ReproduceResults, status line,
    run, folder under --out, the tables printed from its result)``."""
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
    from sgdnoise.report.tables import layers_table

    seed = args.seed
    return (
        (
            "noise",
            "gradient noise of an MLP trained on digits ...",
            lambda: run_noise_fits(NoiseFitConfig(num_batches=args.batches, epochs=args.epochs, seed=seed)),
            "noise_fits",
            lambda r: [
                layers_table(r.layers),
                summary_table(r.summary, title="Gradient noise of the digits MLP: Gaussian vs SαS"),
            ],
        ),
        (
            "lr_decay",
            "learning-rate decay vs batch increase: training three schedules ...",
            lambda: run_lr_decay(DecayConfig(seed=seed, noise_batches=max(20, args.batches // 2))),
            "lr_decay",
            lambda r: [frame_table(r.table, "Noise before/after the milestone (u: gradient noise, η·u: step noise)")],
        ),
        (
            "escape_axis",
            "escape axis on 2-D Ackley: simulating Lévy-driven paths ...",
            lambda: run_escape_axis(EscapeAxisConfig(paths=args.paths, seed=seed)),
            "escape_axis",
            lambda r: [frame_table(r.table, "Exit through the heavier-tailed axis (2-D Ackley, α₁ = α₂ − Δ)")],
        ),
        (
            "escape_time",
            "escape from a minimum of an MLP: SGD ensembles over learning rates and batch sizes ...",
            lambda: run_escape_time(EscapeTimeConfig(seeds=max(10, args.paths // 10), seed=seed)),
            "escape_time",
            lambda r: [
                frame_table(r.times, "Escape time from a trained minimum (steps)"),
                frame_table(r.fits[["model", "formula", "r2", "aic"]], "Theories fitted to the escape times"),
            ],
        ),
        (
            "escape_direction",
            "escape directions of GD and SGD from a sharp minimum ...",
            lambda: run_escape_direction(EscapeDirectionConfig(seed=seed)),
            "escape_direction",
            lambda r: [frame_table(r.table, "Share of the exit displacement on the top Hessian eigenvectors")],
        ),
        (
            "zhu_toy",
            "Zhu et al.'s 2-D toy: GD with noise of different shapes ...",
            lambda: run_zhu_toy(ZhuConfig(seed=seed)),
            "zhu_toy",
            lambda r: [frame_table(r.table, "Escapes from the sharp minimum, equal noise variance (Zhu et al.)")],
        ),
        (
            "zhu_network",
            "Zhu et al. on a network: GD + shaped noise vs SGD from a memorising minimum ...",
            lambda: run_zhu_network(ZhuNetworkConfig(n_steps=args.zhu_steps, seed=seed)),
            "zhu_network",
            lambda r: [frame_table(r.table, "Zhu et al. on a network: GD + noise of equal total variance vs SGD")],
        ),
        (
            "mori",
            "Mori et al.'s stationary law: simulating SGD's multiplicative-noise SDE ...",
            lambda: run_mori_stationary(MoriConfig(n_paths=20 * args.paths, seed=seed)),
            "mori_stationary",
            lambda r: [frame_table(r.table, "Stationary law p ∝ L^-φ: fitted φ against 1 + B/(ηh)")],
        ),
        (
            "recovery",
            "estimator recovery: fitting samples of known α ...",
            lambda: run_recovery(RecoveryConfig(rows_per_alpha=args.rows, seed=seed)),
            "estimator_recovery",
            lambda r: [
                frame_table(
                    r.rmse_by_method(),
                    f"RMSE of α̂ at K = {r.config.k} ({r.config.rows_per_alpha} samples per α)",
                    "{:.3f}",
                )
            ],
        ),
    )
