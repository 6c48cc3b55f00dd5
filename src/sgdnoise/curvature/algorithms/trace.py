"""Stochastic trace estimators with standard errors.

- Hutchinson (1990): ``Tr A ≈ (1/m) Σ_i z_iᵀ A z_i`` with Rademacher ``z_i``; the standard
  error is the sample standard deviation of ``z_iᵀ A z_i`` over √m.
- Hutch++ (Meyer, Musco, Musco, Woodruff 2021, Alg. 1): with ``m`` products, sketch
  ``Q = orth(A S)`` from ``m/3`` probes, take ``Tr(QᵀAQ)`` exactly (``m/3`` products) and
  Hutchinson on the deflated ``(I − QQᵀ) A (I − QQᵀ)`` with the remaining probes. The error
  is that of the deflated part only, so it is tiny when a few eigenvalues dominate (Hessians).
"""

from __future__ import annotations

import math

import torch

from sgdnoise.curvature.algorithms.forms import quadratic_forms
from sgdnoise.curvature.algorithms.probes import rademacher
from sgdnoise.curvature.algorithms.results import TraceResult
from sgdnoise.curvature.operators.base import LinearOperator
from sgdnoise.plumbing import positive_int
from sgdnoise.rng import Seed, as_generator


def _mean_stderr(samples: torch.Tensor) -> tuple[float, float]:
    return float(samples.mean()), float(samples.std() / math.sqrt(samples.numel()))


def hutchinson_trace(op: LinearOperator, n_probes: int = 100, *, seed: Seed = 0, block_size: int = 32) -> TraceResult:
    """Hutchinson's estimate of ``Tr A`` from ``n_probes`` Rademacher probes (≥ 2 for a stderr)."""
    positive_int(n_probes, "n_probes", minimum=2)  # a standard error needs two
    probes = rademacher(op, n_probes, as_generator(seed, op.device))
    estimate, stderr = _mean_stderr(quadratic_forms(op, probes, block_size))
    return TraceResult(estimate, stderr, n_probes, n_probes, "hutchinson")


def hutchpp_trace(op: LinearOperator, n_products: int = 99, *, seed: Seed = 0, block_size: int = 32) -> TraceResult:
    """Hutch++ estimate of ``Tr A`` with ``n_products`` products (≥ 6: sketch, exact part, 2+ probes)."""
    positive_int(n_products, "n_products", minimum=6)  # sketch, exact part, two probes
    generator = as_generator(seed, op.device)
    sketch = min(n_products // 3, op.dim)
    n_probes = n_products - 2 * sketch
    q, _ = torch.linalg.qr(op.matmat(rademacher(op, sketch, generator)))
    exact_part = float((q * op.matmat(q)).sum())
    probes = rademacher(op, n_probes, generator)
    deflated = probes - q @ (q.T @ probes)
    estimate, stderr = _mean_stderr(quadratic_forms(op, deflated, block_size))
    return TraceResult(exact_part + estimate, stderr, 2 * sketch + n_probes, n_probes, "hutch++")
