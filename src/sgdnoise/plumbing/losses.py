"""Losses: the type every layer takes, what a given loss callable is, and a mean loss taken
sample by sample (per-sample losses and gradients).

Convention everywhere: ``loss_fn(output, target)`` returns the *mean* loss of the batch (a
scalar), as ``nn.CrossEntropyLoss()`` does, so the loss of a mini-batch ``Ω`` is
``(1/B) Σ_{ℓ∈Ω} ℓ_ℓ`` (papers.md §1 eq. 1). :func:`describe_loss` recognises the standard mean
losses, whose per-sample values and gradients can then be formed directly instead of through
``torch.func`` (whose first call imports SymPy, about 0.4 s per process).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class LossSpec:
    """A standard mean loss: ``kind`` cross-entropy (with its ``label_smoothing`` and
    ``ignore_index``) or squared error (``F.mse_loss``)."""

    kind: Literal["cross_entropy", "mse"]
    label_smoothing: float = 0.0
    ignore_index: int = -100

    def per_sample(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor | None:
        """``(n,)`` losses ``ℓ_i = loss_fn(out[i:i+1], y[i:i+1])`` in one unreduced call, each
        sample's values averaged as its own call would; ``None`` when ``y`` is not a target this
        path covers (cross-entropy: int64 class labels of shape ``(n, *out.shape[2:])`` with no
        ignored label; squared error: the shape of ``out``)."""
        n = out.shape[0]
        if self.kind == "cross_entropy":
            if y.dtype != torch.int64 or y.shape != (n, *out.shape[2:]) or bool((y == self.ignore_index).any()):
                return None
            losses = F.cross_entropy(out, y, reduction="none", label_smoothing=self.label_smoothing)
            return losses.reshape(n, -1).mean(1)
        if out.shape != y.shape:
            return None
        return (out - y).square().reshape(n, -1).mean(1)

    def is_plain_cross_entropy(self, y: torch.Tensor) -> bool:
        """Cross-entropy without label smoothing on class indices ``y`` ``(N,)`` (all ≥ 0, none
        equal to ``ignore_index``): the case whose output gradient ``(softmax − onehot)/N`` can be
        formed directly (an ignored target would drop its row and change the mean's divisor)."""
        return (
            self.kind == "cross_entropy"
            and self.label_smoothing == 0.0
            and y.ndim == 1
            and not y.is_floating_point()
            and bool((y >= 0).all())
            and not bool((y == self.ignore_index).any())
        )


def describe_loss(loss_fn: LossFn) -> LossSpec | None:
    """The :class:`LossSpec` of ``loss_fn`` when it is a standard mean loss — ``F.cross_entropy``,
    ``nn.CrossEntropyLoss`` without class weights, ``F.mse_loss`` or ``nn.MSELoss``, each with
    the default ``reduction="mean"`` — else ``None`` (any other callable)."""
    if loss_fn is F.cross_entropy:
        return LossSpec("cross_entropy")
    if type(loss_fn) is nn.CrossEntropyLoss and loss_fn.reduction == "mean" and loss_fn.weight is None:
        return LossSpec("cross_entropy", float(loss_fn.label_smoothing), int(loss_fn.ignore_index))
    if loss_fn is F.mse_loss or (type(loss_fn) is nn.MSELoss and loss_fn.reduction == "mean"):
        return LossSpec("mse")
    return None


def per_sample_losses(loss_fn: LossFn, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``(n,)`` losses ``ℓ_i = loss_fn(out[i:i+1], y[i:i+1])``: one unreduced call for the
    standard mean losses (:meth:`LossSpec.per_sample`), else one ``vmap`` call, or one call per
    sample when ``torch.func`` cannot batch ``loss_fn``."""
    spec = describe_loss(loss_fn)
    direct = spec.per_sample(out, y) if spec is not None else None
    if direct is not None:
        return direct

    def one(o: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return loss_fn(o[None], t[None])

    try:
        return torch.func.vmap(one)(out, y)
    except (RuntimeError, NotImplementedError, ValueError):
        return torch.stack([one(out[i], y[i]) for i in range(out.shape[0])])


def default_loss(targets: torch.Tensor) -> LossFn:
    """The loss a training run takes when none is given: cross-entropy for class labels
    (integer targets), mean squared error for real-valued targets."""
    return F.mse_loss if targets.is_floating_point() else F.cross_entropy


def sample_gradients(
    loss: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
    theta: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
) -> torch.Tensor:
    """Per-sample gradients ``∇ℓ_i(θ)``, shape ``(n, D)``, of a batch-mean ``loss(θ, x, y)`` at a
    flat ``θ (D,)``: ``ℓ_i`` is ``loss`` on the batch of sample ``i`` alone, differentiated by
    ``torch.func.grad`` under one ``vmap`` over the ``n`` samples of ``(x, y)``."""

    def sample_loss(th: torch.Tensor, xi: torch.Tensor, yi: torch.Tensor) -> torch.Tensor:
        return loss(th, xi.unsqueeze(0), yi.unsqueeze(0))

    return torch.func.vmap(torch.func.grad(sample_loss), in_dims=(None, 0, 0))(theta.detach(), x, y)
