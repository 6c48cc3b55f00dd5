"""``sgdnoise reproduce``: run the bundled default experiments and write their report.

The work is :func:`sgdnoise.studies.reproduce.run_reproduce`; this module only parses.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sgdnoise.cli.options import add_executor_options


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "reproduce",
        help="run the bundled default experiments and write a report (index.html)",
        description="Run the bundled default experiments (no data download needed) and write DIR/index.html "
        "(open it in a browser), report.md, tables (CSV, Parquet), figures (PNG, SVG) and manifest.json to --out. "
        "Every step is saved when it finishes; run the same command again after an interruption to resume.",
    )
    p.add_argument("--out", type=Path, default=Path("results"), help="output folder (default: ./results)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_const", const="quick", dest="size", help="small sizes: a first look")
    size.add_argument(
        "--full",
        action="store_const",
        const="full",
        dest="size",
        help="the papers' sample sizes (K = 1000, 100 seeds per escape time, 1000 per survival curve, 6 lrs × 3 "
        "batch sizes); prints a time estimate first",
    )
    p.set_defaults(size="default")
    p.add_argument("--rows", type=int, help="samples per alpha in the estimator check (default 100)")
    p.add_argument("--batches", type=int, help="noise mini-batches K for the network (default 1000)")
    p.add_argument("--epochs", type=int, help="training epochs of the network (default 30)")
    p.add_argument("--paths", type=int, help="simulated paths per Δ in the escape-axis experiment (default 1000)")
    p.add_argument("--zhu-steps", type=int, help="steps of each noise variant on the network (default 1000)")
    p.add_argument("--decay-epochs", type=int, help="epochs of each learning-rate decay run, milestone half-way (16)")
    p.add_argument("--escape-model-seeds", type=int, help="seeds per model in the Lévy escape framework (default 64)")
    p.add_argument("--escape-model-steps", type=int, help="horizon of each escape path there (default 500)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--paper",
        choices=("table1", "table2", "table3"),
        help="instead of the bundled default, one of Battash et al.'s tables as the paper ran it (ResNets on "
        "CIFAR-100 / CINIC-10, BERT-base on CoLA); says what data is missing and where to put it",
    )
    p.add_argument("--data-root", type=Path, help="folder holding the paper's data sets (with --paper)")
    p.add_argument(
        "--stand-in", action="store_true", help="with --paper: the same code path on bundled stand-ins, small"
    )
    add_executor_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sgdnoise.report.tables import console as report_console
    from sgdnoise.studies.reproduce import estimate_seconds, run_paper, run_reproduce, size_for

    if args.paper:
        console = report_console()
        paper = run_paper(
            args.paper, args.out, data_root=args.data_root, stand_in=args.stand_in, seed=args.seed, console=console
        )
        console.print(f"report: open {paper.files['html']} in a browser")
        return 0
    if args.stand_in or args.data_root:
        from sgdnoise.errors import ConfigError

        raise ConfigError("--stand-in and --data-root go with --paper table1|table2|table3")

    size = size_for(
        args.size,
        rows=args.rows,
        batches=args.batches,
        epochs=args.epochs,
        paths=args.paths,
        zhu_steps=args.zhu_steps,
        decay_epochs=args.decay_epochs,
        escape_model_seeds=args.escape_model_seeds,
        escape_model_steps=args.escape_model_steps,
    )
    console = report_console()
    console.print(
        f"reproduce ({args.size} size): about {estimate_seconds(size) / 60:.0f} min on 2 CPU cores "
        "(finished steps in the output folder are read back, not recomputed)"
    )
    run = run_reproduce(args.out, size, seed=args.seed, console=console)
    console.print(f"report: open {run.files['html']} in a browser (also {run.files['markdown'].name}, manifest.json)")
    return 0
