"""The simple gradient noise scale ``B_simple = Tr Σ₁ / ‖G‖²`` (McCandlish et al. 2018, §2)
from K mini-batch gradients, per layer and for the whole model.

McCandlish et al. call ``Tr(HΣ₁)/GᵀHG`` the noise scale ``B_noise`` and ``B_simple = Tr Σ₁/‖G‖²``
its approximation for a Hessian proportional to the identity; ``B_simple`` is what they and
later work (e.g. k-diffusion's ``gns.py``) measure during training, and what the monitor logs.
``Σ₁`` is the per-sample gradient covariance and ``G = ∇U`` the full-data gradient.

Estimator. The K mini-batches ``Ω_k`` are independent uniform B-subsets of the D training points
(:func:`sgdnoise.gradients.collect_noise`), so ``g_k = (1/B)Σ_{ℓ∈Ω_k}∇U_ℓ`` has mean ``G`` and
covariance ``Σ_B = (Σ₁/B)·(D−B)/(D−1)`` (papers.md §1 eq. 2, without replacement). With ``v_i`` the
unbiased sample variance of entry i over the K batches and ``ḡ`` their mean,

    Tr Σ₁ ≈ S = B·(D−1)/(D−B) · Σ_i v_i                      (unbiased)
    ‖G‖²  ≈ |G|²_exact,  or  ‖ḡ‖² − (1/K)·Σ_i v_i              (unbiased: E‖ḡ‖² = ‖G‖² + Tr Σ_B/K)

and ``B_simple = S / ‖G‖²`` (McCandlish et al.'s Appendix A estimates the same two quantities
from a small and a large batch; here the K mini-batches are the small ones and their mean, or
the full gradient, the large one). With the exact full gradient the ratio is unbiased (its denominator
is exact); with the batch estimate it carries the ratio bias of order ``Var(‖G‖²_est)/‖G‖⁴``, which
grows when the noise dominates the gradient (late in training): there the denominator can come
out ≤ 0, and ``B_simple`` is reported as NaN — measure with more batches or the exact gradient.
"""

from __future__ import annotations

import torch

from sgdnoise.errors import InvalidInputError


def simple_noise_scale(
    var_sum: torch.Tensor,
    mean_norm_sq: torch.Tensor,
    *,
    batch_size: int,
    num_batches: int,
    num_points: int,
    exact_norm_sq: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(B_simple, Tr Σ₁, ‖G‖²)`` for each of ``L`` groups of entries (e.g. layers).

    var_sum : ``(L,)`` float64, ``Σ_i v_i`` over each group's entries (unbiased variances of the
        mini-batch gradient over the K batches).
    mean_norm_sq : ``(L,)`` float64, ``‖ḡ‖²`` of each group (mean of the K mini-batch gradients).
    exact_norm_sq : ``(L,)`` float64 ``‖∇U‖²`` when the full gradient was computed, else ``None``.
    batch_size, num_batches, num_points : ``B``, ``K`` (≥ 2) and ``D`` (> B).

    Groups whose ``‖G‖²`` estimate is ≤ 0 get ``B_simple = NaN``.
    """
    if num_batches < 2:
        raise InvalidInputError(f"the noise scale needs at least 2 mini-batches; got {num_batches}")
    if not 1 <= batch_size < num_points:
        raise InvalidInputError(
            f"the noise scale needs a batch size below the number of points; got B={batch_size}, D={num_points}"
        )
    var_sum = var_sum.to(torch.float64)
    trace_sigma = var_sum * (batch_size * (num_points - 1) / (num_points - batch_size))
    if exact_norm_sq is not None:
        norm_sq = exact_norm_sq.to(torch.float64)
    else:
        norm_sq = mean_norm_sq.to(torch.float64) - var_sum / num_batches
    b_simple = torch.where(norm_sq > 0, trace_sigma / norm_sq.clamp_min(torch.finfo(torch.float64).tiny), torch.nan)
    return b_simple, trace_sigma, norm_sq
