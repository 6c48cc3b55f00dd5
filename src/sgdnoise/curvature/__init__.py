"""Curvature of the loss and geometry of the SGD noise (papers.md §5–§7).

Operators (:mod:`.operators`) are symmetric matrices known through products — Hessian,
generalised Gauss–Newton, empirical Fisher, noise covariance Σ — over any subset of a model's
parameters. Algorithms (:mod:`.algorithms`) work on any operator: Lanczos, power iteration,
Hutchinson/Hutch++ trace, diagonal, spectral density. :mod:`.geometry` relates Σ to H.
Short way in: :func:`hessian_eigenvalues`, :func:`hessian_trace`.
"""

from sgdnoise.curvature.algorithms import (
    DiagonalResult,
    EigenResult,
    SpectralDensity,
    TraceResult,
    diagonal,
    hutchinson_trace,
    hutchpp_trace,
    lanczos,
    power_iteration,
    spectral_density,
)
from sgdnoise.curvature.api import hessian_eigenvalues, hessian_trace
from sgdnoise.curvature.operators import (
    DenseOperator,
    EmpiricalFisherOperator,
    GGNOperator,
    GramOperator,
    HessianOperator,
    LinearOperator,
    empirical_fisher,
    minibatch_noise_covariance,
    noise_covariance,
)
from sgdnoise.curvature.persample import per_sample_gradients
from sgdnoise.plumbing import ParameterSpace

__all__ = [
    "DenseOperator",
    "DiagonalResult",
    "EigenResult",
    "EmpiricalFisherOperator",
    "GGNOperator",
    "GramOperator",
    "HessianOperator",
    "LinearOperator",
    "ParameterSpace",
    "SpectralDensity",
    "TraceResult",
    "diagonal",
    "empirical_fisher",
    "hessian_eigenvalues",
    "hessian_trace",
    "hutchinson_trace",
    "hutchpp_trace",
    "lanczos",
    "minibatch_noise_covariance",
    "noise_covariance",
    "per_sample_gradients",
    "power_iteration",
    "spectral_density",
]
