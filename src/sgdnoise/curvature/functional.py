"""A model and loss as pure functions of the flat parameter vector θ (shape ``(D,)``).

Training-mode layers and curvature (the documented policy):

- ``mode="eval"`` (default): the model is evaluated in eval mode — dropout off, BatchNorm
  using its running statistics — so the loss is one deterministic function of θ and every
  Hessian-vector product is a product with the same matrix.
- ``mode="train"``: BatchNorm normalises with each chunk's batch statistics, so the operator
  is the chunk-size-weighted average of the per-chunk Hessians (it depends on ``chunk_size``).
  Running statistics are never updated (buffers are copied). Dropout makes the loss random,
  so a model with active dropout (``p > 0``) is refused in train mode.

Every module's own ``training`` flag is given back after every call, also when it raises
(:func:`sgdnoise.plumbing.module_mode`).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call

from sgdnoise.errors import ConfigError, InvalidInputError
from sgdnoise.plumbing import LossFn, ParameterSpace, module_mode
from sgdnoise.plumbing.losses import sample_gradients

MODES = ("eval", "train")


def _active_dropout(model: nn.Module) -> list[str]:
    return [name for name, m in model.named_modules() if isinstance(m, nn.modules.dropout._DropoutNd) and m.p > 0]


class FunctionalModel:
    """``output(θ, x)`` and ``loss(θ, x, y)`` for the selected parameters of ``space``.

    Unselected parameters and buffers are held fixed. ``loss_fn(output, target)`` must return
    the batch-mean loss (a scalar).
    """

    def __init__(self, model: nn.Module, loss_fn: LossFn, space: ParameterSpace, mode: str = "eval") -> None:
        if mode not in MODES:
            raise ConfigError(f"mode must be one of {MODES}; got {mode!r}")
        if mode == "train" and (drop := _active_dropout(model)):
            raise InvalidInputError(
                f"dropout modules {drop[:5]} make the loss random in train mode, so curvature "
                "products would disagree; use mode='eval' (dropout off) or set p=0"
            )
        if not callable(loss_fn):
            raise InvalidInputError(f"loss_fn must be callable(output, target); got {type(loss_fn).__name__}")
        self.model, self.loss_fn, self.space, self.mode = model, loss_fn, space, mode
        selected = set(space.names)
        self._fixed = {n: p.detach() for n, p in model.named_parameters() if n not in selected}

    def _state(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        buffers = dict(self.model.named_buffers())
        if self.mode == "train":
            buffers = {n: b.clone() for n, b in buffers.items()}
        return {**self._fixed, **buffers, **self.space.unflatten(theta)}

    def output(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The network output at parameters ``θ`` (shape ``(D,)``) on inputs ``x``."""
        with module_mode(self.model, self.mode):
            return functional_call(self.model, self._state(theta), (x,))

    def loss(self, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The batch-mean loss at ``θ`` on ``(x, y)``, a scalar."""
        return self.loss_fn(self.output(theta, x), y)

    def sample_gradients(self, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per-sample gradients ``∇ℓ_i(θ)`` of the chunk, shape ``(n, D)`` (``vmap`` over samples).

        Only defined in eval mode: a batch of one has no BatchNorm batch statistics.
        """
        if self.mode != "eval":
            raise ConfigError("per-sample gradients need mode='eval' (a single sample has no batch statistics)")
        return sample_gradients(self.loss, theta, x, y)
