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


def interp_decreasing(values: torch.Tensor, table_x: torch.Tensor, table_y: torch.Tensor) -> torch.Tensor:
    """Linear interpolation of ``y(x)`` for ``x`` decreasing along ``table_x``; clipped at the ends."""
    xs, order = torch.sort(table_x)
    ys = table_y[order]
    v = values.clamp(xs[0].item(), xs[-1].item())
    i = torch.searchsorted(xs, v.contiguous()).clamp(1, len(xs) - 1)
    x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
    return y0 + (y1 - y0) * (v - x0) / (x1 - x0)


def alpha_from_nu(nu: torch.Tensor) -> torch.Tensor:
    """Invert ``ν(α) = q95/q75`` of the standard law (ν = (q95 − q05)/(q75 − q25) by symmetry)."""
    q = standard_quantiles().to(nu.device, nu.dtype)
    return interp_decreasing(nu, q[:, 1] / q[:, 0], ALPHA_GRID.to(nu.device, nu.dtype))


def q75_standard(alpha: torch.Tensor) -> torch.Tensor:
    """75% quantile of the standard SαS law at ``alpha`` (linear interpolation on the α grid)."""
    q = standard_quantiles().to(alpha.device, alpha.dtype)
    grid = ALPHA_GRID.to(alpha.device, alpha.dtype)
    pos = ((alpha - grid[0]) / (grid[1] - grid[0])).clamp(0, len(grid) - 1)
    i = pos.floor().long().clamp(max=len(grid) - 2)
    frac = pos - i
    return q[i, 0] * (1 - frac) + q[i + 1, 0] * frac


def scale_from_iqr(iqr: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Scale from the interquartile range given α: ``scale = IQR / (2·q75_std(α))``."""
    return iqr / (2 * q75_standard(alpha))


def fit_quantile(sorted_rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """McCulloch fit of each row of a sorted ``(P, K)`` tensor; returns ``(alpha, scale, loc)``, each ``(P,)``."""
    q05, q25, q50, q75, q95 = quantiles(sorted_rows, [0.05, 0.25, 0.5, 0.75, 0.95]).unbind(-1)
    alpha = alpha_from_nu((q95 - q05) / (q75 - q25))
    return alpha, scale_from_iqr(q75 - q25, alpha), q50
