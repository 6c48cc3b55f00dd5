"""Curvature operators of a model's full-data loss, accumulated over the data in chunks.

Each operator is the dataset average ``(1/N) Σ_c n_c · A_c`` of the per-chunk operators ``A_c``
of the batch-mean loss (see :mod:`sgdnoise.curvature.data`), at the parameters the model had
when the operator was built (build a new operator after the weights change).

- :class:`HessianOperator`: ``H = ∇²L(θ)``; products by double backward (``"double_backward"``,
  all k columns in one batched backward) or ``torch.func`` forward-over-reverse
  (``"forward_over_reverse"``, ``jvp`` of ``grad`` under ``vmap``).
- :class:`GGNOperator`: the generalised Gauss–Newton ``G = (1/N) Σ_i J_iᵀ (∂²ℓ_i/∂f²) J_i``
  (``J_i`` the Jacobian of the output of sample i); for MSE it is the Gauss–Newton matrix, for
  softmax cross-entropy it equals the Fisher information of the model's predictive law.
- :class:`EmpiricalFisherOperator`: ``F = (1/N) Σ_i ∇ℓ_i ∇ℓ_iᵀ`` (uncentred), per-sample
  gradients recomputed chunk by chunk so memory stays ``O(chunk_size · D)``.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence

import torch
from torch import nn

from sgdnoise.curvature.data import Data, data_source, dataset_mean, one_chunk
from sgdnoise.curvature.functional import FunctionalModel
from sgdnoise.curvature.operators.base import LinearOperator
from sgdnoise.errors import ConfigError
from sgdnoise.plumbing import LossFn, ParameterSpace


class ModelOperator(LinearOperator):
    """Common part of model-based operators: parameter space, data chunks, the loss at θ.

    Parameters
    ----------
    model, loss_fn : the network and ``loss_fn(output, target)`` returning the batch mean.
    data : ``(inputs, targets)`` tensors, a Dataset, a DataLoader or a list of batches (see
        :mod:`sgdnoise.curvature.data`).
    params, exclude : name globs selecting the parameters (default: all trainable ones).
    chunk_size : points per chunk when ``data`` is a tensor pair or a Dataset.
    mode : "eval" (default) or "train"; see :mod:`sgdnoise.curvature.functional`.
    """

    def __init__(
        self,
        model: nn.Module,
        loss_fn: LossFn,
        data: Data,
        *,
        params: str | Sequence[str] | None = None,
        exclude: str | Sequence[str] | None = None,
        chunk_size: int = 1024,
        mode: str = "eval",
    ) -> None:
        self.source = data_source(data, chunk_size)
        self.space = ParameterSpace(model, params, exclude)
        self.fmodel = FunctionalModel(model, loss_fn, self.space, mode)
        self.chunk_size = chunk_size
        self.theta = self.space.vector()
        super().__init__(self.space.dim, self.space.dtype, self.space.device)

    def _average(self, fn) -> torch.Tensor:
        return dataset_mean(self.source, self.chunk_size, self.device, fn)

    def loss(self) -> torch.Tensor:
        """The full-data loss ``L(θ)`` (scalar tensor)."""
        with torch.no_grad():
            return self._average(lambda x, y: self.fmodel.loss(self.theta, x, y))

    def gradient(self) -> torch.Tensor:
        """The full-data gradient ``∇L(θ)``, shape ``(D,)``."""
        return self._average(lambda x, y: torch.func.grad(self.fmodel.loss)(self.theta, x, y))

    def _matmat(self, vectors: torch.Tensor) -> torch.Tensor:
        return self._average(lambda x, y: self._chunk_matmat(x, y, vectors))

    @abc.abstractmethod
    def _chunk_matmat(self, x: torch.Tensor, y: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
        """The chunk's batch-mean operator applied to ``vectors`` of shape ``(D, k)``."""


class HessianOperator(ModelOperator):
    """Hessian of the full-data loss; ``method`` is "double_backward" or "forward_over_reverse"."""

    METHODS = ("double_backward", "forward_over_reverse")

    def __init__(
        self, model: nn.Module, loss_fn: LossFn, data: Data, *, method: str = "double_backward", **kwargs
    ) -> None:
        if method not in self.METHODS:
            raise ConfigError(f"method must be one of {self.METHODS}; got {method!r}")
        self.method = method
        self._graph: tuple[torch.Tensor, torch.Tensor] | None = None
        super().__init__(model, loss_fn, data, **kwargs)

    def _chunk_matmat(self, x: torch.Tensor, y: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
        if self.method == "forward_over_reverse":
            grad_fn = torch.func.grad(lambda th: self.fmodel.loss(th, x, y))
            hvp = lambda v: torch.func.jvp(grad_fn, (self.theta,), (v,))[1]  # noqa: E731
            try:
                return torch.func.vmap(hvp)(vectors.T).T
            except RuntimeError as exc:
                if "ZeroTensor" not in str(exc):
                    raise
                # torch's mse_loss(reduction="mean") lacks a forward-mode derivative of its backward
                raise ConfigError(
                    "this loss has no forward-over-reverse derivative in this torch version "
                    "(known for F.mse_loss with reduction='mean'); use method='double_backward' or "
                    "loss_fn=lambda out, y: F.mse_loss(out, y, reduction='none').mean()"
                ) from exc
        return self._second_backward(*self._gradient_graph(x, y), vectors, retain=False)

    def _gradient_graph(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A leaf copy of θ and the chunk gradient ``∇L_c(θ)`` with its graph."""
        theta = self.theta.detach().requires_grad_(True)
        with torch.enable_grad():
            (grad,) = torch.autograd.grad(self.fmodel.loss(theta, x, y), theta, create_graph=True)
        return theta, grad

    @staticmethod
    def _second_backward(theta: torch.Tensor, grad: torch.Tensor, vectors: torch.Tensor, retain: bool) -> torch.Tensor:
        if not grad.requires_grad:  # the loss is linear in θ: zero Hessian
            return torch.zeros_like(vectors)
        one = vectors.shape[1] == 1  # a single vector skips the vmap machinery of is_grads_batched
        (hv,) = torch.autograd.grad(
            grad,
            theta,
            grad_outputs=vectors[:, 0] if one else vectors.T.contiguous(),
            is_grads_batched=not one,
            allow_unused=True,
            materialize_grads=True,
            retain_graph=retain,
        )
        return hv.unsqueeze(1) if one else hv.T

    def _matmat(self, vectors: torch.Tensor) -> torch.Tensor:
        # all data in one chunk: build the gradient graph once and reuse it for every product
        # (PyHessian's single-batch trick); memory: one first-order graph, kept by the operator
        if self.method == "double_backward" and one_chunk(self.source, self.chunk_size):
            if self._graph is None:
                x, y = next(self.source.chunks(self.chunk_size, self.device))
                self._graph = self._gradient_graph(x, y)
            return self._second_backward(*self._graph, vectors, retain=True)
        return super()._matmat(vectors)


class GGNOperator(ModelOperator):
    """Generalised Gauss–Newton ``Jᵀ (∂²ℓ/∂f²) J`` averaged over the data (Fisher for cross-entropy)."""

    def _chunk_matmat(self, x: torch.Tensor, y: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
        forward = lambda th: self.fmodel.output(th, x)  # noqa: E731
        output, vjp_fn = torch.func.vjp(forward, self.theta)
        # ∂²ℓ/∂f² · u by reverse-over-reverse (the output Hessian is symmetric)
        _, output_hvp = torch.func.vjp(torch.func.grad(lambda out: self.fmodel.loss_fn(out, y)), output)

        def ggn_vector(v: torch.Tensor) -> torch.Tensor:
            jv = torch.func.jvp(forward, (self.theta,), (v,))[1]
            return vjp_fn(output_hvp(jv)[0])[0]

        return torch.func.vmap(ggn_vector)(vectors.T).T


class EmpiricalFisherOperator(ModelOperator):
    """Empirical Fisher ``(1/N) Σ_i ∇ℓ_i ∇ℓ_iᵀ`` (uncentred), streamed over chunks (eval mode)."""

    def _chunk_matmat(self, x: torch.Tensor, y: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
        grads = self.fmodel.sample_gradients(self.theta, x, y)  # (n, D)
        return grads.T @ (grads @ vectors) / grads.shape[0]
