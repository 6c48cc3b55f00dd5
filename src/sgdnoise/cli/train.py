"""``sgdnoise train``: train a named model on a named dataset with plain SGD, resumably.

    sgdnoise train --model resnet20 --data cifar10 --data-opt root=~/data --epochs 90 \\
        --lr 0.1 --batch-size 128 --milestones 30 60 --out runs/r20

Writes ``last.pt`` (resumable), ``metrics.csv``, ``model.pt`` and ``manifest.json`` (whose
``metadata`` records the model and data names and options) into ``--out``; running the same
command again resumes after the last finished epoch.
"""

from __future__ import annotations

import argparse

from sgdnoise.cli.options import add_network_options, network_options


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a model with plain SGD (checkpointed, resumable)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", required=True, help="model name (mlp, cnn, resnet20, resnet18, …)")
    p.add_argument("--data", required=True, help="dataset name (digits, mnist_5k, cifar10, …) or a file/folder path")
    p.add_argument("--epochs", type=int, required=True)
    p.add_argument("--lr", type=float, required=True, help="initial learning rate")
    p.add_argument("--batch-size", type=int, required=True, help="initial batch size")
    p.add_argument(
        "--milestones",
        type=int,
        nargs="*",
        default=[],
        help="0-based epoch indices where the learning rate is multiplied by --lr-factor",
    )
    p.add_argument("--lr-factor", type=float, default=0.1)
    p.add_argument(
        "--batch-milestones",
        type=int,
        nargs="*",
        default=[],
        help="epoch indices where the batch size is multiplied by --batch-factor",
    )
    p.add_argument("--batch-factor", type=int, default=10)
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the data split, the shuffling and the model initialisation"
    )
    p.add_argument("--out", required=True, help="output folder (checkpoints, metrics, manifest)")
    add_network_options(p)
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--keep",
        choices=("last", "all"),
        default="last",
        help="keep only last.pt, or the weights after every epoch too",
    )
    p.add_argument("--no-eval", action="store_true", help="do not evaluate on the test split after each epoch")
    p.add_argument("--no-resume", action="store_true", help="start over even if --out holds a checkpoint")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from sgdnoise.data import load_dataset
    from sgdnoise.experiments.networks import network_for
    from sgdnoise.report import frame_table
    from sgdnoise.training import TrainConfig, train

    model_opts, data_opts = network_options(args)
    config = TrainConfig(
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        lr_milestones=tuple(args.milestones),
        lr_factor=args.lr_factor,
        batch_milestones=tuple(args.batch_milestones),
        batch_factor=args.batch_factor,
        seed=args.seed,
        device=args.device,
        checkpoint_dir=args.out,
        keep_checkpoints=args.keep,
        resume=not args.no_resume,
        progress=not args.no_progress,
    )
    data = load_dataset(args.data, split="train", **data_opts)
    test = None if args.no_eval else load_dataset(args.data, split="test", **data_opts)
    model = network_for(data.info, args.model, seed=args.seed, options=model_opts)
    metadata = {
        "model": args.model,
        "model_options": model_opts,
        "data": str(args.data),
        "data_options": data_opts,
        "dataset": data.info.to_dict(),
    }
    result = train(model, data, config, eval_data=test, metadata=metadata)

    columns = ["epoch", "lr", "batch_size", "train_loss", "train_accuracy"] + (
        [] if test is None else ["test_loss", "test_accuracy"]
    )
    history = result.history[columns].rename(columns=lambda c: c.replace("accuracy", "acc").replace("_", " "))
    Console().print(frame_table(history, f"{args.model} on {data.info.name}: {result.checkpoint_dir}"))
    if result.resumed_from_epoch:
        Console().print(f"resumed after epoch {result.resumed_from_epoch} from {result.checkpoint_dir / 'last.pt'}")
    return 0
