"""The noise monitor as a PyTorch Lightning ``Callback``.

    from sgdnoise.monitor.lightning import NoiseMonitorCallback
    trainer = Trainer(max_epochs=30, callbacks=[NoiseMonitorCallback(out="runs/lit")])

After every optimizer step (``trainer.global_step``; under gradient accumulation once per
optimizer step, not per batch) it calls :meth:`NoiseMonitor.step` with the first optimizer's
learning rate (read in ``on_train_batch_end``, after Lightning has stepped an epoch-wise
scheduler at the last batch of an epoch: the rate of the next step) and the 1-based epoch; at
each epoch end :meth:`NoiseMonitor.epoch_end`, and at the end of training
:meth:`NoiseMonitor.finish`. The ``LightningModule``'s ``forward(x)`` must return the outputs
``loss_fn(outputs, y)`` takes (the monitor calls the module on its own mini-batches). Without
``data`` the monitor reads the points of the trainer's training ``DataLoader`` by index (its
dataset; the loader, its sampler and its generator are not touched).

Needs ``pytorch_lightning`` (``pip install 'sgdnoise[lightning]'``) or the ``lightning`` package's
``lightning.pytorch``; importing this module imports it, ``sgdnoise.monitor`` does not.
"""

from __future__ import annotations

from typing import Any

from sgdnoise.errors import ConfigError
from sgdnoise.monitor.monitor import NoiseMonitor, batch_length
from sgdnoise.plumbing import LossFn

try:
    import pytorch_lightning as _pl
except ImportError:  # the unified package
    try:
        import lightning.pytorch as _pl
    except ImportError as exc:
        raise ConfigError(
            "sgdnoise.monitor.lightning needs PyTorch Lightning: pip install 'sgdnoise[lightning]' "
            "(or pytorch-lightning, or lightning)"
        ) from exc

Callback = _pl.Callback


class NoiseMonitorCallback(Callback):
    """Run a :class:`NoiseMonitor` inside a Lightning ``Trainer``.

    monitor : a ready monitor; otherwise one is built at the start of training from ``data`` (or
        the trainer's training data) and ``monitor_options`` (``out``, ``schedule``,
        ``num_batches``, ``entries``, … of :class:`NoiseMonitor`).
    The monitor's default batch size is the training batch's times ``accumulate_grad_batches``.

    loss_fn : the mean loss ``loss_fn(outputs, y)``; default: the monitor's (cross-entropy for
        integer targets, mean-squared error otherwise).
    """

    def __init__(
        self,
        monitor: NoiseMonitor | None = None,
        *,
        data: Any = None,
        loss_fn: LossFn | None = None,
        **monitor_options: Any,
    ) -> None:
        super().__init__()
        if monitor is not None and (data is not None or monitor_options):
            raise ConfigError("pass either a NoiseMonitor or the options to build one (data=, out=, …), not both")
        self.monitor = monitor
        self.data = data
        self.loss_fn = loss_fn
        self.monitor_options = monitor_options
        self._last_step = -1

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        if self.monitor is None:
            data = self.data if self.data is not None else trainer.train_dataloader
            if data is None:
                raise ConfigError("the trainer has no training DataLoader; pass data=(X, y) to NoiseMonitorCallback")
            self.monitor = NoiseMonitor(data, **self.monitor_options)
        self._last_step = trainer.global_step

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        step = int(trainer.global_step)
        if step == self._last_step:  # no optimizer step in this batch (gradient accumulation)
            return
        self._last_step = step
        if self.monitor.batch_size is None:  # the points one optimizer step averages over
            self.monitor.batch_size = self.monitor.check_batch_size(
                batch_length(batch) * int(trainer.accumulate_grad_batches)
            )
        lr = trainer.optimizers[0].param_groups[0]["lr"] if trainer.optimizers else None
        self.monitor.step(pl_module, self.loss_fn, step=step, lr=lr, epoch=trainer.current_epoch + 1)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        self.monitor.epoch_end(pl_module, self.loss_fn, epoch=trainer.current_epoch + 1)

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        self.monitor.finish(pl_module, self.loss_fn)
