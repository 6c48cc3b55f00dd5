"""A whole ``nn.Linear`` weight ``(O, I)``: its two weight paths (:mod:`.paths`).

Over ``T`` positions per sample (tokens; ``T = 1`` for a plain vector input) sample ``n``
contributes ``δ_nᵀ a_n = Σ_T δ[n,T]ᵀ a[n,T]``, and mini-batch ``k`` gets
``g_k = Σ_{n∈Ω_k} δ_nᵀ a_n``.
"""

from __future__ import annotations

import torch
from torch import nn

from sgdnoise.gradients.engines.entries import paths
from sgdnoise.gradients.engines.entries.counts import gathered


def linear_weight_per_sample(module: nn.Linear, a: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """``(N, O, I)``: ``δ_nᵀ a_n`` of each of the ``N`` samples (``a`` ``(N, ..., I)``, ``delta``
    ``(N, ..., O)``), one batched matmul."""
    n = a.shape[0]
    return torch.bmm(delta.reshape(n, -1, module.out_features).transpose(1, 2), a.reshape(n, -1, module.in_features))


def linear_weight_per_batch(
    module: nn.Linear, a: torch.Tensor, delta: torch.Tensor, rows: torch.Tensor, out: torch.Tensor | None = None
) -> torch.Tensor:
    """``(Kc, O, I)``, into ``out`` if given: ``g_k = Σ_{n∈Ω_k} δ_nᵀ a_n`` without per-sample
    gradients, from the factors ``a`` ``(U, ..., I)`` and ``delta`` ``(U, ..., O)`` of all the
    chunk's samples and the mini-batches ``rows`` ``(Kc, B)``: one batched matmul
    ``(m, O, B·T) @ (m, B·T, I)`` per ``m = GROUPED_BATCHES`` mini-batches, over their samples
    gathered (small gathers stay in cache)."""
    kc, u = rows.shape[0], a.shape[0]
    result = out if out is not None else a.new_empty((kc, *module.weight.shape))
    flat_a, flat_delta = a.reshape(u, -1), delta.reshape(u, -1)  # once: a copy when not contiguous
    step = paths.GROUPED_BATCHES
    for first in range(0, kc, step):
        group = rows[first : first + step]
        d = gathered(flat_delta, group).reshape(group.shape[0], -1, module.out_features)
        x = gathered(flat_a, group).reshape(group.shape[0], -1, module.in_features)
        torch.bmm(d.transpose(1, 2), x, out=result[first : first + group.shape[0]])
    return result
