"""Two-component Gaussian mixture, fitted by EM to many rows at once, and the number of its modes.

    f(x) = π N(x; μ₁, σ₁²) + (1 − π) N(x; μ₂, σ₂²),   μ₁ ≤ μ₂.

It is the alternative to every single law of :mod:`sgdnoise.stable.laws` that can have two
modes (two groups of mini-batches pulling a weight two ways); with μ₁ = μ₂ it is also a crude
heavy-tailed law (a scale mixture), which is why a two-bump verdict needs the fitted density
itself to have two modes (:func:`mixture_modes`), not just a better likelihood.

**Fit** (:func:`fit_mixture`): EM (Dempster, Laird & Rubin 1977; the Gaussian-mixture case e.g.
Bishop 2006, §9.2), batched over rows and starts. Each row is first standardised by its median
and ``IQR/1.349`` (so the numbers below are scale free and the result is affine equivariant).
With the log-odds of the two components quadratic in x, the E-step is one sigmoid per value,
``r = σ(a x² + b x + c)``, and the M-step reads the weighted sums ``Σr, Σrx, Σrx²`` (each a
batched matrix product with the design ``[x², x, 1]``) and sets
``σ_j² = Σ r (x − μ_j)² / Σ r + REG`` — ``REG = 1e-6`` (of the squared standardising scale) is
scikit-learn's ``reg_covar``: it keeps a component from collapsing onto one value, where the
likelihood is unbounded. Five starts per row (means at the quartiles; at the 10% and 90%
quantiles; both at the median with σ 0.6 and 3, the scale-mixture start; a small component at
the 5% or the 95% quantile) run ``START_ITERATIONS`` together; the best start of each row then
continues until no row's mean log-likelihood rises by more than ``TOLERANCE`` (or
``MAX_ITERATIONS``). EM never lowers the likelihood. Rows may have different lengths
(:class:`sgdnoise.stable.ragged.Ragged`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from sgdnoise.parallel import torch_threads
from sgdnoise.stable.fit import as_rows
from sgdnoise.stable.ragged import Ragged, from_rows, ragged_quantiles

REG = 1e-6
START_ITERATIONS = 25
MAX_ITERATIONS = 300
TOLERANCE = 1e-8  # per value: 1e-5 of log-likelihood on a row of K = 1000
START_BLOCK = 256  # rows whose starts run together
CHECK_EVERY = 10
MODE_GRID = 256  # points between the two means where the modes are counted
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


@dataclass(frozen=True)
class MixtureFit:
    """Two-Gaussian mixtures of P rows, arrays ``(P,)`` of the caller's kind: ``weight`` π (of the
    component with the lower mean), ``loc1, scale1, loc2, scale2`` (μ₁ ≤ μ₂, standard deviations),
    ``loglik`` (the row's maximised log-likelihood), ``modes`` (1 or 2) and ``dip`` (the depth of the
    dip between two modes, 0 for one; :func:`mixture_modes`)."""

    weight: Any
    loc1: Any
    scale1: Any
    loc2: Any
    scale2: Any
    loglik: Any
    modes: Any
    dip: Any
    n_samples: int

    FIELDS = ("weight", "loc1", "scale1", "loc2", "scale2", "loglik", "modes", "dip")

    def to_dict(self) -> dict[str, Any]:
        return {**{f: getattr(self, f) for f in self.FIELDS}, "n_samples": self.n_samples}

    def to_frame(self) -> pd.DataFrame:
        """One row per sample: weight, loc1, scale1, loc2, scale2, loglik, modes, dip."""
        return pd.DataFrame({f: np.asarray(torch.as_tensor(getattr(self, f)).cpu()) for f in self.FIELDS})


def fit_gaussian_mixture(x: Any, dim: int = -1) -> MixtureFit:
    """Maximum-likelihood two-component Gaussian mixture (EM, module docstring) of every sample along ``dim``.

    ``x``: array or tensor ``(..., K)``, K ≥ 20, finite. Returns a :class:`MixtureFit` with arrays of
    shape ``x.shape`` without ``dim``, of the caller's kind.
    """
    kind, rows, batch_shape = as_rows(x, dim)
    with torch_threads(1):  # many small ops: one thread (see sgdnoise.parallel.threads)
        params = fit_mixture(from_rows(rows.to(torch.float64)))
        modes, dip = mixture_modes(*params[:5])
    out = [kind.restore(v.reshape(batch_shape)) for v in (*params, modes, dip)]
    return MixtureFit(*out, n_samples=rows.shape[1])


def mixture_logpdf(x: torch.Tensor, weight, loc1, scale1, loc2, scale2) -> torch.Tensor:
    """``log f(x)`` of the mixture; parameters broadcast against ``x``."""
    a = torch.log(weight) - torch.log(scale1) - 0.5 * ((x - loc1) / scale1) ** 2
    b = torch.log1p(-weight) - torch.log(scale2) - 0.5 * ((x - loc2) / scale2) ** 2
    return torch.logaddexp(a, b) - _LOG_SQRT_2PI


def mixture_pdf(x: torch.Tensor, weight, loc1, scale1, loc2, scale2) -> torch.Tensor:
    return torch.exp(mixture_logpdf(x, weight, loc1, scale1, loc2, scale2))


def mixture_cdf(x: torch.Tensor, weight, loc1, scale1, loc2, scale2) -> torch.Tensor:
    return weight * torch.special.ndtr((x - loc1) / scale1) + (1 - weight) * torch.special.ndtr((x - loc2) / scale2)


def mixture_modes(weight, loc1, scale1, loc2, scale2, grid: int = MODE_GRID) -> tuple[torch.Tensor, torch.Tensor]:
    """Number of modes (1 or 2) of each fitted mixture and the depth of the dip between them; each (P,).

    Every mode of a two-Gaussian mixture in one dimension lies between the two means (outside, both
    components fall off in the same direction); the density is evaluated on ``grid`` points spanning
    ``[μ₁, μ₂]`` widened by a tenth of the smaller σ at each end, and its strict local maxima counted.
    The dip is ``1 − f(antimode)/f(lower mode)`` (0 for one mode): the "bimodality amplitude" of
    Zhang, Mapes & Soden (2003, Q. J. R. Meteorol. Soc. 129, 1173–1186).
    """
    margin = 0.1 * torch.minimum(scale1, scale2)
    t = torch.linspace(0, 1, grid, dtype=loc1.dtype, device=loc1.device)
    points = (loc1 - margin)[:, None] + (loc2 - loc1 + 2 * margin)[:, None] * t
    f = mixture_logpdf(points, *(p[:, None] for p in (weight, loc1, scale1, loc2, scale2)))
    inner = f[:, 1:-1]
    peaks = (inner > f[:, :-2]) & (inner >= f[:, 2:])
    modes = peaks.sum(1).clamp(1, 2)
    index = torch.arange(grid - 2, device=f.device)
    first = torch.where(peaks, index, grid).amin(1).clamp_max(grid - 3)
    last = torch.where(peaks, index, -1).amax(1).clamp_min(0)
    between = (index >= first[:, None]) & (index <= last[:, None])
    antimode = torch.where(between, inner, torch.inf).amin(1)
    lower = torch.minimum(inner.gather(1, first[:, None]), inner.gather(1, last[:, None])).squeeze(1)
    dip = torch.where(modes == 2, -torch.expm1(antimode - lower), 0.0)
    return modes, dip


def _standardise(r: Ragged) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Standardised values (P, K), the median and scale used, and the standardised quantiles for the starts."""
    qs = ragged_quantiles(r, [0.05, 0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9, 0.95])
    spread = r.values.amax(1) - r.values.amin(1)
    scale = torch.where(qs[:, 6] > qs[:, 2], (qs[:, 6] - qs[:, 2]) / 1.349, spread / 4).clamp_min(1e-300)
    centre = qs[:, 4]
    z = (r.values - centre[:, None]) / scale[:, None]
    return z, centre, scale, (qs - centre[:, None]) / scale[:, None]


def _starts(q: torch.Tensor) -> torch.Tensor:
    """(P, S, 5) starting (π, μ₁, σ₁, μ₂, σ₂) from standardised quantiles q (P, 9)."""
    one = torch.ones_like(q[:, 0])
    cols = [
        (0.5 * one, q[:, 2], 0.5 * one, q[:, 6], 0.5 * one),
        (0.5 * one, q[:, 1], 0.5 * one, q[:, 7], 0.5 * one),
        (0.7 * one, q[:, 4], 0.6 * one, q[:, 4], 3.0 * one),
        (0.1 * one, q[:, 0], 0.3 * one, q[:, 5], 0.8 * one),
        (0.9 * one, q[:, 3], 0.8 * one, q[:, 8], 0.3 * one),
    ]
    return torch.stack([torch.stack(c, 1) for c in cols], 1)


def _design(z: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``w·[z², z, 1]``, (R, K, 3): the E-step's log-odds are ``design @ (a, b, c)`` and the
    M-step's weighted sums ``r @ design``, each one batched matrix product."""
    return torch.stack([z * z, z, torch.ones_like(z)], -1) * w[..., None]


def _em(design: torch.Tensor, totals: torch.Tensor, params: torch.Tensor, steps: int) -> torch.Tensor:
    """``steps`` EM iterations; ``design`` (R, K, 3) from :func:`_design`, ``totals`` its sums over K
    (R, 3), params (R, 5) = (π, μ₁, σ₁, μ₂, σ₂) in standardised units."""
    pi, m1, s1, m2, s2 = params.unbind(1)
    n = totals[:, 2]
    for _ in range(steps):
        v1, v2 = s1 * s1, s2 * s2
        # log-odds of component 1 = a z² + b z + c
        a = 0.5 / v2 - 0.5 / v1
        b = m1 / v1 - m2 / v2
        c = torch.log(pi) - torch.log1p(-pi) - torch.log(s1) + torch.log(s2) - 0.5 * m1 * m1 / v1 + 0.5 * m2 * m2 / v2
        r = torch.sigmoid(torch.bmm(design, torch.stack([a, b, c], 1)[:, :, None]))  # (R, K, 1)
        sums1 = torch.bmm(r.transpose(1, 2), design)[:, 0]  # Σ r·w·[z², z, 1]
        sums2 = totals - sums1
        n1, n2 = sums1[:, 2].clamp_min(1e-12), sums2[:, 2].clamp_min(1e-12)
        m1, m2 = sums1[:, 1] / n1, sums2[:, 1] / n2
        s1 = ((sums1[:, 0] / n1 - m1 * m1).clamp_min(0) + REG).sqrt()
        s2 = ((sums2[:, 0] / n2 - m2 * m2).clamp_min(0) + REG).sqrt()
        pi = (sums1[:, 2] / n).clamp(1e-12, 1 - 1e-12)
    return torch.stack([pi, m1, s1, m2, s2], 1)


def _loglik(z: torch.Tensor, mask: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
    """Row sums of the standardised log-density over the valid values; (R,)."""
    f = mixture_logpdf(z, *(p[:, None] for p in params.unbind(1)))
    return torch.where(mask, f, 0.0).sum(1)


def _best_start(z: torch.Tensor, r: Ragged, q: torch.Tensor) -> torch.Tensor:
    """Run every start for ``START_ITERATIONS`` and keep each row's best; (P, 5). Blocks of rows
    bound the memory (S copies of each row's design)."""
    p = z.shape[0]
    out = []
    for lo in range(0, p, START_BLOCK):
        zb, mask, w = z[lo : lo + START_BLOCK], r.mask[lo : lo + START_BLOCK], r.weights[lo : lo + START_BLOCK]
        starts = _starts(q[lo : lo + START_BLOCK])
        b, s = starts.shape[:2]
        zs = zb[:, None].expand(b, s, -1).reshape(b * s, -1)
        design = _design(zs, w[:, None].expand(b, s, -1).reshape(b * s, -1))
        params = _em(design, design.sum(1), starts.reshape(b * s, 5), START_ITERATIONS)
        ll = _loglik(zs, mask[:, None].expand(b, s, -1).reshape(b * s, -1), params).reshape(b, s)
        out.append(params.reshape(b, s, 5)[torch.arange(b), ll.argmax(1)])
    return torch.cat(out)


def fit_mixture(r: Ragged) -> tuple[torch.Tensor, ...]:
    """EM fit of the rows of ``r`` (module docstring); returns ``(weight, loc1, scale1, loc2, scale2,
    loglik)``, each (P,), with ``loc1 ≤ loc2``."""
    z, centre, scale, q = _standardise(r)
    n = r.n.to(z.dtype)
    params = _best_start(z, r, q)
    design = _design(z, r.weights)
    totals = design.sum(1)
    loglik = _loglik(z, r.mask, params)
    active = torch.arange(z.shape[0], device=z.device)
    done = START_ITERATIONS
    while active.numel() and done < MAX_ITERATIONS:
        sub = _em(design[active], totals[active], params[active], CHECK_EVERY)
        new = _loglik(z[active], r.mask[active], sub)
        gain = (new - loglik[active]) / n[active]
        improved = new >= loglik[active]
        params[active] = torch.where(improved[:, None], sub, params[active])
        loglik[active] = torch.maximum(new, loglik[active])
        active = active[gain > TOLERANCE]
        done += CHECK_EVERY
    pi, m1, s1, m2, s2 = params.unbind(1)
    swap = m1 > m2
    pi, m1, s1, m2, s2 = (
        torch.where(swap, 1 - pi, pi),
        torch.where(swap, m2, m1),
        torch.where(swap, s2, s1),
        torch.where(swap, m1, m2),
        torch.where(swap, s1, s2),
    )
    loglik = loglik - n * torch.log(scale)  # the Jacobian of the standardisation
    return pi, centre + scale * m1, scale * s1, centre + scale * m2, scale * s2, loglik
