"""Build ``src/sgdnoise/stable/_tables.npz``: the SαS density and tail tables (run once, offline).

The tables hold, on a grid of α ∈ [0.5, 2] (step 0.01) and of ``s = log(1 + |x|)`` (step 0.005,
|x| ≤ 1000, with one ghost node beyond each end), the tail-flattened functions

    H_pdf(α, s) = f(x; α) · (1 + x)^{α+1},     H_sf(α, s) = P(X > x; α) · (1 + x)^{α},

of the standard SαS law (``E e^{iuX} = exp(−|u|^α)``), which are smooth in both α and s and
bounded in the tails. Values come from ``scipy.stats.levy_stable`` (Nolan's integral), except
far in the tails, where the convergent/asymptotic series of :mod:`sgdnoise.stable.series` is
more accurate than the quadrature and is used once its next term is below 1e-13 relative.

Usage: ``python tools/build_stable_tables.py`` (about 5 min on 2 cores).
"""

from __future__ import annotations

import math
import multiprocessing as mp
import sys
from pathlib import Path

import numpy as np
import torch
from scipy.stats import levy_stable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from sgdnoise.stable.density import ALPHA_GRID, S_GRID  # noqa: E402
from sgdnoise.stable.series import tail_series  # noqa: E402

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


def main() -> None:
    with mp.Pool(2) as pool:
        rows = pool.map(_row, ALPHA_GRID.tolist(), chunksize=1)
    h_pdf = np.stack([r[0] for r in rows])
    h_sf = np.stack([r[1] for r in rows])
    out = ROOT / "src" / "sgdnoise" / "stable" / "_tables.npz"
    np.savez_compressed(out, alpha=ALPHA_GRID.numpy(), s=S_GRID.numpy(), h_pdf=h_pdf, h_sf=h_sf)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB), tables {h_pdf.shape}")


if __name__ == "__main__":
    main()
