"""Tail series of the standard α-stable law (Zolotarev 1986, §2.4; Nolan 2020, §3.5).

For the standard law in Nolan's S1 parameterisation, ``E e^{iuX} = exp(−|u|^α (1 − iβ tan(πα/2) sign u))``
(α ≠ 1; the S0 variable is ``X − β tan(πα/2)``, :mod:`sgdnoise.stable.s0`), write
``1 − iβ tan(πα/2) = c·e^{−iαθ₀}`` with ``c = (1 + β² tan²(πα/2))^{1/2}`` and
``αθ₀ = arctan(β tan(πα/2))``. Expanding ``exp(−c u^α e^{−iαθ₀})`` in the inversion integral
term by term gives, for x > 0,

    f(x)     ≈ (1/π) Σ_k (−1)^{k+1} c^k Γ(αk + 1)/k! · sin(k(απ/2 + αθ₀)) · x^{−αk−1},
    P(X > x) ≈ (1/π) Σ_k (−1)^{k+1} c^k Γ(αk)/k!     · sin(k(απ/2 + αθ₀)) · x^{−αk},

convergent for α < 1 and asymptotic (x → ∞) for α > 1. The first term is the Pareto tail
``α c_α (1 + β) x^{−α−1}``, ``c_α = Γ(α) sin(πα/2)/π``. β = 0 gives the symmetric series (S0 = S1).
The left tail follows from ``f(−x; β) = f(x; −β)``. Near α = 1 with β ≠ 0 the coefficients grow
like ``c^k ~ |tan(πα/2)|^k`` and the series needs ``x ≫ c^{1/α}``: callers check ``rel_err``.
"""

from __future__ import annotations

import math

import torch

SERIES_TERMS = 6


def tail_series(
    alpha: torch.Tensor, x: torch.Tensor, beta: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Tail series (module docstring) of the standard S1 pdf and survival function at ``x > 0``.

    Returns ``(pdf, sf, rel_err)``: the sums of the first :data:`SERIES_TERMS` terms and the size
    of the next pdf term relative to the pdf sum (NaN or large where the series is not usable).
    ``alpha`` and ``beta`` (default 0: the symmetric law) broadcast against ``x``.
    """
    k = torch.arange(1, SERIES_TERMS + 2, dtype=x.dtype, device=x.device)
    a = alpha.to(x.dtype)[..., None]
    ak = a * k
    sign = torch.where(k % 2 == 1, 1.0, -1.0)
    angle = ak * (math.pi / 2)
    log_c = torch.zeros((), dtype=x.dtype, device=x.device)
    if beta is not None:
        bt = beta.to(x.dtype)[..., None] * torch.tan(a * (math.pi / 2))
        angle = angle + k * torch.atan(bt)
        log_c = 0.5 * torch.log1p(bt**2)
    coef = sign * torch.exp(torch.lgamma(ak + 1) - torch.lgamma(k + 1) + k * log_c) * torch.sin(angle) / math.pi
    log_x = torch.log(x)[..., None]
    pdf_terms = coef * torch.exp(-(ak + 1) * log_x)
    pdf = pdf_terms[..., :-1].sum(-1)
    sf = (coef / ak * torch.exp(-ak * log_x))[..., :-1].sum(-1)
    rel_err = pdf_terms[..., -1].abs() / pdf.abs()
    return pdf, sf, rel_err
