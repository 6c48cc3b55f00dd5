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
from sgdnoise.plumbing import positive_int
from sgdnoise.rng import Seed, as_generator


def spectral_density(op: LinearOperator, *, n_probes: int = 10, n_iter: int = 80, seed: Seed = 0) -> SpectralDensity:
    """SLQ nodes and weights from ``n_probes`` Rademacher probes and ``min(n_iter, D)`` Lanczos steps each.

    A request beyond ``D`` is clamped to ``D``: after ``D`` steps a probe's Krylov space is the
    whole space, its nodes are all the eigenvalues and its quadrature is exact for every
    polynomial, so there is no further step to take. The result records the steps taken
    (``n_iter``) and asked for (``requested_iter``); ``clamped`` and ``note`` say when they differ.
    """
    positive_int(n_probes, "n_probes")
    positive_int(n_iter, "n_iter")
    steps = min(n_iter, op.dim)
    generator = as_generator(seed, op.device)
    start = op.n_products
    process = LanczosProcess(op, rademacher(op, n_probes, generator), steps, generator)
    for _ in range(steps):
        process.step()
    nodes, weights = process.tridiagonal_eigs()
    return SpectralDensity(nodes, weights, op.dim, op.n_products - start, steps, n_iter)
