"""The network side of ``dynamics``: SGD and noisy GD on real networks, many seeds at once.

* :mod:`~sgdnoise.dynamics.networks.ensemble` — :func:`sgd_ensemble`, plain SGD for many seeds at once,
  on :mod:`~sgdnoise.dynamics.networks.seeds` (a seed's batches and start),
  :mod:`~sgdnoise.dynamics.networks.seed_gradients` (every seed's gradient per step),
  :mod:`~sgdnoise.dynamics.networks.stacked_mlp` (the direct path for ReLU MLPs) and
  :mod:`~sgdnoise.dynamics.networks.seedwise` (per-seed products rounded as one seed's).
* :mod:`~sgdnoise.dynamics.networks.escape` — escape protocols from a minimum (by loss, by level, by
  distance), and :mod:`~sgdnoise.dynamics.networks.projection` (exit displacements split over directions).
* :mod:`~sgdnoise.dynamics.networks.noisy_escape` — GD + per-parameter SαS or Gaussian noise from a
  minimum until escape, all seeds at once; :mod:`~sgdnoise.dynamics.networks.basin` — basin
  half-widths along every coordinate by one batched line search;
  :mod:`~sgdnoise.dynamics.networks.exit_parameter` — each path's exit parameter and top-k shares.
* :mod:`~sgdnoise.dynamics.networks.zhu_network` — Zhu et al.'s noise variants on a network, all
  repeats at once, on :mod:`~sgdnoise.dynamics.networks.stacked_loss` (the loss at stacked flat
  parameters), :mod:`~sgdnoise.dynamics.networks.zhu_shapes` (the noise shapes),
  :mod:`~sgdnoise.dynamics.networks.hessian_eigenpairs` (batched Lanczos) and
  :mod:`~sgdnoise.dynamics.networks.sgd_variance` (SGD's own per-step variance).
"""

from sgdnoise.dynamics.networks.basin import BasinWidths, basin_half_widths
from sgdnoise.dynamics.networks.ensemble import EnsembleResult, sgd_ensemble
from sgdnoise.dynamics.networks.escape import (
    EscapePoint,
    EscapeResult,
    escape_by_distance,
    escape_by_level,
    escape_by_loss,
    escape_sweep,
)
from sgdnoise.dynamics.networks.exit_parameter import ExitParameters, exit_parameters, relative_displacement
from sgdnoise.dynamics.networks.noisy_escape import NOISE_MODELS, noisy_gd_escape
from sgdnoise.dynamics.networks.projection import ProjectionShares, project_displacements
from sgdnoise.dynamics.networks.seeds import batch_indices, init_seed
from sgdnoise.dynamics.networks.sgd_variance import sgd_noise_variance
from sgdnoise.dynamics.networks.zhu_network import MATCH_AT, ZhuNetworkRun, zhu_network_dynamics

__all__ = [
    "MATCH_AT",
    "NOISE_MODELS",
    "BasinWidths",
    "EnsembleResult",
    "EscapePoint",
    "EscapeResult",
    "ExitParameters",
    "ProjectionShares",
    "ZhuNetworkRun",
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
    "zhu_network_dynamics",
]
