"""Everything about the curvature and the noise geometry of a model at its current weights, in one call.

:func:`curvature_summary` measures on one dataset (a tensor pair): the top-k Hessian eigenpairs
(Lanczos, certified), ``Tr H`` (Hutch++), the spectral density (SLQ), the outliers (n, h*),
and, from per-sample gradients, Σ of mini-batch SGD at ``batch_size``, Zhu's ``Tr(HΣ)`` against
isotropic noise, the gradient noise scales, Mori's noise strength, and the noise variance along
each top eigenvector ``v_iᵀΣ₁v_i`` next to ``2L·λ_i`` (their ratio is Wang & Wu's directional
alignment ``g(θ, v_i)`` when the Gauss–Newton part dominates the Hessian, ``vᵀGv ≈ λ``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from sgdnoise.curvature.algorithms import (
    EigenResult,
    SpectralDensity,
    TraceResult,
    hutchpp_trace,
    lanczos,
    quadratic_forms,
)
from sgdnoise.curvature.algorithms.slq import spectral_density
from sgdnoise.curvature.geometry import (
    GradientNoiseScale,
    HessianOutliers,
    NoiseAnisotropy,
    NoiseStrength,
    gradient_noise_scale,
    hessian_outliers,
    noise_anisotropy,
    noise_strength,
)
from sgdnoise.curvature.operators import HessianOperator, noise_covariance
from sgdnoise.curvature.persample import per_sample_gradients
from sgdnoise.plumbing import LossFn
from sgdnoise.rng import Seed


@dataclass(frozen=True)
class CurvatureSummary:
    """Result of :func:`curvature_summary`; ``eigen_noise`` is ``v_iᵀΣ₁v_i`` for each top eigenvector."""

    loss: float
    dim: int
    n_samples: int
    batch_size: int
    eigen: EigenResult
    trace: TraceResult
    density: SpectralDensity
    outliers: HessianOutliers
    anisotropy: NoiseAnisotropy
    noise_scale: GradientNoiseScale
    strength: NoiseStrength
    eigen_noise: torch.Tensor

    def to_dict(self) -> dict:
        return {
            "loss": self.loss,
            "dim": self.dim,
            "n_samples": self.n_samples,
            "batch_size": self.batch_size,
            "eigen": self.eigen.to_dict(),
            "trace": self.trace.to_dict(),
            "outliers": self.outliers.to_dict(),
            "anisotropy": self.anisotropy.to_dict(),
            "noise_scale": self.noise_scale.to_dict(),
            "strength": self.strength.to_dict(),
            "eigen_noise": [float(v) for v in self.eigen_noise],
        }


def curvature_summary(
    model: nn.Module,
    loss_fn: LossFn,
    data: tuple[torch.Tensor, torch.Tensor],
    *,
    k: int = 10,
    batch_size: int = 32,
    n_products: int = 99,
    tol: float = 1e-3,
    max_products: int | None = 256,
    density_probes: int = 4,
    density_iter: int = 40,
    params: str | Sequence[str] | None = None,
    chunk_size: int = 256,
    seed: Seed = 0,
) -> CurvatureSummary:
    """Measure the curvature quantities listed in the module docstring (model in eval mode).

    ``max_products`` caps the HVPs spent on ``Tr(HΣ)`` (rows of Σ's factor are subsampled, with a
    standard error; ``None`` = exact, one HVP per sample).
    """
    hess = HessianOperator(model, loss_fn, data, params=params, chunk_size=chunk_size)
    loss = float(hess.loss())
    eigen = lanczos(hess, min(k, hess.dim), tol=tol, seed=seed)
    trace = hutchpp_trace(hess, n_products, seed=seed)
    density = spectral_density(hess, n_probes=density_probes, n_iter=density_iter, seed=seed)
    grads = per_sample_gradients(model, loss_fn, data, params=params, chunk_size=chunk_size)
    sigma = noise_covariance(grads, batch_size)
    sigma1 = noise_covariance(grads, 1)
    eigvecs = eigen.eigenvectors.to(grads)
    return CurvatureSummary(
        loss=loss,
        dim=hess.dim,
        n_samples=grads.shape[0],
        batch_size=batch_size,
        eigen=eigen,
        trace=trace,
        density=density,
        outliers=hessian_outliers(eigen),
        anisotropy=noise_anisotropy(hess, sigma, trace_h=trace, max_products=max_products, seed=seed),
        noise_scale=gradient_noise_scale(grads, hess, max_products=max_products, seed=seed),
        strength=noise_strength(grads, loss, trace_h=trace.estimate),
        eigen_noise=quadratic_forms(sigma1, eigvecs),
    )
