"""Fit escape-time theories to measured mean escape times, each with two free parameters.

The measured quantity is the mean number of iterations ``τ`` to escape, at learning rates η and
batch sizes B (Battash et al. Fig. 3). Each theory, reduced to what varies with (η, B), is linear
in its two free parameters on the log scale, so the fit is ordinary least squares on ``log τ``
(exact, no iteration). Iterations are SDE time / η, hence the ``− log η`` terms.

* ``"levy"`` — Battash et al. Cor. 4.2/eq. 17 with one dominant tail index, equivalently the
  Imkeller–Pavlyukevich rate: the SDE time scales as ε^{−α} with ε = η^{(α−1)/α}, and the scale
  of a mean of B heavy-tailed gradients as B^{1/α−1}, so
  ``log τ = a − α log η + (α − 1) log B``; parameters ``(a, alpha)``.
* ``"kramers"`` — Xie et al. (2021), ``τ ∝ exp[(2BΔL/η)(s/H_ae + (1−s)/|H_be|)]``:
  ``log τ = a + b·B/η − log η``; ``b = 2ΔL(s/H_ae + (1−s)/|H_be|)``.
* ``"mori"`` — Mori et al. (2022), ``κ ∝ (L^s/L*)^{−(1/2 + B/(ηh*))}``:
  ``log τ = a + b·B/η − log η``; ``b = log(L^s/L*)/h*``.

With η and B the only variables, the Kramers and Mori laws share one functional form and hence
one fit; they differ in how ``b`` is read (a linear barrier over a curvature, or a log barrier
over h*), which needs the loss values to tell apart. The comparison still lists both, so a
table has one row per theory as in the paper.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sgdnoise.errors import InvalidInputError, TooFewSamplesError


@dataclass(frozen=True)
class EscapeModel:
    """A theory linear in its parameters on the log scale: ``log τ = offset(η, B) + design(η, B) @ θ``."""

    name: str
    param_names: tuple[str, ...]
    design: Callable[[np.ndarray, np.ndarray], np.ndarray]  # (n,), (n,) -> (n, k)
    offset: Callable[[np.ndarray, np.ndarray], np.ndarray]  # (n,), (n,) -> (n,)
    formula: str


_ONE = np.ones_like
_EXPONENTIAL_IN_B_OVER_ETA = dict(
    param_names=("a", "b"),
    design=lambda lr, batch: np.stack([_ONE(lr), batch / lr], axis=1),
    offset=lambda lr, batch: -np.log(lr),
    formula="log τ = a + b·B/η − log η",
)

ESCAPE_MODELS: dict[str, EscapeModel] = {
    "levy": EscapeModel(
        "levy",
        ("a", "alpha"),
        design=lambda lr, batch: np.stack([_ONE(lr), np.log(batch) - np.log(lr)], axis=1),
        offset=lambda lr, batch: -np.log(batch),
        formula="log τ = a − α log η + (α − 1) log B",
    ),
    "kramers": EscapeModel("kramers", **_EXPONENTIAL_IN_B_OVER_ETA),
    "mori": EscapeModel("mori", **_EXPONENTIAL_IN_B_OVER_ETA),
}


@dataclass(frozen=True)
class EscapeFit:
    """Least-squares fit of one theory on ``log τ``.

    ``params``/``param_stderr`` map parameter names to estimates and their OLS standard errors
    (NaN with as many points as parameters); ``residuals`` are ``log τ − fitted`` per point;
    ``r2`` is on ``log τ``; ``aic = n log(RSS/n) + 2k``.
    """

    model: str
    formula: str
    params: dict[str, float]
    param_stderr: dict[str, float]
    residuals: np.ndarray = field(repr=False)
    rss: float
    r2: float
    aic: float
    n_points: int

    def predict(self, lr: Any, batch: Any = 1.0) -> np.ndarray:
        """Predicted mean escape time (iterations) at learning rates ``lr`` and batch sizes ``batch``."""
        m = ESCAPE_MODELS[self.model]
        lr_a, b_a = np.broadcast_arrays(np.asarray(lr, dtype=np.float64), np.asarray(batch, dtype=np.float64))
        theta = np.array([self.params[p] for p in m.param_names])
        return np.exp(m.offset(lr_a, b_a) + m.design(lr_a, b_a) @ theta)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "formula": self.formula,
            "params": dict(self.params),
            "param_stderr": dict(self.param_stderr),
            "residuals": self.residuals.tolist(),
            "rss": self.rss,
            "r2": self.r2,
            "aic": self.aic,
            "n_points": self.n_points,
        }


@dataclass(frozen=True)
class EscapeFitComparison:
    """The fits of several theories to the same measurements (Battash et al. Fig. 3)."""

    fits: tuple[EscapeFit, ...]

    def to_frame(self) -> pd.DataFrame:
        """One row per theory: parameters (± stderr), RSS, R², AIC, ΔAIC to the best."""
        rows = []
        for f in self.fits:
            row = {
                "model": f.model,
                "formula": f.formula,
                "n_points": f.n_points,
                "rss": f.rss,
                "r2": f.r2,
                "aic": f.aic,
            }
            for i, p in enumerate(f.params):
                row[f"param{i}"] = p
                row[f"param{i}_value"] = f.params[p]
                row[f"param{i}_stderr"] = f.param_stderr[p]
            rows.append(row)
        frame = pd.DataFrame(rows)
        frame["delta_aic"] = frame["aic"] - frame["aic"].min()
        return frame

    def to_dict(self) -> dict[str, Any]:
        return {"fits": [f.to_dict() for f in self.fits]}


def _points(lr: Any, batch: Any, tau: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    try:
        lr_a, b_a, tau_a = (np.asarray(v, dtype=np.float64) for v in np.broadcast_arrays(lr, batch, tau))
    except ValueError as exc:
        raise InvalidInputError(f"lr, batch and tau do not broadcast together: {exc}") from exc
    lr_a, b_a, tau_a = (v.reshape(-1) for v in (lr_a, b_a, tau_a))
    for name, v in (("lr", lr_a), ("batch", b_a), ("tau", tau_a)):
        if not np.all(np.isfinite(v) & (v > 0)):
            raise InvalidInputError(
                f"{name} must be finite and > 0 at every point (escape times of paths that never escaped are not "
                "measurements)"
            )
    return lr_a, b_a, tau_a


def fit_escape_time(model: str | EscapeModel, lr: Any, batch: Any, tau: Any) -> EscapeFit:
    """Fit one theory to mean escape times ``tau`` (iterations) measured at ``lr`` and ``batch``.

    ``lr``, ``batch`` and ``tau`` broadcast to the n measured points (e.g. a vector of learning
    rates with a scalar batch size). ``model`` is a name in :data:`ESCAPE_MODELS` or an
    :class:`EscapeModel`. Needs more points than parameters, and the design must have full rank
    (e.g. ``"levy"`` needs at least two distinct η/B).
    """
    m = ESCAPE_MODELS.get(model) if isinstance(model, str) else model
    if m is None:
        raise InvalidInputError(f"unknown escape model {model!r}; choose from {sorted(ESCAPE_MODELS)}")
    lr_a, b_a, tau_a = _points(lr, batch, tau)
    x = m.design(lr_a, b_a)
    k = x.shape[1]
    n = len(tau_a)
    if n <= k:
        raise TooFewSamplesError(
            f"fitting {m.name} needs more than {k} points; got {n}. Measure more learning rates or batch sizes."
        )
    if np.linalg.matrix_rank(x) < k:
        raise InvalidInputError(f"the {m.name} model is not identifiable from these points (vary η/B)")
    y = np.log(tau_a) - m.offset(lr_a, b_a)
    theta, *_ = np.linalg.lstsq(x, y, rcond=None)
    residuals = y - x @ theta
    rss = float(residuals @ residuals)
    log_tau = np.log(tau_a)
    tss = float(((log_tau - log_tau.mean()) ** 2).sum())
    sigma2 = rss / (n - k)
    stderr = np.sqrt(np.diag(sigma2 * np.linalg.inv(x.T @ x)))
    return EscapeFit(
        model=m.name,
        formula=m.formula,
        params={p: float(v) for p, v in zip(m.param_names, theta)},
        param_stderr={p: float(v) for p, v in zip(m.param_names, stderr)},
        residuals=residuals,
        rss=rss,
        r2=1.0 - rss / tss if tss > 0 else float("nan"),
        aic=n * np.log(max(rss, np.finfo(float).tiny) / n) + 2 * k,
        n_points=n,
    )


def compare_escape_fits(
    lr: Any, batch: Any, tau: Any, models: Sequence[str | EscapeModel] = ("levy", "kramers", "mori")
) -> EscapeFitComparison:
    """Fit every theory in ``models`` (all with two free parameters) to the same points."""
    return EscapeFitComparison(tuple(fit_escape_time(m, lr, batch, tau) for m in models))
