"""The scales of Battash et al.'s Lévy SDE that a measurement at a minimum feeds: ε, T_R, E S, Lemma 3.1, Prop. 3.4.

Battash, Wolf & Lindenbaum (AISTATS 2024), §1 (eq. 1), §3 (Lemma 3.1, Prop. 3.4) and §4 (eq. 14, 15).

* :func:`battash_epsilon` — ``ε = η^{(α−1)/α}`` (eq. 1). Why: one SGD step adds ``η u_k``; if ``u_k``
  is SαS with scale σ, that is the increment over SDE time ``dt = η`` of ``ε σ L`` with ``L`` a
  standard α-stable Lévy process, since ``η σ S = η^{(α−1)/α} σ (η^{1/α} S)``. The batch size B
  enters through σ (the noise of a B-mean), not through ε.
* :func:`battash_relaxation_time` — eq. 14 for the quadratic drift ``U'(y)_l = h_ll y`` of the
  second-order expansion (§3): ``T_R^l = max(ln(−d_l^−/ε̄_l^ζ), ln(d_l^+/ε̄_l^ζ)) / h_ll``.
* :func:`battash_time_between_large_jumps` — eq. 15, ``E S^l = 1/β_l``. Eq. 15 prints
  ``(α_l/2) s_t^{−ρα_l} ε^{−ρα_l}`` while eq. 12 gives ``β_l = (2/α_l) s_t^{ρ(α_l−1)} ε^{ρα_l}``; we take
  the reciprocal of eq. 12 (with the measure constant of :mod:`sgdnoise.theory.battash`).
* :func:`battash_convergence_bound` — Lemma 3.1, ``‖Y_t − W*‖² ≤ (2Ũ/μ) e^{−2μt}``.
* :func:`battash_second_moment` — Lemma 3.3, eq. 10: ``E[Z^l Z^j]`` of the displacement between large
  jumps, the ``M`` that Prop. 3.4's curvature term takes.
* :func:`battash_covariance_row_sums` — Prop. 3.4, eq. 11: ``1ᵀλ_l`` from per-sample gradients at
  the minimum (the data term, which is exactly ``(Σ·1)_l`` of eq. 2) plus the curvature term
  ``Σ_{j,m,p} h̄_{l,m,p,j} E[Z^m Z^p]`` from per-sample Hessians and the second moment of the
  displacement (Lemma 3.3 gives that moment; any ``M = E[Z Zᵀ]`` may be passed).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from sgdnoise.errors import InvalidInputError
from sgdnoise.theory._inputs import as_tensors, check_alpha, check_interval, check_positive
from sgdnoise.theory.battash import LevyMeasure, battash_jump_intensity


def battash_epsilon(alpha: Any, lr: Any) -> Any:
    """``ε = η^{(α−1)/α}`` (Battash et al. eq. 1), elementwise: one ε per parameter when α is per parameter."""
    kind, t = as_tensors(alpha=alpha, lr=lr)
    check_alpha(t["alpha"])
    check_positive(t["lr"], "lr")
    return kind.restore(t["lr"].pow((t["alpha"] - 1.0) / t["alpha"]))


def battash_relaxation_time(
    alpha: Any, eps: Any, lower: Any, upper: Any, hessian_diag: Any, *, zeta: float, schedule_value: Any = 1.0
) -> Any:
    """Eq. 14 for a quadratic coordinate: the time the deterministic flow needs from ``d_l^±`` to the
    ``ε̄_l^ζ``-neighbourhood of the minimum, ``max(ln(−d^−/ε̄^ζ), ln(d^+/ε̄^ζ)) / h_ll``.

    ``ε̄_l = s_t^{(α_l−1)/α_l} ε`` (``schedule_value`` is ``s_t``). A start already inside the
    neighbourhood (``ε̄^ζ ≥ |d|``) needs no time: that side contributes 0. ``h_ll ≤ 0`` (no restoring
    drift along l) gives ``+inf``. Elementwise; ``zeta > 0``.
    """
    if not (isinstance(zeta, (int, float)) and zeta > 0):
        raise InvalidInputError(f"zeta (exponent of the neighbourhood ε̄^ζ) must be a number > 0; got {zeta!r}")
    kind, t = as_tensors(
        alpha=alpha, eps=eps, lower=lower, upper=upper, hessian_diag=hessian_diag, schedule_value=schedule_value
    )
    a, e, h, s = t["alpha"], t["eps"], t["hessian_diag"], t["schedule_value"]
    check_alpha(a)
    check_positive(e, "eps")
    check_positive(s, "schedule_value")
    check_interval(t["lower"], t["upper"])
    radius = (s.pow((a - 1.0) / a) * e).pow(zeta)
    log_ratio = torch.maximum((-t["lower"] / radius).log(), (t["upper"] / radius).log()).clamp(min=0.0)
    time = torch.where(h > 0, log_ratio / h.clamp(min=torch.finfo(h.dtype).tiny), torch.full_like(h, float("inf")))
    return kind.restore(time)


def battash_time_between_large_jumps(
    alpha: Any, eps: Any, *, rho: float, schedule_value: Any = 1.0, levy_measure: LevyMeasure = "sas"
) -> Any:
    """Eq. 15: mean interval between large jumps of parameter l, ``E S^l = 1/β_l(t)`` with β_l of eq. 12
    (``+inf`` at α = 2 with the ``"sas"`` measure: Brownian motion has no jumps)."""
    beta = battash_jump_intensity(alpha, eps, rho=rho, schedule_value=schedule_value, levy_measure=levy_measure)
    with np.errstate(divide="ignore"):
        return 1.0 / beta


def battash_convergence_bound(loss_gap: Any, mu: Any, t: Any) -> Any:
    """Lemma 3.1: ``‖Y_t − W*‖² ≤ (2Ũ/μ) e^{−2μt}`` for the gradient flow from a point with
    ``Ũ = U(w) − U(W*) ≥ 0`` (``loss_gap``) in a μ-strongly convex basin (``mu > 0``). Elementwise."""
    kind, v = as_tensors(loss_gap=loss_gap, mu=mu, t=t)
    check_positive(v["mu"], "mu")
    if not torch.all(v["loss_gap"] >= 0) or not torch.all(v["t"] >= 0):
        raise InvalidInputError("loss_gap (U(w) − U(W*)) and t must be ≥ 0")
    return kind.restore(2.0 * v["loss_gap"] / v["mu"] * torch.exp(-2.0 * v["mu"] * v["t"]))


def battash_second_moment(
    t: float, start: Any, alpha: Any, eps: Any, hessian_diag: Any, *, rho: float, schedule_value: float = 1.0
) -> Any:
    """Lemma 3.3 (eq. 10): the second moment ``M_{lj} = E[Z^l_t Z^j_t]`` of the displacement from W*
    at time ``t`` after a large jump, between large jumps, ``(P, P)``.

    ``M_{lj} ≈ w_l w_j e^{−(h_ll+h_jj)t} + A_{jl}(t) + A_{lj}(t)`` with
    ``A_{lj}(t) = ε̄_l w_j e^{−h_jj t} μ^l (2t + (1 − e^{−h_ll t})/h_ll)``,
    ``μ^l = 2t (ε̄_l^{−ρ(1−α_l)} − 1)/(1 − α_l)`` and ``ε̄_l = s_t^{(α_l−1)/α_l} ε_l``, all as printed
    (``μ^l`` at α_l = 1 is its limit ``−2tρ ln ε̄_l``).

    t : time ≥ 0 since the jump (SDE time). start : ``(P,)`` the displacement ``w`` right after it.
    alpha, eps, hessian_diag : ``(P,)`` or scalars, α ∈ (0, 2], ε > 0, ``h_ll > 0``.
    rho : ρ ∈ (0, 1). schedule_value : ``s_t`` > 0. Forms a ``P × P`` matrix: small P only.
    """
    if not (isinstance(t, (int, float)) and t >= 0):
        raise InvalidInputError(f"t (time since the large jump) must be a number ≥ 0; got {t!r}")
    if not 0 < rho < 1:
        raise InvalidInputError(f"rho must lie in (0, 1); got {rho}")
    kind, v = as_tensors(start=start, alpha=alpha, eps=eps, hessian_diag=hessian_diag, schedule_value=schedule_value)
    w = v["start"].reshape(-1)
    p = w.numel()
    a, e, h = (v[k].expand(p) if v[k].numel() == 1 else v[k].reshape(-1) for k in ("alpha", "eps", "hessian_diag"))
    if not (a.numel() == e.numel() == h.numel() == p):
        raise InvalidInputError(f"alpha, eps and hessian_diag must be scalars or have one value per parameter ({p})")
    check_alpha(a)
    check_positive(e, "eps")
    check_positive(h, "hessian_diag")
    check_positive(v["schedule_value"], "schedule_value")
    eps_bar = v["schedule_value"].pow((a - 1.0) / a) * e
    one_minus = 1.0 - a
    near_one = one_minus.abs() < 1e-12
    mu = (
        2.0
        * t
        * torch.where(
            near_one,
            -rho * eps_bar.log(),
            (eps_bar.pow(-rho * one_minus) - 1.0) / torch.where(near_one, torch.ones_like(a), one_minus),
        )
    )
    decay = torch.exp(-h * t)  # (P,)
    growth = 2.0 * t + (1.0 - decay) / h  # (P,)
    a_lj = (eps_bar * mu * growth)[:, None] * (w * decay)[None, :]  # A_{lj}: row l, column j
    m = torch.outer(w * decay, w * decay) + a_lj + a_lj.T
    return kind.restore(m)


def battash_covariance_row_sums(
    sample_gradients: torch.Tensor,
    batch_size: int,
    *,
    sample_hessians: torch.Tensor | None = None,
    second_moment: torch.Tensor | None = None,
    without_replacement: bool = False,
) -> torch.Tensor:
    """Prop. 3.4 (eq. 11): the row sums ``1ᵀλ_l`` of the noise covariance near the minimum, ``(P,)``.

    sample_gradients : ``(D, P)`` per-sample gradients ``∇U_i(W*)`` over the D training points.
    batch_size : B of the mini-batches.
    sample_hessians : ``(D, P, P)`` per-sample Hessians ``H_i`` at W* (small P only), or None.
    second_moment : ``(P, P)`` ``M = E[Z Zᵀ]`` of the displacement from W* (Lemma 3.3), with
        ``sample_hessians``.
    without_replacement : multiply by ``(D − B)/(D − 1)`` (batches of distinct points).

    Data term: ``(1/B)[(1/D) Σ_i g_{il} Σ_j g_{ij} − ḡ_l Σ_j ḡ_j]`` — eq. 2's ``(Σ 1)_l``. Curvature
    term (eq. 11's ``Σ_{j,m,p} h̄_{l,m,p,j} E[Z^m Z^p]``, with eq. 11's batch average read as the
    average over the data and the ``1/B`` of eq. 2 kept): ``(1/B)[(1/D) Σ_i (H_i M H_i 1)_l − (H M H 1)_l]``,
    ``H`` the full-data Hessian — the covariance of the first-order gradient change ``H_i Z``. Cross
    terms between ``g_i`` and ``H_i Z`` are not in eq. 11 and are not added.
    """
    if not isinstance(sample_gradients, torch.Tensor) or sample_gradients.ndim != 2:
        raise InvalidInputError("sample_gradients must be a (D, P) tensor of per-sample gradients")
    d, p = sample_gradients.shape
    if not (isinstance(batch_size, int) and 1 <= batch_size <= d) or d < 2:
        raise InvalidInputError(f"batch_size must be an int in [1, D={d}] and D ≥ 2; got {batch_size!r}")
    weight = 1.0 / batch_size * ((d - batch_size) / (d - 1) if without_replacement else 1.0)
    centred = sample_gradients - sample_gradients.mean(0)
    rows = weight * (centred.T @ centred.sum(1)) / d
    if (sample_hessians is None) != (second_moment is None):
        raise InvalidInputError("pass sample_hessians and second_moment together (or neither)")
    if sample_hessians is not None:
        if sample_hessians.shape != (d, p, p) or second_moment.shape != (p, p):
            raise InvalidInputError(
                f"sample_hessians must be (D, P, P) = ({d}, {p}, {p}) and second_moment (P, P); got "
                f"{tuple(sample_hessians.shape)} and {tuple(second_moment.shape)}"
            )
        h_bar = sample_hessians.mean(0)
        ones = torch.ones(p, dtype=sample_gradients.dtype, device=sample_gradients.device)
        per_sample = (sample_hessians @ (second_moment @ (sample_hessians @ ones).T).T.unsqueeze(-1)).squeeze(-1)
        rows = rows + weight * (per_sample.mean(0) - h_bar @ (second_moment @ (h_bar @ ones)))
    return rows
