"""Sampling α-stable variables (symmetric and skewed) and SαS Lévy-process increments.

Symmetric convention (as ``scipy.stats.levy_stable`` with β = 0): ``E exp(iuX) = exp(−scale^α |u|^α)``,
0 < α ≤ 2; α = 2 is the Gaussian with variance ``2·scale²``. Skewed laws are in Nolan's S0
parameterisation (:mod:`sgdnoise.stable.s0`), which reduces to the symmetric one at β = 0.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from sgdnoise.arrays import array_kind, to_tensor
from sgdnoise.errors import InvalidInputError
from sgdnoise.rng import Seed, as_generator
from sgdnoise.stable.s0 import ALPHA_ONE_TOL, check_beta


def _check_alpha(alpha: torch.Tensor) -> None:
    if not torch.all((alpha > 0) & (alpha <= 2)):
        bad = alpha[~((alpha > 0) & (alpha <= 2))].flatten()[:3].tolist()
        raise InvalidInputError(f"alpha must lie in (0, 2]; got {bad}. Use alpha=2 for Gaussian noise.")


def _check_positive(value: torch.Tensor, name: str) -> None:
    if not torch.all(torch.isfinite(value) & (value > 0)):
        raise InvalidInputError(f"{name} must be finite and > 0; got {value.flatten()[:3].tolist()}")


def standard_sas(alpha: torch.Tensor, size: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """Chambers–Mallows–Stuck draws of standard SαS (scale 1), tensor in, tensor out
    (:func:`cms_transform` of ``U ~ U[0, 1)`` and ``W = −log(1 − U′) ~ Exp(1)``).

    ``alpha`` must broadcast to ``size``; the result has ``alpha``'s dtype and device.
    """
    opts = dict(dtype=alpha.dtype, device=alpha.device, generator=generator)
    u = torch.rand(size, **opts)
    w = torch.rand(size, **opts).neg_().log1p_().neg_()
    return cms_transform(alpha, u, w)


def cms_transform(alpha: torch.Tensor | float, u: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Standard SαS (``E e^{iuX} = e^{−|u|^α}``) from uniforms ``u ∈ [0, 1)`` and ``w ~ Exp(1)``,
    computed in place in their memory (both are overwritten).

    With ``V = π(U − ½)``, ``X = sin(αV)/cos(V)^{1/α} · (cos((1−α)V)/W)^{(1−α)/α}`` (Chambers,
    Mallows & Stuck 1976, β = 0). The formula is continuous at α = 1 (``tan V``, Cauchy) and exact
    at α = 2 (``2 sin(V) √W``, a Gaussian of variance 2), so no case needs special treatment.
    ``alpha`` broadcasts against ``u`` (a float when every element shares it, the cheapest case).
    """
    # U is kept off 0: at V = −π/2 a float32 cos(V) rounds to a tiny negative number (log → NaN)
    v = u.clamp_(min=torch.finfo(u.dtype).eps).sub_(0.5).mul_(math.pi)
    log_ratio = torch.mul(v, 1.0 - alpha).cos_().log_().sub_(w.log_())  # log(cos((1−α)V)/W)
    log_mag = torch.cos(v, out=w).log_().mul_(-1.0 / alpha)  # −log cos(V)/α, in W's memory
    if isinstance(alpha, float):
        log_mag.add_(log_ratio, alpha=(1.0 - alpha) / alpha)
    else:
        log_mag.add_(log_ratio.mul_((1.0 - alpha) / alpha))
    return v.mul_(alpha).sin_().mul_(log_mag.exp_())


def sample_sas(
    alpha: Any,
    scale: Any = 1.0,
    size: tuple[int, ...] | int | None = None,
    seed: Seed = None,
) -> Any:
    """Draw SαS samples, one α (and scale) per element allowed.

    Parameters
    ----------
    alpha : float, array or tensor in (0, 2]
        Tail index, broadcast against ``size`` (e.g. shape ``(P, 1)`` with ``size=(P, K)`` gives
        K draws for each of P parameters).
    scale : float, array or tensor > 0
        ``scale`` in ``E exp(iuX) = exp(−scale^α|u|^α)``; broadcast like ``alpha``.
    size : output shape; default the broadcast shape of ``alpha`` and ``scale``.
    seed : int, ``torch.Generator`` or None.

    Returns
    -------
    Array of shape ``size``: a tensor (dtype and device of the first tensor argument) if
    ``alpha`` or ``scale`` is a tensor, else a NumPy array (float32 if ``alpha`` or ``scale``
    is a float32 array, float64 otherwise).
    """
    kind = array_kind(alpha, scale)
    a = to_tensor(alpha, kind, name="alpha")
    s = to_tensor(scale, kind, name="scale")
    _check_alpha(a)
    _check_positive(s, "scale")
    shape = (
        torch.broadcast_shapes(a.shape, s.shape)
        if size is None
        else ((size,) if isinstance(size, int) else tuple(size))
    )
    try:
        torch.broadcast_shapes(a.shape, s.shape, shape)
    except RuntimeError as exc:
        raise InvalidInputError(
            f"alpha {tuple(a.shape)} and scale {tuple(s.shape)} do not broadcast to size {shape}"
        ) from exc
    gen = as_generator(seed, kind.device)
    x = standard_sas(a, shape, gen).mul_(s)
    return kind.restore(x)


def stable_transform(alpha: torch.Tensor, beta: torch.Tensor, u: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Standard S0 variables S(α, β, 1, 0; 0) from uniforms ``u ∈ [0, 1)`` and ``w ~ Exp(1)``.

    Chambers, Mallows & Stuck (1976) in the form of Weron (1996, with his correction of the
    α = 1 case). With ``V = π(U − ½)``, for α ≠ 1, ``B = arctan(β tan(πα/2))/α`` and
    ``S = (1 + β² tan²(πα/2))^{1/(2α)}``, the S1 variable

        X₁ = S · sin(α(V + B)) / cos(V)^{1/α} · (cos(V − α(V + B)) / W)^{(1−α)/α}

    is shifted to S0 by ``X₀ = X₁ − β tan(πα/2)`` (:mod:`sgdnoise.stable.s0`); for α = 1 (where S0
    and S1 coincide at scale 1)

        X = (2/π) [(π/2 + βV) tan V − β log((π/2) W cos V / (π/2 + βV))].

    At β = 0 both reduce to :func:`cms_transform`. The shift cancels the large S1 values near
    α = 1 to within ``ε·tan(πα/2)``, so the arithmetic is in float64 and the α = 1 formula is used
    for |α − 1| ≤ 1e-8, where it is closer to the law than that rounding (the law is continuous in
    α). Arguments broadcast; float64 result.
    """
    a, b = alpha.to(torch.float64), beta.to(torch.float64)
    v = (u.to(torch.float64).clamp(min=torch.finfo(u.dtype).eps) - 0.5) * math.pi
    log_w = torch.log(w.to(torch.float64))
    near_one = (a - 1).abs() <= ALPHA_ONE_TOL
    a_gen = torch.where(near_one, 0.5, a)  # any α ≠ 1 keeps the unused branch finite
    tan = torch.tan(a_gen * (math.pi / 2))
    shift = torch.atan(b * tan)  # α·B
    arg = a_gen * v + shift  # α(V + B)
    log_mag = (
        torch.log1p((b * tan) ** 2) / (2 * a_gen)
        - torch.log(torch.cos(v)) / a_gen
        + (1 - a_gen) / a_gen * (torch.log(torch.cos(v - arg)) - log_w)
    )
    general = torch.sin(arg) * torch.exp(log_mag) - b * tan
    c = math.pi / 2 + b * v
    at_one = (2 / math.pi) * (c * torch.tan(v) - b * (math.log(math.pi / 2) + log_w + torch.log(torch.cos(v) / c)))
    return torch.where(near_one, at_one, general)


def sample_stable(
    alpha: Any,
    beta: Any = 0.0,
    scale: Any = 1.0,
    loc: Any = 0.0,
    size: tuple[int, ...] | int | None = None,
    seed: Seed = None,
) -> Any:
    """Draw S(α, β, scale, loc; 0) samples (:mod:`sgdnoise.stable.s0`), one law per element allowed.

    Parameters
    ----------
    alpha : float, array or tensor in (0, 2]; beta in [−1, 1]; scale > 0; loc
        Broadcast against ``size`` (e.g. shape ``(P, 1)`` with ``size=(P, K)`` gives K draws for
        each of P laws).
    size : output shape; default the broadcast shape of the parameters.
    seed : int, ``torch.Generator`` or None.

    Returns
    -------
    Array of shape ``size``, the kind, dtype and device of the first tensor argument (else NumPy,
    float32 if a parameter is a float32 array, float64 otherwise). The uniforms are drawn as in
    :func:`sample_sas`, so with β = 0 the draws equal ``sample_sas`` with the same seed (up to
    rounding) plus ``loc``. Generated by :func:`stable_transform`.
    """
    kind = array_kind(alpha, beta, scale, loc)
    a, b, s, m = (
        to_tensor(v, kind, name=n) for v, n in ((alpha, "alpha"), (beta, "beta"), (scale, "scale"), (loc, "loc"))
    )
    _check_alpha(a)
    check_beta(b)
    _check_positive(s, "scale")
    if not bool(torch.isfinite(m).all()):
        raise InvalidInputError("loc must be finite")
    params = torch.broadcast_shapes(a.shape, b.shape, s.shape, m.shape)
    shape = params if size is None else ((size,) if isinstance(size, int) else tuple(size))
    try:
        torch.broadcast_shapes(params, shape)
    except RuntimeError as exc:
        raise InvalidInputError(
            f"alpha {tuple(a.shape)}, beta {tuple(b.shape)}, scale {tuple(s.shape)} and loc {tuple(m.shape)} "
            f"do not broadcast to size {shape}"
        ) from exc
    gen = as_generator(seed, kind.device)
    opts = dict(dtype=kind.dtype, device=kind.device, generator=gen)
    u = torch.rand(shape, **opts)
    w = torch.rand(shape, **opts).neg_().log1p_().neg_()
    x = stable_transform(a, b, u, w) * s.to(torch.float64) + m.to(torch.float64)
    return kind.restore(x.expand(shape))


def levy_increments(
    alpha: Any,
    dt: float,
    scale: Any = 1.0,
    size: tuple[int, ...] | int | None = None,
    seed: Seed = None,
) -> Any:
    """Increments ``L_{t+dt} − L_t`` of a symmetric α-stable Lévy process.

    By self-similarity the increment over ``dt`` is ``scale · dt^{1/α} · S_α`` with ``S_α``
    standard SαS; ``dt`` must be > 0. Same argument conventions as :func:`sample_sas`.
    """
    if not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0):
        raise InvalidInputError(f"dt must be a finite number > 0; got {dt!r}")
    kind = array_kind(alpha, scale)
    a = to_tensor(alpha, kind, name="alpha")
    _check_alpha(a)
    effective_scale = kind.restore(to_tensor(scale, kind, name="scale") * dt ** (1.0 / a))
    return sample_sas(alpha, effective_scale, size, seed)
