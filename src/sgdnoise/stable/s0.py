"""The general α-stable law S(α, β, σ, μ) in Nolan's S0 parameterisation, and its S1 twin.

**S0** (Nolan 2020, Def. 1.7; the parameterisation of every ``stable_*`` function and of
:func:`sgdnoise.stable.fit_stable`): X ~ S(α, β, σ, μ; 0) when, for α ≠ 1,

    E e^{iuX} = exp(−σ^α|u|^α [1 + iβ tan(πα/2) sign(u) (|σu|^{1−α} − 1)] + iμu),

and for α = 1

    E e^{iuX} = exp(−σ|u| [1 + iβ (2/π) sign(u) log(σ|u|)] + iμu),

with α ∈ (0, 2], β ∈ [−1, 1], σ > 0. Written with the skew function
``ω(v, α) = tan(πα/2)(v^{1−α} − 1)`` (α ≠ 1), ``ω(v, 1) = (2/π) log v`` — the limit of the
former as α → 1 — both cases read ``log E e^{iuX} = −(σ|u|)^α [1 + iβ sign(u) ω(σ|u|, α)] + iμu``.
Properties that make S0 the working parameterisation:

- it is a location-scale family: ``X = σ Z + μ`` with Z ~ S(α, β, 1, 0; 0), so
  ``f(x) = f_Z((x − μ)/σ)/σ``;
- the law is continuous in (α, β), also across α = 1 (ω is), and its mode stays near μ;
- β = 0 is exactly the package's SαS convention ``E e^{iuX} = exp(iuμ − σ^α|u|^α)`` (the
  skew term vanishes), and α = 2 is the Gaussian of variance 2σ² whatever β (tan π = 0);
- ``f(x; α, β) = f(−x; α, −β)`` for the standard law (reflection).

**S1** (Nolan's S(α, β, σ, μ₁; 1), scipy's default ``levy_stable`` parameterisation) differs only
in the location: ``μ₁ = μ₀ − βσ tan(πα/2)`` (α ≠ 1) and ``μ₁ = μ₀ − β(2/π)σ log σ`` (α = 1).
S1 is discontinuous at α = 1 (μ₁ − μ₀ grows without bound as α → 1 with β ≠ 0), which is why
the tables and fits work in S0. With σ = 1 the standard laws are linked by
``Z₀ = Z₁ − β tan(πα/2)``: for α < 1 and β = 1 the support of Z₀ is ``[−tan(πα/2), ∞)``.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from sgdnoise.arrays import ArrayKind, array_kind, to_tensor
from sgdnoise.errors import InvalidInputError

# Below this distance from α = 1, tan(πα/2)(v^{1−α} − 1) loses digits to rounding; its α = 1
# limit (2/π) log v is then closer than the rounding error (the difference is O(|α − 1| log² v)).
ALPHA_ONE_TOL = 1e-8


def check_beta(beta: torch.Tensor) -> None:
    """Raise :class:`InvalidInputError` unless every β lies in [−1, 1] (NaN included)."""
    ok = (beta >= -1) & (beta <= 1)
    if not bool(ok.all()):
        bad = beta[~ok].flatten()[:3].tolist()
        raise InvalidInputError(f"beta must lie in [-1, 1]; got {bad}. Use beta=0 for a symmetric law.")


def skew_function(v: torch.Tensor, alpha: torch.Tensor | float) -> torch.Tensor:
    """``ω(v, α) = tan(πα/2)(v^{1−α} − 1)`` for v > 0, continued by ``(2/π) log v`` at α = 1.

    Computed as ``tan(πα/2)·expm1((1 − α) log v)``, accurate for |α − 1| > 1e-8; closer to 1
    the α = 1 limit is used. ``alpha`` broadcasts against ``v``.
    """
    a = torch.as_tensor(alpha, dtype=v.dtype, device=v.device)
    log_v = torch.log(v)
    general = torch.tan(a * (math.pi / 2)) * torch.expm1((1 - a) * log_v)
    return torch.where((a - 1).abs() < ALPHA_ONE_TOL, (2 / math.pi) * log_v, general)


def _location_shift(alpha: torch.Tensor, beta: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``μ₀ − μ₁``: ``βσ tan(πα/2)`` for α ≠ 1 and ``β(2/π)σ log σ`` for α = 1."""
    at_one = alpha == 1
    tan = torch.tan(torch.where(at_one, 0.0, alpha) * (math.pi / 2))
    return torch.where(at_one, beta * (2 / math.pi) * scale * torch.log(scale), beta * scale * tan)


def _parameters(kind: ArrayKind, alpha: Any, beta: Any, scale: Any, loc: Any) -> tuple[torch.Tensor, ...]:
    """Validated tensors of ``kind``: α ∈ (0, 2], β ∈ [−1, 1], scale finite and > 0, loc finite."""
    a, b, s, m = (
        to_tensor(v, kind, name=n) for v, n in ((alpha, "alpha"), (beta, "beta"), (scale, "scale"), (loc, "loc"))
    )
    if not bool(((a > 0) & (a <= 2)).all()):
        raise InvalidInputError("alpha must lie in (0, 2]")
    check_beta(b)
    if not bool((torch.isfinite(s) & (s > 0)).all()):
        raise InvalidInputError("scale must be finite and > 0")
    if not bool(torch.isfinite(m).all()):
        raise InvalidInputError("loc must be finite")
    return a, b, s, m


def _convert(alpha: Any, beta: Any, scale: Any, loc: Any, sign: float) -> Any:
    kind = array_kind(alpha, beta, scale, loc)
    a, b, s, m = _parameters(kind, alpha, beta, scale, loc)
    return kind.restore(m + sign * _location_shift(a, b, s))


def s0_to_s1(alpha: Any, beta: Any, scale: Any, loc: Any) -> Any:
    """S1 location ``μ₁`` of the law S(α, β, scale, loc; 0): ``loc − β·scale·tan(πα/2)`` (α ≠ 1),
    ``loc − β(2/π)·scale·log(scale)`` (α = 1). α, β and the scale are the same in both.

    For scipy: ``levy_stable.pdf(x, a, b, loc=s0_to_s1(a, b, s, m), scale=s)`` (default S1) is the
    density of S(a, b, s, m; 0). Arguments broadcast; NumPy or torch in, the same kind out.
    """
    return _convert(alpha, beta, scale, loc, -1.0)


def s1_to_s0(alpha: Any, beta: Any, scale: Any, loc: Any) -> Any:
    """S0 location ``μ₀`` of the law S(α, β, scale, loc; 1); the inverse of :func:`s0_to_s1`."""
    return _convert(alpha, beta, scale, loc, 1.0)


def stable_cf(u: Any, alpha: Any, beta: Any = 0.0, scale: Any = 1.0, loc: Any = 0.0) -> Any:
    """Characteristic function ``E e^{iuX}`` of S(α, β, scale, loc; 0) at ``u`` (module docstring).

    Arguments broadcast; the result is complex (``complex128`` for NumPy input, the complex
    counterpart of a float tensor's dtype for torch input).
    """
    kind = array_kind(u, alpha, beta, scale, loc)
    ut = to_tensor(u, kind, name="u")
    a, b, s, m = _parameters(kind, alpha, beta, scale, loc)
    v = (s * ut).abs()
    safe_v = torch.where(v > 0, v, 1.0)  # ω(0) is irrelevant: it is multiplied by 0^α = 0
    log_cf = torch.complex(-(v**a), -(v**a) * b * torch.sign(ut) * skew_function(safe_v, a) + m * ut)
    return kind.restore(torch.exp(log_cf))
