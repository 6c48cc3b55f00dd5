"""Which parameter a path left the basin through, and how much of the exit displacement the top ones carry.

A path that escaped with displacement ``δ = w_σ − w*`` (P,) from a basin of half-widths
``d^− < 0 < d^+`` per coordinate has relative displacements ``r_l = δ_l / d_l^+`` if ``δ_l > 0``
else ``δ_l / d_l^−`` (≥ 0; 1 means "at the basin's edge along l alone"). Its **exit parameter** is
``argmax_l r_l`` (Battash et al.'s "exit through parameter l"). An open side (``d = ±inf``,
the loss never reaches the level along it) gives ``r_l = 0``: an open coordinate cannot be the
exit through that side. Exits may be collective, so each path also gets the share of
``Σ_l r_l²`` carried by its ``k`` largest ``r_l`` (for a quadratic basin, ``Σ_l r_l² = (L − L*)/Δ``
when every side is closed: the share of the loss increase those coordinates carry).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from sgdnoise.errors import InvalidInputError


@dataclass(frozen=True)
class ExitParameters:
    """Per path: ``index (S,)`` the exit parameter (−1 if the path did not escape or every
    relative displacement is 0), ``relative (S,)`` its ``r``, ``top_share (S, K)`` the share of
    ``Σ r²`` carried by the ``top_k[j]`` largest ``r`` (NaN where ``index`` is −1);
    ``counts (P,)`` exits per parameter."""

    index: np.ndarray
    relative: np.ndarray
    top_share: np.ndarray
    top_k: tuple[int, ...]
    counts: np.ndarray


def relative_displacement(displacement: Any, lower: Any, upper: Any) -> np.ndarray:
    """``r (S, P)``: ``δ/d^+`` where ``δ > 0``, ``δ/d^−`` where ``δ < 0`` (0 on an open side or at δ = 0)."""
    d = np.asarray(displacement.detach().cpu() if isinstance(displacement, torch.Tensor) else displacement, float)
    lo, up = np.asarray(lower, float), np.asarray(upper, float)
    if d.ndim != 2 or lo.shape != (d.shape[1],) or up.shape != lo.shape:
        raise InvalidInputError(
            f"displacement must be (S, P) and lower, upper (P,); got {d.shape}, {lo.shape}, {up.shape}"
        )
    if np.any(~(lo < 0)) or np.any(~(up > 0)):
        raise InvalidInputError("basin half-widths must satisfy lower < 0 < upper (±inf for an open side)")
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(d > 0, d / up, np.where(d < 0, d / lo, 0.0))
    return np.nan_to_num(r, nan=0.0)


def exit_parameters(
    displacement: Any, lower: Any, upper: Any, escaped: Any, *, top_k: Sequence[int] = (1, 5)
) -> ExitParameters:
    """Exit parameter and top-k shares of every path (see the module docstring).

    displacement : ``(S, P)`` ``w_σ − w*``.  lower, upper : ``(P,)`` half-widths.
    escaped : ``(S,)`` bool; paths that did not escape get index −1.  top_k : positive ints.
    """
    r = relative_displacement(displacement, lower, upper)
    esc = np.asarray(escaped, bool).reshape(-1)
    if esc.shape != (r.shape[0],):
        raise InvalidInputError(f"escaped must have one flag per path ({r.shape[0]}); got {esc.shape}")
    ks = tuple(int(k) for k in top_k)
    if not ks or any(k < 1 for k in ks):
        raise InvalidInputError(f"top_k must be positive ints; got {top_k!r}")
    best = r.argmax(axis=1)
    rel = r[np.arange(r.shape[0]), best]
    valid = esc & (rel > 0)
    index = np.where(valid, best, -1)
    squares = -np.sort(-(r**2), axis=1)
    total = squares.sum(axis=1)
    cumulative = np.cumsum(squares, axis=1)
    share = np.stack([cumulative[:, min(k, r.shape[1]) - 1] for k in ks], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(valid[:, None], share / total[:, None], np.nan)
    counts = np.bincount(index[valid], minlength=r.shape[1])
    return ExitParameters(index=index, relative=np.where(valid, rel, np.nan), top_share=share, top_k=ks, counts=counts)
