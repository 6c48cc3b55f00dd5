"""Across-parameters noise samples (Simsekli, Sagun & Gürbüzbalaban 2019; papers.md §1).

One α for the whole network: the noise values of all coordinates (of one or many mini-batches)
are pooled into one sample and cut into ``K2`` blocks of ``K1`` values for the Mohammadi et al.
(2015) estimator ``1/α̂ = (mean_i log|Y_i| − mean_j log|X_j|)/log K1``, ``Y_i`` = block sums.
The estimator lives in :mod:`sgdnoise.stable`; this module only builds the samples.

:func:`simsekli_pooled_noise` reproduces the published construction (``sgd_tail_index``,
``main.py: eval`` and ``utils.py: alpha_estimator``): the data are cut into ``P = ⌈D/B⌉``
consecutive mini-batches in storage order (an unshuffled ``DataLoader`` pass, last batch
possibly smaller), the ``P×M`` matrix ``G`` of their mean-loss gradients is formed,
``mean = G.sum(0)/P`` is subtracted (so the sign is ``g_k − ḡ``, the opposite of eq. 1), all
``N = P·M`` values are pooled row by row, and ``K1`` is the largest divisor of ``N`` not above
``√N``. Its flaws: ``K1`` collapses to 1 when ``N`` is prime (and is tiny whenever ``N`` has no
divisor near ``√N``), so the estimator divides by ``log 1``; ``ḡ`` is not ``∇U`` when ``B``
does not divide ``D`` (the short last batch gets weight ``1/P``); the ``P`` batches are one
fixed partition, not independent draws; and consecutive values of a block are neighbouring
coordinates of one layer — correlated and of one scale — so block sums are not sums of i.i.d.
draws.

:func:`pooled_noise` is the fixed version, built from a :class:`NoiseResult` (K independent
random mini-batches and the exact ``∇U``): the values are randomly permuted (seeded), ``K1`` is
``⌊√N⌋`` (or given, at least 2), and the ``N − K1·K2`` values that do not fill a block are
dropped (and counted) instead of shrinking ``K1``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from sgdnoise.errors import InvalidInputError, TooFewSamplesError
from sgdnoise.gradients.result import NoiseResult
from sgdnoise.plumbing.checks import is_int
from sgdnoise.plumbing.data import as_indexed_source
from sgdnoise.plumbing.losses import LossFn
from sgdnoise.plumbing.modes import evaluation_mode
from sgdnoise.plumbing.parameters import trainable_parameters
from sgdnoise.rng import Seed, as_generator


@dataclass(frozen=True)
class PooledNoise:
    """A pooled noise sample ``values`` of shape ``(num_blocks·block_size,)``, block-major.

    ``construction`` is ``"simsekli"`` or ``"fixed"``; ``dropped`` counts values left out so
    that the blocks are full; ``num_batches`` is how many mini-batches the values come from.
    """

    values: torch.Tensor
    block_size: int
    construction: str
    dropped: int
    num_batches: int

    @property
    def num_blocks(self) -> int:
        return self.values.numel() // self.block_size

    def blocks(self) -> torch.Tensor:
        """``values`` as ``(num_blocks, block_size)``: row i sums to the estimator's ``Y_i``."""
        return self.values.reshape(self.num_blocks, self.block_size)

    def to_dict(self) -> dict[str, Any]:
        return {
            "construction": self.construction,
            "block_size": self.block_size,
            "num_blocks": self.num_blocks,
            "dropped": self.dropped,
            "num_batches": self.num_batches,
            "values": self.values.tolist(),
        }


def largest_divisor_below_sqrt(n: int) -> int:
    """The largest divisor of ``n`` that is at most ``√n`` (Simsekli's block size; 1 for a prime)."""
    return max(i for i in range(1, math.isqrt(n) + 1) if n % i == 0)


def simsekli_pooled_noise(model: nn.Module, loss_fn: LossFn, data: Any, *, batch_size: int) -> PooledNoise:
    """Simsekli et al.'s pooled sample, reproduced as published (module docstring), flaws included.

    Gradients are of ``loss_fn`` (mean over the batch) in eval mode (as his ``eval`` does), for
    the trainable parameters in ``model.parameters()`` order. Holds the ``P×M`` matrix in memory.
    """
    source = as_indexed_source(data)
    if not (is_int(batch_size) and 1 <= batch_size <= source.size):
        raise InvalidInputError(f"batch_size must be an int in [1, {source.size}] (the data size); got {batch_size!r}")
    params = list(trainable_parameters(model).values())
    device = params[0].device
    rows = []
    with evaluation_mode(model), torch.enable_grad():
        for start in range(0, source.size, batch_size):
            x, y = source.take(torch.arange(start, min(start + batch_size, source.size)))
            grads = torch.autograd.grad(loss_fn(model(x.to(device)), y.to(device)), params, allow_unused=True)
            rows.append(
                torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1) for p, g in zip(params, grads)])
            )
    g = torch.stack(rows)
    noise = (g - g.sum(0) / g.shape[0]).reshape(-1)
    return PooledNoise(noise, largest_divisor_below_sqrt(noise.numel()), "simsekli", 0, g.shape[0])


def minibatch_noise_vectors(result: NoiseResult) -> torch.Tensor:
    """The across-parameters sample of each mini-batch: ``(K, n_entries)``, row k is ``u_k`` over
    every kept coordinate (all of them when collected with ``params=None``)."""
    return result.noise_matrix()[0].T


def pooled_noise(result: NoiseResult, *, block_size: int | None = None, seed: Seed = 0) -> PooledNoise:
    """The fixed pooled sample from ``result`` (module docstring): all kept noise values of all K
    mini-batches, seeded random permutation, ``K1 = block_size or ⌊√N⌋``, remainder dropped."""
    values = minibatch_noise_vectors(result).reshape(-1)
    n = values.numel()
    k1 = math.isqrt(n) if block_size is None else block_size
    if not is_int(k1) or k1 < 2 or n // k1 < 2:
        raise TooFewSamplesError(
            f"the pooled sample has {n} values; it needs a block size ≥ 2 and at least 2 blocks "
            f"(got block_size={k1}); keep more entries or mini-batches"
        )
    perm = torch.randperm(n, generator=as_generator(seed, values.device), device=values.device)
    kept = (n // k1) * k1
    return PooledNoise(values[perm[:kept]], k1, "fixed", n - kept, result.num_batches)
