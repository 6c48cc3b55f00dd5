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
  :func:`escape_by_loss` / :func:`escape_by_level` / :func:`escape_by_distance` stop each seed at
  its escape from a minimum, :func:`escape_sweep` many points at once (split over the executor's
  workers); :func:`noisy_gd_escape` does the same for GD + SαS or Gaussian
  noise; :func:`basin_half_widths` and :func:`exit_parameters` give the basin along every
  coordinate and each path's exit parameter;
  :func:`project_displacements` splits exit displacements over directions;
  :func:`zhu_network_dynamics`: Zhu's variants and SGD on a network, all repeats at once.
"""

from sgdnoise.dynamics.networks import (
    MATCH_AT,
    NOISE_MODELS,
    BasinWidths,
    EnsembleResult,
    EscapePoint,
    EscapeResult,
    ExitParameters,
    ProjectionShares,
    ZhuNetworkRun,
    basin_half_widths,
    batch_indices,
    escape_by_distance,
    escape_by_level,
    escape_by_loss,
    escape_sweep,
    exit_parameters,
    init_seed,
    noisy_gd_escape,
    project_displacements,
    relative_displacement,
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
    "NOISE_MODELS",
    "ZHU_VARIANTS",
    "Ackley",
    "Ball",
    "BasinWidths",
    "Box",
    "ConstantSchedule",
    "Domain",
    "DoubleWell",
    "EnsembleResult",
    "EscapePoint",
    "EscapeResult",
    "ExitParameters",
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
    "basin_half_widths",
    "batch_indices",
    "escape_by_distance",
    "escape_by_level",
    "escape_by_loss",
    "escape_sweep",
    "exit_parameters",
    "init_seed",
    "noisy_gd_escape",
    "project_displacements",
    "relative_displacement",
    "sgd_ensemble",
    "sgd_noise_variance",
    "simulate_exit",
    "stationary_samples",
    "zhu_escape_table",
    "zhu_network_dynamics",
]
