"""Student-t law with location and scale, fitted by maximum likelihood to many rows at once.

The law ``X = μ + σ T_ν`` has density

    f(x; μ, σ, ν) = Γ((ν+1)/2) / (Γ(ν/2) √(νπ) σ) · (1 + d/ν)^{−(ν+1)/2},   d = ((x − μ)/σ)²,

(``scipy.stats.t(df=ν, loc=μ, scale=σ)``). It is the usual heavy-tailed rival of the α-stable
law: power tails ``f ~ |x|^{−ν−1}`` (so ν plays the role of α, but every ν is allowed and the
variance is finite for ν > 2) and ν → ∞ is the Gaussian.

**Fit** (:func:`fit_student_t`): the ECME algorithm of Liu & Rubin (1995, Statistica Sinica 5,
"ML estimation of the t distribution using EM and its extensions, ECM and ECME"), batched over
rows. The t law is a scale mixture of Gaussians, ``X | W ~ N(μ, σ²/W)``, ``W ~ Γ(ν/2, ν/2)``; the
E-step gives the weights ``w = (ν + 1)/(ν + d)``, the M-step ``μ = Σ w x / Σ w``,
``σ² = Σ w (x − μ)² / n``, and ν maximises the *observed* log-likelihood given (μ, σ) (one
Newton step in log ν per iteration, closed-form derivatives). All rows move at once. EM stops
when no row's mean log-likelihood rises by more than ``EM_TOLERANCE``, and a batched damped
Newton in (μ, log σ, log ν) with closed-form derivatives and step halving takes it to the optimum
(EM's convergence is linear, slow when ν is large; Newton's is quadratic once near). ν is kept in
``[DF_MIN, DF_MAX]``; a Gaussian row ends at ``DF_MAX`` (``df_at_bound``).

Rows may have different lengths (a :class:`sgdnoise.stable.ragged.Ragged`): the sums are masked.
The distribution function uses ``scipy.special.stdtr`` (the regularised incomplete beta function,
which torch lacks), element-wise on the whole array at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy import special

from sgdnoise.parallel import torch_threads
from sgdnoise.stable.fit import as_rows
from sgdnoise.stable.ragged import Ragged, from_rows, ragged_quantiles

DF_MIN, DF_MAX = 0.1, 1e4
EM_ITERATIONS = 12
EM_TOLERANCE = 1e-4  # stop once no row's mean log-likelihood rises by more than this (the Newton polish finishes)
CHECK_EVERY = 5  # EM iterations between log-likelihood checks
POLISH_ITERATIONS = 20
POLISH_TOLERANCE = 1e-12  # stop once no row's mean negative log-likelihood drops by more than this
POLISH_MOVE = (0.3, 0.3, 1.0)  # largest Newton move per iteration in (μ/σ, log σ, log ν)
_LOG_DF = (math.log(DF_MIN), math.log(DF_MAX))


def t_logpdf(x: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor, df: torch.Tensor) -> torch.Tensor:
    """``log f(x; μ, σ, ν)`` (module docstring); arguments broadcast."""
    d = ((x - loc) / scale) ** 2
    const = torch.lgamma((df + 1) / 2) - torch.lgamma(df / 2) - 0.5 * torch.log(df * math.pi) - torch.log(scale)
    return const - (df + 1) / 2 * torch.log1p(d / df)


def t_pdf(x: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor, df: torch.Tensor) -> torch.Tensor:
    """``f(x; μ, σ, ν)``; arguments broadcast."""
    return torch.exp(t_logpdf(x, loc, scale, df))


def t_cdf(x: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor, df: torch.Tensor) -> torch.Tensor:
    """``P(X ≤ x)`` by ``scipy.special.stdtr`` on the standardised points; arguments broadcast."""
    z = ((x - loc) / scale).detach().cpu().numpy()
    return torch.from_numpy(special.stdtr(np.broadcast_to(df.detach().cpu().numpy(), z.shape), z)).to(x)


@dataclass(frozen=True)
class StudentTFit:
    """Student-t fits of P rows, arrays ``(P,)`` of the caller's kind: ``loc`` μ, ``scale`` σ, ``df`` ν,
    ``loglik`` (the maximised log-likelihood, a sum over the row) and ``df_at_bound`` (ν̂ at
    ``DF_MIN`` or ``DF_MAX``: the fit says "lighter than any t" or "heavier than the range")."""

    loc: Any
    scale: Any
    df: Any
    loglik: Any
    df_at_bound: Any
    n_samples: int

    def to_dict(self) -> dict[str, Any]:
        fields = ("loc", "scale", "df", "loglik", "df_at_bound", "n_samples")
        return {name: getattr(self, name) for name in fields}

    def to_frame(self) -> pd.DataFrame:
        """One row per sample: loc, scale, df, loglik, df_at_bound."""
        fields = ("loc", "scale", "df", "loglik", "df_at_bound")
        return pd.DataFrame({f: np.asarray(torch.as_tensor(getattr(self, f)).cpu()) for f in fields})


def fit_student_t(x: Any, dim: int = -1) -> StudentTFit:
    """Maximum-likelihood Student-t fit (location, scale, degrees of freedom) of every sample along ``dim``.

    ``x``: array or tensor ``(..., K)``, K ≥ 20, finite. Returns a :class:`StudentTFit` with arrays
    of shape ``x.shape`` without ``dim``, of the caller's kind. A constant row has no t fit and
    raises nothing: it gets ``scale`` 0 clamped to a tiny value and a meaningless ν — set such rows
    aside first (:func:`sgdnoise.stable.classify_entries`).
    """
    kind, rows, batch_shape = as_rows(x, dim)
    with torch_threads(1):  # many small ops: one thread (see sgdnoise.parallel.threads)
        loc, scale, df, loglik = fit_t(from_rows(rows.to(torch.float64)))
    at_bound = (df <= DF_MIN * (1 + 1e-9)) | (df >= DF_MAX * (1 - 1e-9))
    out = [kind.restore(v.reshape(batch_shape)) for v in (loc, scale, df, loglik)]
    return StudentTFit(*out, df_at_bound=kind.restore(at_bound.reshape(batch_shape)), n_samples=rows.shape[1])


def _start(r: Ragged) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Median, half the IQR (σ of a Cauchy; a t with ν ≈ 2 in between) and ν = 4."""
    q25, q50, q75 = ragged_quantiles(r, [0.25, 0.5, 0.75]).unbind(-1)
    spread = r.values.amax(1) - r.values.amin(1)
    scale = torch.where(q75 > q25, (q75 - q25) / 2, spread / 4).clamp_min(1e-300)
    return q50, scale, torch.full_like(q50, 4.0)


def _df_step(log_df: torch.Tensor, d: torch.Tensor, r: Ragged) -> torch.Tensor:
    """One Newton step in t = log ν on the observed log-likelihood given d = ((x − μ)/σ)² (P, K).

    With ``S1 = Σ log(1 + d/ν)``, ``S2 = Σ d/(ν + d)``, ``S3 = Σ d/(ν + d)²`` over a row's n values,

        L'(ν)  = n/2 [ψ((ν+1)/2) − ψ(ν/2) − 1/ν] − S1/2 + (ν+1)/(2ν) S2,
        L''(ν) = n/4 [ψ₁((ν+1)/2) − ψ₁(ν/2)] + n/(2ν²) + S2/(2ν) − S2/(2ν²) − (ν+1)/(2ν) S3,

    and ``dL/dt = ν L'``, ``d²L/dt² = ν L' + ν² L''``. Where the curvature is not negative the step
    is ±0.5; every step is capped at ±1 and kept in ``[log DF_MIN, log DF_MAX]``.
    """
    n = r.n.to(d.dtype)
    df = torch.exp(log_df)
    nu = df[:, None]
    s1 = r.sum(torch.log1p(d / nu))
    s2 = r.sum(d / (nu + d))
    s3 = r.sum(d / (nu + d) ** 2)
    half, half1 = (df + 1) / 2, df / 2
    d1 = n / 2 * (torch.digamma(half) - torch.digamma(half1) - 1 / df) - s1 / 2 + half / df * s2
    d2 = (
        n / 4 * (torch.polygamma(1, half) - torch.polygamma(1, half1))
        + n / (2 * df**2)
        + s2 / (2 * df)
        - s2 / (2 * df**2)
        - half / df * s3
    )
    g, h = df * d1, df * d1 + df**2 * d2
    step = torch.where(h < 0, -g / h.clamp_max(-1e-300), 0.5 * torch.sign(g)).clamp(-1.0, 1.0)
    return (log_df + step).clamp(*_LOG_DF)


def fit_t(r: Ragged, iterations: int = EM_ITERATIONS) -> tuple[torch.Tensor, ...]:
    """ECME fit of the rows of ``r`` (module docstring); returns ``(loc, scale, df, loglik)``, each (P,)."""
    x, w_mask, n = r.values, r.weights, r.n.to(r.values.dtype)
    loc, scale, df = _start(r)
    log_df = torch.log(df)
    previous = torch.full_like(loc, -torch.inf)
    for i in range(iterations):
        d = ((x - loc[:, None]) / scale[:, None]) ** 2
        w = (df[:, None] + 1) / (df[:, None] + d) * w_mask
        loc = (w * x).sum(1) / w.sum(1)
        scale = ((w * (x - loc[:, None]) ** 2).sum(1) / n).sqrt().clamp_min(1e-300)
        d = ((x - loc[:, None]) / scale[:, None]) ** 2
        log_df = _df_step(log_df, d, r)
        df = torch.exp(log_df)
        if i % CHECK_EVERY == CHECK_EVERY - 1:
            loglik = r.sum(t_logpdf(x, loc[:, None], scale[:, None], df[:, None]))
            if ((loglik - previous) / n).max().item() < EM_TOLERANCE:
                break
            previous = loglik
    return _polish(r, loc, scale, df)


def _derivatives(r: Ragged, loc: torch.Tensor, scale: torch.Tensor, df: torch.Tensor):
    """Log-likelihood, gradient (P, 3) and Hessian (P, 3, 3) of each row in θ = (μ, log σ, log ν).

    Per value, with z = (x − μ)/σ, s = ν + z², c(ν) = log Γ((ν+1)/2) − log Γ(ν/2) − ½ log(νπ):

        ℓ = c(ν) − log σ − (ν+1)/2 · log(s/ν)
        ∂ℓ/∂μ = (ν+1) z/(σs),     ∂ℓ/∂log σ = −1 + (ν+1) z²/s,
        ∂ℓ/∂log ν = ν g,  g = c'(ν) − ½ log(s/ν) + (ν+1) z²/(2νs),
        ∂²ℓ/∂μ² = (ν+1)(z² − ν)/(σ²s²),   ∂²ℓ/∂log σ² = −2ν(ν+1) z²/s²,
        ∂²ℓ/∂μ∂log σ = −2ν(ν+1) z/(σs²),  ∂²ℓ/∂μ∂log ν = ν z(z² − 1)/(σs²),
        ∂²ℓ/∂log σ∂log ν = ν z²(z² − 1)/s²,
        ∂²ℓ/∂log ν² = ν g + ν² [c''(ν) + z²/(2νs) − z²(ν² + 2ν + z²)/(2ν²s²)],

    summed over the row's values.
    """
    x = r.values
    mu, sig, nu = loc[:, None], scale[:, None], df[:, None]
    z = (x - mu) / sig
    z2 = z * z
    s = nu + z2
    inv_s = 1 / s
    inv_s2 = inv_s * inv_s
    log_ratio = torch.log1p(z2 / nu)
    half, half1 = (df + 1) / 2, df / 2
    c = torch.lgamma(half) - torch.lgamma(half1) - 0.5 * torch.log(df * math.pi)
    c1 = 0.5 * (torch.digamma(half) - torch.digamma(half1)) - 0.5 / df
    c2 = 0.25 * (torch.polygamma(1, half) - torch.polygamma(1, half1)) + 0.5 / df**2
    n = r.n.to(x.dtype)
    total = r.sum
    loglik = n * (c - torch.log(scale)) - half * total(log_ratio)
    g_nu = n * c1 - 0.5 * total(log_ratio) + half / df * total(z2 * inv_s)
    grad = torch.stack([(df + 1) / scale * total(z * inv_s), -n + (df + 1) * total(z2 * inv_s), df * g_nu], dim=1)
    z2m1_s2 = (z2 - 1) * inv_s2
    h_mm = (df + 1) / scale**2 * total((z2 - nu) * inv_s2)
    h_aa = -2 * df * (df + 1) * total(z2 * inv_s2)
    h_ma = -2 * df * (df + 1) / scale * total(z * inv_s2)
    h_mb = df / scale * total(z * z2m1_s2)
    h_ab = df * total(z2 * z2m1_s2)
    g2 = n * c2 + total(z2 * inv_s) / (2 * df) - total(z2 * (nu * nu + 2 * nu + z2) * inv_s2) / (2 * df**2)
    h_bb = df * g_nu + df**2 * g2
    hess = torch.stack(
        [torch.stack([h_mm, h_ma, h_mb], 1), torch.stack([h_ma, h_aa, h_ab], 1), torch.stack([h_mb, h_ab, h_bb], 1)],
        1,
    )
    return loglik, grad, hess


def _loglik(r: Ragged, loc: torch.Tensor, scale: torch.Tensor, df: torch.Tensor) -> torch.Tensor:
    return r.sum(t_logpdf(r.values, loc[:, None], scale[:, None], df[:, None]))


def _polish(r: Ragged, loc: torch.Tensor, scale: torch.Tensor, df: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Damped Newton on each row's log-likelihood in θ = (μ, log σ, log ν) (:func:`_derivatives`):
    a Newton step where the Hessian is negative definite, else a scaled gradient step; moves
    capped at (0.3σ, 0.3, 1); the first of the full, half and quarter step that raises the
    likelihood is kept, so no row's likelihood ever drops."""
    n = r.n.to(r.values.dtype)
    theta = torch.stack([loc, torch.log(scale), torch.log(df)], 1)
    lower = torch.tensor([-math.inf, -math.inf, _LOG_DF[0]], dtype=theta.dtype, device=theta.device)
    upper = torch.tensor([math.inf, math.inf, _LOG_DF[1]], dtype=theta.dtype, device=theta.device)
    for _ in range(POLISH_ITERATIONS):
        loc, scale, df = theta[:, 0], torch.exp(theta[:, 1]), torch.exp(theta[:, 2])
        best, grad, hess = _derivatives(r, loc, scale, df)
        chol, info = torch.linalg.cholesky_ex(-hess)
        newton = torch.cholesky_solve(grad[:, :, None], chol)[:, :, 0]
        ascent = grad / torch.diagonal(hess, dim1=1, dim2=2).abs().clamp_min(1e-12)
        move = torch.where((info == 0)[:, None], newton, ascent)
        cap = torch.stack([POLISH_MOVE[0] * scale, *(torch.full_like(scale, m) for m in POLISH_MOVE[1:])], 1)
        move = move * (cap / move.abs().clamp_min(1e-300)).clamp(max=1.0)
        gain = torch.zeros_like(best)
        for factor in (1.0, 0.5, 0.25):
            trial = torch.maximum(torch.minimum(theta + factor * move, upper), lower)
            value = _loglik(r, trial[:, 0], torch.exp(trial[:, 1]), torch.exp(trial[:, 2]))
            better = (value > best) & (gain == 0)
            gain = torch.where(better, value - best, gain)
            theta, best = torch.where(better[:, None], trial, theta), torch.where(better, value, best)
        if (gain / n).max().item() < POLISH_TOLERANCE:
            break
    loc, scale, df = theta[:, 0], torch.exp(theta[:, 1]), torch.exp(theta[:, 2])
    return loc, scale, df, _loglik(r, loc, scale, df)
