"""One forward and one backward pass of distinct samples: each owner module's input ``a_n`` and
output gradient ``δ_n = (1/B)·∂ℓ_n/∂z_n``, the factors of every per-sample contribution.

Forward hooks record each call's input and the *gradient edge* of its output, taken when the
output is made (so an in-place op applied to it later does not change what is asked). The
backward of ``L = (1/B) Σ_n ℓ_n`` asks autograd for the gradients at those edges only: no
parameter gradient and no gradient of the input is formed, and the backward stops at the first
owner. For a mean loss ``loss_fn(Ω_k) = (1/B) Σ_{n∈Ω_k} ℓ_n``, so ``δ_n`` is the same in every
mini-batch that holds ``n``.
"""

from __future__ import annotations

from collections import defaultdict

import torch
from torch import nn
from torch.autograd.graph import get_gradient_edge

from sgdnoise.plumbing.losses import LossFn, per_sample_losses

Calls = list[tuple[torch.Tensor, torch.Tensor]]


def module_factors(
    model: nn.Module, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor, owners: dict[str, nn.Module], b: int
) -> tuple[dict[str, Calls], torch.Tensor]:
    """``(calls, ℓ)`` of the samples ``x`` ``(n, ...)``, ``y``: ``calls[owner]`` lists ``(a, δ)`` of
    each call of module ``owner`` (``owners``: name → module; empty when the backward does not
    reach it), ``ℓ`` the ``(n,)`` per-sample losses, ``b`` the mini-batch size ``B``."""
    inputs: dict[str, list[torch.Tensor]] = defaultdict(list)
    edges: dict[str, list] = defaultdict(list)

    def forward_hook(owner: str):
        def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
            inputs[owner].append(args[0].detach())
            edges[owner].append(get_gradient_edge(output) if output.requires_grad else None)  # else never reached

        return hook

    handles = [module.register_forward_hook(forward_hook(o)) for o, module in owners.items()]
    try:
        with torch.enable_grad():
            sample_losses = per_sample_losses(loss_fn, model(x), y)
    finally:
        for h in handles:
            h.remove()
    asked = [(o, c) for o in owners for c, edge in enumerate(edges[o]) if edge is not None]
    deltas = dict(zip(asked, _gradients_at(sample_losses.sum() / b, [edges[o][c] for o, c in asked])))
    reached = {o: all(deltas.get((o, c)) is not None for c in range(len(inputs[o]))) for o in owners}
    calls = {o: [(a, deltas[o, c].detach()) for c, a in enumerate(inputs[o])] if reached[o] else [] for o in owners}
    return calls, sample_losses.detach()


def _gradients_at(loss: torch.Tensor, edges: list) -> tuple:
    """``∂loss/∂z`` at each gradient edge (``None`` where the loss does not depend on it)."""
    if not edges or not loss.requires_grad:
        return (None,) * len(edges)
    return torch.autograd.grad(loss, edges, allow_unused=True)
