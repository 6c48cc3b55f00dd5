"""Build the α-stable density tables of ``src/sgdnoise/stable`` (run once, offline).

``_tables.npz`` — symmetric law. The tables hold, on a grid of α ∈ [0.5, 2] (step 0.01) and of
``s = log(1 + |x|)`` (step 0.005, |x| ≤ 1000, with one ghost node beyond each end), the
tail-flattened functions

    H_pdf(α, s) = f(x; α) · (1 + x)^{α+1},     H_sf(α, s) = P(X > x; α) · (1 + x)^{α},

of the standard SαS law (``E e^{iuX} = exp(−|u|^α)``), which are smooth in both α and s and
bounded in the tails. Values come from ``scipy.stats.levy_stable`` (Nolan's integral), except
far in the tails, where the convergent/asymptotic series of :mod:`sgdnoise.stable.series` is
more accurate than the quadrature and is used once its next term is below 1e-13 relative.

``_skew_tables.npz`` — the general law S(α, β, 1, 0; 0) on the grid and coordinates of
:mod:`sgdnoise.stable.skew_density` (mode shift m, scale L, ``H_pdf``, ``H_sf``), and the
quantiles behind McCulloch's estimator (:mod:`sgdnoise.stable.skew_quantile`). Values come from
Nolan's (1997) integral representation, integrated here by a vectorised quadrature (below) that
agrees with mpmath's integration of the characteristic function to 1e-12 relative and with scipy
where scipy is reliable; scipy itself is not used, because it replaces α within 0.005 of 1 by 1
and x within 0.005 of ζ by ζ.

Usage: ``python tools/build_stable_tables.py [sas] [skew]`` (both by default; about 5 min for
``sas`` and 15 min for ``skew`` on 2 free cores).
"""

from __future__ import annotations

import math
import multiprocessing as mp
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.optimize import brentq
from scipy.special import gamma
from scipy.stats import levy_stable, norm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from sgdnoise.stable.density import ALPHA_GRID, S_GRID  # noqa: E402
from sgdnoise.stable.series import tail_series  # noqa: E402
from sgdnoise.stable.skew_density import (  # noqa: E402
    ALPHA_GRID as SKEW_ALPHA_GRID,
)
from sgdnoise.stable.skew_density import (  # noqa: E402
    R_GRID,
    R_STEP,
    Y_TABLE_MAX,
    Y_UNIT,
    beta_count,
    beta_nodes,
    r_to_y,
)
from sgdnoise.stable.skew_quantile import ALPHAS as Q_ALPHAS  # noqa: E402
from sgdnoise.stable.skew_quantile import BETAS as Q_BETAS  # noqa: E402
from sgdnoise.stable.skew_quantile import PROBS as Q_PROBS  # noqa: E402

SERIES_REL_TOL = 1e-13
# scipy interpolates pdf and cdf linearly within 0.005 of the centre (its "near zeta" window),
# which is off by up to 4e-5 at alpha = 0.5; there the centre series below is used instead.
SCIPY_CENTRE_WINDOW = 0.006
CENTRE_TERMS = 10


def centre_series(alpha: float, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Series of the standard SαS pdf and ``P(X > x)`` about 0 (Zolotarev 1986, eq. 2.4.6).

    ``f(x) = (1/(πα)) Σ_k (−1)^k Γ((2k+1)/α)/(2k)! x^{2k}`` and
    ``1/2 − P(X > x) = (1/(πα)) Σ_k (−1)^k Γ((2k+1)/α)/(2k+1)! x^{2k+1}``, convergent for α > 1 and
    asymptotic for α < 1; returns ``(pdf, sf, rel_err)`` with the last term kept as error estimate.
    """
    k = np.arange(CENTRE_TERMS + 1)[:, None]
    log_gamma = np.vectorize(math.lgamma)
    log_coef = log_gamma((2 * k + 1) / alpha) - np.log(np.pi * alpha)
    sign = (-1.0) ** k
    log_x = np.log(np.maximum(x, 1e-300))[None, :]  # x = 0 only zeroes the x^{2k+1} terms
    pdf_terms = sign * np.exp(log_coef - log_gamma(2 * k + 1) + 2 * k * log_x)
    cdf_terms = sign * np.exp(log_coef - log_gamma(2 * k + 2) + (2 * k + 1) * log_x)
    pdf = pdf_terms[:-1].sum(0)
    return pdf, 0.5 - cdf_terms[:-1].sum(0), np.abs(pdf_terms[-1]) / pdf


def _row(alpha: float) -> tuple[np.ndarray, np.ndarray]:
    s = S_GRID.numpy()
    x = np.abs(np.expm1(S_GRID.numpy()))
    pdf_series, sf_series, rel_err = (
        t.numpy() for t in tail_series(torch.tensor(alpha, dtype=torch.float64), torch.from_numpy(x))
    )
    use_series = (rel_err < SERIES_REL_TOL) & (x > 1.0) & (alpha < 2.0) & (s > 0)
    pdf = np.where(use_series, pdf_series, 0.0)
    sf = np.where(use_series, sf_series, 0.0)
    centre = x <= SCIPY_CENTRE_WINDOW
    pdf_centre, sf_centre, centre_err = centre_series(alpha, x[centre])
    if np.any(centre_err > 1e-10):
        raise RuntimeError(f"centre series not accurate enough at alpha={alpha}: {centre_err.max()}")
    pdf[centre], sf[centre] = pdf_centre, sf_centre
    need = ~use_series & ~centre
    pdf[need] = levy_stable.pdf(x[need], alpha, 0.0)
    sf[need] = 0.5 - (levy_stable.cdf(x[need], alpha, 0.0) - 0.5)
    ghost = s < 0  # s = log(1 + x) with x < 0: the smooth continuation of P(X > x) is 1 − P(X > |x|)
    sf[ghost] = 1.0 - sf[ghost]
    growth = np.exp(s)  # 1 + |x| on the positive side, its smooth extension for the ghost node
    return pdf * growth ** (alpha + 1.0), sf * growth**alpha


def build_sas() -> None:
    with mp.Pool(2) as pool:
        rows = pool.map(_row, ALPHA_GRID.tolist(), chunksize=1)
    h_pdf = np.stack([r[0] for r in rows])
    h_sf = np.stack([r[1] for r in rows])
    out = ROOT / "src" / "sgdnoise" / "stable" / "_tables.npz"
    np.savez_compressed(out, alpha=ALPHA_GRID.numpy(), s=S_GRID.numpy(), h_pdf=h_pdf, h_sf=h_sf)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB), tables {h_pdf.shape}")


# ---------------------------------------------------------------------------------------------
# The general law: Nolan's integral representation, integrated by a vectorised quadrature.
#
# For α ≠ 1 and x > ζ = −β tan(πα/2) (Nolan 1997, Theorem 1), with θ₀ = arctan(β tan(πα/2))/α,
#     f(x) = α / (π |α − 1| (x − ζ)) ∫ h e^{−h} dθ,    h(θ) = (x − ζ)^{α/(α−1)} V(θ),
#     V(θ) = (cos αθ₀)^{1/(α−1)} (cos θ / sin α(θ₀ + θ))^{α/(α−1)} cos(αθ₀ + (α − 1)θ) / cos θ,
# over θ ∈ (−θ₀, π/2), and P(X > x) = (1/π) ∫ e^{−h} dθ (α > 1) or (1/π) ∫ (1 − e^{−h}) dθ (α < 1).
# For α = 1 and β > 0, over θ ∈ (−π/2, π/2): h = e^{−πx/(2β)} V(θ),
#     V(θ) = (2/π) ((π/2 + βθ)/cos θ) exp((π/2 + βθ) tan θ / β),
#     f(x) = (1/(2β)) ∫ h e^{−h} dθ,   P(X > x) = (1/π) ∫ (1 − e^{−h}) dθ.
# Other points follow from f(x; β) = f(−x; −β). log h is monotone in θ (increasing for α ≤ 1,
# decreasing for α > 1), and the integrands are functions of log h alone, peaked at h = 1. The
# quadrature splits the θ range at the crossings of 21 levels of log h (−40 … 3.9: beyond them
# the integrands are saturated to 1e-17 and their exact length is added), at 7 interior points
# and at 24 points graded geometrically towards each end (for the end singularities), and uses
# 12-point Gauss–Legendre on each piece. All trigonometric factors are evaluated from the
# distances to the ends (u = θ + θ₀, v = π/2 − θ), so no digits are lost where they vanish.
# ---------------------------------------------------------------------------------------------

LEVELS = np.array([-40.0, -30, -22, -16, -12, -9, -7, -5.5, -4.25, -3.25, -2.5])
LEVELS = np.r_[LEVELS, -1.75, -1.0, -0.4, 0.2, 0.8, 1.4, 2.0, 2.6, 3.2, 3.9]
GL_NODES, GL_WEIGHTS = np.polynomial.legendre.leggauss(12)
N_UNIFORM, N_GEOMETRIC, BISECTIONS = 8, 24, 64


def _log_v(alpha: float, beta: float):
    """``(w, log V(u), increasing)`` with u = θ + θ₀ ∈ (0, w)."""
    if alpha == 1.0:
        w = math.pi

        def log_v(u):
            u = np.maximum(u, 1e-300)
            v = np.maximum(w - u, 1e-300)
            cos_t = np.sin(np.minimum(u, v))
            c = math.pi / 2 * (1 - beta) + beta * u  # π/2 + βθ
            return math.log(2 / math.pi) + np.log(c) - np.log(cos_t) - c * np.cos(u) / (beta * cos_t)

        return w, log_v, True
    at = math.atan(beta * math.tan(math.pi * alpha / 2))
    theta0 = at / alpha
    w = math.pi / 2 + theta0
    c0 = (alpha * math.pi / 2 - at) / alpha  # π/2 − θ₀
    if alpha > 1:  # π − αw, without cancellation (0 when β = −1: rounding must not make it negative)
        eps1 = max(0.0, (2 - alpha) * math.pi / 2 + math.atan(beta * math.tan((2 - alpha) * math.pi / 2)))
    else:
        eps1 = math.pi - alpha * w
    p = alpha / (alpha - 1)
    const = math.log(math.cos(at)) / (alpha - 1)

    def log_v(u):
        u = np.maximum(u, 1e-300)
        v = np.maximum(w - u, 1e-300)
        au = alpha * u
        sin_au = np.sin(np.where(au <= math.pi / 2, au, eps1 + alpha * v))  # sin α(θ₀ + θ)
        y = theta0 + (alpha - 1) * u  # αθ₀ + (α − 1)θ
        half_pi_minus_y = c0 + (1 - alpha) * u if alpha < 1 else eps1 + (alpha - 1) * v
        cos_y = np.sin(np.where(y >= 0, half_pi_minus_y, v + au))
        log_cos_t = np.log(np.sin(np.minimum(v, c0 + u)))  # cos θ
        return const + p * (log_cos_t - np.log(sin_au)) + np.log(cos_y) - log_cos_t

    return w, log_v, alpha < 1


def nolan_integrals(x: np.ndarray, alpha: float, beta: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """pdf, P(X > x) and pdf′ of the standard S0 law at ``x > ζ`` (α ≠ 1) or for β > 0 (α = 1)."""
    w, log_v, increasing = _log_v(alpha, beta)
    if alpha == 1.0:
        shift, dshift = -math.pi * x / (2 * beta), np.full_like(x, -math.pi / (2 * beta))
        prefactor = np.full_like(x, 1 / (2 * abs(beta)))
        dprefactor = np.zeros_like(x)
    else:
        d = x + beta * math.tan(math.pi * alpha / 2)  # x − ζ
        shift, dshift = alpha / (alpha - 1) * np.log(d), alpha / ((alpha - 1) * d)
        prefactor = alpha / (math.pi * abs(alpha - 1) * d)
        dprefactor = -prefactor / d
    with np.errstate(all="ignore"):
        target = LEVELS[None, :] - shift[:, None]
        lo, hi = np.zeros_like(target), np.full_like(target, w)
        for _ in range(BISECTIONS):
            mid = 0.5 * (lo + hi)
            below = (log_v(mid) < target) if increasing else (log_v(mid) > target)
            lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        crossings = 0.5 * (lo + hi)  # u where log h = LEVELS
        first, last = crossings.min(1, keepdims=True), crossings.max(1, keepdims=True)
        graded = w * 0.5 ** np.arange(1, N_GEOMETRIC + 1)
        fixed = np.r_[w * np.arange(1, N_UNIFORM) / N_UNIFORM, graded, w - graded]
        extra = np.clip(np.broadcast_to(fixed, (len(x), len(fixed))), first, last)
        edges = np.sort(np.concatenate([crossings, extra], 1), 1)
        half = 0.5 * np.diff(edges, axis=1)
        nodes = 0.5 * (edges[:, :-1] + edges[:, 1:])[..., None] + half[..., None] * GL_NODES
        nodes = np.where(half[..., None] > 0, nodes, 0.5 * w)  # empty pieces: any inner point, weight 0
        log_h = shift[:, None, None] + log_v(nodes)
        h = np.exp(log_h)
        weights = half[..., None] * GL_WEIGHTS
        bump = np.sum(weights * np.exp(log_h - h), (-1, -2))  # ∫ h e^{−h}
        slope = np.sum(weights * (1 - h) * np.exp(log_h - h), (-1, -2))  # ∫ (1 − h) h e^{−h}
        if increasing:  # 1 − e^{−h} saturates at 1 above the top level
            tail = np.sum(weights * -np.expm1(-h), (-1, -2)) + (w - crossings[:, -1])
        else:  # e^{−h} saturates at 1 below the bottom level
            tail = np.sum(weights * np.exp(-h), (-1, -2)) + (w - crossings[:, 0])
    return prefactor * bump, tail / math.pi, dprefactor * bump + prefactor * dshift * slope


def standard_law(x: np.ndarray, alpha: float, beta: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """pdf, P(X > x) and pdf′ of S(α, β, 1, 0; 0) at any ``x`` (1-D)."""
    x = np.asarray(x, dtype=np.float64)
    if alpha == 2.0:
        return norm.pdf(x, scale=math.sqrt(2)), norm.sf(x, scale=math.sqrt(2)), -x / 2 * norm.pdf(x, scale=math.sqrt(2))
    if alpha == 1.0 and beta == 0.0:
        pdf = 1 / (math.pi * (1 + x * x))
        return pdf, 0.5 - np.arctan(x) / math.pi, -2 * x * math.pi * pdf**2
    zeta = 0.0 if alpha == 1.0 else -beta * math.tan(math.pi * alpha / 2)
    right = np.full(x.shape, beta > 0) if alpha == 1.0 else x > zeta + 1e-12
    left = ~right if alpha == 1.0 else x < zeta - 1e-12
    pdf, sf, slope = np.empty_like(x), np.empty_like(x), np.empty_like(x)
    if right.any():
        pdf[right], sf[right], slope[right] = nolan_integrals(x[right], alpha, beta)
    if left.any():
        p, s, d = nolan_integrals(-x[left], alpha, -beta)
        pdf[left], sf[left], slope[left] = p, 1 - s, -d
    at = ~right & ~left  # x within 1e-12 of ζ: Nolan's closed forms, f′ from a difference
    if at.any():
        theta0 = math.atan(-zeta) / alpha
        pdf[at] = gamma(1 + 1 / alpha) * math.cos(theta0) / (math.pi * (1 + zeta**2) ** (1 / (2 * alpha)))
        sf[at] = 0.5 + theta0 / math.pi
        h = 1e-6
        slope[at] = (
            standard_law(np.array([zeta + h]), alpha, beta)[0] - standard_law(np.array([zeta - h]), alpha, beta)[0]
        ) / (2 * h)
    return pdf, sf, slope


def mode(alpha: float, beta: float) -> float:
    """The mode of S(α, β, 1, 0; 0): root of f′ (Brent, to 1e-15), bracketed on a grid of [−1.5, 1.5]."""
    if alpha == 2.0 or beta == 0.0:
        return 0.0
    grid = np.linspace(-1.5, 1.5, 61) + 0.0123  # offset: no grid point on ζ = ±tan(πα/2)·β at round values
    slope = standard_law(grid, alpha, beta)[2]
    (i,) = np.nonzero((slope[:-1] > 0) & (slope[1:] <= 0))
    if len(i) != 1:
        raise RuntimeError(f"no single mode bracket at alpha={alpha}, beta={beta}")
    return brentq(lambda t: standard_law(np.array([t]), alpha, beta)[2][0], grid[i[0]], grid[i[0] + 1], xtol=1e-15)


def edge_step(alpha: float) -> float:
    """Smooth step s(α): 1 for α ≤ 0.75, 0 for α ≥ 1 (septic smoothstep, three continuous derivatives)."""
    t = min(max((alpha - 0.75) / 0.25, 0.0), 1.0)
    return 1 - t**4 * (35 - 84 * t + 70 * t**2 - 20 * t**3)


def _skew_row(node: tuple[float, float, float]) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Shift m, scale L and the rows ``H_pdf``, ``H_sf`` over R_GRID at one (α, β) node.

    ``node`` is (α, β, mode at (α, |β|)): the mode is computed once per |β| (m is odd in β).
    """
    alpha, beta, mode_abs = node
    m = mode_abs if beta >= 0 else -mode_abs  # m(α, −β) = −m(α, β)
    scale = 1.0
    if alpha < 1.0 and beta != 0.0:
        zeta = -beta * math.tan(math.pi * alpha / 2)
        scale = 1 / math.sqrt(1 + edge_step(alpha) * beta**4 / (zeta - m) ** 2)
    y = r_to_y(R_GRID).numpy()
    pdf, sf, _ = standard_law(m + scale * y, alpha, beta)
    growth = 1 + y
    return m, scale, (scale * pdf * growth ** (alpha + 1)).astype(np.float32), (sf * growth**alpha).astype(np.float32)


def _mode_task(node: tuple[float, float]) -> float:
    return mode(*node)


def _quantile_task(node: tuple[float, float]) -> np.ndarray:
    """Quantiles ``Q_p(α, β)`` of the standard S0 law for p in Q_PROBS, by safeguarded Newton on the
    quadrature's distribution function (10 bisections of asinh q ∈ ±asinh 500 first)."""
    alpha, beta = node
    p = np.asarray(Q_PROBS)
    if alpha == 2.0:
        return math.sqrt(2) * norm.ppf(p)
    lo, hi = np.full_like(p, -math.asinh(500.0)), np.full_like(p, math.asinh(500.0))
    for _ in range(10):
        mid = 0.5 * (lo + hi)
        below = 1 - standard_law(np.sinh(mid), alpha, beta)[1] < p
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    lo, hi = np.sinh(lo), np.sinh(hi)
    q = 0.5 * (lo + hi)
    for _ in range(30):
        pdf, sf, _ = standard_law(q, alpha, beta)
        gap = 1 - sf - p
        if np.all(np.abs(gap) < 1e-14):
            break
        lo, hi = np.where(gap < 0, q, lo), np.where(gap < 0, hi, q)
        step = q - gap / np.where(pdf > 0, pdf, np.inf)
        q = np.where((step > lo) & (step < hi) & (pdf > 0), step, 0.5 * (lo + hi))
    return q


def skew_quantiles(pool: mp.pool.Pool) -> np.ndarray:
    """McCulloch's quantiles of the standard law on Q_ALPHAS × Q_BETAS × Q_PROBS, from the quadrature
    (β ≥ 0; β < 0 by reflection, ``Q_p(α, −β) = −Q_{1−p}(α, β)``)."""
    half = Q_BETAS[Q_BETAS.numel() // 2 :].tolist()
    nodes = [(a, b) for a in Q_ALPHAS.tolist() for b in half]
    positive = np.array(pool.map(_quantile_task, nodes, chunksize=16)).reshape(len(Q_ALPHAS), len(half), -1)
    return np.concatenate([-positive[:, :0:-1, ::-1], positive], axis=1)


def build_skew() -> None:
    start = time.perf_counter()
    alphas = SKEW_ALPHA_GRID.tolist()
    counts = [beta_count(a) for a in alphas]
    betas = [beta_nodes(n).tolist() for n in counts]
    with mp.Pool(2) as pool:
        positive = [(a, b) for a, bs in zip(alphas, betas) for b in bs if b >= 0]
        modes = dict(zip(positive, pool.map(_mode_task, positive, chunksize=8)))
        print(f"{len(modes)} modes in {time.perf_counter() - start:.0f} s", flush=True)
        nodes = [(a, b, modes[(a, abs(b))]) for a, bs in zip(alphas, betas) for b in bs]
        rows = pool.map(_skew_row, nodes, chunksize=8)
        quantiles = skew_quantiles(pool)
    h_pdf = np.stack([r[2] for r in rows])
    h_sf = np.stack([r[3] for r in rows])
    bad = ~(np.isfinite(h_pdf).all(1) & np.isfinite(h_sf).all(1))
    if bad.any():
        raise RuntimeError(
            f"non-finite table values at (alpha, beta) = {[nodes[i][:2] for i in np.nonzero(bad)[0][:10]]}"
        )
    out = ROOT / "src" / "sgdnoise" / "stable" / "_skew_tables.npz"
    np.savez_compressed(
        out,
        alpha=np.asarray(alphas),
        n_beta=np.asarray(counts),
        beta=np.concatenate(betas),
        r=R_GRID.numpy(),
        constants=np.array([R_STEP, Y_UNIT, Y_TABLE_MAX]),
        shift=np.array([r[0] for r in rows]),
        scale=np.array([r[1] for r in rows]),
        h_pdf=h_pdf,
        h_sf=h_sf,
        quantiles=quantiles,
    )
    minutes = (time.perf_counter() - start) / 60
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB), tables {h_pdf.shape}, {minutes:.1f} min")


def main() -> None:
    which = set(sys.argv[1:]) or {"sas", "skew"}
    unknown = which - {"sas", "skew"}
    if unknown:
        raise SystemExit(f"unknown table(s) {sorted(unknown)}; choose from: sas skew")
    if "sas" in which:
        build_sas()
    if "skew" in which:
        build_skew()


if __name__ == "__main__":
    main()
