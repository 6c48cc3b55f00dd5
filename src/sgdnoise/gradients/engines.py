"""Full mini-batch gradients ``g_k = ∇[(1/B) Σ_{ℓ∈Ω_k} U_ℓ](w)`` for a chunk of mini-batches.

Two engines with the same contract: ``x`` has shape ``(Kc, B, ...)`` and ``y`` ``(Kc, B, ...)``;
they return ``(grads, losses)`` with ``grads[name]`` of shape ``(Kc, *param.shape)`` and
``losses`` of shape ``(Kc,)``. ``loss_fn(output, target)`` must return the *mean* loss of the
mini-batch (a scalar), as ``nn.CrossEntropyLoss()`` does.

- :func:`loop_gradients`: one ``torch.autograd.grad`` per mini-batch (also the brute-force
  reference), conv weights channels-last (:mod:`sgdnoise.gradients.layout`). Best for
  convolutional nets with BatchNorm on CPU.
- :func:`vmap_gradients`: ``torch.func.vmap(grad_and_value(loss))`` over the leading axis,
  the model called through ``torch.func.functional_call``. Best for small dense nets.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call, grad_and_value, vmap

from sgdnoise.gradients.layout import in_channels_last
from sgdnoise.plumbing.losses import LossFn
from sgdnoise.plumbing.modes import trainable_parameters


def loop_gradients(
    model: nn.Module,
    loss_fn: LossFn,
    x: torch.Tensor,
    y: torch.Tensor,
    micro_batch: int | None = None,
    out: dict[str, torch.Tensor] | None = None,
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Mini-batch gradients by one ``autograd.grad`` per mini-batch (see module docstring),
    written into ``out[name]`` ``(Kc, *param.shape)`` where given (new tensors otherwise).

    With ``micro_batch = m < B`` each mini-batch is split into micro-batches ``Ω_k = ∪_j μ_j`` of
    at most ``m`` samples and ``g_k = Σ_j (|μ_j|/B) ∇ loss_fn(μ_j)`` (equal to the mini-batch
    gradient for a mean loss, up to rounding): one micro-batch's activations in memory at a time.
    """
    params = trainable_parameters(model)
    out = out or {}
    b = x.shape[1]
    step = micro_batch or b

    def compute() -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        grads = {n: out[n].zero_() if n in out else p.new_zeros((x.shape[0], *p.shape)) for n, p in params.items()}
        losses = torch.zeros(x.shape[0], dtype=torch.float64)
        for k in range(x.shape[0]):
            for start in range(0, b, step):
                weight = min(step, b - start) / b
                with torch.enable_grad():
                    loss = loss_fn(model(x[k, start : start + step]), y[k, start : start + step])
                    g = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
                losses[k] += weight * loss.detach().double()
                for (n, _p), gk in zip(params.items(), g):
                    if gk is not None:
                        grads[n][k].add_(gk, alpha=weight)
        return grads, losses

    return in_channels_last(model, compute)


def vmap_gradients(
    model: nn.Module, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Mini-batch gradients by ``vmap`` over the mini-batch axis (see module docstring).

    Raises whatever ``torch.func`` raises for modules it cannot batch (in-place updates of
    buffers, data-dependent control flow, random ops); the caller falls back to the loop.
    """
    params = {n: p.detach() for n, p in trainable_parameters(model).items()}
    frozen = {n: p.detach() for n, p in model.named_parameters() if not p.requires_grad}
    buffers = {**dict(model.named_buffers()), **frozen}

    def batch_loss(p: dict[str, torch.Tensor], xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        return loss_fn(functional_call(model, (p, buffers), (xb,)), yb)

    with torch.enable_grad():
        grads, losses = vmap(grad_and_value(batch_loss), in_dims=(None, 0, 0))(params, x, y)
    return grads, losses.detach().double()
