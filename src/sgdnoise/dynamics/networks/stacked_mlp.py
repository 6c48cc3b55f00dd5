"""Every seed's gradient of a plain ReLU MLP, its layers written out on stacked tensors.

For an ``nn.Sequential`` of an optional leading ``Flatten``, ``Linear``, ``ReLU``, ``Identity``
and ``Dropout`` (off in eval mode) the forward and backward of all seeds run directly on the
stacked parameters — no vmap, no ``functional_call``, no autograd graph through the layers —
with each operation rounded as one seed's autograd rounds it, so the gradients are bit-identical
to the seed-by-seed loop's:

* Linear ``z = b + h Wᵀ``; backward ``∂W = gᵀ h``, ``∂b = Σ_rows g``, ``∂h = g W``, every product
  by :func:`~sgdnoise.dynamics.networks.seedwise.seedwise_mm`;
* ReLU backward ``g · [relu(z) > 0]``, a select (as autograd's ``threshold_backward``);
* the loss: plain cross-entropy's gradient formed directly (:func:`cross_entropy_grad`), any
  other loss by autograd through ``vmap(loss_fn)`` on the stacked outputs.

Shapes: inputs ``x (S, B, D)``, targets ``y (S, B, …)``, parameters ``{name: (S, *shape)}``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.func import vmap

from sgdnoise.dynamics.networks.seeds import Params
from sgdnoise.dynamics.networks.seedwise import seedwise_mm
from sgdnoise.plumbing import LossFn, describe_loss
from sgdnoise.plumbing.private_ops import log_softmax_backward

OutputGrad = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def cross_entropy_grad(outputs: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy of logits ``(S, B, C)`` against classes ``y (S, B)`` per seed ``(S,)``,
    and its gradient ``(S, B, C)`` as autograd forms it for one seed: ``nll_loss`` backward puts
    ``−1/B`` (divided in the logits' dtype) at each target, then log-softmax's backward
    ``g − softmax·Σ_C g`` (by autograd's own kernel); both act row by row."""
    log_p = torch.log_softmax(outputs, dim=-1)
    picked = log_p.gather(-1, y.unsqueeze(-1))
    minus_inv_b = -(torch.ones((), dtype=outputs.dtype, device=outputs.device) / y.shape[1])
    g_log_p = torch.zeros_like(log_p).scatter_(-1, y.unsqueeze(-1), minus_inv_b.expand_as(picked))
    return -picked.squeeze(-1).mean(1), log_softmax_backward(g_log_p, log_p, -1)


def autograd_output_grad(loss_fn: LossFn) -> OutputGrad:
    """``(outputs (S, B, C), y) -> (loss (S,), ∂Σ_s L_s/∂outputs)`` by autograd through ``vmap(loss_fn)``."""
    seed_losses = vmap(loss_fn)

    def output_grad(outputs: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        leaf = outputs.detach().requires_grad_(True)
        with torch.enable_grad():
            loss = seed_losses(leaf, y)
            (g,) = torch.autograd.grad(loss.sum(), leaf)
        return loss.detach(), g

    return output_grad


class StackedMLP:
    """The direct path for one model (see the module docstring); built by :meth:`of`."""

    _PASS_THROUGH = (nn.Identity, nn.Dropout)

    def __init__(self, layers: list[tuple[str, str, str | None]], flatten: bool, output_grad: OutputGrad):
        self.layers, self.flatten = layers, flatten  # ("linear", weight key, bias key or None) | ("relu", "", None)
        self.first_linear = next((i for i, (kind, _, _) in enumerate(layers) if kind == "linear"), len(layers))
        self.output_grad = output_grad

    @classmethod
    def of(cls, model: nn.Module, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor) -> StackedMLP | None:
        """The direct path for ``model`` on inputs ``x`` and targets ``y``, or None when the model
        is anything else."""
        if not isinstance(model, nn.Sequential) or type(model).forward is not nn.Sequential.forward:
            return None
        children = list(model.named_children())
        flatten = bool(children) and isinstance(children[0][1], nn.Flatten)
        if flatten and (children[0][1].start_dim, children[0][1].end_dim) != (1, -1):
            return None
        layers, keys = [], set()
        for name, module in children[int(flatten) :]:
            if type(module) is nn.Linear:
                bias = f"{name}.bias" if module.bias is not None else None
                layers.append(("linear", f"{name}.weight", bias))
                keys |= {f"{name}.weight", bias} - {None}
            elif type(module) is nn.ReLU:
                layers.append(("relu", "", None))
            elif not isinstance(module, cls._PASS_THROUGH):
                return None
        if keys != {n for n, _ in model.named_parameters()} or (x.ndim != 2 and not flatten):
            return None
        spec = describe_loss(loss_fn)
        plain = spec is not None and spec.is_plain_cross_entropy(y)
        return cls(layers, flatten, cross_entropy_grad if plain else autograd_output_grad(loss_fn))

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """The data as the first layer sees it, ``(N, D)``."""
        return x.reshape(len(x), -1) if self.flatten else x

    def gradients(self, params: Params, x: torch.Tensor, y: torch.Tensor) -> tuple[Params, torch.Tensor]:
        """Each seed's gradient and loss ``(S,)`` for stacked batches ``x (S, B, D)``, ``y (S, B, …)``."""
        saved, h = [], x
        for kind, weight, bias in self.layers:
            saved.append(h)
            h = (
                seedwise_mm(h, params[weight].transpose(1, 2), None if bias is None else params[bias])
                if kind == "linear"
                else h.relu_()
            )
        loss, g = self.output_grad(h, y)
        saved.append(h)  # saved[i] is layer i's input, saved[i + 1] its output
        grads = {}
        for i in range(len(self.layers) - 1, self.first_linear - 1, -1):
            kind, weight, bias = self.layers[i]
            if kind == "relu":
                g = g.masked_fill(saved[i + 1] <= 0, 0)  # threshold_backward(g, relu(z), 0): g where relu(z) > 0
                continue
            grads[weight] = seedwise_mm(g.transpose(1, 2), saved[i])
            if bias is not None:
                grads[bias] = g.sum(1)
            if i > self.first_linear:
                g = seedwise_mm(g, params[weight])
        return grads, loss
