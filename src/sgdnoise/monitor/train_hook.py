"""The noise monitor inside :func:`sgdnoise.training.train` (what ``sgdnoise train --monitor`` runs).

``train`` reports each step as ``(epoch, step within the epoch)``; :class:`TrainHook` turns that
into the 1-based optimizer step counted from the start of the run — also in a run resumed after
epoch ``e``, whose first reported step is the first of epoch ``e + 1`` — tells the monitor the
rate and (unless the monitor has its own) the batch size of the epoch, and the end of each epoch.

    hook = TrainHook(monitor, model, config, num_points=len(data))
    train(model, data, config, on_step=hook)
    monitor.finish(model)
"""

from __future__ import annotations

import math

import numpy as np
from torch import nn

from sgdnoise.monitor.monitor import NoiseMonitor
from sgdnoise.plumbing import LossFn
from sgdnoise.training import StepInfo, TrainConfig


class TrainHook:
    """``on_step`` for :func:`sgdnoise.training.train` that drives ``monitor``."""

    def __init__(
        self,
        monitor: NoiseMonitor,
        model: nn.Module,
        config: TrainConfig,
        *,
        num_points: int,
        loss_fn: LossFn | None = None,
    ) -> None:
        self.monitor = monitor
        self.model = model
        self.loss_fn = loss_fn
        self.steps_per_epoch = [
            num_points // b if config.drop_last else math.ceil(num_points / b)
            for b in (config.batch_size_at(e) for e in range(config.epochs))
        ]
        self.first_step = np.concatenate([[0], np.cumsum(self.steps_per_epoch)])  # steps before epoch e
        self.rates = [config.lr_at(e) for e in range(config.epochs)]
        self.follow_batch_size = monitor.batch_size is None  # else the monitor's own B stays

    def __call__(self, info: StepInfo) -> None:
        epoch = info.epoch - 1
        monitor = self.monitor
        if monitor.last_lr is None and epoch > 0:  # resumed: the rate the run had before this epoch
            monitor.last_lr = self.rates[epoch - 1]
            monitor.lr_held = self.steps_per_epoch[epoch - 1]
        if self.follow_batch_size:
            monitor.batch_size = monitor.check_batch_size(info.batch_size)
        step = int(self.first_step[epoch]) + info.step
        monitor.step(self.model, self.loss_fn, step=step, lr=info.lr, epoch=info.epoch)
        if info.step == self.steps_per_epoch[epoch]:
            monitor.epoch_end(self.model, self.loss_fn, epoch=info.epoch)

    def lr_schedule(self) -> tuple[np.ndarray, np.ndarray]:
        """``(steps, rates)``: the rate of every optimizer step of the run, 1-based steps."""
        rates = np.repeat(self.rates, self.steps_per_epoch)
        return np.arange(1, len(rates) + 1), rates
