"""Battash, Wolf & Lindenbaum, "Revisiting the noise model of SGD" (AISTATS 2024), §3.2 and §4.

The SDE (eq. 3) is ``dW = −∇U dt + Σ_l s_t^{(α_l−1)/α_l} ε (1ᵀλ_l) r_l dL^l``: one SαS Lévy
process per parameter l, ``1ᵀλ_l`` the sum of row l of the noise covariance (argument ``lam``),
``s_t`` the learning-rate scheduler, the basin ``[d_l^−, d_l^+]`` along each axis (arguments
``lower`` = d^−  < 0 < ``upper`` = d^+, measured from the minimum). Large jumps are those above
``O = ε^{−ρ} s_t^{−ρ(α−1)/α}`` with ``ρ ∈ (0, 1)`` (argument ``rho``).

Conventions where the paper is ambiguous (tests pin each down):

* Lévy measure. The paper integrates ``|y|^{−1−α} dy`` (eq. 12). ``levy_measure="sas"`` (default)
  uses sgdnoise's standard SαS, ``c_α |y|^{−1−α} dy`` with ``c_α = Γ(1+α) sin(πα/2)/π``
  (:func:`sgdnoise.theory.levy_measure_constant`), so that predictions match processes simulated
  with :mod:`sgdnoise.stable`/:mod:`sgdnoise.dynamics`; ``levy_measure="paper"`` takes ``c = 1``.
* ``m_l``. Eq. 13 prints ``m_l = 1ᵀλ_l ε^{α_l}/α_l`` but Thm 4.1 defines ``m̄_l = λ̄_l^{α_l}
  ε^{α_l}/α_l``; scaling a jump by λ multiplies the Lévy tail by λ^α, so we use ``(1ᵀλ_l)^{α_l}``
  everywhere (the two agree at λ = 1).
* ν quantities. ``α_ν`` is "the average α over the network"; ``m̄_ν Φ_ν / β̄_ν`` in
  ``A_{l,ν} = (1 − m̄_ν β̄_ν^{−1} Φ_ν)(1 − β̄_l/β̄_S)`` is evaluated at the mean of α, λ, d^− and
  d^+ over the parameter axis. ``A_{l,ν}`` vanishes with a single parameter, so the bounds of
  Thm 4.1/4.5 need at least two.
* Time-dependent ratios ``β_l(t)/β_S(t)`` in Thm 4.1 are taken at ``s = 1``: ``β̄_l/β̄_S``.
* Cor. 4.2 (eq. 16) is computed as the γ → 1 limit of Thm 4.1, which is
  ``Σ_l A^{−1} 2 / (β̄_S (1ᵀλ̄_l)^{α_l} ε^{α_l(1−ρ)} Φ_l)``; the printed eq. 16 lacks the factor 2
  (from ``β̄_l = 2ε^{ρα_l}/α_l``) and the power α_l on λ.

The parameter axis is the last axis of the broadcast inputs; leading axes are independent cases.
Time is the SDE's time (iterations × learning rate).
"""

from __future__ import annotations

from typing import Any, Literal

import torch

from sgdnoise.arrays import array_kind, to_tensor
from sgdnoise.errors import InvalidInputError
from sgdnoise.theory._inputs import as_tensors, check_alpha, check_interval, check_positive, check_unit_interval
from sgdnoise.theory.levy_exit import _levy_measure_constant, basin_phi

LevyMeasure = Literal["sas", "paper"]


def _check_rho(rho: float) -> None:
    check_unit_interval(rho, "rho (large-jump threshold exponent)")


def _measure_constant(alpha: torch.Tensor, levy_measure: LevyMeasure) -> torch.Tensor:
    if levy_measure == "sas":
        return _levy_measure_constant(alpha)
    if levy_measure == "paper":
        return torch.ones_like(alpha)
    raise InvalidInputError(f"levy_measure must be 'sas' or 'paper'; got {levy_measure!r}")


def _first_jump_exit(
    a: torch.Tensor,
    e: torch.Tensor,
    lam: torch.Tensor,
    phi: torch.Tensor,
    rho: float,
    s: torch.Tensor | None = None,
) -> torch.Tensor:
    """Eq. 13's ``m_l Φ_l s_t^{α_l−1} / β_l(t) = (1ᵀλ_l)^{α_l} Φ_l ε^{α_l(1−ρ)} s_t^{(α_l−1)(1−ρ)} / 2``
    (``s`` is ``s_t``; ``None`` for ``s_t = 1``)."""
    p = lam.pow(a) * phi * e.pow(a * (1 - rho))
    if s is not None:
        p = p * s.pow((a - 1) * (1 - rho))
    return p / 2.0


def battash_jump_intensity(
    alpha: Any, eps: Any, *, rho: float, schedule_value: Any = 1.0, levy_measure: LevyMeasure = "sas"
) -> Any:
    """Rate of large jumps of parameter l, eq. 12: ``β_l(t) = c (2/α_l) s_t^{ρ(α_l−1)} ε^{ρα_l}``.

    ``schedule_value`` is ``s_t`` (1 for a constant learning rate); ``c`` is 1 for
    ``levy_measure="paper"`` and ``c_{α_l}`` for ``"sas"``. Elementwise over the broadcast shape.
    """
    _check_rho(rho)
    kind, t = as_tensors(alpha=alpha, eps=eps, schedule_value=schedule_value)
    a, e, s = t["alpha"], t["eps"], t["schedule_value"]
    check_alpha(a)
    check_positive(e, "eps")
    check_positive(s, "schedule_value")
    beta = _measure_constant(a, levy_measure) * 2.0 / a * s.pow(rho * (a - 1)) * e.pow(rho * a)
    return kind.restore(beta)


def battash_first_jump_exit_probability(
    alpha: Any, eps: Any, lower: Any, upper: Any, *, rho: float, lam: Any = 1.0, schedule_value: Any = 1.0
) -> Any:
    """Probability that a large jump of parameter l leaves the basin, eq. 13.

    ``m_l Φ_l s_t^{α_l−1} / β_l(t) = (1ᵀλ_l)^{α_l} Φ_l ε^{α_l(1−ρ)} s_t^{(α_l−1)(1−ρ)} / 2``
    with ``m_l = (1ᵀλ_l)^{α_l} ε^{α_l}/α_l`` and ``Φ_l = (−d_l^−)^{−α_l} + (d_l^+)^{−α_l}``. The Lévy
    measure constant cancels. Elementwise. A probability only in the small-noise regime where
    the value is ≤ 1; values above 1 mean the large-jump picture does not apply.
    """
    _check_rho(rho)
    kind, t = as_tensors(alpha=alpha, eps=eps, lower=lower, upper=upper, lam=lam, schedule_value=schedule_value)
    a, e, s, lam_t = t["alpha"], t["eps"], t["schedule_value"], t["lam"]
    check_alpha(a)
    check_positive(e, "eps")
    check_positive(lam_t, "lam")
    check_positive(s, "schedule_value")
    check_interval(t["lower"], t["upper"])
    p = _first_jump_exit(a, e, lam_t, basin_phi(a, t["lower"], t["upper"]), rho, s)
    return kind.restore(p)


class _Basin:
    """The time-independent quantities of §4 for a stack of parameters (last axis)."""

    def __init__(self, a, e, lower, upper, lam, rho, levy_measure):
        if a.shape[-1] < 2:
            raise InvalidInputError(
                "the bounds of Battash et al. Thm 4.1/4.5 need at least two parameters (last axis): "
                "A_{l,ν} = (1 − …)(1 − β̄_l/β̄_S) vanishes for one. For one axis use levy_mean_exit_time."
            )
        c = _measure_constant(a, levy_measure)
        self.alpha = a
        self.phi = basin_phi(a, lower, upper)
        self.m = c * lam.pow(a) * e.pow(a) / a  # m̄_l
        self.beta = c * 2.0 / a * e.pow(rho * a)  # β̄_l
        self.beta_sum = self.beta.sum(dim=-1, keepdim=True)  # β̄_S
        a_nu = a.mean(dim=-1, keepdim=True)
        self.alpha_nu = a_nu
        phi_nu = basin_phi(a_nu, lower.mean(dim=-1, keepdim=True), upper.mean(dim=-1, keepdim=True))
        lam_nu = lam.mean(dim=-1, keepdim=True)
        e_nu = e.mean(dim=-1, keepdim=True)
        first_jump_exit_nu = _first_jump_exit(a_nu, e_nu, lam_nu, phi_nu, rho)  # m̄_ν Φ_ν / β̄_ν
        self.a_inv = 1.0 / ((1.0 - first_jump_exit_nu) * (1.0 - self.beta / self.beta_sum))  # A_{l,ν}^{−1}
        if not torch.all(torch.isfinite(self.a_inv) & (self.a_inv > 0)):
            raise InvalidInputError(
                "A_{l,ν} is not positive: the average first-jump exit probability m̄_ν Φ_ν/β̄_ν is ≥ 1, "
                "so the small-noise regime of Battash et al. does not hold; use a smaller eps or a wider basin"
            )


def _basin(alpha, eps, lower, upper, lam, rho, levy_measure, **extra):
    _check_rho(rho)
    kind, t = as_tensors(("lower", "upper"), alpha=alpha, eps=eps, lower=lower, upper=upper, lam=lam, **extra)
    check_alpha(t["alpha"])
    check_positive(t["eps"], "eps")
    check_positive(t["lam"], "lam")
    check_interval(t["lower"], t["upper"])
    return kind, t, _Basin(t["alpha"], t["eps"], t["lower"], t["upper"], t["lam"], rho, levy_measure)


def _scheduler_exponents(b: _Basin, gamma: float, rho: float):
    if not (isinstance(gamma, (int, float)) and gamma > 0):
        raise InvalidInputError(f"gamma (cooling rate of s_t = t^(γ−1)) must be > 0; got {gamma!r}")
    g = 1.0 + (gamma - 1.0) * (b.alpha - 1.0)  # γ_l
    shift = (gamma - 1.0) * (b.alpha - 1.0 + rho * (b.alpha - b.alpha_nu))
    if not torch.all((g > 0) & (1.0 + shift > 0)):
        raise InvalidInputError(
            f"gamma={gamma} makes 1 + (γ−1)(α_l−1) or the Gamma-function order ≤ 0; use gamma closer to 1"
        )
    return g, shift


def battash_mean_exit_time_bound(
    alpha: Any,
    eps: Any,
    lower: Any,
    upper: Any,
    *,
    rho: float,
    gamma: float = 1.0,
    lam: Any = 1.0,
    levy_measure: LevyMeasure = "sas",
) -> Any:
    """Upper bound on the mean exit time, Thm 4.1 (scheduler ``s_t = t^{γ−1}``); Cor. 4.2 at γ = 1.

    ``E σ ≤ Σ_l A_{l,ν}^{−1} (β̄_l/β̄_S) (m̄_l Φ_l)^{1−C_l} Γ(C_l) / (1 + (γ−1)(α_l−1))`` with
    ``C_l = (2 + (γ−1)(α_l − 1 + ρ(α_l − α_ν))) / (1 + (γ−1)(α_l − 1))``. See the module docstring
    for the conventions. Inputs broadcast; the last axis (≥ 2 entries) is the parameter axis and
    is summed; returns the leading shape.
    """
    kind, _, b = _basin(alpha, eps, lower, upper, lam, rho, levy_measure)
    g, shift = _scheduler_exponents(b, gamma, rho)
    order = (2.0 + shift) / g  # C_{l,ν,ρ}
    mphi = b.m * b.phi
    terms = b.a_inv * (b.beta / b.beta_sum) * mphi.pow(1.0 - order) * torch.exp(torch.lgamma(order)) / g
    return kind.restore(terms.sum(dim=-1))


def battash_exit_direction_ratio(alpha: Any, eps: Any, upper: Any, *, rho: float, lam: Any = 1.0) -> Any:
    """Ratios ``R[..., l, j] = P(exit via l)/P(exit via j)`` as printed in Cor. 4.4, eq. 20.

    ``R_lj = (1ᵀλ_l)^{α_l}/(1ᵀλ_j)^{α_j} · ε^{(α_l−α_j)(1−ρ)} · (d_l^+)^{−α_l}/(d_j^+)^{−α_j}``, so
    ``R_lj ∝ ε^{Δ_lj}`` (eq. 21): with ε < 1 the lower-α parameter is the likelier exit. Inputs
    broadcast with the parameter axis last (d entries); returns shape (..., d, d). Eq. 20 keeps
    only the upper face; the small-noise limit counting both faces is
    :func:`sgdnoise.theory.levy_exit_probabilities`.
    """
    _check_rho(rho)
    kind, t = as_tensors(alpha=alpha, eps=eps, upper=upper, lam=lam)
    a, e, lam_t, up = t["alpha"], t["eps"], t["lam"], t["upper"]
    check_alpha(a)
    check_positive(e, "eps")
    check_positive(lam_t, "lam")
    check_positive(up, "upper")
    log_weight = a * lam_t.log() + (1 - rho) * a * e.log() - a * up.log()
    return kind.restore(torch.exp(log_weight.unsqueeze(-1) - log_weight.unsqueeze(-2)))


def battash_survival_bound(
    u: Any,
    alpha: Any,
    eps: Any,
    lower: Any,
    upper: Any,
    *,
    rho: float,
    gamma: float = 1.0,
    lam: Any = 1.0,
    levy_measure: LevyMeasure = "sas",
) -> Any:
    """Upper bound on ``P(σ > u)``, Thm 4.5 (``s_t = t^{γ−1}``); Cor. 4.6 (eq. 23) at γ = 1.

    ``P(σ > u) ≤ Σ_l A_{l,ν}^{−1} β̄_l m̄_l Φ_l / (β̄_S γ_l (m̄_l Φ_l)^κ_l) · Γ(κ_l, m̄_l Φ_l u^{γ_l})``
    with ``γ_l = 1 + (γ−1)(α_l−1)``, ``κ_l = (1 + (γ−1)(α_l − 1 + ρ(α_l − α_ν)))/γ_l`` and Γ(·,·)
    the upper incomplete gamma function; at γ = 1 each term is ``A^{−1}(β̄_l/β̄_S) e^{−m̄_l Φ_l u}``.

    The parameter inputs broadcast to (..., d) with the parameter axis last; ``u`` (times ≥ 0)
    broadcasts against the leading shape (...), e.g. ``u`` of shape (k,) with parameters of
    shape (d,) gives k values, ``u`` (n, k) with parameters (n, 1, d) one curve per case.
    """
    kind = array_kind(u, alpha, eps, lower, upper, lam)
    _, _, b = _basin(alpha, eps, lower, upper, lam, rho, levy_measure)
    u_t = to_tensor(u, kind, name="u").to(b.alpha.dtype)
    if not torch.all(torch.isfinite(u_t) & (u_t >= 0)):
        raise InvalidInputError("u (times) must be finite and ≥ 0")
    g, shift = _scheduler_exponents(b, gamma, rho)
    kappa = (1.0 + shift) / g
    mphi = b.m * b.phi
    upper_gamma = torch.special.gammaincc(kappa, mphi * u_t.unsqueeze(-1).pow(g)) * torch.exp(torch.lgamma(kappa))
    terms = b.a_inv * b.beta * mphi / (b.beta_sum * g * mphi.pow(kappa)) * upper_gamma
    return kind.restore(terms.sum(dim=-1))
