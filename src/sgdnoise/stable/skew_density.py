"""Density, log-density and distribution function of the general α-stable law S(α, β, σ, μ; 0).

Conventions: :mod:`sgdnoise.stable.s0` (Nolan's S0; β = 0 is the package's SαS law). scipy
integrates Nolan's formula point by point (≈ 1–2 k points/s); here the standard law
(σ = 1, μ = 0) is tabulated once, offline (``tools/build_stable_tables.py``, from a vectorised
quadrature of Nolan's (1997) integral representation), and interpolated.

**What is tabulated.** By reflection, ``f(x; α, β) = f(−x; α, −β)``, one table over
x ≥ (a shift) covers both sides. For every (α, β) node the points are ``x = m + L·y``, y ≥ 0, where
``m(α, β)`` is the mode and ``L(α, β)`` a length scale (below), and the stored functions

    H_pdf(α, β, r) = L · f(m + L y) · (1 + y)^{α+1},     H_sf(α, β, r) = P(X > m + L y) · (1 + y)^{α},
    r = log(1 + log(1 + y/c)),  c = 0.3,

are smooth and bounded: the powers of ``1 + y`` flatten the Pareto tails ``f ~ α c_α (1 ± β)
x^{−α−1}``, and r puts nodes 0.0015 apart at the mode and reaches y = 10⁶ in 555 steps of
0.005. Points left of the shift (y < 0) are read from the node (α, −β) at |y|, where
``m(α, −β) = −m(α, β)`` and ``L(α, −β) = L(α, β)``.

**Why the shift and scale.** The law's shape moves with (α, β); interpolating at fixed x across
nodes blurs it. Aligned at the mode, the shapes line up (50× smaller errors in β at α ≈ 0.5).
For α < 1 the density also has a near-edge at ``ζ = −β tan(πα/2)`` (the end of the support when
|β| = 1), whose distance from the mode changes quickly with α; with
``1/L² = 1 + s(α)·β⁴/(ζ − m)²`` (``s`` a smooth step from 1 at α ≤ 0.75 to 0 at α ≥ 1, so L = 1
for α ≥ 1 and for β = 0) both the mode and, for |β| near 1, the edge stay near fixed y, which cut
the α-direction error at α ≈ 0.55, β = −1 from 2e-3 to 7e-6.

**The grid.** α from 0.5 to 0.8 in steps of 0.01 and on to 2 in steps of 0.02; per α node its own
number of β nodes (161 below α = 0.6, 121 below 0.7, 101 below 0.8, 61 below 1, 41 below 1.5, 21
above: at small α the law changes fastest, in α and in β, near ζ), placed at ``β = sin(πb/2)`` for
b uniform in [−1, 1] (denser near ±1); r in steps of 0.005 with one ghost node beyond each end:
6011 (α, β) rows of 558 values. Values are stored in float32 (relative rounding 6e-8, far below
the interpolation error) and interpolated by cubic Lagrange interpolation in each direction
(:mod:`sgdnoise.stable.lagrange`), in α across rows with different β grids. The shift and scale
are interpolated with the same weights.

**Beyond the table** (|y| > 10⁶): the tail series of :mod:`sgdnoise.stable.series` in S1
coordinates, where its next term is below 1e-10 relative; otherwise (α within about 10⁻³ of 1
with β ≠ 0, where the series needs x ≫ |tan(πα/2)|) H is held at its last node, whose relative
error there is O(log y / y) ≲ 2e-5.

**Exact cases.** α = 2 is the Gaussian of variance 2 (β has no effect); for α < 1 and |β| = 1 the
density is 0 (log-density −∞) outside the support ``[ζ, ∞)`` (β = 1) or ``(−∞, ζ]`` (β = −1).

**Accuracy** (measured against the quadrature, scipy and mpmath; ``docs/stable.md``): the
absolute error of pdf and cdf is below 1e-5 on α ∈ [0.5, 2] × β ∈ [−1, 1]; interpolation can
leave tiny negative values where the density is itself below ~1e-9 (deep in a light tail); they
are clipped to 0, and the log-density there is floored at log(1e-300).

Everything is batched: ``x``, ``alpha``, ``beta``, ``scale`` and ``loc`` broadcast together,
NumPy or torch in, the same kind out.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import torch

from sgdnoise.arrays import array_kind, to_tensor
from sgdnoise.errors import InvalidInputError
from sgdnoise.stable.lagrange import horner, lagrange4, lagrange_weights, newton_coefficients, stencil_start
from sgdnoise.stable.s0 import check_beta
from sgdnoise.stable.series import tail_series

ALPHA_MIN, ALPHA_MAX = 0.5, 2.0
# Steps of 0.01 below α = 0.8, where the law changes fastest with α, and 0.02 above.
ALPHA_FINE_END, ALPHA_FINE_STEP, ALPHA_STEP = 0.8, 0.01, 0.02
_N_FINE = round((ALPHA_FINE_END - ALPHA_MIN) / ALPHA_FINE_STEP)
ALPHA_GRID = torch.cat(
    [
        ALPHA_MIN + ALPHA_FINE_STEP * torch.arange(_N_FINE, dtype=torch.float64),
        ALPHA_FINE_END
        + ALPHA_STEP * torch.arange(round((ALPHA_MAX - ALPHA_FINE_END) / ALPHA_STEP) + 1, dtype=torch.float64),
    ]
)
Y_UNIT = 0.3
Y_TABLE_MAX = 1e6
R_STEP = 0.005
_CHUNK = 1 << 20  # values gathered or combined at once (8 MB in float64)


def y_to_r(y: torch.Tensor) -> torch.Tensor:
    """Table coordinate ``r = log(1 + log(1 + y/c))`` of ``y ≥ 0``."""
    return torch.log1p(torch.log1p(y / Y_UNIT))


def r_to_y(r: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`y_to_r` (negative for r < 0: the ghost node's smooth continuation)."""
    return Y_UNIT * torch.expm1(torch.expm1(r))


R_MAX = math.log1p(math.log1p(Y_TABLE_MAX / Y_UNIT))
# One ghost node below r = 0 and one beyond the node covering R_MAX, so every cubic stencil is centred.
R_GRID = R_STEP * torch.arange(-1, math.ceil(R_MAX / R_STEP) + 2, dtype=torch.float64)


def beta_count(alpha: float) -> int:
    """Number of β nodes on the row of α node ``alpha`` (odd, so β = 0 is a node)."""
    for end, count in ((0.6, 161), (0.7, 121), (0.8, 101), (1.0, 61), (1.5, 41)):
        if alpha < end - 1e-9:
            return count
    return 21


def alpha_position(alpha: torch.Tensor) -> torch.Tensor:
    """Fractional index of ``alpha`` on :data:`ALPHA_GRID` (piecewise uniform)."""
    fine = (alpha - ALPHA_MIN) / ALPHA_FINE_STEP
    return torch.where(alpha < ALPHA_FINE_END, fine, _N_FINE + (alpha - ALPHA_FINE_END) / ALPHA_STEP)


def beta_nodes(n: int) -> torch.Tensor:
    """The ``n`` β nodes ``sin(πb/2)``, b uniform on [−1, 1] (exactly ±1 at the ends, 0 in the middle)."""
    b = (2 * torch.arange(n, dtype=torch.float64) - (n - 1)) / (n - 1)  # exactly antisymmetric
    return torch.sin(b * (math.pi / 2))


@dataclass(frozen=True)
class _Tables:
    """The loaded tables in one dtype/device: per α node its β count and first row; per row
    (α, β node) the shift m, scale L and the ``H_pdf``/``H_sf`` rows over R_GRID."""

    n_beta: torch.Tensor
    row_start: torch.Tensor
    shift: torch.Tensor
    scale: torch.Tensor
    h_pdf: torch.Tensor
    h_sf: torch.Tensor


@functools.lru_cache(maxsize=8)
def _tables(dtype: torch.dtype, device: torch.device) -> _Tables:
    with resources.files("sgdnoise.stable").joinpath("_skew_tables.npz").open("rb") as fh:
        data = np.load(fh)
        n_beta = torch.as_tensor(data["n_beta"])
        expected = [beta_count(a) for a in ALPHA_GRID.tolist()]
        if (
            not np.allclose(data["alpha"], ALPHA_GRID.numpy())
            or n_beta.tolist() != expected
            or not np.allclose(data["r"], R_GRID.numpy())
            or not np.allclose(data["constants"], [R_STEP, Y_UNIT, Y_TABLE_MAX])
        ):
            raise RuntimeError(
                "sgdnoise/stable/_skew_tables.npz does not match the grid: rebuild it with "
                "tools/build_stable_tables.py skew"
            )
        row_start = torch.cumsum(n_beta, 0) - n_beta
        opts = dict(dtype=dtype, device=device)
        return _Tables(
            n_beta.to(device),
            row_start.to(device),
            *(torch.as_tensor(data[k]).to(**opts) for k in ("shift", "scale", "h_pdf", "h_sf")),
        )


def _node_weights(alpha: torch.Tensor, beta: torch.Tensor, tables: _Tables) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows and weights of the 16 (α, β) nodes around each of P parameter pairs: (P, 16) each.

    Cubic in α over 4 α nodes; on each of those rows, cubic in the row's own β coordinate
    ``b = (2/π) arcsin β`` (uniform on that row with its own step).
    """
    ja, _ = stencil_start(alpha_position(alpha), len(ALPHA_GRID))
    a_nodes = ja[:, None] + torch.arange(4, device=alpha.device)  # (P, 4)
    wa = lagrange_weights(alpha, ALPHA_GRID.to(alpha)[a_nodes])
    n = tables.n_beta[a_nodes]
    b = torch.asin(beta) * (2 / math.pi)
    jb, ub = stencil_start((b[:, None] + 1) * (n - 1) / 2, n)  # (P, 4) each
    rows = (tables.row_start[a_nodes] + jb)[..., None] + torch.arange(4, device=alpha.device)
    weights = wa[..., None] * lagrange4(ub)
    return rows.reshape(-1, 16), weights.reshape(-1, 16)


def _interpolate(
    table: torch.Tensor, rows: torch.Tensor, weights: torch.Tensor, side: torch.Tensor, r: torch.Tensor
) -> torch.Tensor:
    """Interpolate ``table`` at points on node combinations ``side`` (index into ``rows``/``weights``,
    each (S, 16)) and table coordinates ``r``. When there are far fewer combinations than points,
    each combination's 16 rows are first summed into one row, kept in Newton form (cost
    ≈ 20·len(R_GRID) per combination), and every point reads 4 contiguous numbers; otherwise each
    point reads its 64 values. Chunked."""
    n_r = len(R_GRID)
    js, us = stencil_start((r - R_GRID[0].item()) / R_STEP, n_r)
    out = torch.empty_like(r)
    if len(rows) * n_r * 20 <= 64 * r.numel():
        step = max(1, _CHUNK // (16 * n_r))
        combined = torch.cat([(w[..., None] * table[i]).sum(1) for i, w in zip(rows.split(step), weights.split(step))])
        coef = newton_coefficients(combined).view(-1, 4)
        at = js if len(rows) == 1 else side * n_r + js
        for lo in range(0, r.numel(), _CHUNK):
            part = slice(lo, lo + _CHUNK)
            out[part] = horner(coef[at[part]], us[part])
        return out
    ws = lagrange4(us)
    offsets = torch.arange(4, device=r.device)
    flat = table.view(-1)
    for lo in range(0, r.numel(), _CHUNK // 64):
        part = slice(lo, lo + _CHUNK // 64)
        at = ((rows[side[part]] * n_r + js[part, None])[..., None] + offsets).view(-1, 64)
        vals = flat[at].view(-1, 16, 4)
        out[part] = ((vals * ws[part, None, :]).sum(-1) * weights[side[part]]).sum(-1)
    return out


def _standard(
    z: torch.Tensor, alpha: torch.Tensor, beta: torch.Tensor, index: torch.Tensor, which: str
) -> torch.Tensor:
    """log-density (``which="logpdf"``) or distribution function (``"cdf"``) of the standard law
    at the flat points ``z``; point i has parameters ``(alpha, beta)[index[i]]``."""
    tables = _tables(z.dtype, z.device)
    rows_pos, w_pos = _node_weights(alpha, beta, tables)
    rows_neg, w_neg = _node_weights(alpha, -beta, tables)
    shift = (w_pos * tables.shift[rows_pos]).sum(1)
    scale = (w_pos * tables.scale[rows_pos]).sum(1)

    def at_points(v: torch.Tensor) -> torch.Tensor:  # per-pair values at the points (no gather for one pair)
        return v[index] if len(v) > 1 else v

    y = (z - at_points(shift)) / at_points(scale)
    right = y >= 0
    ay = y.abs()
    side = 2 * index + (~right).long()  # node combination: (α, β) right of the shift, (α, −β) left of it
    if len(alpha) == 1:  # one pair: the two combinations are 0 (right) and 1 (left)
        side = (~right).long()
    rows = torch.stack([rows_pos, rows_neg], 1).view(-1, 16)
    weights = torch.stack([w_pos, w_neg], 1).view(-1, 16)
    table = tables.h_pdf if which == "logpdf" else tables.h_sf
    h = _interpolate(table, rows, weights, side, y_to_r(ay).clamp_max(R_MAX))
    a = at_points(alpha)
    if which == "logpdf":
        tiny = torch.finfo(z.dtype).tiny
        out = torch.log(h.clamp_min(tiny)) - (a + 1) * torch.log1p(ay) - torch.log(at_points(scale))
    else:
        tail = (h / (1 + ay) ** a).clamp(0, 1)
        out = torch.where(right, 1 - tail, tail)
    far = ay > Y_TABLE_MAX
    if bool(far.any()):
        b_side = torch.where(right, at_points(beta), -at_points(beta))
        a_far = a.expand_as(z)[far]
        out[far] = _far_tail(z[far], a_far, b_side[far], right[far], which, out[far])
    if bool((alpha == 2.0).any()):  # exactly N(0, 2) whatever β
        gauss = (a == 2.0).expand_as(z)
        g = z[gauss]
        out[gauss] = -(g**2) / 4 - 0.5 * math.log(4 * math.pi) if which == "logpdf" else torch.special.erfc(-g / 2) / 2
    one_sided = (alpha < 1) & (beta.abs() == 1)
    if bool(one_sided.any()):  # support [−tan(πα/2), ∞) for β = 1, (−∞, tan(πα/2)] for β = −1
        edge = torch.where(one_sided, torch.tan(alpha * (math.pi / 2)), math.inf)
        outside = (at_points(beta) * z < -at_points(edge)).expand_as(z)
        if which == "logpdf":
            out[outside] = -math.inf
        else:
            out[outside] = (at_points(beta) < 0).to(out).expand_as(z)[outside]
    return out


def _far_tail(
    z: torch.Tensor, alpha: torch.Tensor, beta_side: torch.Tensor, right: torch.Tensor, which: str, table: torch.Tensor
) -> torch.Tensor:
    """Beyond the table: the S1 tail series at ``x₁ = |z| + β_side tan(πα/2)`` where its next
    term is below 1e-10 relative, else ``table`` (the table's last node held constant); on a side
    without a Pareto tail (β_side = −1) the density is below exp(−10⁶) there: 0."""
    x1 = z.abs() + beta_side * torch.tan(alpha * (math.pi / 2))
    pdf, sf, rel_err = tail_series(alpha, x1.clamp_min(1.0), beta_side)
    use = (rel_err < 1e-10) & (x1 > 1.0) & (pdf > 0)
    series = torch.log(pdf) if which == "logpdf" else torch.where(right, 1 - sf, sf).clamp(0, 1)
    # no Pareto tail on this side (β_side = −1): below any float64 number beyond the table
    nothing = torch.full_like(table, -math.inf) if which == "logpdf" else torch.where(right, 1.0, 0.0).to(table)
    return torch.where(beta_side == -1, nothing, torch.where(use, series, table))


def _prepare(x: Any, alpha: Any, beta: Any, scale: Any, loc: Any):
    """Validate and broadcast; returns the kind, the broadcast shape, standardised points ``z``
    (flat), the distinct (α, β) pairs (flat), each point's pair index, and each point's scale."""
    kind = array_kind(x, alpha, beta, scale, loc)
    xt, a, b, s, m = (
        to_tensor(v, kind, name=n)
        for v, n in ((x, "x"), (alpha, "alpha"), (beta, "beta"), (scale, "scale"), (loc, "loc"))
    )
    if not bool(((a >= ALPHA_MIN) & (a <= ALPHA_MAX)).all()):
        raise InvalidInputError(
            f"the tabulated stable density covers alpha in [{ALPHA_MIN}, {ALPHA_MAX}]; got alpha outside it"
        )
    check_beta(b)
    if not bool((torch.isfinite(s) & (s > 0)).all()):
        raise InvalidInputError("scale must be finite and > 0")
    try:
        pairs = torch.broadcast_shapes(a.shape, b.shape)
        shape = torch.broadcast_shapes(xt.shape, pairs, s.shape, m.shape)
    except RuntimeError as exc:
        raise InvalidInputError(
            f"x {tuple(xt.shape)}, alpha {tuple(a.shape)}, beta {tuple(b.shape)}, scale {tuple(s.shape)} "
            f"and loc {tuple(m.shape)} do not broadcast"
        ) from exc
    z = ((xt - m) / s).expand(shape).reshape(-1)
    a, b, pair_index = _distinct_pairs(a.expand(pairs).reshape(-1), b.expand(pairs).reshape(-1))
    index = pair_index.reshape(pairs).expand(shape).reshape(-1)
    return kind, shape, z, a, b, index, s.expand(shape).reshape(-1)


def _distinct_pairs(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The distinct (a, b) pairs and each input pair's index among them (callers often repeat
    pairs: a likelihood at several scales and locations). Two stable sorts, then run starts."""
    if len(a) == 1:
        return a, b, torch.zeros(1, dtype=torch.long, device=a.device)
    order = torch.argsort(b, stable=True)
    order = order[torch.argsort(a[order], stable=True)]
    sa, sb = a[order], b[order]
    new = torch.ones_like(sa, dtype=torch.bool)
    new[1:] = (sa[1:] != sa[:-1]) | (sb[1:] != sb[:-1])
    inverse = torch.empty_like(order)
    inverse[order] = torch.cumsum(new, 0) - 1
    return sa[new], sb[new], inverse


def stable_logpdf(x: Any, alpha: Any, beta: Any = 0.0, scale: Any = 1.0, loc: Any = 0.0) -> Any:
    """log f(x) of S(α, β, scale, loc; 0), ``f(x) = f_std((x − loc)/scale)/scale`` (module docstring).

    ``x``, ``alpha`` ∈ [0.5, 2], ``beta`` ∈ [−1, 1], ``scale`` > 0 and ``loc`` broadcast together
    (e.g. ``x`` of shape ``(P, N)`` with parameters of shape ``(P, 1)``). NaN in ``x`` gives NaN;
    −inf outside the support of a totally skewed law with α < 1.
    """
    kind, shape, z, a, b, index, s = _prepare(x, alpha, beta, scale, loc)
    return kind.restore((_standard(z, a, b, index, "logpdf") - torch.log(s)).reshape(shape))


def stable_pdf(x: Any, alpha: Any, beta: Any = 0.0, scale: Any = 1.0, loc: Any = 0.0) -> Any:
    """Density of S(α, β, scale, loc; 0); arguments as :func:`stable_logpdf`."""
    kind, shape, z, a, b, index, s = _prepare(x, alpha, beta, scale, loc)
    return kind.restore((torch.exp(_standard(z, a, b, index, "logpdf")) / s).reshape(shape))


def stable_cdf(x: Any, alpha: Any, beta: Any = 0.0, scale: Any = 1.0, loc: Any = 0.0) -> Any:
    """Distribution function ``P(X ≤ x)`` of S(α, β, scale, loc; 0); arguments as :func:`stable_logpdf`.

    Each side of the mode is read from a tail table (``P(X > x)`` right of it, ``P(X < x)`` left of
    it), so both tails keep their relative accuracy.
    """
    kind, shape, z, a, b, index, _ = _prepare(x, alpha, beta, scale, loc)
    return kind.restore(_standard(z, a, b, index, "cdf").reshape(shape))
