"""Every seed's gradient and loss for stacked parameters, by the fastest exact path the model allows.

A step of an SGD ensemble needs, for every seed ``s``, ``∇L_s(w_s)`` and ``L_s(w_s)`` with
``L_s = loss_fn(model_{w_s}(x_s), y_s)`` on its own batch. Two paths, both bit-identical to one
seed's autograd (CPU, one intra-op thread):

* direct, :class:`~sgdnoise.dynamics.networks.stacked_mlp.StackedMLP`, for a plain ReLU MLP;
* generic, for any other network: ``vmap`` of :func:`seed_loss` over the seeds and one ordinary
  ``autograd.grad`` of the summed seed losses. Seeds do not interact, so
  ``∂/∂w_s Σ_s L_s = ∇L_s(w_s)``, and ``∂Σ/∂L_s = 1`` exactly. Linear layers round as one seed's
  (:class:`~sgdnoise.dynamics.networks.seedwise.SeedLinearMode`); other layers use vmap's own
  rules (exactness is tested for MLPs; convolutions may differ in the last bit).

The model runs with its current train/eval flags; buffers (BatchNorm statistics) are shared by
all seeds and never updated.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call, vmap

from sgdnoise.dynamics.networks.seeds import Params
from sgdnoise.dynamics.networks.seedwise import SeedLinearMode
from sgdnoise.dynamics.networks.stacked_mlp import StackedMLP
from sgdnoise.plumbing import LossFn

SeedGradients = Callable[[Params, torch.Tensor, torch.Tensor], tuple[Params, torch.Tensor]]


def seed_loss(model: nn.Module, loss_fn: LossFn) -> Callable[[Params, torch.Tensor, torch.Tensor], torch.Tensor]:
    """``(params, x, y) -> loss_fn(model_params(x), y)`` for one seed, to be vmapped over seeds."""
    buffers = {k: v.detach() for k, v in model.named_buffers()}

    def loss(params: Params, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with SeedLinearMode():
            out = functional_call(model, (params, buffers), (x,))
        return loss_fn(out, y)

    return loss


def _vmap_gradients(seed_losses, params: Params, x: torch.Tensor, y: torch.Tensor) -> tuple[Params, torch.Tensor]:
    """The generic path: autograd of ``Σ_s L_s`` through the vmapped forward; a parameter the
    loss does not reach gets a zero gradient."""
    leaves = {n: p.detach().requires_grad_(True) for n, p in params.items()}
    with torch.enable_grad():
        loss = seed_losses(leaves, x, y)
        grads = torch.autograd.grad(loss.sum(), list(leaves.values()), allow_unused=True)
    return {n: torch.zeros_like(p) if g is None else g for (n, p), g in zip(params.items(), grads)}, loss.detach()


def gradient_path(
    model: nn.Module, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor
) -> tuple[SeedGradients, torch.Tensor]:
    """``(gradients, inputs)``: ``gradients(params, x_batch (S, B, …), y_batch (S, B, …)) ->
    (grads {name: (S, *shape)}, loss (S,))`` by the direct path when the model allows it, else the
    generic one; ``inputs`` is the data ``x (N, …)`` as that path reads it (gather batches from it)."""
    direct = StackedMLP.of(model, loss_fn, x, y)
    if direct is not None:
        return direct.gradients, direct.inputs(x)
    return functools.partial(_vmap_gradients, vmap(seed_loss(model, loss_fn))), x
