"""The full-data gradient ``∇U(w) = (1/D) Σ_j ∇U_j(w)`` (eq. 1), in passes over index ranges."""

from __future__ import annotations

import torch
from torch import nn

from sgdnoise.errors import InvalidInputError
from sgdnoise.gradients.layout import in_channels_last
from sgdnoise.plumbing.data import DataSource
from sgdnoise.plumbing.losses import LossFn
from sgdnoise.plumbing.parameters import trainable_parameters


def full_gradient(
    model: nn.Module, loss_fn: LossFn, data: DataSource, *, samples_per_pass: int
) -> dict[str, torch.Tensor]:
    """``name → ∇U`` over all ``D`` points, ``samples_per_pass`` points per forward pass (conv
    weights channels-last, :mod:`sgdnoise.gradients.layout`).

    With ``loss_fn`` the mean over its batch, pass ``c`` of ``n_c`` points contributes
    ``(n_c/D)·∇ loss_fn(pass c)``, which sums to ``(1/D) Σ_j ∇U_j``. Raises
    :class:`InvalidInputError` naming the parameter when the result is not finite.
    """
    params = trainable_parameters(model)
    device = next(iter(params.values())).device

    def compute() -> dict[str, torch.Tensor]:
        total = {n: torch.zeros_like(p) for n, p in params.items()}
        for start in range(0, data.size, samples_per_pass):
            idx = torch.arange(start, min(start + samples_per_pass, data.size))
            x, y = data.take(idx)
            with torch.enable_grad():
                loss = loss_fn(model(x.to(device)), y.to(device))
                grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
            for (_n, t), g in zip(total.items(), grads):
                if g is not None:
                    t.add_(g, alpha=idx.numel() / data.size)
        return total

    total = in_channels_last(model, compute)
    check_finite_gradient(total, what="the full-data gradient")
    return total


def check_finite_gradient(grad: dict[str, torch.Tensor], *, what: str) -> None:
    """Raise :class:`InvalidInputError` naming the first parameter whose gradient is NaN/Inf."""
    for name, g in grad.items():
        if not torch.isfinite(g).all():
            raise InvalidInputError(
                f"{what} of parameter {name!r} is NaN or Inf; check the weights (a diverged checkpoint?) "
                "and the data for NaN/Inf values"
            )
