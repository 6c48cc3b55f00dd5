"""``sgdnoise measure``: gradient noise of a (trained) network, fitted per sampled parameter."""

from __future__ import annotations

import argparse
from pathlib import Path

from sgdnoise.cli.options import (
    LAW_CHOICES,
    ChoicesOf,
    add_executor_options,
    add_fit_method,
    add_law_option,
    add_network_options,
    network_options,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "measure",
        help="collect and fit the gradient noise of a network, per sampled parameter",
        description="Train a model with plain SGD (or load --checkpoint), collect the noise of K random mini-batches "
        "for --per-layer sampled entries of every parameter tensor, and fit Gaussian and SαS laws to each.",
    )
    p.add_argument("--model", default="mlp", help="model name (mlp, cnn, resnet20, ...; default mlp)")
    p.add_argument("--data", default="digits", help="dataset name or path (default digits)")
    p.add_argument(
        "--checkpoint", help="weights to load (state_dict, e.g. from `sgdnoise train`); default: train first"
    )
    p.add_argument("--epochs", type=int, default=30, help="training epochs when no checkpoint is given")
    p.add_argument("--lr", type=float, default=0.05, help="training learning rate")
    p.add_argument("--train-batch-size", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=32, help="noise mini-batch size B")
    p.add_argument("--batches", type=int, default=1000, help="number of noise mini-batches K")
    p.add_argument("--per-layer", type=int, default=16, help="sampled entries per parameter tensor")
    add_fit_method(p)
    add_law_option(p, "all", "the Gaussian-vs-SαS table is always written too")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--memory-mib",
        type=int,
        default=1024,
        help="working memory of the gradient engine in MiB (default 1024); larger mini-batches are split",
    )
    p.add_argument(
        "--engine",
        choices=ChoicesOf("sgdnoise.gradients.planning", "METHODS"),
        default="auto",
        metavar="ENGINE",
        help="gradient engine: %(choices)s (default auto: entries when the mini-batches draw each point often "
        "enough for their size, else vmap or the loop; docs/gradients.md)",
    )
    add_network_options(p)
    p.add_argument("--out", type=Path, default=Path("results/noise_fits"), help="output folder")
    add_executor_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sgdnoise.experiments.noise_fits import NoiseFitConfig, run_noise_fits
    from sgdnoise.report import fits_table, laws_summary_table, summary_table
    from sgdnoise.report.tables import console as report_console
    from sgdnoise.report.tables import layers_table

    model_options, data_options = network_options(args)
    config = NoiseFitConfig(
        model=args.model,
        data=args.data,
        model_options=model_options,
        data_options=data_options,
        checkpoint=args.checkpoint,
        epochs=args.epochs,
        lr=args.lr,
        train_batch_size=args.train_batch_size,
        batch_size=args.batch_size,
        num_batches=args.batches,
        per_layer=args.per_layer,
        method=args.method,
        seed=args.seed,
        memory_budget=args.memory_mib << 20,
        engine=args.engine,
        laws=LAW_CHOICES[args.law],
    )
    console = report_console()
    result = run_noise_fits(config, progress=console.is_terminal)
    paths = result.write(args.out)
    t = result.training
    console.print(
        f"{config.model} on {config.data}: train accuracy {t['train_accuracy']:.3f}, "
        f"test accuracy {t['test_accuracy']:.3f}"
    )
    c = result.collection
    console.print(
        f"noise of {config.num_batches} mini-batches of {config.batch_size}: {c['engine']} engine, "
        f"{c['chunk_size']} mini-batches per chunk, {c['seconds']:.1f} s"
    )
    console.print(fits_table(result.fits, max_rows=12))
    console.print(layers_table(result.layers))
    console.print(summary_table(result.summary))
    console.print(laws_summary_table(result.laws_summary))
    console.print(f"results in {args.out}: {', '.join(p.name for p in paths.values())}")
    return 0
