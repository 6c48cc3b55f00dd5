"""The noise monitor as a Hugging Face ``TrainerCallback``.

    from sgdnoise.monitor.huggingface import NoiseMonitorCallback
    trainer = Trainer(model, args, train_dataset=ds, callbacks=[NoiseMonitorCallback(out="runs/hf")])

After every optimizer step (``state.global_step``) it calls :meth:`NoiseMonitor.step` with the
optimizer's learning rate (read after the trainer's scheduler has stepped: the rate of the next
step), at each epoch end :meth:`NoiseMonitor.epoch_end`, and at the end of
training :meth:`NoiseMonitor.finish`.

A Hugging Face model takes keyword inputs and returns an output object, so the monitor calls it
through :class:`ModelOutputs`: ``model(**{input_name: x}).<output>`` (``logits`` by default), and
takes the data as ``(X, y)`` tensors: given as ``data``, or stacked from the ``input_name`` and
``label_name`` fields of the trainer's training dataset (a map-style dataset of dicts; for large
or variable-length datasets pass a sample as ``data``). Logged layer names are the model's own
parameter names.

Needs ``transformers`` (and ``accelerate``, which its ``Trainer`` uses):
``pip install 'sgdnoise[huggingface]'``; importing this module imports it, ``sgdnoise.monitor``
does not.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from sgdnoise.errors import ConfigError, InvalidInputError
from sgdnoise.monitor.monitor import NoiseMonitor
from sgdnoise.plumbing import LossFn

try:
    from transformers import TrainerCallback
except ImportError as exc:
    raise ConfigError("sgdnoise.monitor.huggingface needs transformers: pip install 'sgdnoise[huggingface]'") from exc

WRAPPER_PREFIX = "model."


class ModelOutputs(nn.Module):
    """``x ↦ model(**{input_name: x}).<output>``: a keyword-input model as the ``model(x)`` the
    monitor calls. The output is read as an attribute, a dict key, or taken as is (a tensor)."""

    def __init__(self, model: nn.Module, input_name: str = "input_ids", output: str = "logits") -> None:
        super().__init__()
        self.model = model
        self.input_name = input_name
        self.output = output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(**{self.input_name: x})
        if isinstance(out, torch.Tensor):
            return out
        if isinstance(out, dict) or hasattr(out, "keys"):
            if self.output not in out:
                raise InvalidInputError(f"the model's output has no {self.output!r}; pass output= to the callback")
            return out[self.output]
        return getattr(out, self.output)


class NoiseMonitorCallback(TrainerCallback):
    """Run a :class:`NoiseMonitor` inside a Hugging Face ``Trainer``.

    The monitor's default batch size is the trainer's: ``train_batch_size × gradient_accumulation_steps``.

    monitor : a ready monitor (its data ``(X, y)`` as :class:`ModelOutputs` takes it); otherwise
        one is built at the start of training from ``data`` (or the training dataset's
        ``input_name``/``label_name`` fields) and ``monitor_options`` of :class:`NoiseMonitor`.
    loss_fn : the mean loss ``loss_fn(outputs, y)`` of the ``output`` field; default: the
        monitor's (cross-entropy for integer labels, mean-squared error otherwise).
    """

    def __init__(
        self,
        monitor: NoiseMonitor | None = None,
        *,
        data: Any = None,
        loss_fn: LossFn | None = None,
        input_name: str = "input_ids",
        label_name: str = "labels",
        output: str = "logits",
        **monitor_options: Any,
    ) -> None:
        if monitor is not None and (data is not None or monitor_options):
            raise ConfigError("pass either a NoiseMonitor or the options to build one (data=, out=, …), not both")
        self.monitor = monitor
        self.data = data
        self.loss_fn = loss_fn
        self.input_name = input_name
        self.label_name = label_name
        self.output = output
        self.monitor_options = monitor_options
        self._wrapped: ModelOutputs | None = None

    def _model(self, model: nn.Module) -> ModelOutputs:
        if self._wrapped is None or self._wrapped.model is not model:
            self._wrapped = ModelOutputs(model, self.input_name, self.output)
        return self._wrapped

    def on_train_begin(self, args: Any, state: Any, control: Any, train_dataloader: Any = None, **kwargs: Any) -> None:
        if self.monitor is None:
            data = self.data
            if data is None:
                dataset = getattr(train_dataloader, "dataset", None)
                if dataset is None:
                    raise ConfigError("no training dataset to monitor; pass data=(X, y) to NoiseMonitorCallback")
                data = _stack(dataset, self.input_name, self.label_name)
            options = {"strip_prefix": WRAPPER_PREFIX, **self.monitor_options}
            self.monitor = NoiseMonitor(data, **options)
        if self.monitor.batch_size is None:  # the points one optimizer step averages over
            batch = int(args.train_batch_size * args.gradient_accumulation_steps)
            self.monitor.batch_size = self.monitor.check_batch_size(batch)

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, optimizer: Any = None, **kw: Any):
        lr = optimizer.param_groups[0]["lr"] if optimizer is not None else None
        epoch = max(1, math.ceil(state.epoch)) if state.epoch is not None else None
        self.monitor.step(self._model(model), self.loss_fn, step=state.global_step, lr=lr, epoch=epoch)

    def on_epoch_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any):
        self.monitor.epoch_end(self._model(model), self.loss_fn, epoch=round(state.epoch))

    def on_train_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any):
        self.monitor.finish(self._model(model), self.loss_fn)


def _stack(dataset: Any, input_name: str, label_name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(X, y)`` from a map-style dataset of dicts with fields ``input_name`` and ``label_name``."""
    try:
        rows = [dataset[i] for i in range(len(dataset))]
        x = torch.stack([torch.as_tensor(r[input_name]) for r in rows])
        y = torch.stack([torch.as_tensor(r[label_name]) for r in rows])
    except (KeyError, TypeError, RuntimeError) as exc:
        raise InvalidInputError(
            f"cannot stack the training dataset's {input_name!r} and {label_name!r} fields into tensors ({exc}); "
            "pass input_name=/label_name=, or data=(X, y) to NoiseMonitorCallback"
        ) from exc
    return x, y
