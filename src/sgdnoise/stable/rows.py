"""Row-wise helpers shared by the estimators: every sample is one row of a ``(P, K)`` tensor."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import torch


def quantiles(sorted_rows: torch.Tensor, probs: torch.Tensor | Sequence[float]) -> torch.Tensor:
    """Sample quantiles of each row of an already sorted ``(P, K)`` tensor; shape ``(P, len(probs))``.

    Linear interpolation between order statistics at position ``p·(K − 1)`` (NumPy's default,
    "type 7"). The positions of a fixed list of probabilities are computed once per ``K``, dtype
    and device (they are the same for every call that fits rows of one length).
    """
    k = sorted_rows.shape[-1]
    if isinstance(probs, torch.Tensor):
        lo, hi, frac = _positions(probs.to(dtype=sorted_rows.dtype, device=sorted_rows.device), k)
        rest = 1 - frac
    else:
        lo, hi, frac, rest = _fixed_positions(tuple(probs), k, sorted_rows.dtype, sorted_rows.device)
    return sorted_rows.index_select(-1, lo) * rest + sorted_rows.index_select(-1, hi) * frac


def _positions(p: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Order statistics below and above position ``p·(K − 1)`` and the fraction between them."""
    pos = p * (k - 1)
    lo = pos.floor().long().clamp(0, k - 1)
    return lo, (lo + 1).clamp(max=k - 1), pos - lo


@functools.lru_cache(maxsize=64)
def _fixed_positions(
    probs: tuple[float, ...], k: int, dtype: torch.dtype, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    lo, hi, frac = _positions(torch.as_tensor(probs, dtype=dtype, device=device), k)
    return lo, hi, frac, 1 - frac


def subsample(rows: torch.Tensor, target: int = 256) -> torch.Tensor:
    """Every m-th value of each row, ``m = max(1, K // target)``: a cheap, order-preserving
    subsample for starting values (noise samples are i.i.d. across mini-batches, so no value
    position is special)."""
    return rows[:, :: max(1, rows.shape[1] // target)]


def most_common(sorted_rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Most frequent exact value of each sorted row and its count; each (P,). Ties: the smallest value.

    With ``s_j`` the first position of the run of equal values that holds position ``j`` (a
    running maximum of the run starts), ``j − s_j + 1`` is the length of that run up to ``j``;
    its row maximum is the longest run, found first at the end of the run of the smallest value
    among the longest.
    """
    k = sorted_rows.shape[1]
    position = _arange(k, sorted_rows.device)
    starts = (sorted_rows[:, 1:] != sorted_rows[:, :-1]) * position[1:]  # j where a new run begins, else 0
    run_start = torch.nn.functional.pad(starts, (1, 0)).cummax(1).values
    count, end = (position + 1 - run_start).max(dim=1)
    return sorted_rows.gather(1, end.unsqueeze(1)).squeeze(1), count


@functools.lru_cache(maxsize=16)
def _arange(k: int, device: torch.device) -> torch.Tensor:
    return torch.arange(k, device=device)


def largest_atom_share(rows: torch.Tensor, sorted_sub: torch.Tensor) -> torch.Tensor:
    """Share of each row ``(P, K)`` equal to the most common value of its sorted subsample; (P,).

    A parameter behind a dead ReLU has noise exactly equal to one value in most mini-batches;
    such rows are not samples of a continuous law. An atom holding a share q of the row holds
    about q of any subsample, so it is the subsample's most common value whenever it matters,
    and its share is then counted exactly on the full row (1/K for rows without ties).
    """
    value, _ = most_common(sorted_sub)
    return (rows == value[:, None]).sum(1).to(rows.dtype) / rows.shape[1]
