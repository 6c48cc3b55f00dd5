"""Fitting SαS and Gaussian laws to many samples at once: one fit per row.

``fit_sas(x)`` validates the input, sets aside degenerate rows (constant, or one exact value
taking a large share of the row — the noise of a weight behind a dead ReLU), and fits the
others with the chosen estimator:

- ``"cf"``: characteristic-function regression (default; fast, close to the MLE) — :mod:`.cf`;
- ``"quantile"``: McCulloch (1986) with exact tables — :mod:`.quantile`;
- ``"tail"``: Mohammadi et al. (2015), the estimator of Simsekli et al. (2019), for α; the
  scale then follows from the IQR given α, loc is the median — :mod:`.tail`;
- ``"mle"``: maximum likelihood on the tabulated density, started from ``"cf"`` (the most
  accurate, about 100× slower than ``"cf"``) — :mod:`.mle`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from sgdnoise.arrays import ArrayKind, array_kind, to_tensor
from sgdnoise.errors import InvalidInputError, TooFewSamplesError
from sgdnoise.parallel import torch_threads
from sgdnoise.stable.cf import fit_cf
from sgdnoise.stable.mle import fit_mle
from sgdnoise.stable.quantile import fit_quantile, scale_from_iqr
from sgdnoise.stable.rows import largest_atom_share, quantiles, subsample
from sgdnoise.stable.tail import fit_tail

METHODS = ("cf", "quantile", "tail", "mle")
MIN_SAMPLES = 20
DEFAULT_MAX_ATOM_SHARE = 0.2
SMALL_INPUT = 1 << 12  # values (all rows together) up to which a fit runs on the calling thread alone


def _frame(fields: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame({k: np.asarray(v.cpu() if isinstance(v, torch.Tensor) else v) for k, v in fields.items()})


@dataclass(frozen=True)
class SaSFit:
    """SαS fits of P rows: arrays of shape ``(P,)`` (the caller's kind: NumPy or torch).

    ``E exp(iuX) = exp(iu·loc − scale^α|u|^α)``. ``degenerate`` rows (see :func:`fit_sas`)
    have NaN parameters; ``atom_share`` is the share of each row taken by its most common value.
    """

    alpha: Any
    scale: Any
    loc: Any
    degenerate: Any
    atom_share: Any
    method: str
    n_samples: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "scale": self.scale,
            "loc": self.loc,
            "degenerate": self.degenerate,
            "atom_share": self.atom_share,
            "method": self.method,
            "n_samples": self.n_samples,
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per sample: alpha, scale, loc, degenerate, atom_share."""
        return _frame(
            {
                "alpha": self.alpha,
                "scale": self.scale,
                "loc": self.loc,
                "degenerate": self.degenerate,
                "atom_share": self.atom_share,
            }
        )


@dataclass(frozen=True)
class GaussianFit:
    """Gaussian fits of P rows (maximum likelihood: mean and standard deviation with 1/K)."""

    loc: Any
    std: Any
    n_samples: int

    def to_dict(self) -> dict[str, Any]:
        return {"loc": self.loc, "std": self.std, "n_samples": self.n_samples}

    def to_frame(self) -> pd.DataFrame:
        return _frame({"loc": self.loc, "std": self.std})


def as_rows(
    x: Any, dim: int = -1, *, min_samples: int = MIN_SAMPLES
) -> tuple[ArrayKind, torch.Tensor, tuple[int, ...]]:
    """Validate ``x`` and view it as ``(P, K)`` rows with the sample axis ``dim`` last.

    Returns ``(kind, rows, batch_shape)``; ``batch_shape`` is the shape of ``x`` without ``dim``.
    Raises :class:`InvalidInputError` for NaN/Inf or non-numeric data and
    :class:`TooFewSamplesError` for fewer than ``min_samples`` values per row.
    """
    kind = array_kind(x)
    t = to_tensor(x, kind)
    if t.ndim == 0:
        raise InvalidInputError("x must have a sample axis: pass an array of shape (..., K)")
    t = torch.movedim(t, dim, -1)
    batch_shape = tuple(t.shape[:-1])
    rows = t.reshape(-1, t.shape[-1])
    if rows.shape[1] < min_samples:
        raise TooFewSamplesError(
            f"each sample needs at least {min_samples} values along dim={dim}; got {rows.shape[1]}. "
            "Collect more mini-batches."
        )
    finite = torch.isfinite(rows)
    if not bool(finite.all()):
        bad = torch.nonzero(~finite.all(1)).flatten()[:5].tolist()
        raise InvalidInputError(
            f"x contains NaN or Inf (rows {bad}...); remove or repair them before fitting (NaN gradients upstream?)"
        )
    return kind, rows, batch_shape


def fit_sas(
    x: Any,
    method: str = "cf",
    dim: int = -1,
    *,
    max_atom_share: float = DEFAULT_MAX_ATOM_SHARE,
    n_orders: int = 16,
    seed: int = 0,
) -> SaSFit:
    """Fit a symmetric α-stable law to every sample of ``x`` along ``dim``.

    Parameters
    ----------
    x : array or tensor ``(..., K)``, K ≥ 20; each slice along ``dim`` is one sample (one row).
    method : ``"cf"`` (default), ``"quantile"``, ``"tail"`` or ``"mle"`` (see module docstring).
    max_atom_share : rows whose most common exact value takes more than this share (constant
        rows included) are flagged ``degenerate`` and get NaN parameters instead of a fit
        (:func:`sgdnoise.stable.rows.largest_atom_share`).
    n_orders, seed : orderings averaged by the ``tail`` estimator (:mod:`sgdnoise.stable.tail`).

    Returns
    -------
    SaSFit with arrays of shape ``x.shape`` without ``dim``; α ∈ [0.5, 2].

    An input of at most ``SMALL_INPUT`` values on the CPU (a few rows) is fitted on the calling
    thread alone (:func:`sgdnoise.parallel.torch_threads`): its ops are too small for torch's
    thread pool to pay. Every row's numbers are the same as in a fit of many rows.
    """
    if method not in METHODS:
        raise InvalidInputError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    kind, rows, batch_shape = as_rows(x, dim)
    small = rows.device.type == "cpu" and rows.numel() <= SMALL_INPUT
    with torch_threads(1) if small else contextlib.nullcontext():
        atom, degenerate, params = _fit_rows(rows, method, max_atom_share, n_orders, seed)
    fitted = kind.restore(params.reshape(3, *batch_shape))
    return SaSFit(
        fitted[0, ...],
        fitted[1, ...],
        fitted[2, ...],
        degenerate=kind.restore(degenerate.reshape(batch_shape)),
        atom_share=kind.restore(atom.reshape(batch_shape)),
        method=method,
        n_samples=rows.shape[1],
    )


def _fit_rows(
    rows: torch.Tensor, method: str, max_atom_share: float, n_orders: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Atom shares and degenerate flags ``(P,)``, and parameters ``(3, P)`` (α, scale, loc; NaN
    for degenerate rows) of ``rows``."""
    sorted_sub = torch.sort(subsample(rows), dim=1).values
    atom = largest_atom_share(rows, sorted_sub)
    degenerate = atom > max_atom_share
    if not bool(degenerate.any()):  # the usual case: no rows to pick out
        params = torch.stack(_estimate(rows.contiguous(), sorted_sub.contiguous(), method, n_orders, seed))
        return atom, degenerate, params
    ok = ~degenerate
    params = torch.full((3, rows.shape[0]), float("nan"), dtype=rows.dtype, device=rows.device)
    if bool(ok.any()):
        params[:, ok] = torch.stack(_estimate(rows[ok], sorted_sub[ok], method, n_orders, seed))
    return atom, degenerate, params


def _estimate(rows: torch.Tensor, sorted_sub: torch.Tensor, method: str, n_orders: int, seed: int):
    if method == "quantile":
        return fit_quantile(torch.sort(rows, dim=1).values)
    if method == "tail":
        q25, median, q75 = quantiles(torch.sort(rows, dim=1).values, [0.25, 0.5, 0.75]).unbind(-1)
        alpha = fit_tail(rows, median, n_orders=n_orders, seed=seed)
        return alpha, scale_from_iqr(q75 - q25, alpha), median
    alpha, scale, loc = fit_cf(rows, sorted_sub)
    if method == "mle":
        alpha, scale, loc, _ = fit_mle(rows, alpha, scale, loc)
    return alpha, scale, loc


def fit_gaussian(x: Any, dim: int = -1) -> GaussianFit:
    """Maximum-likelihood Gaussian fit (mean, standard deviation with 1/K) of every sample along ``dim``."""
    kind, rows, batch_shape = as_rows(x, dim, min_samples=2)
    loc = rows.mean(1)
    std = rows.std(1, correction=0)
    return GaussianFit(kind.restore(loc.reshape(batch_shape)), kind.restore(std.reshape(batch_shape)), rows.shape[1])
