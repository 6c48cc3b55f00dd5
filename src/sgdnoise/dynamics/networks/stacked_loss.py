"""A network's full-data loss at ``R`` flat parameter vectors at once: gradients, per-sample
gradients and Hessian-vector products, each one ``torch.func.vmap`` over the rows.

The flat vector ``θ (P,)`` holds the trainable parameters (``requires_grad``) in
``named_parameters()`` order, each tensor flattened row-major
(:class:`~sgdnoise.plumbing.ParameterSpace`); other parameters and all buffers stay fixed.
``L(θ) = loss_fn(model_θ(X), Y)`` on the whole data ``(X, Y)``, ``ℓ_i(θ)`` the loss of sample
``i`` alone. The model runs with its current train/eval flags: callers hold it in eval
mode (BatchNorm on its running statistics, dropout off), so ``L`` is one deterministic function.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call, grad, grad_and_value, jvp, vmap

from sgdnoise.plumbing import LossFn, ParameterSpace
from sgdnoise.plumbing.losses import sample_gradients


class StackedLoss:
    """The full-data loss of ``model`` on ``(x, y)`` at stacked flat parameter vectors ``θ (R, P)``.

    ``space`` is the layout of ``θ``, ``start`` the model's own ``θ (P,)`` (a detached copy),
    ``dim`` is ``P``.
    """

    def __init__(self, model: nn.Module, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor) -> None:
        self.space = ParameterSpace(model)
        self.model, self.loss_fn, self.x, self.y = model, loss_fn, x, y
        self.dim = self.space.dim
        self.start = self.space.vector()
        trainable = set(self.space.names)
        self._fixed = {n: p.detach() for n, p in model.named_parameters() if n not in trainable}
        self._buffers = {n: b.detach() for n, b in model.named_buffers()}
        self._grad = grad(self.loss)

    def loss(self, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The batch-mean loss at one ``θ (P,)`` on ``(x, y)``, a scalar."""
        params = self.space.unflatten(theta)
        return self.loss_fn(functional_call(self.model, {**self._fixed, **self._buffers, **params}, (x,)), y)

    def losses(self, theta: torch.Tensor, *, chunk_rows: int = 256) -> torch.Tensor:
        """``L(θ_r)`` for every row, ``(R,)``, without gradients; ``chunk_rows`` rows per vmapped call
        (memory grows with ``chunk_rows · N`` activations)."""
        batched = vmap(self.loss, in_dims=(0, None, None))
        with torch.no_grad():
            return torch.cat([batched(part, self.x, self.y) for part in theta.split(chunk_rows)])

    def gradients_and_losses(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(∇L(θ_r) (R, P), L(θ_r) (R,))`` in one vmapped pass."""
        return vmap(grad_and_value(self.loss), in_dims=(0, None, None))(theta, self.x, self.y)

    def gradients(self, theta: torch.Tensor) -> torch.Tensor:
        """``∇L(θ_r)`` for every row, ``(R, P)``."""
        return vmap(self._grad, in_dims=(0, None, None))(theta, self.x, self.y)

    def sample_gradients(self, theta: torch.Tensor) -> torch.Tensor:
        """``∇ℓ_i(θ_r)`` for every row and sample, ``(R, N, P)``."""

        return vmap(lambda th: sample_gradients(self.loss, th, self.x, self.y))(theta)

    def hessian_products(self, theta: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
        """``H(θ_r) v_r`` for every row (forward-over-reverse), ``(R, P)``."""

        def hvp(th: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
            return jvp(lambda t: self._grad(t, self.x, self.y), (th,), (v,))[1]

        return vmap(hvp)(theta, vectors)
