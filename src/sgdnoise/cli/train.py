"""``sgdnoise train``: train a named model on a named dataset with plain SGD, resumably.

    sgdnoise train --model resnet20 --data cifar10 --data-opt root=~/data --epochs 90 \\
        --lr 0.1 --batch-size 128 --milestones 30 60 --out runs/r20

Writes ``last.pt`` (resumable), ``metrics.csv``, ``model.pt`` and ``manifest.json`` (whose
``metadata`` records the model and data names and options) into ``--out``; running the same
command again resumes after the last finished epoch.

With ``--monitor`` the noise monitor (``sgdnoise.monitor``, docs/monitor.md) measures α, scale,
β and the noise scale per layer while the network trains — every ``--monitor-every`` optimizer
steps, at the ends of the ``--monitor-epochs``, where the learning rate changes (and
``--monitor-after-milestone`` steps later) and at the end —
from ``--monitor-batches`` extra mini-batches on ``--monitor-entries`` entries per tensor, and
writes ``monitor.parquet``, ``monitor_entries.parquet``, TensorBoard events under ``tb/`` and
``monitor_alpha.png`` and ``.svg`` (α per layer over training, the learning rate below). Training is not
changed: ``model.pt`` is the same, bit for bit, as without ``--monitor``.
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
    m = p.add_argument_group("noise monitor")
    m.add_argument(
        "--monitor",
        action="store_true",
        help="measure the gradient noise per layer while training (monitor.parquet, tb/, monitor_alpha.png)",
    )
    m.add_argument(
        "--monitor-every", type=int, default=2000, metavar="N", help="measure every N optimizer steps (default 2000)"
    )
    m.add_argument(
        "--monitor-epochs",
        type=int,
        nargs="*",
        default=[],
        metavar="E",
        help="also measure at the end of these 1-based epochs",
    )
    m.add_argument(
        "--monitor-after-milestone",
        type=int,
        nargs="*",
        default=[],
        metavar="S",
        help="also measure S optimizer steps after each learning-rate change",
    )
    m.add_argument(
        "--monitor-batches",
        type=int,
        default=64,
        metavar="K",
        help="mini-batches per measurement, each of the training batch size (default 64, at least 20)",
    )
    m.add_argument(
        "--monitor-entries", type=int, default=32, metavar="N", help="sampled entries per parameter tensor (default 32)"
    )
    m.add_argument(
        "--monitor-hessian", action="store_true", help="also the top Hessian eigenvalue at each measurement (slower)"
    )
    m.add_argument(
        "--monitor-laws",
        action="store_true",
        help="also which law (Gaussian, SαS, stable, Student-t, mixture) wins per entry and layer (much slower)",
    )
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
    monitor = hook = None
    if args.monitor:
        from sgdnoise.monitor import MonitorSchedule, NoiseMonitor
        from sgdnoise.monitor.train_hook import TrainHook

        schedule = MonitorSchedule(
            every=args.monitor_every,
            epochs=tuple(args.monitor_epochs),
            after_lr_change=tuple(args.monitor_after_milestone),
        )
        monitor = NoiseMonitor(
            data,
            out=args.out,
            schedule=schedule,
            num_batches=args.monitor_batches,
            entries=args.monitor_entries,
            seed=args.seed,
            hessian=args.monitor_hessian,
            laws=args.monitor_laws,
            resume=not args.no_resume,
        )
        hook = TrainHook(monitor, model, config, num_points=len(data))
        metadata["monitor"] = {
            "schedule": schedule.to_dict(),
            "num_batches": args.monitor_batches,
            "entries": args.monitor_entries,
            "hessian": args.monitor_hessian,
            "laws": args.monitor_laws,
        }
    try:
        result = train(model, data, config, eval_data=test, metadata=metadata, on_step=hook)
    except BaseException:
        if monitor is not None:  # its Parquet files are complete; flush the TensorBoard events
            monitor.close()
        raise

    columns = ["epoch", "lr", "batch_size", "train_loss", "train_accuracy"] + (
        [] if test is None else ["test_loss", "test_accuracy"]
    )
    history = result.history[columns].rename(columns=lambda c: c.replace("accuracy", "acc").replace("_", " "))
    Console().print(frame_table(history, f"{args.model} on {data.info.name}: {result.checkpoint_dir}"))
    if result.resumed_from_epoch:
        Console().print(f"resumed after epoch {result.resumed_from_epoch} from {result.checkpoint_dir / 'last.pt'}")
    if monitor is not None:
        _finish_monitor(monitor, hook, model, result, Console())
    return 0


def _finish_monitor(monitor, hook, model, result, console) -> None:
    """The final measurement, the figure and a table of the last measurement."""
    from pathlib import Path

    from sgdnoise.monitor.monitor import ENTRIES_FILE, LAYERS_FILE, TENSORBOARD_DIR
    from sgdnoise.report import frame_table
    from sgdnoise.report.figures import alpha_over_training

    monitor.finish(model)
    frame = monitor.frame
    if frame.empty:
        console.print("noise monitor: no step was measured")
        return
    out = Path(result.checkpoint_dir)
    figure = alpha_over_training(frame, out / "monitor_alpha.png", *hook.lr_schedule())
    last = frame[frame["step"] == frame["step"].max()]
    shown = {"layer": "layer", "alpha": "α", "alpha_q25": "α q25", "alpha_q75": "α q75", "scale": "scale"}
    shown |= {"beta": "β", "n_degenerate": "degenerate", "b_simple_layer": "B_simple"}
    title = f"gradient noise at step {int(last['step'].iloc[0])} (B_simple {last['b_simple'].iloc[0]:.4g})"
    console.print(frame_table(last[list(shown)].rename(columns=shown), title))
    count = frame["step"].nunique()
    console.print(
        f"noise monitor: {count} measurement{'s' * (count != 1)}, {monitor.seconds:.1f} s; "
        f"{out / LAYERS_FILE}, {out / ENTRIES_FILE}, {out / TENSORBOARD_DIR}/, {figure}"
        + ("; pass --monitor-every N to measure more often" if count < 3 else "")
    )
