"""Algorithms over :class:`~sgdnoise.curvature.operators.LinearOperator`: spectrum, trace, diagonal, density.

The operator interface is re-exported here, so that code which writes its own operator for these
algorithms (as ``sgdnoise.dynamics`` does) needs this package only.
"""

from sgdnoise.curvature.algorithms.diagonal import diagonal
from sgdnoise.curvature.algorithms.forms import quadratic_forms
from sgdnoise.curvature.algorithms.lanczos import LanczosProcess, lanczos, ritz_converged
from sgdnoise.curvature.algorithms.power import power_iteration
from sgdnoise.curvature.algorithms.results import DiagonalResult, EigenResult, SpectralDensity, TraceResult
from sgdnoise.curvature.algorithms.slq import spectral_density
from sgdnoise.curvature.algorithms.trace import hutchinson_trace, hutchpp_trace
from sgdnoise.curvature.operators.base import LinearOperator

__all__ = [
    "DiagonalResult",
    "EigenResult",
    "LanczosProcess",
    "LinearOperator",
    "SpectralDensity",
    "TraceResult",
    "diagonal",
    "hutchinson_trace",
    "hutchpp_trace",
    "lanczos",
    "power_iteration",
    "quadratic_forms",
    "ritz_converged",
    "spectral_density",
]
