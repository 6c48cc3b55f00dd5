"""Deflated power iteration (the method of PyHessian), kept as a comparator to Lanczos.

Eigenpair i is found by iterating ``v ← A v / ‖A v‖`` with ``v`` kept orthogonal to the
eigenvectors already found (deflation by projection), so it converges to the i-th largest
eigenvalue *in magnitude*. Pair i stops when the deflated residual ``‖(I − P)A v − θ v‖`` is
``≤ max(tol·|θ|, atol)`` (``θ = vᵀAv``, P the projector on the found vectors). A final
Rayleigh–Ritz step on the found vectors (no extra products) gives the reported pairs and their
true residuals ``‖A y − θ y‖``, checked against the same bound as
:func:`~sgdnoise.curvature.algorithms.lanczos.lanczos`. (PyHessian instead stops when θ changes
by less than ``tol`` relatively, which does not bound the error.)
"""

from __future__ import annotations

import torch

from sgdnoise.curvature.algorithms.probes import gaussian
from sgdnoise.curvature.algorithms.results import EigenResult
from sgdnoise.curvature.operators.base import LinearOperator
from sgdnoise.errors import ConvergenceError, InvalidInputError
from sgdnoise.rng import Seed, as_generator


def power_iteration(
    op: LinearOperator,
    k: int = 5,
    *,
    tol: float = 1e-4,
    atol: float = 0.0,
    max_iter: int = 1000,
    seed: Seed = 0,
    strict: bool = True,
) -> EigenResult:
    """The ``k`` largest-magnitude eigenpairs by deflated power iteration, ``max_iter`` products each."""
    if not isinstance(k, int) or not 1 <= k <= op.dim:
        raise InvalidInputError(f"k must be an int in [1, D={op.dim}]; got {k!r}")
    if not (tol >= 0 and atol >= 0 and tol + atol > 0) or max_iter < 1:
        raise InvalidInputError(f"need tol, atol >= 0 (not both 0) and max_iter >= 1; got {tol}, {atol}, {max_iter}")
    generator = as_generator(seed, op.device)
    start_products = op.n_products
    found = torch.zeros((op.dim, 0), dtype=op.dtype, device=op.device)
    products = torch.zeros((op.dim, 0), dtype=op.dtype, device=op.device)  # A @ found
    n_iter = 0

    def project_out(w: torch.Tensor) -> torch.Tensor:
        return w - found @ (found.T @ w)

    for _ in range(k):
        v = project_out(gaussian(op, 1, generator)[:, 0])
        v = v / v.norm()
        for _ in range(max_iter):
            av = op.matvec(v)
            n_iter += 1
            theta = torch.dot(v, av)
            deflated = project_out(av)
            if (deflated - theta * v).norm() <= max(tol * float(theta.abs()), atol):
                break
            v = deflated / deflated.norm()
        found = torch.cat([found, v.unsqueeze(1)], dim=1)
        products = torch.cat([products, av.unsqueeze(1)], dim=1)
    # Rayleigh–Ritz on the span of the found vectors (no extra products): removes the coupling
    # left by deflating against inexact eigenvectors, and gives residuals of A itself.
    theta, s = torch.linalg.eigh(found.T @ products)
    order = theta.abs().argsort(descending=True)
    values, s = theta[order], s[:, order]
    vectors = found @ s
    residuals = (products @ s - vectors * values).norm(dim=0)
    converged = residuals <= torch.clamp(tol * values.abs(), min=atol)
    if strict and not bool(converged.all()):
        raise ConvergenceError(
            f"power iteration did not converge in {max_iter} products per eigenvalue: residuals "
            f"{residuals.tolist()}; raise max_iter, loosen tol, or use lanczos (much faster)"
        )
    return EigenResult(
        values, vectors, residuals, converged, op.n_products - start_products, n_iter, "power", "top", tol, atol
    )
