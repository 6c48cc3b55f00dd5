"""The linear-operator interface every curvature algorithm works with.

An operator is a symmetric ``D × D`` matrix known only through products. Subclasses implement
``_matmat(V)`` for a block ``V`` of shape ``(D, k)``; the public :meth:`matvec` / :meth:`matmat`
validate shapes and count products (``n_products``, one per column), so algorithms report
their cost in matrix-vector products (HVPs for a Hessian).
"""

from __future__ import annotations

import abc

import torch

from sgdnoise.errors import InvalidInputError


class LinearOperator(abc.ABC):
    """A symmetric ``D × D`` operator: ``shape``, ``dtype``, ``device``, ``matvec``, ``matmat``."""

    def __init__(self, dim: int, dtype: torch.dtype, device: torch.device) -> None:
        self.dim = int(dim)
        self.dtype = dtype
        self.device = torch.device(device)
        self.n_products = 0

    @property
    def shape(self) -> tuple[int, int]:
        return (self.dim, self.dim)

    @abc.abstractmethod
    def _matmat(self, vectors: torch.Tensor) -> torch.Tensor:
        """``A @ V`` for ``V`` of shape ``(D, k)`` (already validated)."""

    def matmat(self, vectors: torch.Tensor) -> torch.Tensor:
        """``A @ V``, ``V`` of shape ``(D, k)`` → ``(D, k)``; counts ``k`` products."""
        if vectors.ndim != 2 or vectors.shape[0] != self.dim:
            raise InvalidInputError(f"expected a block of shape ({self.dim}, k); got {tuple(vectors.shape)}")
        self.n_products += vectors.shape[1]
        return self._matmat(vectors.to(dtype=self.dtype, device=self.device))

    def matvec(self, vector: torch.Tensor) -> torch.Tensor:
        """``A @ v``, ``v`` of shape ``(D,)`` → ``(D,)``; counts one product."""
        if vector.ndim != 1:
            raise InvalidInputError(f"expected a vector of shape ({self.dim},); got {tuple(vector.shape)}")
        return self.matmat(vector.unsqueeze(1)).squeeze(1)

    def __matmul__(self, other: torch.Tensor) -> torch.Tensor:
        return self.matvec(other) if other.ndim == 1 else self.matmat(other)

    def to_dense(self, block_size: int = 256) -> torch.Tensor:
        """The full ``D × D`` matrix from ``D`` products in blocks (for small ``D`` only)."""
        eye = torch.eye(self.dim, dtype=self.dtype, device=self.device)
        return torch.cat([self.matmat(cols) for cols in eye.split(block_size, dim=1)], dim=1)


class DenseOperator(LinearOperator):
    """A symmetric matrix held in memory, ``(D, D)``; symmetry is checked on entry."""

    def __init__(self, matrix: torch.Tensor) -> None:
        if not isinstance(matrix, torch.Tensor) or matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
            raise InvalidInputError(f"matrix must be a square 2-D tensor; got {getattr(matrix, 'shape', type(matrix))}")
        if not matrix.is_floating_point() or not torch.isfinite(matrix).all():
            raise InvalidInputError("matrix must be a finite floating-point tensor")
        scale = matrix.abs().max().clamp_min(torch.finfo(matrix.dtype).tiny)
        if (matrix - matrix.T).abs().max() > 1e3 * torch.finfo(matrix.dtype).eps * scale:
            raise InvalidInputError("matrix must be symmetric; pass (A + A.T) / 2 if asymmetry is round-off")
        super().__init__(matrix.shape[0], matrix.dtype, matrix.device)
        self.matrix = matrix

    def _matmat(self, vectors: torch.Tensor) -> torch.Tensor:
        return self.matrix @ vectors
