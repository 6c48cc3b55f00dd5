"""``train(model, data, config)``: plain mini-batch SGD, checkpointed and resumable.

Each epoch ``e`` draws a fresh permutation of the ``N`` training points from a generator seeded
with ``config.seed`` and walks it in mini-batches of ``B_e = config.batch_size_at(e)``; each
step is ``w ← w − η_e ∇_w (1/B_e) Σ_{ℓ∈Ω} loss_ℓ(w)`` (``torch.optim.SGD``, no momentum, no
weight decay, as in Battash et al.). After every epoch the full state goes to ``last.pt``; a
later call with the same ``checkpoint_dir`` continues from it and produces bit-for-bit the
run that was never interrupted.

Modes: the epochs run with every module in train mode (``model.train()``: dropout on, BatchNorm
on batch statistics, updating its running ones), the test passes in eval mode. The model comes
back with every submodule in the mode it was given in (a BatchNorm frozen in eval inside a model
in train mode stays frozen), also when training stops with an error.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from sgdnoise.errors import ConvergenceError, InvalidInputError
from sgdnoise.models.checkpoint import MODEL_STATE_KEY, save_checkpoint
from sgdnoise.plumbing import LossFn, as_data_source, default_loss, module_mode
from sgdnoise.rng import as_generator
from sgdnoise.store import manifest, write_json, write_table
from sgdnoise.training.config import TrainConfig
from sgdnoise.training.result import HISTORY_COLUMNS, TrainResult
from sgdnoise.training.state import LAST, restore_state, save_state


@dataclass(frozen=True)
class StepInfo:
    """Passed to ``on_step`` after each optimizer step (``epoch``, ``step`` are 1-based)."""

    epoch: int
    step: int
    loss: float
    lr: float
    batch_size: int


def train(
    model: nn.Module,
    data: Any,
    config: TrainConfig,
    *,
    eval_data: Any = None,
    loss_fn: LossFn | None = None,
    on_step: Callable[[StepInfo], None] | None = None,
    metadata: dict[str, Any] | None = None,
) -> TrainResult:
    """Train ``model`` in place on ``data`` with ``config``; return a :class:`TrainResult`.

    ``data``/``eval_data``: ``(inputs, targets)`` tensors, a ``TensorDataset`` (e.g. from
    :func:`sgdnoise.data.load_dataset`), a map-style ``Dataset``, a ``DataLoader`` or a list of
    batches (:func:`sgdnoise.plumbing.as_data_source`; stacked once into tensors on the device).
    ``loss_fn(outputs, targets)`` must return the mean loss; by default cross-entropy for int64
    class labels, mean-squared error otherwise. ``on_step`` is called after each step (raising
    from it stops training; finished epochs stay in the checkpoint). ``metadata`` (e.g. model
    and data names) goes into ``manifest.json``.

    Raises :class:`InvalidInputError` when a batch size exceeds the data or outputs do not fit
    the targets, :class:`ConvergenceError` when the loss becomes NaN/Inf (naming epoch and step;
    the last finished epoch is still in ``last.pt``), :class:`ConfigError` when ``checkpoint_dir``
    holds a run with other settings.
    """
    if not isinstance(config, TrainConfig):
        raise InvalidInputError(f"config must be a TrainConfig; got {type(config).__name__}")
    if not any(p.requires_grad for p in model.parameters()):
        raise InvalidInputError(f"{type(model).__name__} has no trainable parameters")
    device = torch.device(config.device)
    x, y = _tensors(data, "data", device)
    evaluation = _tensors(eval_data, "eval_data", device) if eval_data is not None else None
    _check_batch_sizes(config, len(x))
    loss_fn = loss_fn or default_loss(y)
    model.to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=0.0, weight_decay=0.0)
    shuffle_rng = as_generator(config.seed)
    out = Path(config.checkpoint_dir).expanduser() if config.checkpoint_dir else None

    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), module_mode(model, "train"):
        torch.manual_seed(config.seed)
        start, history = 0, []
        if out is not None and config.resume and (out / LAST).is_file():
            start, history = restore_state(
                out / LAST, model=model, optimizer=optimizer, shuffle_rng=shuffle_rng, config=config
            )
        if out is not None:
            _write_manifest(out, config, metadata, status="running")
        with _progress(config.progress, config.epochs, start) as advance:
            for epoch in range(start, config.epochs):
                row = _run_epoch(model, optimizer, loss_fn, x, y, epoch, config, shuffle_rng, on_step, out, advance)
                if evaluation is not None:
                    row["test_loss"], row["test_accuracy"] = evaluate(
                        model, loss_fn, *evaluation, batch_size=config.eval_batch_size
                    )
                history.append(row)
                if out is not None:
                    _write_epoch(out, model, optimizer, shuffle_rng, epoch + 1, history, config)
    if out is not None:
        save_checkpoint(model, out / "model.pt")
        _write_manifest(out, config, metadata, status="finished", epochs_completed=config.epochs)
    return TrainResult(model, _frame(history), config, start, out)


def _write_manifest(out: Path, config: TrainConfig, metadata: dict[str, Any] | None, **status: Any) -> None:
    """``manifest.json``: the config, its seed, ``metadata`` and how far the run is (``status``)."""
    write_json(manifest(config.to_dict(), seed=config.seed, metadata=metadata or {}, **status), out / "manifest.json")


def _tensors(data: Any, label: str, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """All of ``data`` as one ``(inputs, targets)`` pair on ``device``; errors name the argument."""
    try:
        return as_data_source(data).tensors(device)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{label}: {exc}") from exc


@torch.no_grad()
def evaluate(
    model: nn.Module, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 1024
) -> tuple[float, float]:
    """Mean loss and accuracy (NaN for float targets) of ``model`` in eval mode over ``(x, y)``;
    every submodule gets its own mode back, also on error."""
    total_loss, correct = 0.0, 0
    with module_mode(model, "eval"):
        for i in range(0, len(x), batch_size):
            out = model(x[i : i + batch_size])
            total_loss += float(loss_fn(out, y[i : i + batch_size])) * len(out)
            if not y.is_floating_point():
                correct += int((out.argmax(dim=1) == y[i : i + batch_size]).sum())
    return total_loss / len(x), (correct / len(x) if not y.is_floating_point() else math.nan)


def _run_epoch(model, optimizer, loss_fn, x, y, epoch, config, shuffle_rng, on_step, out, advance) -> dict[str, Any]:
    started = time.perf_counter()
    lr, batch = config.lr_at(epoch), config.batch_size_at(epoch)
    for group in optimizer.param_groups:
        group["lr"] = lr
    order = torch.randperm(len(x), generator=shuffle_rng).to(x.device)
    steps = len(x) // batch if config.drop_last else math.ceil(len(x) / batch)
    loss_sum, correct, seen = 0.0, 0, 0
    for step in range(steps):
        idx = order[step * batch : (step + 1) * batch]
        outputs = model(x[idx])
        loss = _loss(loss_fn, outputs, y[idx])
        value = float(loss.detach())
        if not math.isfinite(value):
            where = (
                f"the last finished epoch ({epoch}) is in {out / LAST}"
                if out is not None and epoch > 0
                else "no epoch had finished"
            )
            raise ConvergenceError(
                f"training loss is {value} at epoch {epoch + 1}, step {step + 1} (lr {lr:g}, batch size {batch}); "
                f"{where}. "
                "Lower the learning rate or check the data for NaN/Inf"
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += value * len(idx)
        seen += len(idx)
        if not y.is_floating_point():
            correct += int((outputs.detach().argmax(dim=1) == y[idx]).sum())
        advance(epoch, step + 1, steps, value)
        if on_step is not None:
            on_step(StepInfo(epoch + 1, step + 1, value, lr, batch))
    return {
        "epoch": epoch + 1,
        "lr": lr,
        "batch_size": batch,
        "steps": steps,
        "train_loss": loss_sum / seen,
        "train_accuracy": correct / seen if not y.is_floating_point() else math.nan,
        "test_loss": math.nan,
        "test_accuracy": math.nan,
        "seconds": time.perf_counter() - started,
    }


def _loss(loss_fn: LossFn, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    try:
        loss = loss_fn(outputs, targets)
    except (RuntimeError, ValueError, IndexError) as exc:
        raise InvalidInputError(
            f"the loss cannot compare model outputs of shape {tuple(outputs.shape)} with targets of shape "
            f"{tuple(targets.shape)} "
            f"({exc}); build the model with as many outputs as the data has classes (or targets)"
        ) from exc
    if loss.ndim != 0:
        raise InvalidInputError(f"loss_fn must return the mean loss (a scalar); got shape {tuple(loss.shape)}")
    return loss


def _check_batch_sizes(config: TrainConfig, n: int) -> None:
    for epoch in [0, *config.batch_milestones]:
        if epoch < config.epochs and config.batch_size_at(epoch) > n:
            raise InvalidInputError(
                f"batch size {config.batch_size_at(epoch)} (epoch {epoch + 1}) is larger than the {n} training points; "
                "lower batch_size, batch_factor or move batch_milestones past the last epoch"
            )


def _write_epoch(
    out: Path, model, optimizer, shuffle_rng, epochs_done: int, history: list[dict], config: TrainConfig
) -> None:
    """Per-epoch files; ``last.pt`` is written last, so it is the commit point of the epoch."""
    if config.keep_checkpoints == "all":
        save_checkpoint(
            {MODEL_STATE_KEY: model.state_dict(), "epoch": epochs_done}, out / f"epoch_{epochs_done:04d}.pt"
        )
    write_table(_frame(history), out / "metrics.csv")
    save_state(
        out / LAST,
        model=model,
        optimizer=optimizer,
        shuffle_rng=shuffle_rng,
        epoch=epochs_done,
        history=history,
        config=config,
    )


def _frame(history: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(history, columns=list(HISTORY_COLUMNS))


@contextlib.contextmanager
def _progress(enabled: bool, epochs: int, start: int) -> Iterator[Callable[[int, int, int, float], None]]:
    """A rich progress bar over epochs (or a no-op); yields ``advance(epoch, step, steps, loss)``."""
    if not enabled:
        yield lambda *_: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=False
    ) as bar:
        epochs_task = bar.add_task("epochs", total=epochs, completed=start)
        steps_task = bar.add_task("steps", total=None)

        def advance(epoch: int, step: int, steps: int, loss: float) -> None:
            bar.update(steps_task, total=steps, completed=step, description=f"epoch {epoch + 1} loss {loss:.4f}")
            if step == steps:
                bar.update(epochs_task, completed=epoch + 1)

        yield advance
