"""Stochastic gradient noise (SGN) of PyTorch models: (model, loss, data, weights) → noise samples.

- :func:`collect_noise` — the noise ``u_k = ∇U(w) − g_k`` of K random (or given) mini-batches
  (papers.md §1 eq. 1), per parameter across mini-batches (Xie et al.; Battash et al.), with
  three engines behind one interface (:mod:`~sgdnoise.gradients.engines`: loop, vmap, selected
  entries from one large pass) and one planner (:mod:`~sgdnoise.gradients.planning`, whose
  :class:`CollectionPlan` says what ran and why), running statistics for every entry, streaming
  to disk and resuming.
- :func:`simsekli_pooled_noise` / :func:`pooled_noise` — the across-parameters sample of
  Simsekli et al. (2019): his P×M construction reproduced, and a fixed version.
"""

from sgdnoise.gradients.across import PooledNoise, minibatch_noise_vectors, pooled_noise, simsekli_pooled_noise
from sgdnoise.gradients.collect import DEFAULT_MEMORY_BUDGET, collect_noise
from sgdnoise.gradients.planning import METHODS, CollectionPlan
from sgdnoise.gradients.result import NoiseResult
from sgdnoise.gradients.running import NoiseStats, RunningMoments
from sgdnoise.gradients.selection import ParameterSelection, select_parameters
from sgdnoise.plumbing.batches import sample_batch_indices

__all__ = [
    "DEFAULT_MEMORY_BUDGET",
    "METHODS",
    "CollectionPlan",
    "NoiseResult",
    "NoiseStats",
    "ParameterSelection",
    "PooledNoise",
    "RunningMoments",
    "collect_noise",
    "minibatch_noise_vectors",
    "pooled_noise",
    "sample_batch_indices",
    "select_parameters",
    "simsekli_pooled_noise",
]
