"""Mohammadi, Mohammadpour & Ogata (2015) tail-index estimator, as used by Simsekli et al. (2019).

For centred SαS ``X_1..X_K`` split into ``K2`` blocks of ``K1`` consecutive values with block
sums ``Y_i``, the sums are SαS with scale multiplied by ``K1^{1/α}``, hence

    1/α̂ = (1/log K1) · [ mean_i log|Y_i| − mean_j log|X_j| ].

Simsekli et al. took ``K1`` as the largest divisor of K not above √K, which collapses to 1
(and divides by log 1 = 0) when K is prime. Here ``K1 = max(2, round(√K))``, ``K2 = ⌊K/K1⌋``
and the ``K − K1·K2`` leftover values are dropped. Because the estimate depends on which
values share a block, it is averaged (in 1/α) over ``n_orders`` random orderings of each row,
drawn from a fixed seed: the first ordering is the row as given, which reproduces the
original estimator exactly when ``n_orders = 1``. Rows are centred at their median first
(the mean does not exist for α ≤ 1); exact zeros are left out of the log-means. The averaged
1/α̂ is clipped to [0.5, 2] (α̂ ∈ [0.5, 2]).
"""

from __future__ import annotations

import math

import torch

from sgdnoise.errors import TooFewSamplesError
from sgdnoise.rng import as_generator


def block_size(k: int) -> int:
    """``K1 = max(2, round(√K))``: the number of values summed per block."""
    return max(2, round(math.sqrt(k)))


def inverse_alpha(centred: torch.Tensor, k1: int) -> torch.Tensor:
    """``1/α̂`` of each row of a centred ``(P, K)`` tensor with blocks of ``k1`` values; shape ``(P,)``."""
    p, k = centred.shape
    k2 = k // k1
    if k2 < 2:
        raise TooFewSamplesError(
            f"the tail estimator needs at least 2 blocks of {k1} values; rows have only {k} values"
        )
    used = centred[:, : k1 * k2]
    return (_mean_log_abs(used.reshape(p, k2, k1).sum(-1)) - _mean_log_abs(used)) / math.log(k1)


def _mean_log_abs(v: torch.Tensor) -> torch.Tensor:
    """Row means of ``log|v|`` over the non-zero entries (centring at the median of an odd-length
    row makes one value exactly 0, whose log would swamp the mean)."""
    nonzero = v != 0
    logs = torch.where(nonzero, torch.log(v.abs().where(nonzero, torch.ones_like(v))), 0.0)
    return logs.sum(1) / nonzero.sum(1).clamp_min(1)


def fit_tail(x: torch.Tensor, median: torch.Tensor, n_orders: int = 16, seed: int = 0) -> torch.Tensor:
    """α̂ for each row of ``x`` ``(P, K)`` centred at ``median`` ``(P,)``, averaged over orderings."""
    centred = x - median[:, None]
    k1 = block_size(x.shape[1])
    inv = inverse_alpha(centred, k1)
    gen = as_generator(seed, x.device)
    for _ in range(n_orders - 1):
        order = torch.argsort(torch.rand(x.shape, generator=gen, device=x.device, dtype=x.dtype), dim=1)
        inv = inv + inverse_alpha(torch.gather(centred, 1, order), k1)
    return 1.0 / (inv / n_orders).clamp(0.5, 2.0)
