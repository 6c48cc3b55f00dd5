"""Algorithms over :class:`~sgdnoise.curvature.operators.LinearOperator`: spectrum, trace, diagonal, density."""

from sgdnoise.curvature.algorithms.diagonal import diagonal
from sgdnoise.curvature.algorithms.lanczos import LanczosProcess, lanczos, ritz_converged
from sgdnoise.curvature.algorithms.power import power_iteration
from sgdnoise.curvature.algorithms.results import DiagonalResult, EigenResult, SpectralDensity, TraceResult
from sgdnoise.curvature.algorithms.slq import spectral_density
from sgdnoise.curvature.algorithms.trace import hutchinson_trace, hutchpp_trace

__all__ = [
    "DiagonalResult",
    "EigenResult",
    "LanczosProcess",
    "SpectralDensity",
    "TraceResult",
    "diagonal",
    "hutchinson_trace",
    "hutchpp_trace",
    "lanczos",
    "power_iteration",
    "ritz_converged",
    "spectral_density",
]
