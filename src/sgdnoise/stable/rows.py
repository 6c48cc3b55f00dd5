"""Row-wise helpers shared by the estimators: every sample is one row of a ``(P, K)`` tensor."""

from __future__ import annotations

import torch


def quantiles(sorted_rows: torch.Tensor, probs: torch.Tensor | list[float]) -> torch.Tensor:
    """Sample quantiles of each row of an already sorted ``(P, K)`` tensor; shape ``(P, len(probs))``.

    Linear interpolation between order statistics at position ``p·(K − 1)`` (NumPy's default,
    "type 7").
    """
    k = sorted_rows.shape[-1]
    p = torch.as_tensor(probs, dtype=sorted_rows.dtype, device=sorted_rows.device)
    pos = p * (k - 1)
    lo = pos.floor().long().clamp(0, k - 1)
    hi = (lo + 1).clamp(max=k - 1)
    frac = pos - lo
    return sorted_rows[..., lo] * (1 - frac) + sorted_rows[..., hi] * frac


def largest_atom_share(sorted_rows: torch.Tensor) -> torch.Tensor:
    """Share of each row taken by its most frequent exact value (1/K for all-distinct rows).

    A parameter behind a dead ReLU has noise exactly equal to one value in most mini-batches;
    such rows are not samples of a continuous law. Shape ``(P,)``.
    """
    p, k = sorted_rows.shape
    new_run = torch.ones_like(sorted_rows, dtype=torch.bool)
    new_run[:, 1:] = sorted_rows[:, 1:] != sorted_rows[:, :-1]
    # run id of every element; run lengths via a scatter of ones
    run_id = torch.cumsum(new_run.long(), dim=1) - 1
    lengths = torch.zeros(p, k, dtype=torch.long, device=sorted_rows.device).scatter_add_(1, run_id, torch.ones_like(run_id))
    return lengths.max(dim=1).values.to(sorted_rows.dtype) / k
