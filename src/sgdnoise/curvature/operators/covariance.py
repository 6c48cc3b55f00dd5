"""Low-rank covariance operators built from gradient samples held as a tensor ``(n, D)``.

All are ``C = w · RᵀR`` for rows ``R`` (n, D) and a weight ``w``, so products cost two
matrix products, and the trace, diagonal and a factor ``F`` with ``C = FᵀF`` are exact.

Noise covariance of mini-batch SGD (papers.md §1, eq. 2), from per-sample gradients
``g_j = ∇U_j`` of the D training points (here ``n`` rows) and batch size ``B``::

    Σ = (1/B) [ (1/n) Σ_j g_j g_jᵀ − ḡ ḡᵀ ],    ḡ = (1/n) Σ_j g_j

times ``(n−B)/(n−1)`` when mini-batches are drawn without replacement (Mori et al.). With
``B = 1`` this is the per-sample covariance ``Σ₁`` of Wang & Wu.
"""

from __future__ import annotations

import torch

from sgdnoise.curvature.operators.base import LinearOperator
from sgdnoise.errors import InvalidInputError, TooFewSamplesError


def _check_samples(samples: torch.Tensor, name: str, minimum: int) -> None:
    if not isinstance(samples, torch.Tensor) or samples.ndim != 2 or not samples.is_floating_point():
        raise InvalidInputError(
            f"{name} must be a float tensor of shape (n, D); got {getattr(samples, 'shape', type(samples))}"
        )
    if samples.shape[0] < minimum:
        raise TooFewSamplesError(f"{name} needs at least {minimum} rows; got {samples.shape[0]}")
    if not torch.isfinite(samples).all():
        raise InvalidInputError(f"{name} contains NaN or Inf; check the loss and the learning rate")


class GramOperator(LinearOperator):
    """``C = weight · RᵀR`` for rows ``R`` of shape ``(n, D)``; exact trace, diagonal and factor."""

    def __init__(self, rows: torch.Tensor, weight: float) -> None:
        _check_samples(rows, "rows", 1)
        super().__init__(rows.shape[1], rows.dtype, rows.device)
        self.rows, self.weight = rows, float(weight)

    def _matmat(self, vectors: torch.Tensor) -> torch.Tensor:
        return self.weight * (self.rows.T @ (self.rows @ vectors))

    def factor(self) -> torch.Tensor:
        """``F`` of shape ``(n, D)`` with ``C = FᵀF``."""
        return self.rows * self.weight**0.5

    def trace(self) -> float:
        """``Tr C = w ‖R‖²_F`` (exact)."""
        return self.weight * float(self.rows.square().sum())

    def diagonal(self) -> torch.Tensor:
        """``diag C = w Σ_j R_j²``, shape ``(D,)`` (exact)."""
        return self.weight * self.rows.square().sum(0)

    def to_dense(self, block_size: int = 256) -> torch.Tensor:
        return self.weight * (self.rows.T @ self.rows)


def empirical_fisher(sample_gradients: torch.Tensor) -> GramOperator:
    """``F = (1/n) Σ_i g_i g_iᵀ`` from per-sample gradients ``(n, D)`` (uncentred second moment).

    With per-sample *output* gradients ``∇f_i`` this is Wang & Wu's ``G`` (Gauss–Newton of MSE).
    """
    _check_samples(sample_gradients, "sample_gradients", 1)
    return GramOperator(sample_gradients, 1.0 / sample_gradients.shape[0])


def noise_covariance(
    sample_gradients: torch.Tensor, batch_size: int = 1, *, without_replacement: bool = False
) -> GramOperator:
    """Mini-batch SGD noise covariance Σ (eq. 2 of papers.md §1) from per-sample gradients ``(n, D)``.

    ``n`` must be the whole training set (or a uniform sample of it standing in for it).
    ``without_replacement`` multiplies by ``(n − B)/(n − 1)``.
    """
    _check_samples(sample_gradients, "sample_gradients", 2)
    n = sample_gradients.shape[0]
    if not isinstance(batch_size, int) or not 1 <= batch_size <= n:
        raise InvalidInputError(f"batch_size must be an int in [1, {n}]; got {batch_size!r}")
    weight = 1.0 / (batch_size * n)
    if without_replacement:
        weight *= (n - batch_size) / (n - 1)
    return GramOperator(sample_gradients - sample_gradients.mean(0), weight)


def minibatch_noise_covariance(
    minibatch_gradients: torch.Tensor, full_gradient: torch.Tensor | None = None
) -> GramOperator:
    """Σ estimated from K mini-batch gradients ``(K, D)`` (each already a batch mean).

    With the full gradient ``∇U`` known: ``(1/K) Σ_k (g_k − ∇U)(g_k − ∇U)ᵀ``; otherwise the
    unbiased ``(1/(K−1)) Σ_k (g_k − ḡ)(g_k − ḡ)ᵀ``.
    """
    _check_samples(minibatch_gradients, "minibatch_gradients", 2)
    k = minibatch_gradients.shape[0]
    if full_gradient is None:
        return GramOperator(minibatch_gradients - minibatch_gradients.mean(0), 1.0 / (k - 1))
    if full_gradient.shape != minibatch_gradients.shape[1:]:
        raise InvalidInputError(
            f"full_gradient must have shape ({minibatch_gradients.shape[1]},); got {tuple(full_gradient.shape)}"
        )
    return GramOperator(minibatch_gradients - full_gradient.to(minibatch_gradients), 1.0 / k)
