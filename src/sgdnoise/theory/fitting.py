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
over h*), which needs the loss values to tell apart: :func:`fit_escape_across_minima` fits them
to escape times from minima of different loss, where they are different laws.
:func:`fit_levy_fixed_alpha` is the Lévy law with α fixed to a measured value, and
:func:`alpha_consistency` says whether that value agrees with the fitted slope.
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
    ``r2`` is on ``log τ``; ``aic = n log(RSS/n) + 2k``; ``fitted_tau`` the fitted τ at the points.
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
    fitted_tau: np.ndarray | None = field(default=None, repr=False)

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
    return _least_squares(m.name, m.formula, m.param_names, m.design(lr_a, b_a), m.offset(lr_a, b_a), tau_a)


def _least_squares(
    name: str, formula: str, param_names: Sequence[str], x: np.ndarray, offset: np.ndarray, tau: np.ndarray
) -> EscapeFit:
    """OLS of ``log τ − offset`` on the design ``x (n, k)``; see :class:`EscapeFit`."""
    k, n = x.shape[1], len(tau)
    if n <= k:
        raise TooFewSamplesError(
            f"fitting {name} needs more than {k} points; got {n}. Measure more learning rates or batch sizes."
        )
    if np.linalg.matrix_rank(x) < k:
        raise InvalidInputError(f"the {name} model is not identifiable from these points (vary η/B)")
    y = np.log(tau) - offset
    theta, *_ = np.linalg.lstsq(x, y, rcond=None)
    residuals = y - x @ theta
    rss = float(residuals @ residuals)
    log_tau = np.log(tau)
    tss = float(((log_tau - log_tau.mean()) ** 2).sum())
    sigma2 = rss / (n - k)
    stderr = np.sqrt(np.diag(sigma2 * np.linalg.inv(x.T @ x)))
    return EscapeFit(
        model=name,
        formula=formula,
        params={p: float(v) for p, v in zip(param_names, theta)},
        param_stderr={p: float(v) for p, v in zip(param_names, stderr)},
        residuals=residuals,
        rss=rss,
        r2=1.0 - rss / tss if tss > 0 else float("nan"),
        aic=n * np.log(max(rss, np.finfo(float).tiny) / n) + 2 * k,
        n_points=n,
        fitted_tau=np.exp(offset + x @ theta),
    )


def _per_point(value: Any, lr: Any, batch: Any, tau: Any, name: str) -> np.ndarray:
    """``value`` broadcast to the points of ``(lr, batch, tau)``, flattened as :func:`_points` does."""
    try:
        shape = np.broadcast_shapes(np.shape(lr), np.shape(batch), np.shape(tau))
        return np.broadcast_to(np.asarray(value, dtype=np.float64), shape).reshape(-1).copy()
    except ValueError as exc:
        raise InvalidInputError(f"{name} does not broadcast to the measured points: {exc}") from exc


def fit_levy_fixed_alpha(lr: Any, batch: Any, tau: Any, alpha: Any) -> EscapeFit:
    """The Lévy law with α **fixed** (e.g. the measured tail index), one free parameter ``a``:
    ``log τ = a − α log η + (α − 1) log B`` (Battash et al. eq. 17 as in :data:`ESCAPE_MODELS`).
    ``alpha`` broadcasts to the points (one value per minimum allowed), each in (0, 2]."""
    lr_a, b_a, tau_a = _points(lr, batch, tau)
    alpha_a = _per_point(alpha, lr, batch, tau, "alpha")
    if not np.all((alpha_a > 0) & (alpha_a <= 2)):
        raise InvalidInputError(f"alpha must lie in (0, 2] at every point; got {np.unique(alpha_a)}")
    offset = -alpha_a * np.log(lr_a) + (alpha_a - 1) * np.log(b_a)
    return _least_squares(
        "levy_fixed_alpha",
        "log τ = a − α log η + (α − 1) log B, α measured",
        ("a",),
        np.ones((len(tau_a), 1)),
        offset,
        tau_a,
    )


def fit_escape_across_minima(
    lr: Any, batch: Any, tau: Any, loss_min: Any, loss_level: Any, curvature: Any, alpha: Any = None
) -> EscapeFitComparison:
    """Kramers and Mori told apart: escape times measured at several minima of different loss.

    Every argument broadcasts to the n points (one point = one minimum × (η, B)): ``loss_min`` L*
    and ``loss_level`` L^s > L* (the escape level), ``curvature`` h > 0 (the top Hessian eigenvalue
    at the minimum, Mori's h* and Xie's H_ae). Each theory has two free parameters ``(a, b)``:

    * ``"kramers"`` (Xie et al. 2021, papers.md §8): ``τ = 2π/|H_be| · exp[(2BΔL/η)(s/H_ae + (1−s)/|H_be|)]``
      with ΔL = L^s − L*: ``log τ = a + b·BΔL/(ηh) − log η`` (b = 2 when |H_be| = H_ae);
    * ``"mori"`` (Mori et al. 2022, papers.md §7, n = 1): ``κ = (1/2π)√(h*|h^s|)(L^s/L*)^{−(1/2 + B/(ηh*))}``:
      ``log τ = a + b·B log(L^s/L*)/(ηh) + ½ log(L^s/L*) − ½ log h − log η`` (b = 1);
    * ``"levy"``: ``log τ = a − α log η + (α − 1) log B`` as in :data:`ESCAPE_MODELS` (α free).

    On one minimum L*, L^s and h are constants and the first two are the same law (:data:`ESCAPE_MODELS`).
    Across minima they differ: Kramers' exponent grows with the linear barrier ΔL, Mori's with the
    log barrier, so with an escape level ``f·L*`` Mori's exponent is the same at every minimum
    (``log f``) and only h moves it. With ``alpha`` (the measured α per point), also
    :func:`fit_levy_fixed_alpha` (one free parameter).
    """
    lr_a, b_a, tau_a = _points(lr, batch, tau)
    l_min, l_s, h = (
        _per_point(v, lr, batch, tau, n)
        for v, n in ((loss_min, "loss_min"), (loss_level, "loss_level"), (curvature, "curvature"))
    )
    if not (np.all(l_min > 0) and np.all(l_s > l_min) and np.all(h > 0)):
        raise InvalidInputError("need loss_min > 0, loss_level > loss_min and curvature > 0 at every point")
    one = np.ones_like(lr_a)
    log_ratio = np.log(l_s / l_min)
    fits = [
        fit_escape_time("levy", lr_a, b_a, tau_a),
        _least_squares(
            "kramers",
            "log τ = a + b·BΔL/(ηh) − log η",
            ("a", "b"),
            np.stack([one, b_a * (l_s - l_min) / (lr_a * h)], axis=1),
            -np.log(lr_a),
            tau_a,
        ),
        _least_squares(
            "mori",
            "log τ = a + b·B log(L^s/L*)/(ηh) + ½ log(L^s/L*) − ½ log h − log η",
            ("a", "b"),
            np.stack([one, b_a * log_ratio / (lr_a * h)], axis=1),
            0.5 * log_ratio - 0.5 * np.log(h) - np.log(lr_a),
            tau_a,
        ),
    ]
    if alpha is not None:
        fits.append(fit_levy_fixed_alpha(lr_a, b_a, tau_a, _per_point(alpha, lr, batch, tau, "alpha")))
    return EscapeFitComparison(tuple(fits))


def alpha_consistency(fit: EscapeFit, measured: float, z: float = 2.0) -> dict[str, Any]:
    """Is the measured α consistent with the slope α of a free Lévy fit? ``|α_fit − α_measured| ≤ z·stderr``
    (the OLS standard error of the fitted α; NaN stderr, e.g. as many points as parameters: not decidable)."""
    if "alpha" not in fit.params:
        raise InvalidInputError(f"the {fit.model} fit has no α (params {sorted(fit.params)})")
    a, se = fit.params["alpha"], fit.param_stderr["alpha"]
    score = (a - measured) / se if se > 0 else float("nan")
    return {
        "alpha_fitted": a,
        "alpha_fitted_stderr": se,
        "alpha_measured": float(measured),
        "z": score,
        "consistent": bool(abs(score) <= z) if np.isfinite(score) else None,
    }


def compare_escape_fits(
    lr: Any, batch: Any, tau: Any, models: Sequence[str | EscapeModel] = ("levy", "kramers", "mori")
) -> EscapeFitComparison:
    """Fit every theory in ``models`` (all with two free parameters) to the same points."""
    return EscapeFitComparison(tuple(fit_escape_time(m, lr, batch, tau) for m in models))
