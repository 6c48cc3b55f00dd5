"""Goodness of fit: Gaussian vs SαS, side by side, for every row (Battash et al. Tables 1–2, and more).

For each row (one parameter's noise over K mini-batches) both laws are fitted and compared by

- **histogram SSE** (as the paper, following the ``fitter`` package): ``Σ_b (h_b − f(c_b))²``
  over ``hist_bins`` equal-width bins spanning the sample's [0.5%, 99.5%] quantile range (full
  range bins would be swamped by the heavy tails), ``h_b = count_b/(K·width)`` and ``f`` the
  fitted density at the bin centre ``c_b``. SSE has the units of a squared density, so it is
  comparable between the two laws on one row, not between rows of different scale. The SαS
  family nests the Gaussian (α = 2), so SSE, which ignores the number of parameters, favours it
  a little by construction; AIC and the likelihood-ratio test below account for that.
- **Chi²**: bins between sample quantiles (``chi2_bins`` bins, both tail bins open to ±∞),
  expected counts ``K·(F(e_j) − F(e_{j−1}))`` from the fitted CDF, adjacent bins pooled left to
  right until each expects at least ``min_expected`` values (so a Gaussian's vanishing tail
  expectations never blow the statistic up); p-value with ``groups − 1 − n_params`` degrees of
  freedom.
- **Kolmogorov–Smirnov** distance and p-value (``scipy.stats.kstwo``; conservative, since the
  parameters were estimated from the same sample).
- **log-likelihood** and **AIC** (k = 2 for the Gaussian, 3 for SαS), and the likelihood-ratio
  statistic ``2(ℓ_SαS − ℓ_Gauss)`` with the boundary p-value ``½·P(χ²₁ > LR)`` (α = 2 lies on the
  edge of the parameter space; meaningful with ``method="mle"``).
- **symmetry**: Kelley's quantile skewness ``(q90 + q10 − 2q50)/(q90 − q10)`` and the p-value of
  a Wilcoxon signed-rank test of symmetry about the sample median (approximate; small p-values
  say the symmetric laws fitted here are doubtful).

Degenerate rows (see :func:`sgdnoise.stable.fit_sas`) get NaN metrics and are counted apart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy import stats

from sgdnoise.errors import InvalidInputError
from sgdnoise.stable.density import ALPHA_MIN, sas_cdf, sas_logpdf, sas_pdf
from sgdnoise.stable.fit import DEFAULT_MAX_ATOM_SHARE, as_rows, fit_gaussian, fit_sas
from sgdnoise.stable.rows import quantiles

HIST_RANGE = (0.005, 0.995)
N_PARAMS = {"gauss": 2, "sas": 3}


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def default_chi2_bins(k: int) -> int:
    """``⌈2·K^{0.4}⌉`` bins (Mann & Wald's rule of thumb, halved exponent constant): 32 at K = 1000."""
    return math.ceil(2 * k**0.4)


class _Law:
    """A fitted law on P rows: ``pdf``, ``cdf``, ``logpdf`` of tensors (P, N)."""

    def __init__(self, kind: str, params: Sequence[torch.Tensor]):
        self.kind = kind
        self.params = [p[:, None] for p in params]

    def pdf(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "gauss":
            mu, sd = self.params
            return torch.exp(-0.5 * ((x - mu) / sd) ** 2) / (sd * math.sqrt(2 * math.pi))
        return sas_pdf(x, *self.params)

    def cdf(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "gauss":
            mu, sd = self.params
            return torch.special.ndtr((x - mu) / sd)
        return sas_cdf(x, *self.params)

    def logpdf(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "gauss":
            mu, sd = self.params
            return -0.5 * ((x - mu) / sd) ** 2 - torch.log(sd) - 0.5 * math.log(2 * math.pi)
        return sas_logpdf(x, *self.params)


def histogram_sse(x: torch.Tensor, sorted_rows: torch.Tensor, law: _Law, bins: int) -> torch.Tensor:
    """SSE between the density histogram on the [0.5%, 99.5%] quantile range and ``law``'s pdf; (P,)."""
    p, k = x.shape
    lo, hi = quantiles(sorted_rows, list(HIST_RANGE)).unbind(-1)
    width = ((hi - lo) / bins)[:, None]
    idx = torch.floor((x - lo[:, None]) / width).long()
    inside = (x >= lo[:, None]) & (x <= hi[:, None])
    idx = idx.clamp(0, bins - 1)
    counts = torch.zeros(p, bins, dtype=x.dtype, device=x.device).scatter_add_(1, idx, inside.to(x.dtype))
    centres = lo[:, None] + (torch.arange(bins, dtype=x.dtype, device=x.device) + 0.5) * width
    return ((counts / (k * width) - law.pdf(centres)) ** 2).sum(1)


def pooled_chi2(
    observed: torch.Tensor, expected: torch.Tensor, min_expected: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Chi² over bins pooled left to right until each group expects ≥ ``min_expected``.

    ``observed`` and ``expected`` are (P, m). A group still short at the right end is merged into
    the group before it. Returns ``(statistic, n_groups)``, each (P,). Vectorised over rows: the
    loop runs over the m bins only.
    """
    p, m = observed.shape
    stat = torch.zeros(p, dtype=expected.dtype, device=expected.device)
    groups = torch.zeros(p, dtype=torch.long, device=expected.device)
    acc_o, acc_e = torch.zeros_like(stat), torch.zeros_like(stat)
    last_o, last_e = torch.zeros_like(stat), torch.zeros_like(stat)  # the last closed group, for the final merge
    for j in range(m):
        acc_o, acc_e = acc_o + observed[:, j], acc_e + expected[:, j]
        close = acc_e >= min_expected
        term = (acc_o - acc_e) ** 2 / acc_e.clamp_min(1e-300)
        stat = stat + torch.where(close, term, 0.0)
        groups = groups + close.long()
        last_o, last_e = torch.where(close, acc_o, last_o), torch.where(close, acc_e, last_e)
        acc_o, acc_e = torch.where(close, 0.0, acc_o), torch.where(close, 0.0, acc_e)
    leftover = acc_e > 0
    merged_o, merged_e = last_o + acc_o, last_e + acc_e
    fix = (merged_o - merged_e) ** 2 / merged_e.clamp_min(1e-300) - (last_o - last_e) ** 2 / last_e.clamp_min(1e-300)
    stat = stat + torch.where(leftover & (groups > 0), fix, 0.0)
    return stat, groups.clamp_min(1)


def chi2_test(sorted_rows: torch.Tensor, law: _Law, bins: int, min_expected: float, n_params: int):
    """Chi² statistic, degrees of freedom and p-value of ``law`` on quantile bins; each (P,)."""
    p, k = sorted_rows.shape
    probs = torch.arange(1, bins, dtype=sorted_rows.dtype) / bins
    edges = quantiles(sorted_rows, probs)  # (P, bins − 1)
    below = torch.searchsorted(sorted_rows.contiguous(), edges.contiguous(), right=True).to(sorted_rows.dtype)
    ones = torch.ones(p, 1, dtype=sorted_rows.dtype, device=sorted_rows.device)
    cum_obs = torch.cat([0 * ones, below, k * ones], 1)
    cum_exp = torch.cat([0 * ones, k * law.cdf(edges), k * ones], 1)
    stat, groups = pooled_chi2(cum_obs.diff(dim=1), cum_exp.diff(dim=1).clamp_min(0.0), min_expected)
    dof = groups - 1 - n_params
    pvalue = torch.from_numpy(stats.chi2.sf(stat.cpu().numpy(), np.maximum(dof.cpu().numpy(), 1)))
    return stat, dof, torch.where(dof > 0, pvalue.to(stat), torch.nan)


def ks_test(sorted_rows: torch.Tensor, law: _Law) -> tuple[torch.Tensor, torch.Tensor]:
    """Kolmogorov–Smirnov distance ``sup|F_K − F|`` and its p-value; each (P,)."""
    k = sorted_rows.shape[1]
    f = law.cdf(sorted_rows)
    i = torch.arange(1, k + 1, dtype=f.dtype, device=f.device)
    d = torch.maximum((i / k - f).amax(1), (f - (i - 1) / k).amax(1))
    return d, torch.from_numpy(stats.kstwo.sf(d.cpu().numpy(), k)).to(d)


def _row_metrics(
    x: torch.Tensor, sorted_rows: torch.Tensor, law: _Law, hist_bins: int, chi2_bins: int, min_expected: float
) -> dict[str, torch.Tensor]:
    n_params = N_PARAMS[law.kind]
    chi2, dof, chi2_p = chi2_test(sorted_rows, law, chi2_bins, min_expected, n_params)
    ks, ks_p = ks_test(sorted_rows, law)
    loglik = law.logpdf(x).sum(1)
    return {
        "sse": histogram_sse(x, sorted_rows, law, hist_bins),
        "chi2": chi2,
        "chi2_dof": dof.to(x.dtype),
        "chi2_p": chi2_p,
        "ks": ks,
        "ks_p": ks_p,
        "loglik": loglik,
        "aic": 2 * n_params - 2 * loglik,
    }


def compare_fits(
    x: Any,
    method: str = "cf",
    dim: int = -1,
    *,
    names: Sequence[str] | None = None,
    hist_bins: int = 100,
    chi2_bins: int | None = None,
    min_expected: float = 5.0,
    max_atom_share: float = DEFAULT_MAX_ATOM_SHARE,
) -> pd.DataFrame:
    """Fit Gaussian and SαS laws to every sample of ``x`` along ``dim`` and compare them.

    Returns one row per sample: ``name``, ``degenerate``, ``atom_share``, the fits (``alpha``,
    ``scale``, ``loc``, ``gauss_loc``, ``gauss_std``), for each law ``sse_*``, ``chi2_*``,
    ``chi2_dof_*``, ``chi2_p_*``, ``ks_*``, ``ks_p_*``, ``loglik_*``, ``aic_*`` (``*`` is ``gauss``
    or ``sas``), ``lr_stat``, ``lr_pvalue``, ``kelley_skew``, ``symmetry_p`` and ``better``
    (the law with the lower AIC). See the module docstring for definitions;
    :func:`summarize_fits` turns the frame into a Table-1-style summary.
    """
    _, rows, _ = as_rows(x, dim)
    rows = rows.to(torch.float64)
    p, k = rows.shape
    names = [f"row{i}" for i in range(p)] if names is None else list(names)
    if len(names) != p:
        raise InvalidInputError(f"names has {len(names)} entries for {p} samples; give one name per sample or none")
    sas = fit_sas(rows, method=method, max_atom_share=max_atom_share)
    gauss = fit_gaussian(rows)
    ok = ~sas.degenerate
    frame = pd.DataFrame(
        {
            "name": names,
            "degenerate": _np(sas.degenerate),
            "atom_share": _np(sas.atom_share),
            "alpha": _np(sas.alpha),
            "scale": _np(sas.scale),
            "loc": _np(sas.loc),
            "gauss_loc": _np(gauss.loc),
            "gauss_std": _np(gauss.std),
        }
    )
    sorted_all = torch.sort(rows, 1).values
    xs, sorted_rows = rows[ok], sorted_all[ok]
    laws = {
        "gauss": _Law("gauss", (gauss.loc[ok], gauss.std[ok])),
        "sas": _Law("sas", (sas.alpha[ok], sas.scale[ok], sas.loc[ok])),
    }
    bins = chi2_bins or default_chi2_bins(k)
    ok_np = _np(ok)
    for label, law in laws.items():
        for metric, values in _row_metrics(xs, sorted_rows, law, hist_bins, bins, min_expected).items():
            column = np.full(p, np.nan)
            column[ok_np] = _np(values)
            frame[f"{metric}_{label}"] = column
    lr = 2 * (frame["loglik_sas"] - frame["loglik_gauss"])
    frame["lr_stat"] = lr
    frame["lr_pvalue"] = np.where(lr > 0, 0.5 * stats.chi2.sf(lr.clip(lower=0), 1), np.where(lr.isna(), np.nan, 1.0))
    q10, q50, q90 = quantiles(sorted_all, [0.1, 0.5, 0.9]).unbind(-1)
    frame["kelley_skew"] = _np((q90 + q10 - 2 * q50) / (q90 - q10))
    frame["symmetry_p"] = np.nan
    if ok_np.any():
        centred = _np(xs - q50[ok][:, None])
        frame.loc[ok_np, "symmetry_p"] = stats.wilcoxon(centred, axis=1, zero_method="wilcox").pvalue
    frame["better"] = np.where(ok_np, np.where(frame["aic_sas"] < frame["aic_gauss"], "sas", "gauss"), "")
    return frame


def summarize_fits(frame: pd.DataFrame, symmetry_level: float = 0.01) -> pd.DataFrame:
    """Table-1-style summary of :func:`compare_fits` output over the non-degenerate rows.

    One line per metric (SSE, Chi², KS, AIC): mean and std for the Gaussian and the SαS fit,
    and the share of rows where SαS is better (lower). ``frame.attrs`` of the result carries
    ``n_rows``, ``n_degenerate``, ``alpha_median``, ``alpha_iqr``, ``n_asymmetric`` (rows whose
    symmetry p-value is below ``symmetry_level``) and ``n_alpha_at_min`` (rows whose α̂ sits at the
    lower end 0.5 of the fitted range: heavier than the model can say, often a near-dead unit).
    """
    ok = frame[~frame["degenerate"].astype(bool)]
    lines = []
    for metric, label in (("sse", "SSE"), ("chi2", "Chi2"), ("ks", "KS"), ("aic", "AIC")):
        g, s = ok[f"{metric}_gauss"], ok[f"{metric}_sas"]
        lines.append(
            {
                "metric": label,
                "gauss_mean": g.mean(),
                "gauss_std": g.std(),
                "sas_mean": s.mean(),
                "sas_std": s.std(),
                "sas_better_share": float((s < g).mean()) if len(ok) else np.nan,
            }
        )
    summary = pd.DataFrame(lines)
    summary.attrs.update(
        n_rows=len(frame),
        n_degenerate=int(frame["degenerate"].sum()),
        alpha_median=float(ok["alpha"].median()) if len(ok) else np.nan,
        alpha_iqr=float(ok["alpha"].quantile(0.75) - ok["alpha"].quantile(0.25)) if len(ok) else np.nan,
        n_asymmetric=int((ok["symmetry_p"] < symmetry_level).sum()),
        n_alpha_at_min=int((ok["alpha"] <= ALPHA_MIN).sum()),
    )
    return summary
