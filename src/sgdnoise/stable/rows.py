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


def subsample(rows: torch.Tensor, target: int = 256) -> torch.Tensor:
    """Every m-th value of each row, ``m = max(1, K // target)``: a cheap, order-preserving
    subsample for starting values (noise samples are i.i.d. across mini-batches, so no value
    position is special)."""
    return rows[:, :: max(1, rows.shape[1] // target)]


def most_common(sorted_rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Most frequent exact value of each sorted row and its count; each (P,). Ties: the smallest value."""
    p, k = sorted_rows.shape
    new_run = torch.ones_like(sorted_rows, dtype=torch.bool)
    new_run[:, 1:] = sorted_rows[:, 1:] != sorted_rows[:, :-1]
    run_id = torch.cumsum(new_run.long(), dim=1) - 1
    lengths = torch.zeros(p, k, dtype=torch.long, device=sorted_rows.device).scatter_add_(
        1, run_id, torch.ones_like(run_id)
    )
    count, longest = lengths.max(dim=1)
    first = torch.argmax((run_id == longest[:, None]).to(torch.uint8), dim=1)
    return sorted_rows.gather(1, first[:, None]).squeeze(1), count


def largest_atom_share(rows: torch.Tensor, sorted_sub: torch.Tensor) -> torch.Tensor:
    """Share of each row ``(P, K)`` equal to the most common value of its sorted subsample; (P,).

    A parameter behind a dead ReLU has noise exactly equal to one value in most mini-batches;
    such rows are not samples of a continuous law. An atom holding a share q of the row holds
    about q of any subsample, so it is the subsample's most common value whenever it matters,
    and its share is then counted exactly on the full row (1/K for rows without ties).
    """
    value, _ = most_common(sorted_sub)
    return (rows == value[:, None]).sum(1).to(rows.dtype) / rows.shape[1]
