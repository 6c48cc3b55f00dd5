"""``NoiseMonitor``: α, scale, β and the noise scale per layer while a network trains.

The way in for a plain PyTorch loop::

    monitor = NoiseMonitor((X, y), out="runs/mlp")          # default schedule: every 2000 steps
    for epoch in range(epochs):
        for xb, yb in loader:
            loss = loss_fn(model(xb), yb)
            optimizer.zero_grad(); loss.backward(); optimizer.step()
            monitor.step(model, loss_fn, (xb, yb), lr=optimizer.param_groups[0]["lr"], epoch=epoch + 1)
        monitor.epoch_end(model, loss_fn, epoch=epoch + 1)
    monitor.finish(model, loss_fn)                           # the final weights; closes the files

or, instead of calling ``step``, ``monitor.attach(optimizer, model, loss_fn)`` (an optimizer
post-step hook). :mod:`sgdnoise.monitor.lightning` and :mod:`sgdnoise.monitor.huggingface` wrap
the same object as callbacks.

The monitor never changes training: each measurement (:func:`~sgdnoise.monitor.estimate.measure_noise`)
draws its mini-batches and entries from a generator of its own, seeded from ``(seed, step)`` — so a
measurement depends on the seed, the step and the weights only, also in a resumed run — restores
PyTorch's global generator, gives every module its mode back, and computes gradients with
``torch.autograd.grad`` (no ``.grad`` is written).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from sgdnoise.errors import InvalidInputError
from sgdnoise.monitor.estimate import NoiseSnapshot, measure_noise
from sgdnoise.monitor.schedule import MonitorSchedule
from sgdnoise.monitor.table import MonitorTable
from sgdnoise.plumbing import LossFn, as_indexed_source, default_loss, positive_int
from sgdnoise.rng import derived_seed

LAYERS_FILE = "monitor.parquet"
ENTRIES_FILE = "monitor_entries.parquet"
TENSORBOARD_DIR = "tb"
DEFAULT_BATCHES = 64
DEFAULT_ENTRIES = 32
MILESTONE_PLATEAU = 2  # steps a rate must hold before its change counts as a milestone


class NoiseMonitor:
    """Measure the gradient noise of a training run on a schedule; log to Parquet and TensorBoard.

    Parameters
    ----------
    data : the training data, by index: ``(X, y)`` tensors, a map-style ``Dataset`` of ``(x, y)``
        pairs or a ``DataLoader`` over one (its dataset; the loader itself is never iterated, so
        its sampler and generator are untouched).
    out : folder for ``monitor.parquet`` (one row per measured step and layer),
        ``monitor_entries.parquet`` (one row per measured step and sampled entry) and, with
        ``tensorboard``, event files under ``out/tb``; ``None`` keeps the rows in memory only.
    schedule : :class:`MonitorSchedule` (default: every 2000 steps, at LR changes, at the end).
    batch_size : ``B`` of the monitor's mini-batches; default: the training batch's size, read
        from the first ``batch`` given to :meth:`step` (else 32).
    num_batches : ``K`` mini-batches per measurement (≥ 20), default 64.
    entries : sampled entries per parameter tensor, default 32.
    seed : seeds each measurement's generator with ``derived_seed(seed, step)``.
    exact_gradient : compute the full-data gradient for the noise scale's ``‖G‖²`` (one pass over
        the data per measurement); α, scale and β do not depend on it.
    hessian : also the top Hessian eigenvalue (Lanczos on ``hessian_points`` of the monitor's points).
    laws : also which law fits each entry best, and the share each law wins per layer
        (:func:`~sgdnoise.monitor.estimate.measure_noise`; far costlier than the rest).
    loss_fn : default loss for :meth:`step` calls that give none; default: cross-entropy for integer
        targets, mean-squared error otherwise.
    tensorboard : write TensorBoard events under ``out/tb`` (needs the ``tensorboard`` package).
    resume : continue the tables already in ``out`` (a resumed training run) instead of replacing them.
    strip_prefix : removed from the front of parameter names in the logs (a wrapper's ``model.``).

    After the run, :attr:`frame` and :attr:`entries_frame` hold every row, :attr:`seconds` the
    time spent measuring.
    """

    def __init__(
        self,
        data: Any,
        *,
        out: str | os.PathLike | None = None,
        schedule: MonitorSchedule | None = None,
        batch_size: int | None = None,
        num_batches: int = DEFAULT_BATCHES,
        entries: int = DEFAULT_ENTRIES,
        seed: int = 0,
        exact_gradient: bool = False,
        hessian: bool = False,
        hessian_points: int = 256,
        laws: bool = False,
        loss_fn: LossFn | None = None,
        tensorboard: bool = True,
        resume: bool = True,
        strip_prefix: str = "",
    ) -> None:
        self.source = as_indexed_source(data)
        self.data = data
        self.schedule = schedule if schedule is not None else MonitorSchedule()
        if not isinstance(self.schedule, MonitorSchedule):
            raise InvalidInputError(f"schedule must be a MonitorSchedule; got {type(self.schedule).__name__}")
        if batch_size is not None:
            positive_int(batch_size, "batch_size")
            self.check_batch_size(batch_size)
        positive_int(num_batches, "num_batches")
        positive_int(entries, "entries")
        positive_int(hessian_points, "hessian_points")
        if num_batches < 20:
            raise InvalidInputError(
                f"num_batches must be at least 20 (each entry's fit needs K ≥ 20); got {num_batches}"
            )
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise InvalidInputError(f"seed must be a non-negative int; got {seed!r}")
        self.batch_size = batch_size
        self.num_batches = num_batches
        self.entries = entries
        self.seed = seed
        self.exact_gradient = bool(exact_gradient)
        self.hessian = bool(hessian)
        self.hessian_points = hessian_points
        self.laws = bool(laws)
        self.loss_fn = loss_fn
        self.strip_prefix = strip_prefix
        self.out = None if out is None else Path(out).expanduser()
        self._layers = MonitorTable(None if self.out is None else self.out / LAYERS_FILE, resume=resume)
        self._entries = MonitorTable(None if self.out is None else self.out / ENTRIES_FILE, resume=resume)
        self._tb = None
        if tensorboard and self.out is not None:
            from sgdnoise.monitor.tensorboard_log import TensorBoardLog

            self._tb = TensorBoardLog(self.out / TENSORBOARD_DIR)
        self.current_step = 0
        self.current_epoch: int | None = None
        self.last_lr: float | None = None
        self.lr_held = 0  # reported steps the current rate has held
        self.lr_changed_at: int | None = None
        self.measured_steps: list[int] = []
        self.seconds = 0.0

    # ---------------------------------------------------------------- the ways in
    def step(
        self,
        model: nn.Module,
        loss_fn: LossFn | None = None,
        batch: Any = None,
        *,
        step: int | None = None,
        lr: float | None = None,
        epoch: int | None = None,
    ) -> NoiseSnapshot | None:
        """Call after each optimizer step; measures when the schedule says so.

        ``batch``: the training batch ``(inputs, targets, ...)`` of the step (only its size is
        read, for the default ``batch_size``). ``step``: the 1-based optimizer step (default: one
        more than the last call). ``lr``: the optimizer's learning rate now (for LR-change
        measurements and the logs). ``epoch``: the 1-based epoch, for the logs. Returns the measurement or ``None``.
        """
        self.current_step = self.current_step + 1 if step is None else int(step)
        if epoch is not None:
            self.current_epoch = int(epoch)
        if self.batch_size is None and batch is not None:
            self.batch_size = self.check_batch_size(batch_length(batch))
        # a milestone: the rate changes after holding for at least two reported steps, so a rate
        # that moves at every step (linear or cosine decay, warm-up) is no milestone
        new = lr is not None and self.last_lr is not None and float(lr) != self.last_lr
        changed = new and self.lr_held >= MILESTONE_PLATEAU
        if lr is not None:
            self.lr_held = 1 if new or self.last_lr is None else self.lr_held + 1
            self.last_lr = float(lr)
        if changed:
            self.lr_changed_at = self.current_step
        since = None if self.lr_changed_at is None else self.current_step - self.lr_changed_at
        reason = self.schedule.due_at_step(self.current_step, changed, since)
        if reason is None:
            return None
        return self.measure(model, loss_fn, reason=reason)

    def epoch_end(self, model: nn.Module, loss_fn: LossFn | None = None, *, epoch: int) -> NoiseSnapshot | None:
        """Call at the end of 1-based epoch ``epoch``; measures if the schedule lists it."""
        self.current_epoch = int(epoch)
        reason = self.schedule.due_at_epoch_end(int(epoch))
        if reason is None or self._measured_now():
            return None
        return self.measure(model, loss_fn, reason=reason)

    def finish(self, model: nn.Module | None = None, loss_fn: LossFn | None = None) -> NoiseSnapshot | None:
        """Call when training ends: measures the final weights (``schedule.at_end``, unless this
        step was measured or no step was taken) and closes the TensorBoard files."""
        snap = None
        if model is not None and self.schedule.at_end and self.current_step > 0 and not self._measured_now():
            snap = self.measure(model, loss_fn, reason="end")
        self.close()
        return snap

    def attach(self, optimizer: torch.optim.Optimizer, model: nn.Module, loss_fn: LossFn | None = None):
        """Call :meth:`step` after every ``optimizer.step()`` (with the first group's learning rate);
        returns the hook's handle (``handle.remove()`` detaches it)."""

        def hook(opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
            self.step(model, loss_fn, lr=opt.param_groups[0]["lr"])

        return optimizer.register_step_post_hook(hook)

    # ---------------------------------------------------------------- measuring
    def measure(self, model: nn.Module, loss_fn: LossFn | None = None, *, reason: str = "manual") -> NoiseSnapshot:
        """Measure now, at :attr:`current_step`, and log the rows (tagged with ``reason``)."""
        started = time.perf_counter()
        loss_fn = self._loss(loss_fn)
        generator = torch.Generator().manual_seed(derived_seed(self.seed, self.current_step))
        snap = measure_noise(
            model,
            loss_fn,
            self.data,
            batch_size=self.batch_size or min(32, self.source.size - 1),
            num_batches=self.num_batches,
            entries=self.entries,
            generator=generator,
            exact_gradient=self.exact_gradient,
            hessian=self.hessian,
            hessian_points=self.hessian_points,
            laws=self.laws,
        )
        layers = self._tag(snap.to_frame(), snap, reason)
        entries = self._tag(snap.entries, snap, reason, short=True)
        self._layers.append(layers)
        self._entries.append(entries)
        if self._tb is not None:
            self._tb.write(self.current_step, layers, entries)
        self.measured_steps.append(self.current_step)
        self.seconds += time.perf_counter() - started
        return snap

    def _tag(self, frame: pd.DataFrame, snap: NoiseSnapshot, reason: str, short: bool = False) -> pd.DataFrame:
        columns = {c: frame[c].to_numpy() for c in frame.columns}
        if self.strip_prefix:
            names = [str(n).removeprefix(self.strip_prefix) for n in columns["layer"]]
            columns["layer"] = np.array(names, dtype=object)
        front = {
            "step": np.full(len(frame), self.current_step, dtype=np.int64),
            "epoch": pd.array([self.current_epoch] * len(frame), dtype="Int64"),
        }
        if not short:
            front |= {
                "lr": np.full(len(frame), np.nan if self.last_lr is None else self.last_lr),
                "reason": [reason] * len(frame),
                "batch_size": np.full(len(frame), snap.batch_indices.shape[1], dtype=np.int64),
                "num_batches": np.full(len(frame), snap.batch_indices.shape[0], dtype=np.int64),
            }
        return pd.DataFrame(front | columns)

    def check_batch_size(self, batch_size: int) -> int:
        """``batch_size`` if the monitor's mini-batches can be that large (below the number of
        points: a batch of all of them has no noise), else :class:`InvalidInputError` — raised
        when the size is learnt, at the first step, rather than at the first measurement."""
        if batch_size >= self.source.size:
            raise InvalidInputError(
                f"the monitor's mini-batches of {batch_size} points would take all {self.source.size} training points "
                "(no noise to measure): pass NoiseMonitor(batch_size=B) with B below the number of points"
            )
        return batch_size

    def _loss(self, loss_fn: LossFn | None) -> LossFn:
        if loss_fn is not None:
            return loss_fn
        if self.loss_fn is None:
            _, y = self.source.take(torch.zeros(1, dtype=torch.int64))
            self.loss_fn = default_loss(y)
        return self.loss_fn

    def _measured_now(self) -> bool:
        return bool(self.measured_steps) and self.measured_steps[-1] == self.current_step

    # ---------------------------------------------------------------- results
    @property
    def frame(self) -> pd.DataFrame:
        """One row per measured step and layer (the rows of ``monitor.parquet``)."""
        return self._layers.frame

    @property
    def entries_frame(self) -> pd.DataFrame:
        """One row per measured step and sampled entry (the rows of ``monitor_entries.parquet``)."""
        return self._entries.frame

    def close(self) -> None:
        """Flush and close the TensorBoard files (the Parquet files are always complete)."""
        if self._tb is not None:
            self._tb.close()
            self._tb = None

    def __enter__(self) -> NoiseMonitor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def batch_length(batch: Any) -> int:
    """The number of samples in a batch ``(inputs, ...)``, ``inputs`` or a dict of tensors."""
    first = batch
    if isinstance(batch, dict):
        first = next(iter(batch.values()))
    elif isinstance(batch, (tuple, list)):
        first = batch[0]
    if not hasattr(first, "shape") or len(first.shape) == 0:
        raise InvalidInputError(
            "cannot read the batch size from batch: pass (inputs, targets) tensors, or batch_size= to NoiseMonitor"
        )
    return int(first.shape[0])
