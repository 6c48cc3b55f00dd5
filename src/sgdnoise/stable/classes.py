"""Entry classes, decided before any law is fitted: degenerate, spike_with_tail, multimodal, ordinary.

A sampled entry's K noise values are not always a sample of one continuous law. Behind a dead
ReLU unit the noise of a weight is exactly one value (often 0) in most mini-batches; a unit dead
for part of the data gives an atom *plus* a continuous part; two groups of examples can pull a
weight two ways. Each row gets one class, in this order of precedence:

- ``degenerate``: the atom holds more than ``degenerate_share`` of the row (default 0.5: most of
  the sample), or fewer than ``MIN_SAMPLES`` (20) values, or a constant, are left beside it.
  Nothing is fitted.
- ``spike_with_tail``: an atom of weight at least ``min_atom_weight`` (default 0.05) and at least
  ``MIN_ATOM_COUNT`` (3) values — exact ties that no continuous law produces — beside a
  continuous part. ``atom_value`` and ``atom_weight`` are reported and every law is fitted to
  the rest. (The atom's likelihood term ``n_a log w + (K − n_a) log(1 − w)`` is the same for every
  law, so comparing laws on the rest is comparing them on the whole row.)
- ``multimodal``: the two-Gaussian mixture (:mod:`sgdnoise.stable.mixture`) has two modes with
  a dip of at least ``min_dip`` (default 0.1: the density between them falls at least 10% below
  the lower mode) *and* beats the Student-t law (:mod:`sgdnoise.stable.student_t`) by a
  likelihood ratio ``2(ℓ_mix − ℓ_t) > multimodal_threshold`` (default 40). Why this test: the
  class must be known before the (far dearer) stable fits, and the Student-t law is the cheap
  unimodal, heavy-tailed, location-scale rival. The mixture beats it on unimodal rows too, by
  mimicking heavy tails (a scale mixture: one mode) or skew (a lopsided pair whose density has at
  most a shallow dip), so the likelihood ratio alone says "not a t", not "two modes"; the dip
  condition asks the fitted density itself for two separated modes, and the likelihood ratio
  that the second bump is more than noise. The ratio has no χ² null (the models are not nested,
  and at μ₁ = μ₂ the mixture is not identified), so both thresholds were calibrated by
  simulation at K = 1000 on unimodal rows — SαS α ∈ {0.8, 1.2, 1.6, 2}, skewed stable
  (α, β) ∈ {(1.1, −0.6), (1.3, 0.9), (1.5, 0.9), (1.8, 0.9)}, Student-t ν ∈ {1, 3, 30},
  log-normal, gamma and exponential: a dip above 0.1 came with a ratio of at most 31, the
  largest ratios (up to 375, skewed laws) with dips below 0.08 — and on two unit-variance
  Gaussian bumps, which are found from a separation of about 3σ (equal weights) to 4σ (a 10%
  bump). ``benchmarks/bench_laws.py`` repeats this calibration on more rows and reports the
  false-positive share and the power. Hartigan's dip test was the alternative; it has no batched
  form and, calibrated against the uniform, is weak for unequal bumps at K = 1000. Spike rows
  are tested too (on their continuous part) and keep the ``multimodal`` flag, but their class
  stays ``spike_with_tail``.
- ``ordinary``: everything else.

**The atom.** The largest set of values within a window of width ``atom_width · IQR`` (default
1e-6 of the row's interquartile range, so exact ties and a tight cluster of rounding-level
differences both count; the range if the IQR is 0): for each sorted value ``x_j`` the number of
values in ``[x_j, x_j + w]`` (one batched ``searchsorted``), the largest such window, its
central value as ``atom_value``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from sgdnoise.errors import InvalidInputError
from sgdnoise.parallel import torch_threads
from sgdnoise.stable.fit import MIN_SAMPLES, as_rows
from sgdnoise.stable.mixture import fit_mixture, mixture_modes
from sgdnoise.stable.ragged import Ragged, from_rows
from sgdnoise.stable.rows import quantiles
from sgdnoise.stable.student_t import fit_t

CLASSES = ("ordinary", "spike_with_tail", "multimodal", "degenerate")
DEFAULT_ATOM_WIDTH = 1e-6
DEFAULT_MIN_ATOM_WEIGHT = 0.05
DEFAULT_DEGENERATE_SHARE = 0.5
DEFAULT_MULTIMODAL_THRESHOLD = 40.0
DEFAULT_MIN_DIP = 0.1
MIN_ATOM_COUNT = 3


@dataclass(frozen=True)
class Classification:
    """Per-row tensors (P,) of the classification and the fits it made on the non-degenerate rows.

    ``fitted`` (P,) bool marks the rows that are not degenerate; ``rest`` holds their continuous
    part (the atom removed from spike rows); ``t`` = (loc, scale, df, loglik) and ``mixture`` =
    (weight, loc1, scale1, loc2, scale2, loglik) are the fits of ``rest``, one entry per fitted row.
    """

    label: np.ndarray  # (P,) object: the class names
    atom_value: torch.Tensor
    atom_weight: torch.Tensor
    n_continuous: torch.Tensor
    modes: torch.Tensor
    dip: torch.Tensor
    mixture_lr: torch.Tensor
    multimodal: torch.Tensor
    fitted: torch.Tensor
    rest: Ragged
    t: tuple[torch.Tensor, ...]
    mixture: tuple[torch.Tensor, ...]

    def to_frame(self, names: Sequence[str]) -> pd.DataFrame:
        def full(values: torch.Tensor, fill: float = math.nan) -> np.ndarray:
            out = np.full(len(self.label), fill)
            out[self.fitted.cpu().numpy()] = values.detach().cpu().numpy()
            return out

        return pd.DataFrame(
            {
                "name": list(names),
                "class": self.label,
                "atom_value": self.atom_value.cpu().numpy(),
                "atom_weight": self.atom_weight.cpu().numpy(),
                "n_continuous": self.n_continuous.cpu().numpy(),
                "modes": full(self.modes.to(torch.float64)),
                "dip": full(self.dip),
                "mixture_lr": full(self.mixture_lr),
                "multimodal": self.multimodal.cpu().numpy(),
            }
        )


def find_atoms(rows: torch.Tensor, atom_width: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The largest atom of each row (P, K): ``(value, count, member)`` with ``member`` (P, K) the
    values that belong to it (module docstring)."""
    k = rows.shape[1]
    s = torch.sort(rows, dim=1).values
    q25, q75 = quantiles(s, [0.25, 0.75]).unbind(-1)
    spread = torch.where(q75 > q25, q75 - q25, s[:, -1] - s[:, 0])
    width = (atom_width * spread)[:, None]
    ends = torch.searchsorted(s.contiguous(), (s + width).contiguous(), right=True)
    counts = ends - torch.arange(k, device=rows.device)
    count, start = counts.max(dim=1)
    lo = s.gather(1, start[:, None])
    value = s.gather(1, (start + count // 2)[:, None]).squeeze(1)
    member = (rows >= lo) & (rows <= lo + width)
    return value, count, member


def classify_rows(
    rows: torch.Tensor,
    *,
    atom_width: float = DEFAULT_ATOM_WIDTH,
    min_atom_weight: float = DEFAULT_MIN_ATOM_WEIGHT,
    degenerate_share: float = DEFAULT_DEGENERATE_SHARE,
    multimodal_threshold: float = DEFAULT_MULTIMODAL_THRESHOLD,
    min_dip: float = DEFAULT_MIN_DIP,
) -> Classification:
    """Classify float64 rows (P, K) (module docstring); the tensors behind :func:`classify_entries`."""
    p, k = rows.shape
    value, count, member = find_atoms(rows, atom_width)
    weight = count.to(rows.dtype) / k
    spike = (count >= max(MIN_ATOM_COUNT, math.ceil(min_atom_weight * k))) & (weight <= degenerate_share)
    keep = ~(member & spike[:, None])
    rest_all = from_rows(rows, keep)
    constant = rest_all.values[:, 0] == rest_all.values.gather(1, (rest_all.n - 1)[:, None]).squeeze(1)
    degenerate = (weight > degenerate_share) | (rest_all.n < MIN_SAMPLES) | constant
    fitted = ~degenerate
    rest = rest_all.take(fitted)
    t_fit = fit_t(rest) if rest.n.numel() else tuple(torch.empty(0, dtype=rows.dtype) for _ in range(4))
    mix = fit_mixture(rest) if rest.n.numel() else tuple(torch.empty(0, dtype=rows.dtype) for _ in range(6))
    if rest.n.numel():
        modes, dip = mixture_modes(*mix[:5])
    else:
        modes, dip = torch.empty(0, dtype=torch.long), torch.empty(0, dtype=rows.dtype)
    lr = 2 * (mix[5] - t_fit[3])
    bimodal = (modes == 2) & (dip >= min_dip) & (lr > multimodal_threshold)
    multimodal = torch.zeros(p, dtype=torch.bool, device=rows.device)
    multimodal[fitted] = bimodal
    label = np.full(p, "ordinary", dtype=object)
    label[multimodal.cpu().numpy()] = "multimodal"
    label[(spike & fitted).cpu().numpy()] = "spike_with_tail"
    label[degenerate.cpu().numpy()] = "degenerate"
    atom_weight = torch.where(spike | degenerate, weight, 0.0)
    atom_value = torch.where(spike | degenerate, value, torch.nan)
    return Classification(
        label, atom_value, atom_weight, rest_all.n, modes, dip, lr, multimodal, fitted, rest, t_fit, mix
    )


def classify_entries(
    x: Any,
    dim: int = -1,
    *,
    names: Sequence[str] | None = None,
    atom_width: float = DEFAULT_ATOM_WIDTH,
    min_atom_weight: float = DEFAULT_MIN_ATOM_WEIGHT,
    degenerate_share: float = DEFAULT_DEGENERATE_SHARE,
    multimodal_threshold: float = DEFAULT_MULTIMODAL_THRESHOLD,
    min_dip: float = DEFAULT_MIN_DIP,
) -> pd.DataFrame:
    """Class of every sample of ``x`` along ``dim`` (``(..., K)``, K ≥ 20), before any law is fitted.

    Returns a DataFrame, one row per sample: ``name``, ``class`` (one of :data:`CLASSES`),
    ``atom_value`` (NaN without an atom), ``atom_weight`` (its share of the K values, 0 without one),
    ``n_continuous`` (values left for the laws), ``modes`` (of the fitted two-Gaussian mixture),
    ``dip`` (depth of the dip between them, 0 for one mode), ``mixture_lr`` (``2(ℓ_mix − ℓ_t)``) and
    ``multimodal`` (two modes, ``dip ≥ min_dip`` and ``mixture_lr > multimodal_threshold``).
    Definitions and the calibration of the thresholds: module docstring.
    """
    for label, v, lo, hi in (
        ("atom_width", atom_width, 0.0, 1.0),
        ("min_atom_weight", min_atom_weight, 0.0, 1.0),
        ("degenerate_share", degenerate_share, 0.0, 1.0),
    ):
        if not lo <= v <= hi:
            raise InvalidInputError(f"{label} must lie in [{lo}, {hi}]; got {v}")
    _, rows, _ = as_rows(x, dim)
    rows = rows.to(torch.float64)
    names = check_names(names, rows.shape[0])
    with torch_threads(1):  # many small ops: one thread (see sgdnoise.parallel.threads)
        c = classify_rows(
            rows,
            atom_width=atom_width,
            min_atom_weight=min_atom_weight,
            degenerate_share=degenerate_share,
            multimodal_threshold=multimodal_threshold,
            min_dip=min_dip,
        )
    return c.to_frame(names)


def check_names(names: Sequence[str] | None, p: int) -> list[str]:
    """``names`` as a list of ``p`` labels (``row0``, ``row1``, ... by default)."""
    names = [f"row{i}" for i in range(p)] if names is None else list(names)
    if len(names) != p:
        raise InvalidInputError(f"names has {len(names)} entries for {p} samples; give one name per sample or none")
    return names


def class_counts(labels: Sequence[str] | pd.Series) -> dict[str, int]:
    """``{"n_ordinary": ..., "n_spike_with_tail": ..., "n_multimodal": ..., "n_degenerate": ...}``."""
    values = pd.Series(labels)
    return {f"n_{c}": int((values == c).sum()) for c in CLASSES}
