"""The SDE side of ``dynamics``: stochastic differential equations of SGD on small potentials.

* :mod:`~sgdnoise.dynamics.sde.potentials` — potentials batched over paths ``(P, d)``.
* :mod:`~sgdnoise.dynamics.sde.domains` — the domains a path must leave.
* :mod:`~sgdnoise.dynamics.sde.schedules` — learning-rate schedulers ``s_t`` (Battash et al. eq. 3).
* :mod:`~sgdnoise.dynamics.sde.noise` — the driving noises (SαS Lévy, Gaussian, anisotropic Gaussian).
* :mod:`~sgdnoise.dynamics.sde.simulate` — :func:`simulate_exit`, the Euler scheme over many paths.
* :mod:`~sgdnoise.dynamics.sde.results` — :class:`ExitResult` and its :class:`ExitSummary`.
* :mod:`~sgdnoise.dynamics.sde.multiplicative` — SGD's multiplicative noise near a minimum (Mori et al.).
* :mod:`~sgdnoise.dynamics.sde.zhu` — Zhu et al.'s noise variants on their 2-D toy loss.
"""

from sgdnoise.dynamics.sde.domains import Ball, Box, Domain, PredicateDomain
from sgdnoise.dynamics.sde.multiplicative import stationary_samples
from sgdnoise.dynamics.sde.potentials import Ackley, DoubleWell, FunctionPotential, Potential, Quadratic, ZhuToy
from sgdnoise.dynamics.sde.results import ExitResult, ExitSummary
from sgdnoise.dynamics.sde.schedules import ConstantSchedule, ExponentialSchedule, MultiStepSchedule, Schedule
from sgdnoise.dynamics.sde.simulate import simulate_exit
from sgdnoise.dynamics.sde.zhu import ZHU_VARIANTS, ZhuEscapeTable, zhu_escape_table

__all__ = [
    "ZHU_VARIANTS",
    "Ackley",
    "Ball",
    "Box",
    "ConstantSchedule",
    "Domain",
    "DoubleWell",
    "ExitResult",
    "ExitSummary",
    "ExponentialSchedule",
    "FunctionPotential",
    "MultiStepSchedule",
    "Potential",
    "PredicateDomain",
    "Quadratic",
    "Schedule",
    "ZhuEscapeTable",
    "ZhuToy",
    "simulate_exit",
    "stationary_samples",
    "zhu_escape_table",
]
