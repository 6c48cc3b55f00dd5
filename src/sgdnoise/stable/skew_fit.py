"""Fitting the general α-stable law S(α, β, σ, μ; 0) to many samples at once: one fit per row.

``fit_stable(x)`` validates the input and sets aside degenerate rows exactly as
:func:`sgdnoise.stable.fit_sas` does (constant rows, or one exact value taking more than
``max_atom_share`` of the row: NaN parameters, flagged), then fits the others with the chosen
estimator, all in Nolan's S0 parameterisation (:mod:`sgdnoise.stable.s0`):

- ``"cf"``: characteristic-function regression with β (Koutrouvelis; default, fast) —
  :mod:`.skew_cf`;
- ``"quantile"``: McCulloch (1986) with exact tables — :mod:`.skew_quantile`;
- ``"mle"``: maximum likelihood on the tabulated density, started from ``"cf"`` —
  :func:`sgdnoise.stable.mle.fit_stable_mle`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from sgdnoise.errors import InvalidInputError
from sgdnoise.stable.fit import DEFAULT_MAX_ATOM_SHARE, as_rows
from sgdnoise.stable.mle import fit_stable_mle
from sgdnoise.stable.rows import largest_atom_share, subsample
from sgdnoise.stable.skew_cf import fit_skew_cf
from sgdnoise.stable.skew_quantile import fit_skew_quantile

STABLE_METHODS = ("cf", "quantile", "mle")
FIELDS = ("alpha", "beta", "scale", "loc", "degenerate", "atom_share")


@dataclass(frozen=True)
class StableFit:
    """Fits S(α, β, scale, loc; 0) of P rows: arrays of shape ``(P,)`` (the caller's kind: NumPy or torch).

    ``degenerate`` rows (see :func:`fit_stable`) have NaN parameters; ``atom_share`` is the share
    of each row taken by its most common value.
    """

    alpha: Any
    beta: Any
    scale: Any
    loc: Any
    degenerate: Any
    atom_share: Any
    method: str
    n_samples: int

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in (*FIELDS, "method", "n_samples")}

    def to_frame(self) -> pd.DataFrame:
        """One row per sample: alpha, beta, scale, loc, degenerate, atom_share."""
        columns = {name: getattr(self, name) for name in FIELDS}
        return pd.DataFrame({k: np.asarray(v.cpu() if isinstance(v, torch.Tensor) else v) for k, v in columns.items()})


def fit_stable(
    x: Any, method: str = "cf", dim: int = -1, *, max_atom_share: float = DEFAULT_MAX_ATOM_SHARE
) -> StableFit:
    """Fit a general α-stable law (S0) to every sample of ``x`` along ``dim``.

    Parameters
    ----------
    x : array or tensor ``(..., K)``, K ≥ 20; each slice along ``dim`` is one sample (one row).
    method : ``"cf"`` (default), ``"quantile"`` or ``"mle"`` (module docstring).
    max_atom_share : rows whose most common exact value takes more than this share (constant
        rows included) are flagged ``degenerate`` and get NaN parameters instead of a fit.

    Returns
    -------
    StableFit with arrays of shape ``x.shape`` without ``dim``; α ∈ [0.5, 2], β ∈ [−1, 1], in S0
    (``sgdnoise.stable.s0_to_s1`` gives scipy's default location).
    """
    if method not in STABLE_METHODS:
        raise InvalidInputError(f"unknown method {method!r}; choose one of {', '.join(STABLE_METHODS)}")
    kind, rows, batch_shape = as_rows(x, dim)
    sorted_sub = torch.sort(subsample(rows), dim=1).values
    atom = largest_atom_share(rows, sorted_sub)
    degenerate = atom > max_atom_share
    ok = ~degenerate
    params = torch.full((4, rows.shape[0]), float("nan"), dtype=rows.dtype, device=rows.device)
    if bool(ok.any()):
        params[:, ok] = torch.stack(_estimate(rows[ok], sorted_sub[ok], method)).to(params)
    alpha, beta, scale, loc = (kind.restore(p.reshape(batch_shape)) for p in params)
    return StableFit(
        alpha,
        beta,
        scale,
        loc,
        degenerate=kind.restore(degenerate.reshape(batch_shape)),
        atom_share=kind.restore(atom.reshape(batch_shape)),
        method=method,
        n_samples=rows.shape[1],
    )


def _estimate(rows: torch.Tensor, sorted_sub: torch.Tensor, method: str):
    if method == "quantile":
        return fit_skew_quantile(torch.sort(rows, dim=1).values)
    alpha, beta, scale, loc = fit_skew_cf(rows, sorted_sub)
    if method == "mle":
        alpha, beta, scale, loc, _ = fit_stable_mle(rows, alpha, beta, scale, loc)
    return alpha, beta, scale, loc
