"""Kramers-type (Gaussian-noise) escape times, as used by Xie, Sato & Sugiyama (2021); papers.md §8.

White-noise gradient descent ``dθ = −∇L dt + √(2D) dW`` leaves the minimum a over the saddle b
after a mean time (Kramers 1940; Xie et al. eq. for GD)

    τ = 2π √(|det H_b| / det H_a) · (1/|H_be|) · exp(ΔL / D),

``H_be`` the one negative Hessian eigenvalue at the saddle (the escape direction e). For SGD,
Xie et al. take ``Σ ≈ H/B``, i.e. a direction-dependent diffusion ``D = ηH/(2B)``, and obtain

    τ = 2π (1/|H_be|) exp[(2BΔL/η)(s/H_ae + (1−s)/|H_be|)],   s ∈ (0, 1),

so ``log τ`` is linear in B/η and in 1/H_ae. Times are in the SDE's time (iterations × η).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from sgdnoise.arrays import array_kind
from sgdnoise.theory._inputs import as_tensors, check_positive, check_unit_interval, saddle_eigenvalues


def kramers_escape_time(barrier: Any, hessian_min: Any, hessian_saddle: Any, diffusion: Any) -> Any:
    """Kramers' mean escape time of ``dθ = −∇L dt + √(2D) dW`` over a saddle (papers.md §8).

    Parameters
    ----------
    barrier : ΔL = L(saddle) − L(minimum) > 0, shape (...).
    hessian_min : (..., n) Hessian eigenvalues at the minimum, all > 0 (a scalar for 1-D).
    hessian_saddle : (..., n) eigenvalues at the saddle, exactly one < 0 (the escape direction).
    diffusion : D > 0 (temperature), shape (...).

    Returns ``2π √(|det H_b|/det H_a) exp(ΔL/D) / |H_be|`` with shape (...). In 1-D this is
    ``2π exp(ΔL/D) / √(L''(a)|L''(b)|)``. Valid for ΔL/D ≫ 1.
    """
    kind = array_kind(barrier, hessian_min, hessian_saddle, diffusion)
    h_a, h_b, h_escape = saddle_eigenvalues(hessian_min, hessian_saddle, kind)
    _, t = as_tensors(barrier=barrier, diffusion=diffusion)
    check_positive(t["barrier"], "barrier")
    check_positive(t["diffusion"], "diffusion")
    log_det_ratio = h_b.abs().log().sum(dim=-1) - h_a.log().sum(dim=-1)
    log_tau = math.log(2 * math.pi) + 0.5 * log_det_ratio - h_escape.log() + t["barrier"] / t["diffusion"]
    return kind.restore(torch.exp(log_tau))


def xie_sgd_escape_time(
    barrier: Any, hessian_min_escape: Any, hessian_saddle_escape: Any, lr: Any, batch: Any, s: float = 0.5
) -> Any:
    """SGD escape time of Xie et al. (2021) with Hessian-shaped noise ``D = ηH/(2B)`` (papers.md §8).

    ``τ = 2π (1/|H_be|) exp[(2BΔL/η)(s/H_ae + (1−s)/|H_be|)]``: ``hessian_min_escape`` = H_ae > 0
    and ``hessian_saddle_escape`` = H_be (its absolute value is used) are the curvatures along
    the escape direction at the minimum and at the saddle; ``s ∈ (0, 1)`` is the path parameter
    of their derivation. Elementwise over the broadcast inputs; SDE time units.
    """
    check_unit_interval(s, "s")
    kind, t = as_tensors(barrier=barrier, h_a=hessian_min_escape, h_b=hessian_saddle_escape, lr=lr, batch=batch)
    for name in ("barrier", "h_a", "lr", "batch"):
        check_positive(t[name], {"h_a": "hessian_min_escape"}.get(name, name))
    h_b = t["h_b"].abs()
    check_positive(h_b, "|hessian_saddle_escape|")
    exponent = 2 * t["batch"] * t["barrier"] / t["lr"] * (s / t["h_a"] + (1 - s) / h_b)
    return kind.restore(2 * math.pi / h_b * torch.exp(exponent))
