"""What the Lévy theory (and a Gaussian/Kramers reference) predicts from measured inputs at learning rate η.

Inputs are :class:`~sgdnoise.experiments.escape_inputs.EscapeInputs`. The Lévy noise of parameter l
has amplitude ``ε_l σ_l`` in SDE time (``ε_l = η^{(α_l−1)/α_l}``, σ_l the fitted SαS scale; see
:func:`sgdnoise.theory.battash_epsilon` for why this is SGD's noise step): σ_l takes the place
of Battash et al.'s ``1ᵀλ_l`` as the jump amplitude. The paper's ``1ᵀλ_l`` is a covariance row
sum — a variance, which can be negative and is infinite for SαS noise — so it cannot be a jump
amplitude; it is measured and reported beside (``EscapeInputs.row_sums``).

Eligible parameters: a fit exists (not degenerate) and at least one side of the basin is closed.
The others cannot be exit parameters and get probability 0.

* ``exit_prob`` — ``r_l / Σ r_j`` with ``r_l = c_{α_l} (ε_l σ_l)^{α_l} Φ_l / α_l``
  (:func:`sgdnoise.theory.battash_exit_rates`: eq. 12 × eq. 13, the Imkeller–Pavlyukevich rate),
  the probability that the first basin-leaving jump comes from l. This is ``exit_prob_predicted``.
* ``mean_escape_steps`` — ``1 / Σ_l r_l`` in SDE time, divided by η: steps.
* ``exit_prob_eq18`` / ``exit_prob_eq19`` — Thm 4.3 normalised (both faces), with ρ;
  ``exit_bound_eq18`` the unnormalised bound per parameter (upper plus lower face), ``> 1`` flagged
  vacuous.
* ``mean_escape_bound_steps`` — Cor. 4.2 = eq. 17 on these inputs (NaN with a note when the
  bound is undefined: fewer than two eligible parameters or outside the small-noise regime).
* ``survival_*`` on a grid of steps: the exponential law ``exp(−Σr·η u)``, and Cor. 4.6's bound
  (values above 1 flagged vacuous, not clipped).
* ``relaxation_steps`` (eq. 14 with ζ, quadratic drift ``h_ll``) and ``jump_interval_steps``
  (eq. 15): the time-scale separation §4 assumes (``T_R ≪ E S``).
* ``kramers_exit_prob`` — a Gaussian reference: GD plus Gaussian noise of the measured variance
  ``v_l`` on a quadratic coordinate has stationary variance ``η v_l / (2 h_ll)``, so it leaves
  where ``Σ_± exp(−h_ll d_±² / (η v_l))`` is largest (the lowest barrier-to-variance ratio).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sgdnoise.errors import InvalidInputError
from sgdnoise.experiments.escape_inputs import EscapeInputs
from sgdnoise.theory import (
    battash_epsilon,
    battash_exit_probabilities,
    battash_exit_probability_bound,
    battash_exit_rates,
    battash_mean_exit_time_bound,
    battash_relaxation_time,
    battash_survival_bound,
    battash_time_between_large_jumps,
)


@dataclass(frozen=True)
class EscapePredictions:
    """Predictions at learning rate ``lr`` (see the module docstring); per-parameter arrays ``(P,)``."""

    lr: float
    rho: float
    zeta: float
    eligible: np.ndarray
    eps: np.ndarray
    rate_per_step: np.ndarray
    exit_prob: np.ndarray
    mean_escape_steps: float
    exit_prob_eq18: np.ndarray
    exit_prob_eq19: np.ndarray
    exit_bound_eq18: np.ndarray
    exit_bound_vacuous: np.ndarray
    mean_escape_bound_steps: float
    bound_note: str
    survival_steps: np.ndarray
    survival_levy: np.ndarray
    survival_bound: np.ndarray
    survival_bound_vacuous: bool
    relaxation_steps: np.ndarray
    jump_interval_steps: np.ndarray
    kramers_exit_prob: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        return {
            "lr": self.lr,
            "rho": self.rho,
            "zeta": self.zeta,
            "n_eligible": int(self.eligible.sum()),
            "mean_escape_steps": self.mean_escape_steps,
            "mean_escape_bound_steps": self.mean_escape_bound_steps,
            "bound_note": self.bound_note,
            "n_exit_bounds_vacuous": int(self.exit_bound_vacuous.sum()),
            "survival_bound_vacuous": self.survival_bound_vacuous,
        }


def escape_predictions(
    inputs: EscapeInputs, lr: float, *, rho: float = 0.5, zeta: float = 0.5, survival_steps: Any = None
) -> EscapePredictions:
    """Evaluate the Lévy theory and the Gaussian reference on ``inputs`` at learning rate ``lr``."""
    if not (isinstance(lr, (int, float)) and lr > 0):
        raise InvalidInputError(f"lr must be a number > 0; got {lr!r}")
    p = inputs.dim
    lower, upper = inputs.lower, inputs.upper
    closed = ~(inputs.basin.open_lower & inputs.basin.open_upper)
    eligible = ~inputs.degenerate & np.isfinite(inputs.alpha) & closed & (inputs.scale > 0)
    idx = np.flatnonzero(eligible)
    nan = np.full(p, np.nan)
    eps, rates, prob = nan.copy(), np.zeros(p), np.zeros(p)
    p18, p19, bound18 = np.zeros(p), np.zeros(p), nan.copy()
    relax, interval = nan.copy(), nan.copy()
    steps = np.unique(np.geomspace(1, 1e6, 80).round()) if survival_steps is None else np.asarray(survival_steps, float)
    mean_bound, note = float("nan"), ""
    surv_bound = np.full(len(steps), np.nan)
    if idx.size:
        a, s, lo, up = inputs.alpha[idx], inputs.scale[idx], lower[idx], upper[idx]
        e = np.asarray(battash_epsilon(a, float(lr)))
        eps[idx] = e
        r = np.asarray(battash_exit_rates(a, e, lo, up, lam=s)) * lr  # per SGD step
        rates[idx] = r
        prob[idx] = r / r.sum()
        h = inputs.hessian_diag[idx]
        fin_lo = np.where(np.isfinite(lo), lo, -np.abs(up))
        fin_up = np.where(np.isfinite(up), up, np.abs(lo))
        relax[idx] = np.asarray(battash_relaxation_time(a, e, fin_lo, fin_up, h, zeta=zeta)) / lr
        interval[idx] = np.asarray(battash_time_between_large_jumps(a, e, rho=rho)) / lr
        if idx.size >= 2:
            try:
                p18[idx] = battash_exit_probabilities(a, e, lo, up, rho=rho, lam=s, equation=18)
                p19[idx] = battash_exit_probabilities(a, e, lo, up, rho=rho, lam=s, equation=19)
                bound18[idx] = np.asarray(battash_exit_probability_bound(a, e, lo, up, rho=rho, lam=s, face="both"))
                mean_bound = float(battash_mean_exit_time_bound(a, e, lo, up, rho=rho, lam=s)) / lr
                surv_bound = np.asarray(battash_survival_bound(steps * lr, a, e, lo, up, rho=rho, lam=s))
            except InvalidInputError as exc:
                note = f"Battash bounds undefined here: {exc}"
        else:
            note = "Battash bounds need at least two eligible parameters"
    else:
        note = "no eligible parameter (all degenerate or open)"
    total = rates.sum()
    kramers = _kramers_shares(inputs, lr)
    return EscapePredictions(
        lr=float(lr),
        rho=rho,
        zeta=zeta,
        eligible=eligible,
        eps=eps,
        rate_per_step=rates,
        exit_prob=prob,
        mean_escape_steps=float(1.0 / total) if total > 0 else float("inf"),
        exit_prob_eq18=p18,
        exit_prob_eq19=p19,
        exit_bound_eq18=bound18,
        exit_bound_vacuous=np.nan_to_num(bound18, nan=0.0) > 1.0,
        mean_escape_bound_steps=mean_bound,
        bound_note=note,
        survival_steps=steps,
        survival_levy=np.exp(-total * steps),
        survival_bound=surv_bound,
        survival_bound_vacuous=bool(np.nanmax(surv_bound, initial=0.0) > 1.0),
        relaxation_steps=relax,
        jump_interval_steps=interval,
        kramers_exit_prob=kramers,
    )


def _kramers_shares(inputs: EscapeInputs, lr: float) -> np.ndarray:
    """Shares ∝ ``Σ_± exp(−h d_±²/(η v))`` over parameters with ``h > 0``, ``v > 0`` and a closed side."""
    h, v = inputs.hessian_diag, inputs.variance
    ok = (h > 0) & (v > 0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        expo = np.stack([-h * inputs.lower**2 / (lr * v), -h * inputs.upper**2 / (lr * v)])
    expo = np.where(ok[None] & np.isfinite(expo), expo, -np.inf)
    top = expo.max()
    if not np.isfinite(top):
        return np.zeros(inputs.dim)
    w = np.exp(expo - top).sum(0)
    return w / w.sum()
