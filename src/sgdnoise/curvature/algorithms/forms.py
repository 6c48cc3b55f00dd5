"""Quadratic forms ``vᵀAv`` of an operator at the columns of a block: what stochastic trace
estimators average over probes, and what the noise-geometry measures take along given directions."""

from __future__ import annotations

import torch

from sgdnoise.curvature.operators.base import LinearOperator


def quadratic_forms(op: LinearOperator, vectors: torch.Tensor, block_size: int | None = None) -> torch.Tensor:
    """``v_iᵀ A v_i`` for the columns ``v_i`` of ``vectors`` ``(D, m)``, shape ``(m,)``, with
    ``block_size`` products at a time (all ``m`` at once by default)."""
    blocks = vectors.split(block_size or max(vectors.shape[1], 1), dim=1)
    return torch.cat([(v * op.matmat(v)).sum(0) for v in blocks])
