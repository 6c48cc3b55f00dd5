"""Factors kept for all ``U`` distinct samples of a chunk, for the weights summed per mini-batch.

The samples go through the model a piece at a time; a weight summed per mini-batch needs the
factors ``(a, δ)`` of every sample of the chunk at once, so each piece's factors are copied into
``(U, ...)`` buffers made at the first piece (no copy when one piece holds all ``U``).
"""

from __future__ import annotations

import torch

from sgdnoise.gradients.engines.entries.factors import Calls


def join(joined: dict[str, Calls], key: str, calls: Calls, start: int, u: int) -> None:
    """Copy a piece's factors ``calls`` (samples ``start:``) into the buffers ``joined[key]``."""
    if key not in joined:
        joined[key] = [tuple(t if t.shape[0] == u else _room(t, u) for t in call) for call in calls]
        return
    for (a_all, d_all), (a, d) in zip(joined[key], calls):
        a_all[start : start + a.shape[0]], d_all[start : start + d.shape[0]] = a, d


def _room(first: torch.Tensor, u: int) -> torch.Tensor:
    """A ``(u, ...)`` buffer like ``first`` (a piece of samples), with ``first`` copied in at the start."""
    out = first.new_empty((u, *first.shape[1:]))
    out[: first.shape[0]] = first
    return out
