"""Rows of different lengths in one rectangular tensor: the continuous part of each sample.

After an atom is set aside (:mod:`sgdnoise.stable.classes`) each row keeps ``n_i ≤ K`` values.
They are held as a ``(P, K)`` tensor ``values`` whose row ``i`` has its ``n_i`` values first,
sorted ascending, and then padding (copies of its largest value, so every function of the
padding stays finite), with ``mask`` (``True`` on the first ``n_i`` positions). The laws compared
here are for i.i.d. samples, so the order of a row's values carries nothing and sorting loses
nothing. Every statistic is a masked sum or a per-row quantile (:func:`ragged_quantiles`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Ragged:
    """``values`` (P, K) sorted ascending on the first ``n`` (P,) positions, then padding; ``mask`` (P, K)."""

    values: torch.Tensor
    n: torch.Tensor
    mask: torch.Tensor
    complete: bool = False  # every row has all K values (no padding): sums need no mask

    @property
    def weights(self) -> torch.Tensor:
        """``mask`` as 0/1 in the values' dtype, (P, K)."""
        return self.mask.to(self.values.dtype)

    def sum(self, t: torch.Tensor) -> torch.Tensor:
        """Row sums of ``t`` (P, K) over the valid positions; (P,). Padding may hold anything finite."""
        return t.sum(-1) if self.complete else torch.where(self.mask, t, 0.0).sum(-1)

    def take(self, index: torch.Tensor) -> Ragged:
        """The rows ``index`` (indices or a boolean mask)."""
        return Ragged(self.values[index], self.n[index], self.mask[index], self.complete)


def from_rows(rows: torch.Tensor, keep: torch.Tensor | None = None) -> Ragged:
    """The values of ``rows`` (P, K) where ``keep`` (P, K) is true (all of them by default), per row."""
    p, k = rows.shape
    if keep is None:
        values = torch.sort(rows, dim=1).values
        n = torch.full((p,), k, dtype=torch.long, device=rows.device)
    else:
        # dropped values go to the end (+inf), then are replaced by the row's largest kept value
        values = torch.sort(torch.where(keep, rows, torch.inf), dim=1).values
        n = keep.sum(1)
        last = values.gather(1, (n - 1).clamp_min(0)[:, None])
        values = torch.where(torch.isinf(values), last, values)
    mask = torch.arange(k, device=rows.device)[None, :] < n[:, None]
    return Ragged(values, n, mask, keep is None or bool(mask.all()))


def ragged_quantiles(r: Ragged, probs: Sequence[float] | torch.Tensor) -> torch.Tensor:
    """Per-row sample quantiles (type 7: position ``p·(n_i − 1)``) of the valid values; (P, len(probs))."""
    p = torch.as_tensor(probs, dtype=r.values.dtype, device=r.values.device)
    pos = p[None, :] * (r.n[:, None] - 1).to(p.dtype)
    lo = pos.floor().long()
    hi = torch.minimum(lo + 1, (r.n[:, None] - 1).clamp_min(0))
    frac = pos - lo
    return r.values.gather(1, lo) * (1 - frac) + r.values.gather(1, hi) * frac
