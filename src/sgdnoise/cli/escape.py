"""``sgdnoise escape``: does the measured α predict how SGD escapes a minimum? (Battash et al.'s Lévy framework)"""

from __future__ import annotations

import argparse
from pathlib import Path

from sgdnoise.cli.options import add_executor_options, add_fit_method, add_network_options, network_options


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "escape",
        help="measure α, basins and Lévy predictions at a minimum, and compare SGD with Lévy and Gaussian models",
        description="Train a model with plain SGD (or load --checkpoint) to a minimum; fit SαS laws to every "
        "parameter's noise, find basin half-widths along every coordinate, predict exit parameters and escape "
        "time, and run SGD, GD + SαS noise and GD + Gaussian noise from the minimum on the same seeds.",
    )
    p.add_argument("--model", default="mlp", help="model name (default mlp)")
    p.add_argument("--data", default="breast_cancer", help="dataset name or path (default breast_cancer)")
    p.add_argument(
        "--checkpoint", help="weights to load (state_dict, e.g. from `sgdnoise train`); default: train first"
    )
    p.add_argument("--epochs", type=int, default=200, help="training epochs when no checkpoint is given")
    p.add_argument(
        "--also-epochs",
        type=int,
        nargs="+",
        default=(),
        help="also run the study at the minima these (fewer) training epochs reach: results per minimum in "
        "OUT/epochs=N and their comparison in OUT/levels.csv",
    )
    p.add_argument("--train-lr", type=float, default=0.05, help="training learning rate")
    p.add_argument("--train-batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.4, help="learning rate η of the escape runs")
    p.add_argument("--batch-size", type=int, default=8, help="SGD batch size B of the escape runs and noise fits")
    p.add_argument("--delta-loss", type=float, help="escape when the loss rises by this much (absolute)")
    p.add_argument("--threshold", type=float, default=2.0, help="else escape at threshold × the minimum's loss")
    p.add_argument("--batches", type=int, default=1000, help="noise mini-batches K of the fits")
    p.add_argument("--seeds", type=int, default=256, help="seeds per model")
    p.add_argument("--max-steps", type=int, default=5000, help="horizon of each escape run")
    p.add_argument("--rho", type=float, default=0.5, help="large-jump exponent ρ of the theory (0 < ρ < 1)")
    p.add_argument("--cap", type=float, default=64.0, help="largest single-weight displacement of the basin search")
    add_fit_method(p)
    p.add_argument("--seed", type=int, default=0)
    add_network_options(p)
    p.add_argument("--out", type=Path, default=Path("results/escape_model"), help="output folder")
    add_executor_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sgdnoise.experiments.escape_model import EscapeModelConfig
    from sgdnoise.experiments.escape_recipe import EscapeRecipe, run_escape_levels, run_escape_recipe
    from sgdnoise.report.tables import console as report_console

    model_options, data_options = network_options(args)
    recipe = EscapeRecipe(
        model=args.model,
        data=args.data,
        model_options=model_options or ({"depth": 2, "width": 32} if args.model == "mlp" else {}),
        data_options=data_options,
        checkpoint=args.checkpoint,
        epochs=args.epochs,
        train_lr=args.train_lr,
        train_batch_size=args.train_batch_size,
    )
    console = report_console()
    config = EscapeModelConfig(
        lr=args.lr,
        batch_size=args.batch_size,
        delta_loss=args.delta_loss,
        threshold=args.threshold,
        num_batches=args.batches,
        n_seeds=args.seeds,
        max_steps=args.max_steps,
        seed=args.seed,
        rho=args.rho,
        cap=args.cap,
        fit_method=args.method,
        progress=console.is_terminal,
    )
    result = run_escape_recipe(recipe, config)
    paths = result.write(args.out)
    inputs, pred = result.inputs, result.predictions
    console.print(
        f"minimum: loss {inputs.min_loss:.4g}, escape level {inputs.level:.4g}; {inputs.dim} parameters, "
        f"{int(inputs.degenerate.sum())} degenerate, {int(inputs.at_bound.sum())} with α at the fit bound 0.5, "
        f"open sides {int(inputs.basin.open_lower.sum())} down / {int(inputs.basin.open_upper.sum())} up"
    )
    console.print(
        f"Lévy prediction: mean escape {pred.mean_escape_steps:.4g} steps; Cor. 4.2 bound "
        f"{pred.mean_escape_bound_steps:.4g} {pred.bound_note}"
    )
    console.print(result.comparison.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    console.print(f"results in {args.out}: {', '.join(p.name for p in paths.values())}")
    if args.also_epochs:
        levels = run_escape_levels(recipe, config, args.also_epochs, known={f"epochs={args.epochs}": result})
        written = levels.write(args.out)
        console.print(levels.levels.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        console.print(f"dependence on the minimum: {written['levels']}")
    return 0
