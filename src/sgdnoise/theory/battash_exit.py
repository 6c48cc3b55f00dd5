"""Where and how fast a Lévy-driven SGD leaves a basin, per parameter: Battash et al. §4 on measured inputs.

Battash, Wolf & Lindenbaum (AISTATS 2024), Thm 4.3 (eq. 18–19) and eq. 17, beside the rate of
exit-causing jumps that §3.2 implies. Conventions (Lévy measure ``levy_measure``, ``m̄_l`` with
``(1ᵀλ_l)^{α_l}``, ν-quantities at the mean over parameters, β at ``s = 1``) are those of
:mod:`sgdnoise.theory.battash`; arguments ``alpha, eps, lower, upper, lam, rho`` mean the same
there and here, with the parameter axis last.

* :func:`battash_exit_rates` — ``β̄_l · P(first large jump of l exits) = m̄_l Φ_l`` (eq. 12 × eq. 13
  at ``s = 1``): the rate at which parameter l makes a jump that leaves the basin. With the ``"sas"``
  measure it is exactly the Imkeller–Pavlyukevich per-axis rate
  ``c_{α_l} (ε λ_l)^{α_l} Φ_l / α_l`` (:func:`sgdnoise.theory.levy_exit_rates` with ``eps = ε λ_l``),
  and ``r_l / Σ_j r_j`` is the probability of leaving through l when exits are single large jumps.
* :func:`battash_exit_probability_bound` — Thm 4.3, eq. 18, the printed bound on
  ``P(W_σ ∈ Ω_i^±)`` (one face of parameter i).
* :func:`battash_exit_probabilities` — eq. 18 (or eq. 19) normalised over parameters: the ``l``-sum
  of eq. 18 does not depend on ``i``, so the normalised shares are ``w_i / Σ_j w_j`` with
  ``w_i = (m̄_i Φ_i / β̄_i) · (d_i^±)^{−α_i}`` (eq. 18) or ``(m̄_i/β̄_i)(d_i^±)^{−α_i}`` (eq. 19, which
  drops the ``Φ_i`` of eq. 18; both are offered because the paper prints both).
* :func:`battash_mean_exit_time_lr` — eq. 17: Cor. 4.2 (eq. 16) with the learning rate made explicit,
  ``ε_l = η^{(α_l−1)/α_l}`` per parameter (the discretisation of eq. 1). The constants ``C_{l,i}`` and
  ``C_{jλ}`` of the printed eq. 17 are eq. 16's ``1ᵀλ̄_l`` expanded by Prop. 3.4; here ``lam`` is
  passed measured, so eq. 17 is eq. 16 at those ε_l.

Time is the SDE's time; one SGD step at learning rate η is ``η`` of it.
"""

from __future__ import annotations

from typing import Any, Literal

import torch

from sgdnoise.errors import InvalidInputError
from sgdnoise.theory._inputs import as_tensors, check_alpha, check_interval, check_positive
from sgdnoise.theory.battash import (
    LevyMeasure,
    _basin,
    _measure_constant,
    _scheduler_exponents,
    battash_mean_exit_time_bound,
)
from sgdnoise.theory.levy_exit import basin_phi

Face = Literal["upper", "lower", "both"]


def _face_term(a: torch.Tensor, lower: torch.Tensor, upper: torch.Tensor, face: Face) -> torch.Tensor:
    """``(d_i^+)^{−α_i}``, ``(−d_i^−)^{−α_i}`` or their sum (= Φ_i)."""
    if face == "upper":
        return upper.pow(-a)
    if face == "lower":
        return (-lower).pow(-a)
    if face == "both":
        return basin_phi(a, lower, upper)
    raise InvalidInputError(f"face must be 'upper', 'lower' or 'both'; got {face!r}")


def battash_exit_rates(
    alpha: Any, eps: Any, lower: Any, upper: Any, *, lam: Any = 1.0, levy_measure: LevyMeasure = "sas"
) -> Any:
    """Rate of basin-leaving jumps of each parameter, ``r_l = m̄_l Φ_l = c (1ᵀλ_l)^{α_l} ε^{α_l} Φ_l / α_l``.

    Eq. 12 (``β̄_l``, jumps larger than ``ε^{−ρ}``) times eq. 13 (the share of those that leave
    ``[d_l^−, d_l^+]``); ρ cancels. ``c = c_{α_l}`` for ``levy_measure="sas"`` (sgdnoise's standard
    SαS), 1 for ``"paper"``. Elementwise over the broadcast shape. ``lower``/``upper`` may be
    ``−inf``/``+inf`` (an open side contributes nothing to Φ). ``E τ ≈ 1/Σ_l r_l`` and
    ``P(exit via l) ≈ r_l / Σ_j r_j`` as ε → 0 (Imkeller & Pavlyukevich).
    """
    kind, t = as_tensors(("lower", "upper"), alpha=alpha, eps=eps, lower=lower, upper=upper, lam=lam)
    a, e, lam_t = t["alpha"], t["eps"], t["lam"]
    check_alpha(a)
    check_positive(e, "eps")
    check_positive(lam_t, "lam")
    check_interval(t["lower"], t["upper"])
    c = _measure_constant(a, levy_measure)
    return kind.restore(c * lam_t.pow(a) * e.pow(a) * basin_phi(a, t["lower"], t["upper"]) / a)


def battash_exit_probability_bound(
    alpha: Any,
    eps: Any,
    lower: Any,
    upper: Any,
    *,
    rho: float,
    gamma: float = 1.0,
    lam: Any = 1.0,
    face: Face = "upper",
    levy_measure: LevyMeasure = "sas",
) -> Any:
    """Thm 4.3, eq. 18: the bound on the probability of leaving through a face of parameter i.

    ``P(W_σ ∈ Ω_i^+) ≤ Σ_l A_{l,ν}^{−1} (m̄_i Φ_i/β̄_i) (d_i^+)^{−α_i} β̄_l² (m̄_l Φ_l)^{−C_l}
    Γ(C_l) / (β̄_S ((γ−1)(α_l−1) + 1))`` with ``C_l = ((γ−1)(α_l − 1 + ρ(α_l − α_ν)) + 2) /
    ((γ−1)(α_l−1) + 1)`` (the printed ``2α_l − α_ν − α_l`` is ``α_l − α_ν``); ``C_l = 2`` at γ = 1.
    ``face="lower"`` puts ``(−d_i^−)^{−α_i}`` in place of ``(d_i^+)^{−α_i}``, ``"both"`` their sum.

    Inputs broadcast with the parameter axis last (≥ 2 entries); returns ``(..., d)``, one bound per
    parameter. Not clipped: a value above 1 is a vacuous bound, and the caller should say so.
    """
    kind, t, b = _basin(alpha, eps, lower, upper, lam, rho, levy_measure)
    g, shift = _scheduler_exponents(b, gamma, rho)
    order = (2.0 + shift) / g  # C_l
    mphi = b.m * b.phi
    common = (b.a_inv * b.beta.pow(2) * mphi.pow(-order) * torch.exp(torch.lgamma(order)) / (b.beta_sum * g)).sum(
        dim=-1, keepdim=True
    )
    per_i = mphi / b.beta * _face_term(b.alpha, t["lower"], t["upper"], face)
    return kind.restore(per_i * common)


def battash_exit_probabilities(
    alpha: Any,
    eps: Any,
    lower: Any,
    upper: Any,
    *,
    rho: float,
    lam: Any = 1.0,
    equation: int = 18,
    levy_measure: LevyMeasure = "sas",
) -> Any:
    """Thm 4.3 normalised over parameters (both faces of each parameter counted): shares ``(..., d)``.

    ``equation=18``: ``w_i = (m̄_i Φ_i/β̄_i) Φ_i`` (eq. 18's i-dependent factor, upper plus lower face);
    ``equation=19``: ``w_i = (m̄_i/β̄_i) Φ_i``. Returns ``w_i / Σ_j w_j`` over the last axis. With
    ``m̄_i/β̄_i = (1ᵀλ_i)^{α_i} ε^{α_i(1−ρ)} / 2`` (the measure constant cancels), the shares depend
    on ρ; they are the ratios of Cor. 4.4 (eq. 20) when only the upper face is kept.
    """
    if equation not in (18, 19):
        raise InvalidInputError(f"equation must be 18 or 19 (Battash et al. Thm 4.3); got {equation!r}")
    kind, _, b = _basin(alpha, eps, lower, upper, lam, rho, levy_measure)
    w = b.m / b.beta * b.phi
    if equation == 18:
        w = w * b.phi
    return kind.restore(w / w.sum(dim=-1, keepdim=True))


def battash_mean_exit_time_lr(
    alpha: Any,
    lr: Any,
    lower: Any,
    upper: Any,
    *,
    rho: float,
    lam: Any = 1.0,
    levy_measure: LevyMeasure = "sas",
) -> Any:
    """Eq. 17: the mean-exit-time bound of Cor. 4.2 (eq. 16) as a function of the learning rate η.

    ``ε_l = η^{(α_l−1)/α_l}`` per parameter (:func:`sgdnoise.theory.battash_epsilon`), then
    :func:`sgdnoise.theory.battash_mean_exit_time_bound` at γ = 1 with those ε_l. In SDE time;
    divide by η for SGD steps. Parameter axis last (≥ 2 entries); returns the leading shape.
    """
    kind, t = as_tensors(alpha=alpha, lr=lr)
    check_alpha(t["alpha"])
    check_positive(t["lr"], "lr")
    eps = t["lr"].pow((t["alpha"] - 1.0) / t["alpha"])
    value = battash_mean_exit_time_bound(
        t["alpha"],
        eps,
        torch.as_tensor(lower, dtype=eps.dtype),
        torch.as_tensor(upper, dtype=eps.dtype),
        rho=rho,
        gamma=1.0,
        lam=torch.as_tensor(lam, dtype=eps.dtype),
        levy_measure=levy_measure,
    )
    return kind.restore(value)
