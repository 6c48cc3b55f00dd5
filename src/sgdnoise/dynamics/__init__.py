"""Simulation of SGD's dynamics: SDE models on potentials, and SGD ensembles on real networks.

Two sides, each a subpackage:

* :mod:`~sgdnoise.dynamics.sde` — SDEs on small potentials. Potentials batched over paths (P, d):
  :class:`Quadratic`, :class:`DoubleWell`, :class:`Ackley`, :class:`ZhuToy`,
  :class:`FunctionPotential` (autograd); domains :class:`Box`, :class:`Ball` or any predicate;
  schedulers constant, exponential ``t^{γ−1}``, multi-step. :func:`simulate_exit`: Euler scheme
  with per-coordinate SαS Lévy, Gaussian or anisotropic Gaussian noise, thousands of paths at once;
  :class:`ExitResult` per path and its summary. :func:`stationary_samples`: Mori et al.'s
  multiplicative noise. :func:`zhu_escape_table`: GD + noise variants at equal total variance on
  Zhu et al.'s 2-D toy.
* :mod:`~sgdnoise.dynamics.networks` — real networks, many seeds at once. :func:`sgd_ensemble`:
  plain-SGD seeds of one network, bit-identical to the seed-by-seed loop;
  :func:`escape_by_loss` / :func:`escape_by_distance` stop each seed at its escape from a minimum;
  :func:`project_displacements` splits exit displacements over directions;
  :func:`zhu_network_dynamics`: Zhu's variants and SGD on a network, all repeats at once.
"""

from sgdnoise.dynamics.networks import (
    MATCH_AT,
    EnsembleResult,
    EscapeResult,
    ProjectionShares,
    ZhuNetworkRun,
    batch_indices,
    escape_by_distance,
    escape_by_loss,
    init_seed,
    project_displacements,
    sgd_ensemble,
    sgd_noise_variance,
    zhu_network_dynamics,
)
from sgdnoise.dynamics.sde import (
    ZHU_VARIANTS,
    Ackley,
    Ball,
    Box,
    ConstantSchedule,
    Domain,
    DoubleWell,
    ExitResult,
    ExitSummary,
    ExponentialSchedule,
    FunctionPotential,
    MultiStepSchedule,
    Potential,
    PredicateDomain,
    Quadratic,
    Schedule,
    ZhuEscapeTable,
    ZhuToy,
    simulate_exit,
    stationary_samples,
    zhu_escape_table,
)

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
