"""Spectral density by stochastic Lanczos quadrature (Lin, Saad, Yang 2016; Ghorbani et al. 2019).

For a unit probe ``v``, ``vᵀ f(A) v ≈ Σ_j w_j f(θ_j)`` — the Gauss quadrature given by ``m``
Lanczos steps from ``v``: nodes θ_j are the eigenvalues of ``T_m``, weights ``w_j = s_{1j}²``
the squared first components of its eigenvectors. It is exact for polynomials of degree
``< 2m``; averaging over probes (``E[vvᵀ] = I/D``) approximates ``(1/D) Tr f(A)``. All probes
run together, one ``matmat`` with ``n_probes`` columns per step.
"""

from __future__ import annotations

from sgdnoise.curvature.algorithms.lanczos import LanczosProcess
from sgdnoise.curvature.algorithms.probes import rademacher
from sgdnoise.curvature.algorithms.results import SpectralDensity
from sgdnoise.curvature.operators.base import LinearOperator
from sgdnoise.errors import InvalidInputError
from sgdnoise.rng import Seed, as_generator


def spectral_density(op: LinearOperator, *, n_probes: int = 10, n_iter: int = 80, seed: Seed = 0) -> SpectralDensity:
    """SLQ nodes and weights from ``n_probes`` Rademacher probes and ``n_iter`` (≤ D) Lanczos steps."""
    if not isinstance(n_probes, int) or n_probes < 1:
        raise InvalidInputError(f"n_probes must be a positive int; got {n_probes!r}")
    if not isinstance(n_iter, int) or not 1 <= n_iter <= op.dim:
        raise InvalidInputError(f"n_iter must be an int in [1, D={op.dim}]; got {n_iter!r}")
    generator = as_generator(seed, op.device)
    start = op.n_products
    process = LanczosProcess(op, rademacher(op, n_probes, generator), n_iter, generator)
    for _ in range(n_iter):
        process.step()
    nodes, weights = process.tridiagonal_eigs()
    return SpectralDensity(nodes, weights, op.dim, op.n_products - start)
