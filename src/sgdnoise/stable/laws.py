"""Which law, per entry: Gaussian, SαS, skewed stable, Student-t and a two-Gaussian mixture, side by side.

:func:`compare_laws` classifies every row first (:mod:`sgdnoise.stable.classes`: degenerate rows
are not fitted, spike rows lose their atom), then fits each requested law to each row's
continuous part, all rows at once, and compares the fits by

- **log-likelihood** ``ℓ`` (a sum over the row's n fitted values), **AIC** ``2k − 2ℓ`` and
  **BIC** ``k log n − 2ℓ`` with k = 2 (Gaussian), 3 (SαS, Student-t), 4 (stable), 5 (mixture);
  the winner per row by each (``best_aic``, ``best_bic``). Differences of ℓ between laws are
  scale free (the Jacobian of a change of units cancels); ℓ itself is not.
- **Kolmogorov–Smirnov** distance ``sup|F_n − F|`` (scale free).
- **Hellinger distance** between the binned sample and the fitted law on a common binning:
  ``B = ⌈2 n^{0.4}⌉`` equal-width bins over the row's [0.5%, 99.5%] quantile range plus the two
  open tails, observed shares ``o_b/n``, model probabilities ``p_b`` from the fitted distribution
  function, ``H = √(1 − Σ_b √(p_b o_b/n))`` ∈ [0, 1]. Chosen over an L1 distance of densities
  because it needs no density estimate, is bounded, and is unchanged by any affine change of
  units of the data (the bins move with the data); being a distance between binned
  probabilities it is also blind to the density's units that make the SSE incomparable across rows.
- **density-unit SSE** ``sse_density_*``: the histogram SSE of Battash et al. (as
  :func:`sgdnoise.stable.compare_fits`, 100 bins on the [0.5%, 99.5%] range) — kept as an extra
  column for comparison with the paper; it is in squared density units, so it compares laws on
  one row only, and :func:`summarize_laws` does not summarise it.

**The test of β = 0** (``beta_lr_stat``, ``beta_lr_pvalue``; with ``method="mle"`` and both
``"sas"`` and ``"stable"`` compared): the likelihood ratio ``2(ℓ_stable − ℓ_SαS)`` of the two
maximum-likelihood fits on the tabulated densities, referred to χ²₁ (β = 0 is inside [−1, 1]; one
parameter restricted). The skewed fit starts from the SαS fit (β = 0), whose log-likelihood is
re-evaluated on the skewed law's table, so both sides of the ratio use one density and the
ratio is never negative. Near α = 2 β hardly changes the law and the test is conservative. Its
size at the 5% level on SαS rows and its power are measured by ``benchmarks/bench_laws.py``
(``benchmarks/RESULTS.md``) and tested in ``tests/stable/test_laws.py``.

**α at a bound.** The fits keep α in [0.5, 2]; a row whose α̂ sits at 0.5 or 2 (within 1e-6) has no
tail index, only "at least this heavy" or "no heavier than Gaussian": ``alpha_sas_at_bound`` and
``alpha_stable_at_bound`` flag it and :func:`summarize_laws` leaves such rows out of α's median.

SαS and stable fits use :func:`sgdnoise.stable.fit_sas` / :func:`sgdnoise.stable.mle.fit_stable_mle`
on rectangular rows, so spike rows (whose continuous parts differ in length) are fitted in groups
of equal length; Student-t and mixture fits take all rows at once (:mod:`sgdnoise.stable.ragged`).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy import stats

from sgdnoise.errors import InvalidInputError
from sgdnoise.parallel import torch_threads
from sgdnoise.stable.classes import (
    DEFAULT_ATOM_WIDTH,
    DEFAULT_DEGENERATE_SHARE,
    DEFAULT_MIN_ATOM_WEIGHT,
    DEFAULT_MIN_DIP,
    DEFAULT_MULTIMODAL_THRESHOLD,
    check_names,
    class_counts,
    classify_rows,
)
from sgdnoise.stable.density import ALPHA_MAX, ALPHA_MIN, sas_cdf, sas_logpdf, sas_pdf
from sgdnoise.stable.fit import METHODS, as_rows, fit_sas
from sgdnoise.stable.goodness import HIST_RANGE, default_chi2_bins
from sgdnoise.stable.mixture import mixture_cdf, mixture_logpdf, mixture_pdf
from sgdnoise.stable.mle import fit_stable_mle
from sgdnoise.stable.ragged import Ragged, ragged_quantiles
from sgdnoise.stable.skew_density import stable_cdf, stable_logpdf, stable_pdf
from sgdnoise.stable.skew_fit import fit_stable
from sgdnoise.stable.student_t import DF_MAX, DF_MIN, t_cdf, t_logpdf, t_pdf

LAWS = ("gauss", "sas", "stable", "t", "mixture")
N_PARAMS = {"gauss": 2, "sas": 3, "stable": 4, "t": 3, "mixture": 5}
PARAMS = {
    "gauss": ("loc", "scale"),
    "sas": ("alpha", "scale", "loc"),
    "stable": ("alpha", "beta", "scale", "loc"),
    "t": ("loc", "scale", "df"),
    "mixture": ("weight", "loc1", "scale1", "loc2", "scale2"),
}
BOUND_TOL = 1e-6
SSE_BINS = 100
SINGLE_THREAD_UP_TO = 1 << 21  # values up to which the fits run on one torch thread (module docstring)
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def _gauss_logpdf(x, loc, scale):
    return -0.5 * ((x - loc) / scale) ** 2 - torch.log(scale) - _LOG_SQRT_2PI


FUNCTIONS: dict[str, tuple[Callable, Callable, Callable]] = {
    "gauss": (
        _gauss_logpdf,
        lambda x, loc, scale: torch.exp(_gauss_logpdf(x, loc, scale)),
        lambda x, loc, scale: torch.special.ndtr((x - loc) / scale),
    ),
    "sas": (sas_logpdf, sas_pdf, sas_cdf),
    "stable": (stable_logpdf, stable_pdf, stable_cdf),
    "t": (t_logpdf, t_pdf, t_cdf),
    "mixture": (mixture_logpdf, mixture_pdf, mixture_cdf),
}


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def _by_length(rest: Ragged, fit: Callable[[torch.Tensor], Sequence[torch.Tensor]], count: int) -> torch.Tensor:
    """Apply a rectangular-rows fit to every group of rows with the same number of values; (count, P)."""
    out = torch.full((count, rest.n.numel()), math.nan, dtype=rest.values.dtype, device=rest.values.device)
    for n in torch.unique(rest.n).tolist():
        rows = (rest.n == n).nonzero().flatten()
        out[:, rows] = torch.stack([v.to(out) for v in fit(rest.values[rows, :n])])
    return out


def _stable_params(rest: Ragged, method: str, sas: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Stable fits (4, P); with ``method="mle"`` started from the SαS MLE ``sas`` (3, P) at β = 0,
    also the SαS log-likelihood on the stable table (P,) for the test of β = 0."""
    if method != "mle":
        fitted = _by_length(rest, lambda r: _stable_fit(r, method), 4)
        return fitted, None
    start = torch.stack([sas[0], torch.zeros_like(sas[0]), sas[1], sas[2]])
    null = torch.full_like(sas[0], math.nan)
    out = torch.full_like(start, math.nan)
    for n in torch.unique(rest.n).tolist():
        rows = (rest.n == n).nonzero().flatten()
        rows = rows[torch.isfinite(start[:, rows]).all(0)]
        if not rows.numel():
            continue
        x = rest.values[rows, :n]
        a, b, s, m = start[:, rows]
        null[rows] = stable_logpdf(x, a[:, None], 0.0, s[:, None], m[:, None]).sum(1)
        alpha, beta, scale, loc, _ = fit_stable_mle(x, a, b, s, m)
        out[:, rows] = torch.stack([alpha, beta, scale, loc])
    return out, null


class _Metrics:
    """Statistics of one law's fit on every fitted row (module docstring)."""

    def __init__(self, rest: Ragged, hist_bins: int):
        self.rest = rest
        self.n = rest.n.to(rest.values.dtype)
        k = rest.values.shape[1]
        probs = torch.linspace(HIST_RANGE[0], HIST_RANGE[1], hist_bins + 1, dtype=rest.values.dtype)
        self.edges = ragged_quantiles(rest, probs)  # (P, B + 1): the common binning
        below = torch.searchsorted(rest.values.contiguous(), self.edges.contiguous(), right=True)
        below = torch.minimum(below, rest.n[:, None]).to(rest.values.dtype)
        cells = torch.cat([below[:, :1], below.diff(dim=1), self.n[:, None] - below[:, -1:]], 1)
        self.observed = cells / self.n[:, None]
        lo, hi = ragged_quantiles(rest, list(HIST_RANGE)).unbind(-1)
        width = (hi - lo) / SSE_BINS
        idx = torch.floor((rest.values - lo[:, None]) / width[:, None]).long().clamp(0, SSE_BINS - 1)
        inside = (rest.values >= lo[:, None]) & (rest.values <= hi[:, None]) & rest.mask
        counts = torch.zeros(len(lo), SSE_BINS, dtype=rest.values.dtype).scatter_add_(1, idx, inside.to(width))
        self.density = counts / (self.n[:, None] * width[:, None])
        self.centres = lo[:, None] + (torch.arange(SSE_BINS, dtype=lo.dtype) + 0.5) * width[:, None]
        self.position = torch.arange(1, k + 1, dtype=rest.values.dtype)

    def __call__(self, law: str, params: torch.Tensor) -> dict[str, torch.Tensor]:
        """``params`` (d, P) → ``loglik, aic, bic, ks, hellinger, sse_density`` (P,), NaN where a fit is missing."""
        logpdf, pdf, cdf = FUNCTIONS[law]
        ok = torch.isfinite(params).all(0)
        out = {m: torch.full_like(self.n, math.nan) for m in ("loglik", "aic", "bic", "ks", "hellinger", "sse_density")}
        if not bool(ok.any()):
            return out
        r, n = self.rest.take(ok), self.n[ok]
        p = [v[ok][:, None] for v in params]
        loglik = r.sum(logpdf(r.values, *p))
        k = N_PARAMS[law]
        f = cdf(r.values, *p)
        i = self.position
        gaps = torch.maximum(i / n[:, None] - f, f - (i - 1) / n[:, None])
        ks = torch.where(r.mask, gaps, -torch.inf).amax(1)
        cum = cdf(self.edges[ok], *p)
        ones = torch.ones_like(n)[:, None]
        model = torch.cat([cum[:, :1], cum.diff(dim=1), ones - cum[:, -1:]], 1).clamp_min(0)
        affinity = (model * self.observed[ok]).sqrt().sum(1)
        sse = ((self.density[ok] - pdf(self.centres[ok], *p)) ** 2).sum(1)
        for name, v in (
            ("loglik", loglik),
            ("aic", 2 * k - 2 * loglik),
            ("bic", k * torch.log(n) - 2 * loglik),
            ("ks", ks),
            ("hellinger", (1 - affinity).clamp_min(0).sqrt()),
            ("sse_density", sse),
        ):
            out[name][ok] = v.to(out[name])
        return out


def compare_laws(
    x: Any,
    laws: Sequence[str] = LAWS,
    method: str = "mle",
    dim: int = -1,
    *,
    names: Sequence[str] | None = None,
    hist_bins: int | None = None,
    atom_width: float = DEFAULT_ATOM_WIDTH,
    min_atom_weight: float = DEFAULT_MIN_ATOM_WEIGHT,
    degenerate_share: float = DEFAULT_DEGENERATE_SHARE,
    multimodal_threshold: float = DEFAULT_MULTIMODAL_THRESHOLD,
    min_dip: float = DEFAULT_MIN_DIP,
) -> pd.DataFrame:
    """Classify every sample of ``x`` along ``dim`` and compare the fits of ``laws`` on it.

    Parameters
    ----------
    x : array or tensor ``(..., K)``, K ≥ 20, finite; each slice along ``dim`` is one sample (row).
    laws : a subset of :data:`LAWS` (``"gauss"``, ``"sas"``, ``"stable"``, ``"t"``, ``"mixture"``).
    method : SαS and stable estimator (``"mle"`` by default, so every law is a maximum-likelihood
        fit and the likelihoods compare fairly; ``"cf"``/``"quantile"`` are faster, and then there
        is no test of β = 0).
    hist_bins : interior bins of the Hellinger distance (default ``⌈2 K^{0.4}⌉``).
    atom_width, min_atom_weight, degenerate_share, multimodal_threshold, min_dip : the
        classification (:func:`sgdnoise.stable.classify_entries`).

    Returns
    -------
    DataFrame, one row per sample: the classification (``name``, ``class``, ``atom_value``,
    ``atom_weight``, ``n_continuous``, ``modes``, ``dip``, ``mixture_lr``, ``multimodal``); per law
    its parameters (``loc_gauss, scale_gauss``; ``alpha_sas, scale_sas, loc_sas``;
    ``alpha_stable, beta_stable, scale_stable, loc_stable`` in S0; ``loc_t, scale_t, df_t``;
    ``weight_mixture, loc1_mixture, scale1_mixture, loc2_mixture, scale2_mixture``) and
    ``loglik_*``, ``aic_*``, ``bic_*``, ``ks_*``, ``hellinger_*``, ``sse_density_*``; the flags
    ``alpha_sas_at_bound``, ``alpha_stable_at_bound``, ``df_t_at_bound``; ``best_aic``,
    ``best_bic`` (empty for degenerate rows); ``beta_lr_stat``, ``beta_lr_pvalue``. Degenerate
    rows have NaN fits. Definitions: module docstring; :func:`summarize_laws` summarises.
    """
    laws = tuple(laws)
    unknown = [law for law in laws if law not in LAWS]
    if unknown or not laws:
        raise InvalidInputError(f"unknown laws {unknown}; choose one or more of {', '.join(LAWS)}")
    if method not in METHODS or method == "tail":
        raise InvalidInputError(f"unknown method {method!r}; choose one of cf, quantile, mle")
    _, rows, _ = as_rows(x, dim)
    rows = rows.to(torch.float64)
    names = check_names(names, rows.shape[0])
    small = rows.device.type == "cpu" and rows.numel() <= SINGLE_THREAD_UP_TO
    with torch_threads(1) if small else contextlib.nullcontext():
        return _compare(
            rows,
            laws,
            method,
            names,
            hist_bins or default_chi2_bins(rows.shape[1]),
            dict(
                atom_width=atom_width,
                min_atom_weight=min_atom_weight,
                degenerate_share=degenerate_share,
                multimodal_threshold=multimodal_threshold,
                min_dip=min_dip,
            ),
        )


def _compare(rows, laws, method, names, hist_bins, classify_options) -> pd.DataFrame:
    c = classify_rows(rows, **classify_options)
    frame = c.to_frame(names)
    fitted = _np(c.fitted)
    rest = c.rest
    params: dict[str, torch.Tensor] = {}
    null_loglik = None
    if "gauss" in laws:
        mean = rest.sum(rest.values) / rest.n
        std = (rest.sum((rest.values - mean[:, None]) ** 2) / rest.n).sqrt()
        params["gauss"] = torch.stack([mean, std])
    if "sas" in laws or ("stable" in laws and method == "mle"):
        sas = _by_length(rest, lambda r: _sas_fit(r, method), 3) if rest.n.numel() else torch.empty(3, 0)
        if "sas" in laws:
            params["sas"] = sas
    if "stable" in laws:
        params["stable"], null_loglik = _stable_params(rest, method, sas if method == "mle" else None)
    if "t" in laws:
        params["t"] = torch.stack(c.t[:3])
    if "mixture" in laws:
        params["mixture"] = torch.stack(c.mixture[:5])
    metrics = _Metrics(rest, hist_bins) if rest.n.numel() else None

    def column(values: torch.Tensor) -> np.ndarray:
        out = np.full(len(frame), np.nan)
        out[fitted] = _np(values)
        return out

    for law in laws:
        for name, values in zip(PARAMS[law], params[law]):
            frame[f"{name}_{law}"] = column(values)
        if law in ("sas", "stable"):
            alpha = frame[f"alpha_{law}"]
            frame[f"alpha_{law}_at_bound"] = (alpha <= ALPHA_MIN + BOUND_TOL) | (alpha >= ALPHA_MAX - BOUND_TOL)
        if law == "t":
            df = frame["df_t"]
            frame["df_t_at_bound"] = (df <= DF_MIN * (1 + 1e-6)) | (df >= DF_MAX * (1 - 1e-6))
        if metrics is not None:
            for metric, values in metrics(law, params[law]).items():
                frame[f"{metric}_{law}"] = column(values)
        else:
            for metric in ("loglik", "aic", "bic", "ks", "hellinger", "sse_density"):
                frame[f"{metric}_{law}"] = np.nan
    for criterion in ("aic", "bic"):
        table = frame[[f"{criterion}_{law}" for law in laws]].to_numpy()
        have = np.isfinite(table).any(1)
        best = np.argmin(np.where(np.isfinite(table), table, np.inf), axis=1)
        frame[f"best_{criterion}"] = np.where(have, np.asarray(laws, dtype=object)[best], "")
    frame["beta_lr_stat"] = np.nan
    frame["beta_lr_pvalue"] = np.nan
    if null_loglik is not None:
        lr = (2 * (frame["loglik_stable"] - column(null_loglik))).clip(lower=0)
        frame["beta_lr_stat"] = lr
        frame["beta_lr_pvalue"] = stats.chi2.sf(lr, 1)
    return frame


def _stable_fit(rows: torch.Tensor, method: str) -> tuple[torch.Tensor, ...]:
    fit = fit_stable(rows, method=method, max_atom_share=1.0)
    return fit.alpha, fit.beta, fit.scale, fit.loc


def _sas_fit(rows: torch.Tensor, method: str) -> tuple[torch.Tensor, ...]:
    fit = fit_sas(rows, method=method, max_atom_share=1.0)
    return fit.alpha, fit.scale, fit.loc


def summarize_laws(frame: pd.DataFrame, level: float = 0.05) -> pd.DataFrame:
    """Win rates and medians of scale-free measures per law, over the fitted (non-degenerate) rows.

    One line per law in ``frame``: ``law``, ``wins_aic`` and ``wins_bic`` (share of rows where it
    has the lowest AIC / BIC), ``median_delta_aic`` and ``median_delta_bic`` (its criterion minus
    the row's best: 0 for the winner), ``median_ks``, ``median_hellinger``. The density-unit SSE is
    not summarised (it compares laws on one row only). ``attrs`` carries ``n_rows``, the class
    counts ``n_ordinary``, ``n_spike_with_tail``, ``n_multimodal``, ``n_degenerate``,
    ``atom_weight_median`` (over spike rows), ``alpha_stable_median`` / ``alpha_sas_median`` over
    rows whose α̂ is not at a bound and ``n_alpha_stable_at_bound`` / ``n_alpha_sas_at_bound``,
    and for the test of β = 0 ``n_beta_tested`` and ``n_beta_rejected`` (p < ``level``).
    """
    laws = [law for law in LAWS if f"aic_{law}" in frame.columns]
    ok = frame[frame["class"] != "degenerate"]
    lines = []
    for law in laws:
        line = {"law": law}
        for criterion in ("aic", "bic"):
            best = ok[[f"{criterion}_{other}" for other in laws]].min(axis=1)
            line[f"wins_{criterion}"] = float((ok[f"best_{criterion}"] == law).mean()) if len(ok) else np.nan
            line[f"median_delta_{criterion}"] = float((ok[f"{criterion}_{law}"] - best).median())
        line["median_ks"] = float(ok[f"ks_{law}"].median())
        line["median_hellinger"] = float(ok[f"hellinger_{law}"].median())
        lines.append(line)
    summary = pd.DataFrame(lines)
    spikes = frame[frame["class"] == "spike_with_tail"]
    attrs: dict[str, Any] = {"n_rows": len(frame), **class_counts(frame["class"])}
    attrs["atom_weight_median"] = float(spikes["atom_weight"].median()) if len(spikes) else math.nan
    for law in ("sas", "stable"):
        if f"alpha_{law}" in frame.columns:
            at_bound = ok[f"alpha_{law}_at_bound"].astype(bool)
            alpha = ok.loc[~at_bound, f"alpha_{law}"]
            attrs[f"alpha_{law}_median"] = float(alpha.median()) if len(alpha) else math.nan
            attrs[f"n_alpha_{law}_at_bound"] = int(at_bound.sum())
    tested = ok["beta_lr_pvalue"].notna() if "beta_lr_pvalue" in ok.columns else pd.Series(dtype=bool)
    attrs["n_beta_tested"] = int(tested.sum())
    attrs["n_beta_rejected"] = int((ok.loc[tested, "beta_lr_pvalue"] < level).sum()) if len(tested) else 0
    summary.attrs.update(attrs)
    return summary


def law_wins_by(frame: pd.DataFrame, by: str, level: float = 0.05) -> pd.DataFrame:
    """:func:`compare_laws`' frame grouped by one of its columns ``by`` (e.g. a ``layer`` column the
    caller added): per group the number of entries, the class counts, the share of fitted
    (non-degenerate) entries each law wins by AIC (``wins_<law>``) and the share of tested entries
    where β = 0 is rejected at ``level`` (``beta_rejected``). Groups keep their order of appearance."""
    if by not in frame.columns:
        raise InvalidInputError(f"the frame has no column {by!r} to group by; add it (e.g. the layer of each row)")
    laws = [law for law in LAWS if f"aic_{law}" in frame.columns]
    rows = []
    for key, group in frame.groupby(by, sort=False):
        ok = group[group["class"] != "degenerate"]
        line: dict[str, Any] = {by: key, "entries": len(group), **class_counts(group["class"])}
        for law in laws:
            line[f"wins_{law}"] = float((ok["best_aic"] == law).mean()) if len(ok) else math.nan
        if "beta_lr_pvalue" in group.columns:
            tested = ok["beta_lr_pvalue"].dropna()
            line["beta_rejected"] = float((tested < level).mean()) if len(tested) else math.nan
        rows.append(line)
    return pd.DataFrame(rows)
