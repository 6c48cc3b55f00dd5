"""Log-loss-barrier escape of SGD under mean-square loss (Mori, Ziyin, Liu & Ueda 2022; papers.md §7).

Near a minimum of a mean-square loss the SGD noise is ``Σ(θ) ≈ (2L(θ)/B) H*``; after the time
change ``dτ = L dt`` the dynamics is ``dθ = −∇log L dτ + √(2ηH*/B) dW``. The escape rate then
depends on the *log* barrier ``log[L(θ^s)/L(θ*)]`` as a power law, with the magnitude h* and the
number n of outlier Hessian eigenvalues:

    κ = (|h^s_e|/2π) √(det Ĥ*/|det Ĥ^s|) · [L^s/L*]^{−(B/(ηh*) + 1 − n/2)},

which for n = 1 is ``κ = (1/2π) √(h*|h^s|) [L^s/L*]^{−(1/2 + B/(ηh*))}``. The stationary law is
``P(θ) ∝ L(θ)^{−φ}`` with ``φ = 1 + B/(ηh*)``, normalisable only while ``n < 2(B/(ηh*) + 1)``.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from sgdnoise.arrays import array_kind
from sgdnoise.errors import InvalidInputError
from sgdnoise.theory._inputs import as_tensors, check_positive, saddle_eigenvalues


def mori_escape_rate(
    loss_min: Any, loss_saddle: Any, hessian_min: Any, hessian_saddle: Any, lr: Any, batch: Any, h_star: Any = None
) -> Any:
    """Escape rate κ of SGD over a saddle with n outlier directions (Mori et al. 2022).

    Parameters
    ----------
    loss_min, loss_saddle : L* > 0 and L^s > L*, shape (...).
    hessian_min : (..., n) outlier eigenvalues Ĥ* at the minimum (> 0); a scalar for n = 1.
    hessian_saddle : (..., n) eigenvalues Ĥ^s at the saddle in the same directions, exactly one
        negative (h^s_e, the escape direction).
    lr, batch : η > 0 and B > 0, shape (...).
    h_star : typical outlier magnitude h*; default the mean of ``hessian_min`` over its last
        axis (exact for n = 1).

    Returns κ with shape (...), in the original time t (1/κ is the mean escape time).
    """
    kind = array_kind(loss_min, loss_saddle, hessian_min, hessian_saddle, lr, batch, h_star)
    h_a, h_b, h_escape = saddle_eigenvalues(hessian_min, hessian_saddle, kind)
    n = h_a.shape[-1]
    _, t = as_tensors(
        loss_min=loss_min,
        loss_saddle=loss_saddle,
        lr=lr,
        batch=batch,
        h_star=h_a.mean(dim=-1) if h_star is None else h_star,
    )
    check_positive(t["loss_min"], "loss_min")
    if not torch.all(t["loss_saddle"] > t["loss_min"]):
        raise InvalidInputError("loss_saddle must exceed loss_min (the saddle is above the minimum)")
    log_prefactor = h_escape.log() - math.log(2 * math.pi) + 0.5 * (h_a.log().sum(-1) - h_b.abs().log().sum(-1))
    exponent = _stationary_exponent(t) - n / 2.0
    log_barrier = torch.log(t["loss_saddle"] / t["loss_min"])
    return kind.restore(torch.exp(log_prefactor - exponent * log_barrier))


def mori_stationary_exponent(lr: Any, batch: Any, h_star: Any) -> Any:
    """Exponent φ of the stationary law ``P ∝ L^{−φ}``: ``φ = 1 + B/(ηh*)`` (Mori et al. 2022)."""
    kind, t = as_tensors(lr=lr, batch=batch, h_star=h_star)
    return kind.restore(_stationary_exponent(t))


def mori_stationary_normalisable(n_outliers: Any, lr: Any, batch: Any, h_star: Any) -> Any:
    """Whether ``L^{−φ}`` is normalisable around the minimum: ``n < 2(B/(ηh*) + 1)`` (boolean array)."""
    kind, t = as_tensors(n=n_outliers, lr=lr, batch=batch, h_star=h_star)
    phi = _stationary_exponent(t)
    check_positive(t["n"], "n_outliers")
    ok = t["n"] < 2.0 * phi
    return ok if kind.is_torch else ok.cpu().numpy()


def _stationary_exponent(t: dict[str, torch.Tensor]) -> torch.Tensor:
    """``φ = 1 + B/(ηh*)`` from the tensors ``lr``, ``batch`` and ``h_star`` of ``t``, each checked > 0:
    the exponent of the stationary law, of which the escape rate's power of the barrier is ``φ − n/2``."""
    for name in ("lr", "batch", "h_star"):
        check_positive(t[name], name)
    return 1.0 + t["batch"] / (t["lr"] * t["h_star"])
