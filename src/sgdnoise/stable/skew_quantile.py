"""McCulloch's (1986) quantile estimator of the general stable law S(α, β, σ, μ; 0), with exact tables.

McCulloch's statistics of a sample with quantiles ``q_p``,

    ν_α = (q95 − q05)/(q75 − q25),        ν_β = (q95 + q05 − 2 q50)/(q95 − q05),

do not depend on σ and μ; ν_α decreases with α (2.439 for every β at α = 2) and ν_β increases
with β (it is odd in β). McCulloch inverted both from simulated tables on a coarse grid (his
Tables III–IV, which scipy's ``levy_stable._fitstart`` interpolates). Here the quantiles
``Q_p(α, β)`` of the standard S0 law are computed exactly (by the quadrature behind the density
tables, stored with them) on α ∈ [0.5, 2] (step 0.01) × β ∈ [−1, 1] (step 0.05), and each row's
(ν_α, ν_β) is inverted by alternating monotone
one-dimensional inversions — α from ν_α at the current β, then β from ν_β at that α, five rounds
from β = 0 (ν_α depends on β only weakly, so the rounds settle at once). Then, as McCulloch,

    σ = (q75 − q25) / (Q75 − Q25)(α, β),        μ = q50 − σ · Q50(α, β)

(the second written directly in S0, where McCulloch used his ζ). α is clipped to [0.5, 2] and β
to [−1, 1]; near α = 2, ν_β carries almost no information on β, so β is noisy there.
"""

from __future__ import annotations

import functools
from importlib import resources

import numpy as np
import torch

from sgdnoise.stable.rows import quantiles

PROBS = (0.05, 0.25, 0.5, 0.75, 0.95)
ALPHAS = torch.linspace(0.5, 2.0, 151, dtype=torch.float64)
BETAS = torch.linspace(-1.0, 1.0, 41, dtype=torch.float64)
ROUNDS = 5


@functools.lru_cache(maxsize=1)
def standard_quantiles() -> torch.Tensor:
    """``Q_p(α, β)`` of the standard S0 law on ALPHAS × BETAS for p in PROBS: (151, 41, 5).

    Computed offline by the quadrature that builds the density tables (safeguarded Newton on its
    distribution function, to 1e-14; ``tools/build_stable_tables.py``) and stored with them.
    """
    with resources.files("sgdnoise.stable").joinpath("_skew_tables.npz").open("rb") as fh:
        table = np.load(fh)["quantiles"]
    if table.shape != (len(ALPHAS), len(BETAS), len(PROBS)):
        raise RuntimeError(
            "sgdnoise/stable/_skew_tables.npz has no matching quantile table: rebuild it with "
            "tools/build_stable_tables.py skew"
        )
    return torch.as_tensor(table, dtype=torch.float64)


def _invert(values: torch.Tensor, curves: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Per row, the grid point where the increasing curve (P, n) reaches ``values`` (P,), linearly
    interpolated and clipped to the grid's ends."""
    v = values.clamp(curves[:, 0], curves[:, -1])[:, None].contiguous()
    i = torch.searchsorted(curves.contiguous(), v).clamp(1, curves.shape[1] - 1)
    y0, y1 = curves.gather(1, i - 1), curves.gather(1, i)
    frac = ((v - y0) / (y1 - y0).clamp_min(1e-300)).clamp(0, 1)
    return (grid[i - 1] + frac * (grid[i] - grid[i - 1])).squeeze(1)


def _position(grid: torch.Tensor, value: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cell index and fraction of ``value`` (P,) on the uniform ``grid``, clipped to its ends."""
    pos = ((value - grid[0]) / (grid[1] - grid[0])).clamp(0, len(grid) - 1)
    i = pos.floor().long().clamp(max=len(grid) - 2)
    return i, pos - i


def _rows_at(table: torch.Tensor, grid: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """``table`` (len(grid), m) linearly interpolated along its first axis at one value per sample: (P, m)."""
    i, frac = _position(grid, value)
    return table[i] * (1 - frac[:, None]) + table[i + 1] * frac[:, None]


def _at(curves: torch.Tensor, grid: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """Each row of ``curves`` (P, len(grid)) linearly interpolated at its own value: (P,)."""
    i, frac = _position(grid, value)
    lo, hi = curves.gather(1, i[:, None]).squeeze(1), curves.gather(1, (i + 1)[:, None]).squeeze(1)
    return lo * (1 - frac) + hi * frac


def fit_skew_quantile(
    sorted_rows: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """McCulloch fit of each row of a sorted ``(P, K)`` tensor; returns ``(alpha, beta, scale, loc)``, each ``(P,)``."""
    opts = dict(dtype=torch.float64, device=sorted_rows.device)  # the tables' precision, whatever the rows' dtype
    q05, q25, q50, q75, q95 = quantiles(sorted_rows, list(PROBS)).to(torch.float64).unbind(-1)
    nu_alpha = (q95 - q05) / (q75 - q25)
    nu_beta = (q95 + q05 - 2 * q50) / (q95 - q05)
    t05, t25, t50, t75, t95 = standard_quantiles().to(**opts).unbind(-1)
    table_nu_alpha = (t95 - t05) / (t75 - t25)  # (α, β), decreasing in α
    table_nu_beta = (t95 + t05 - 2 * t50) / (t95 - t05)  # increasing in β
    alphas, betas = ALPHAS.to(**opts), BETAS.to(**opts)
    beta = torch.zeros_like(nu_alpha)
    for _ in range(ROUNDS):
        alpha = _invert(-nu_alpha, -_rows_at(table_nu_alpha.T, betas, beta), alphas)
        beta = _invert(nu_beta, _rows_at(table_nu_beta, alphas, alpha), betas)
    scale = (q75 - q25) / _at(_rows_at(t75 - t25, alphas, alpha), betas, beta)
    return alpha, beta, scale, q50 - scale * _at(_rows_at(t50, alphas, alpha), betas, beta)
