"""The diagonal of an operator: exact (``D`` products) or Hutchinson-style with standard errors.

Stochastic estimate (Bekas, Kokiopoulou, Saad 2007): ``diag A ≈ (1/m) Σ_i z_i ⊙ A z_i`` with
Rademacher ``z_i``; each entry's standard error is its sample std over √m. The exact mode
multiplies by the unit vectors in blocks (``D`` products: small models only).
"""

from __future__ import annotations

import math

import torch

from sgdnoise.curvature.algorithms.probes import rademacher
from sgdnoise.curvature.algorithms.results import DiagonalResult
from sgdnoise.curvature.operators.base import LinearOperator
from sgdnoise.errors import ConfigError
from sgdnoise.plumbing import positive_int
from sgdnoise.rng import Seed, as_generator


def diagonal(
    op: LinearOperator, *, method: str = "hutchinson", n_probes: int = 100, seed: Seed = 0, block_size: int = 32
) -> DiagonalResult:
    """``diag A``, shape ``(D,)``; ``method`` is "hutchinson" (``n_probes`` products) or "exact" (``D``)."""
    start = op.n_products
    if method == "exact":
        eye = torch.eye(op.dim, dtype=op.dtype, device=op.device)
        diag = torch.cat(
            [
                op.matmat(cols).diagonal(offset=-i * block_size)[: cols.shape[1]]
                for i, cols in enumerate(eye.split(block_size, dim=1))
            ]
        )
        return DiagonalResult(diag, torch.zeros_like(diag), op.n_products - start, "exact")
    if method != "hutchinson":
        raise ConfigError(f"method must be 'hutchinson' or 'exact'; got {method!r}")
    positive_int(n_probes, "n_probes", minimum=2)  # a standard error needs two
    probes = rademacher(op, n_probes, as_generator(seed, op.device))
    samples = torch.cat([z * op.matmat(z) for z in probes.split(block_size, dim=1)], dim=1)  # (D, m)
    return DiagonalResult(samples.mean(1), samples.std(1) / math.sqrt(n_probes), op.n_products - start, "hutchinson")
