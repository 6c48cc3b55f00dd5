"""Simulation of SGD's SDE models on potentials, and their exit from minima.

* Potentials batched over paths (P, d): :class:`Quadratic`, :class:`DoubleWell`,
  :class:`Ackley`, :class:`ZhuToy`, :class:`FunctionPotential` (autograd).
* Domains: :class:`Box`, :class:`Ball`, or any predicate. Schedulers: constant, exponential
  ``t^{γ−1}``, multi-step.
* :func:`simulate_exit`: Euler scheme with per-coordinate SαS Lévy, Gaussian or anisotropic
  Gaussian noise, thousands of paths at once; :class:`ExitResult` per path and its summary.
* :func:`zhu_escape_table`: GD + noise variants at equal total variance on Zhu et al.'s toy;
  :func:`zhu_network_dynamics`: the same variants and SGD on a network, all repeats at once.
* :func:`sgd_ensemble`: many plain-SGD seeds of one network at once, bit-identical to the
  seed-by-seed loop; :func:`escape_by_loss` / :func:`escape_by_distance` stop each seed at its
  escape from a minimum; :func:`project_displacements` splits exit displacements over directions.
"""

from sgdnoise.dynamics.domains import Ball, Box, Domain, PredicateDomain
from sgdnoise.dynamics.ensemble import EnsembleResult, batch_indices, init_seed, sgd_ensemble
from sgdnoise.dynamics.escape import (
    EscapeResult,
    ProjectionShares,
    escape_by_distance,
    escape_by_loss,
    project_displacements,
)
from sgdnoise.dynamics.multiplicative import stationary_samples
from sgdnoise.dynamics.potentials import Ackley, DoubleWell, FunctionPotential, Potential, Quadratic, ZhuToy
from sgdnoise.dynamics.results import ExitResult, ExitSummary
from sgdnoise.dynamics.schedules import ConstantSchedule, ExponentialSchedule, MultiStepSchedule, Schedule
from sgdnoise.dynamics.simulate import simulate_exit
from sgdnoise.dynamics.zhu import ZHU_VARIANTS, ZhuEscapeTable, zhu_escape_table
from sgdnoise.dynamics.zhu_network import MATCH_AT, ZhuNetworkRun, sgd_noise_variance, zhu_network_dynamics

__all__ = [
    "MATCH_AT",
    "ZHU_VARIANTS",
    "Ackley",
    "Ball",
    "Box",
    "ConstantSchedule",
    "Domain",
    "DoubleWell",
    "EnsembleResult",
    "EscapeResult",
    "ExitResult",
    "ExitSummary",
    "ExponentialSchedule",
    "FunctionPotential",
    "MultiStepSchedule",
    "Potential",
    "PredicateDomain",
    "ProjectionShares",
    "Quadratic",
    "Schedule",
    "ZhuEscapeTable",
    "ZhuNetworkRun",
    "ZhuToy",
    "batch_indices",
    "escape_by_distance",
    "escape_by_loss",
    "init_seed",
    "project_displacements",
    "sgd_ensemble",
    "sgd_noise_variance",
    "simulate_exit",
    "stationary_samples",
    "zhu_escape_table",
    "zhu_network_dynamics",
]
