"""McCulloch's (1986) quantile estimator of a symmetric α-stable law, with exact tables.

For β = 0 McCulloch's statistic is ``ν = (q95 − q05)/(q75 − q25)``, a decreasing function
of α alone (2.439 for the Gaussian, growing without bound as α → 0), and
``scale = (q75 − q25)/(2·q75_std(α))``. McCulloch read both functions off simulated tables;
here they are computed exactly from the tabulated distribution function
(:mod:`sgdnoise.stable.density`) on the α grid and inverted by linear interpolation. The
location is the sample median (the centre of symmetry). α is clipped to the tables' range
[0.5, 2]; a sample whose ν lies below the Gaussian value gets α = 2.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

from sgdnoise.stable.density import ALPHA_GRID, sas_cdf
from sgdnoise.stable.rows import quantiles


@functools.lru_cache(maxsize=1)
def standard_quantiles(probs: tuple[float, ...] = (0.75, 0.95)) -> torch.Tensor:
    """Quantiles of the standard SαS law at ``probs`` on :data:`ALPHA_GRID`; shape ``(len(α), len(probs))``.

    Found by bisection on the tabulated CDF, vectorised over α and probabilities (60 halvings
    of [0, 1e3]: exact to float64 precision for these central probabilities).
    """
    a = ALPHA_GRID[:, None].expand(-1, len(probs))
    target = torch.tensor(probs, dtype=torch.float64).expand_as(a)
    lo, hi = torch.zeros_like(a), torch.full_like(a, 1e3)
    for _ in range(60):
        mid = (lo + hi) / 2
        below = sas_cdf(mid, a) < target
        lo, hi = torch.where(below, mid, lo), torch.where(below, hi, mid)
    return (lo + hi) / 2


@dataclass(frozen=True)
class _Tables:
    """The inverse tables in one dtype and on one device, built once, as rows of the linear
    pieces between neighbouring nodes (so one lookup gathers a piece):

    - ``nu_inner``: the nodes of ``ν`` sorted ascending, without the two ends; ``nu_range``
      the ends; ``nu_pieces`` ``(n − 1, 4)``: per piece ``(ν_0, α_0, α_1 − α_0, ν_1 − ν_0)``;
    - ``q75_pieces`` ``(n − 1, 2)``: per piece of the α grid, the 75% quantile at both ends;
      ``grid_start`` and ``grid_step`` of the α grid (tensors, so arithmetic rounds in the
      dtype of the data).
    """

    nu_inner: torch.Tensor
    nu_range: tuple[float, float]
    nu_pieces: torch.Tensor
    q75_pieces: torch.Tensor
    grid_start: torch.Tensor
    grid_step: torch.Tensor


@functools.lru_cache(maxsize=8)
def _tables(dtype: torch.dtype, device: torch.device) -> _Tables:
    q = standard_quantiles().to(device, dtype)
    grid = ALPHA_GRID.to(device, dtype)
    nu, order = torch.sort(q[:, 1] / q[:, 0])  # ν decreases with α
    alpha = grid[order]
    nu_pieces = torch.stack([nu[:-1], alpha[:-1], alpha[1:] - alpha[:-1], nu[1:] - nu[:-1]], dim=1)
    q75 = q[:, 0]
    return _Tables(
        nu[1:-1].contiguous(),
        (nu[0].item(), nu[-1].item()),
        nu_pieces,
        torch.stack([q75[:-1], q75[1:]], dim=1),
        grid[0],
        grid[1] - grid[0],
    )


def alpha_from_nu(nu: torch.Tensor) -> torch.Tensor:
    """Invert ``ν(α) = q95/q75`` of the standard law (ν = (q95 − q05)/(q75 − q25) by symmetry)
    by linear interpolation between the tabulated nodes; ν outside the table is clipped to it."""
    t = _tables(nu.dtype, nu.device)
    v = nu.clamp(*t.nu_range)
    x0, y0, dy, dx = t.nu_pieces.index_select(0, torch.searchsorted(t.nu_inner, v.contiguous())).unbind(1)
    return y0 + dy * (v - x0) / dx


def q75_standard(alpha: torch.Tensor) -> torch.Tensor:
    """75% quantile of the standard SαS law at ``alpha`` (linear interpolation on the α grid)."""
    t = _tables(alpha.dtype, alpha.device)
    pos = ((alpha - t.grid_start) / t.grid_step).clamp(0, len(ALPHA_GRID) - 1)
    i = pos.long().clamp(max=len(ALPHA_GRID) - 2)  # pos ≥ 0: truncation is the floor
    frac = pos - i
    lo, hi = t.q75_pieces.index_select(0, i).unbind(1)
    return lo * (1 - frac) + hi * frac


def scale_from_iqr(iqr: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Scale from the interquartile range given α: ``scale = IQR / (2·q75_std(α))``."""
    return iqr / (2 * q75_standard(alpha))


def fit_quantile(sorted_rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """McCulloch fit of each row of a sorted ``(P, K)`` tensor; returns ``(alpha, scale, loc)``, each ``(P,)``."""
    q05, q25, q50, q75, q95 = quantiles(sorted_rows, (0.05, 0.25, 0.5, 0.75, 0.95)).unbind(-1)
    iqr = q75 - q25
    alpha = alpha_from_nu((q95 - q05) / iqr)
    return alpha, scale_from_iqr(iqr, alpha), q50
