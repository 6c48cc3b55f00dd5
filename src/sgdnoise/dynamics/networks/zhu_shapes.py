"""Zhu et al.'s noise shapes at ``R`` points at once, as factors: ``C = F Fᵀ`` with ``Tr C = 1``.

The shaped variants of :func:`~sgdnoise.dynamics.zhu_network_dynamics` add ``ξ ~ N(0, v·C(w))``
(Zhu, Wu, Yu, Wu & Ma 2019; papers.md §5). ``ξ = √v F z`` with ``z`` standard normal has that law
for any factor ``F`` of ``C``, so no ``P × P`` matrix is formed:

* ``isotropic`` — ``C = I/P`` (GLD-const), ``F = 1/√P`` (diagonal);
* ``diagonal`` — ``C = diag Σ / Tr Σ`` (GLD-diag), ``F = √(diag Σ/Tr Σ)`` (diagonal);
* ``covariance`` — ``C = Σ/Tr Σ`` (GLD-full), ``F``'s columns ``(g_i − ḡ)/√(N Tr Σ)``, ``i = 1 … N``;
* ``hessian`` — ``C = H_k/Tr H_k``, ``H_k = Σ_{j≤k} λ_j u_j u_jᵀ`` the top-k eigenpairs (GLD-Hessian;
  negative λ_j clamped to 0), ``F``'s columns ``u_j √(λ_j/Σλ)``;
* ``top_eigvec`` — ``C = u₁u₁ᵀ`` (GLD-1st eigvec), ``F = u₁``.

``Σ(w) = (1/N) Σ_i (g_i − ḡ)(g_i − ḡ)ᵀ`` is the covariance of the per-sample gradients ``g_i`` and
``H(w)`` the Hessian of the full-data loss (:class:`~sgdnoise.dynamics.networks.stacked_loss.StackedLoss`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from sgdnoise.dynamics.networks.hessian_eigenpairs import top_hessian_eigenpairs
from sgdnoise.dynamics.networks.stacked_loss import StackedLoss
from sgdnoise.errors import ConvergenceError, InvalidInputError

NOISY = ("isotropic", "diagonal", "covariance", "hessian", "top_eigvec")


def unit_trace_factor(
    variant: str,
    theta: torch.Tensor,
    loss: StackedLoss,
    *,
    hessian_k: int,
    tol: float,
    generators: Sequence[torch.Generator],
    sample_gradients: torch.Tensor | None = None,
) -> torch.Tensor:
    """A factor ``F`` of the noise shape at every row of ``θ (R, P)``: ``C = F Fᵀ``, ``Tr C = 1``.

    Shape ``(R, P)`` for a diagonal ``F`` (isotropic: ``1/√P``; diagonal: ``√(diag Σ/Tr Σ)``) and
    ``(R, P, d)`` otherwise: covariance ``(g_i − ḡ)/√(N Tr Σ)`` as columns (d = N), hessian
    ``u_j √(λ_j/Σλ)`` (d = k, λ clamped at 0), top_eigvec ``u₁`` (d = 1). ``generators`` (one per
    repeat) draw the Lanczos start vectors; ``sample_gradients (R, N, P)`` at ``θ``, if already
    computed, are used instead of recomputing them. Raises :class:`ConvergenceError` where the shape is
    undefined (Σ = 0, or no positive Hessian eigenvalue).
    """
    dim = theta.shape[1]
    if variant == "isotropic":
        return torch.full_like(theta, dim**-0.5)
    if variant in ("diagonal", "covariance"):
        per_sample = loss.sample_gradients(theta) if sample_gradients is None else sample_gradients
        centred = per_sample - per_sample.mean(dim=1, keepdim=True)
        n = centred.shape[1]
        variance = centred.square().sum(dim=1) / n  # diag Σ, (R, P)
        trace = variance.sum(dim=1, keepdim=True)
        if not bool((trace > 0).all()):
            raise ConvergenceError(
                "the per-sample gradients of a repeat are all equal (Σ = 0): the noise shape "
                f"of variant {variant!r} is undefined there"
            )
        if variant == "diagonal":
            return (variance / trace).sqrt()
        return (centred.transpose(1, 2) / (n * trace[:, :, None]).sqrt()).contiguous()
    if variant in ("hessian", "top_eigvec"):
        starts = torch.stack(
            [torch.randn(dim, generator=g, dtype=theta.dtype, device=theta.device) for g in generators]
        )
        k = hessian_k if variant == "hessian" else 1
        lam, vectors = top_hessian_eigenpairs(loss, theta, k, starts, tol=tol, generator=generators[0])
        lam = lam.clamp_min(0)
        if not bool((lam[:, 0] > 0).all()):
            raise ConvergenceError(
                "the Hessian of a repeat has no positive eigenvalue: the noise shape of variant "
                f"{variant!r} is undefined (start from a minimum)"
            )
        return vectors * (lam / lam.sum(dim=1, keepdim=True)).sqrt()[:, None, :]
    raise InvalidInputError(f"variant {variant!r} has no noise shape; choose from {NOISY}")


def apply_factor(factor: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """``ξ_r = F_r z_r``, ``(R, P)``, for a factor from :func:`unit_trace_factor` and ``z (R, d)``."""
    return factor * z if factor.ndim == 2 else torch.einsum("rpd,rd->rp", factor, z)
