"""How the SGD noise covariance Σ lines up with the curvature H (papers.md §1, §5–§7).

Inputs are operators (:class:`~sgdnoise.curvature.operators.LinearOperator`) or dense
symmetric ``(D, D)`` tensors; covariances are PSD and enter through a factor ``F`` with
``Σ = FᵀF`` (exact for the low-rank :class:`~sgdnoise.curvature.operators.GramOperator` built
from gradient samples; by eigendecomposition for a dense matrix).

- Zhu et al. (2019): ``E[L(θ_t) − L₀] = ¼ Tr((I − e^{−2Ht})Σ) ≈ (t/2) Tr(HΣ)`` for
  ``dθ = −Hθ dt + Σ^{1/2} dW`` from the minimum; ``Tr(HΣ)`` vs the isotropic ``Tr H · Tr Σ / D``.
- Wang & Wu (2023): ``μ = Tr(Σ₁G) / (2L ‖G‖²_F)``, ``g(θ, v) = vᵀΣ₁v / (2L vᵀGv)``.
- McCandlish et al. (2018): ``B_simple = Tr Σ₁ / ‖∇L‖²``, ``B_noise = Tr(HΣ₁) / ∇Lᵀ H ∇L``.
- Mori et al. (2022): noise strength ``𝒩 = (1/n) Σ_j ‖∇ℓ_j‖² − ‖∇L‖² = Tr Σ₁`` and its ratio to L;
  outlier eigenvalues: count n and typical magnitude h* (rule in :func:`hessian_outliers`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

from sgdnoise.curvature.algorithms import EigenResult, TraceResult, hutchpp_trace, quadratic_forms
from sgdnoise.curvature.operators import DenseOperator, GramOperator, LinearOperator, noise_covariance
from sgdnoise.errors import InvalidInputError
from sgdnoise.rng import Seed, as_generator

Operand = LinearOperator | torch.Tensor


def _operator(a: Operand, name: str) -> LinearOperator:
    if isinstance(a, LinearOperator):
        return a
    if isinstance(a, torch.Tensor):
        return DenseOperator(a)
    raise InvalidInputError(f"{name} must be a LinearOperator or a (D, D) tensor; got {type(a).__name__}")


def covariance_factor(cov: GramOperator | torch.Tensor) -> torch.Tensor:
    """``F`` of shape ``(r, D)`` with ``cov = FᵀF``: the rows of a Gram operator, or ``√λ·u`` of a PSD matrix."""
    if isinstance(cov, GramOperator):
        return cov.factor()
    if not isinstance(cov, torch.Tensor):
        raise InvalidInputError(
            "a covariance must be a GramOperator (from gradient samples) or a dense PSD tensor; "
            f"got {type(cov).__name__}"
        )
    matrix = DenseOperator(cov).matrix
    lam, u = torch.linalg.eigh(matrix)
    if lam[0] < -1e-8 * lam[-1].abs().clamp_min(torch.finfo(lam.dtype).tiny):
        raise InvalidInputError(f"covariance is not positive semi-definite (smallest eigenvalue {float(lam[0]):.3g})")
    return (u * lam.clamp_min(0).sqrt()).T


def _check_same_dim(*ops: LinearOperator) -> None:
    if len({op.dim for op in ops}) != 1:
        raise InvalidInputError(f"operators must act on the same space; got dimensions {[op.dim for op in ops]}")


def trace_of_product(
    hessian: Operand,
    covariance: GramOperator | torch.Tensor,
    *,
    max_products: int | None = None,
    seed: Seed = 0,
    block_size: int = 32,
) -> tuple[float, float]:
    """``Tr(HΣ) = Σ_r f_rᵀ H f_r`` over the rows of Σ's factor, with a standard error.

    Exact (stderr 0) with one product per row. With more rows than ``max_products``, a uniform
    subsample of ``m = max_products`` rows without replacement: ``r·mean(f_rᵀHf_r)``, stderr
    ``r·std/√m·√(1 − m/r)`` (finite-population correction).
    """
    h = _operator(hessian, "hessian")
    factor = covariance_factor(covariance).to(dtype=h.dtype, device=h.device)
    if factor.shape[1] != h.dim:
        raise InvalidInputError(f"covariance has dimension {factor.shape[1]}, the Hessian {h.dim}")
    rows = factor.shape[0]
    if max_products is not None and max_products < rows:
        if max_products < 2:
            raise InvalidInputError(f"max_products must be >= 2 for a standard error; got {max_products}")
        pick = torch.randperm(rows, generator=as_generator(seed, "cpu"))[:max_products].to(factor.device)
        factor = factor[pick]
    forms = quadratic_forms(h, factor.T, block_size)
    m = forms.numel()
    if m == rows:
        return float(forms.sum()), 0.0
    return rows * float(forms.mean()), rows * float(forms.std()) / math.sqrt(m) * math.sqrt(1 - m / rows)


def _ratio_stderr(num: float, num_se: float, den: float, den_se: float) -> float:
    """Delta-method standard error of ``num/den`` for independent estimates."""
    return abs(num / den) * math.sqrt((num_se / num) ** 2 + (den_se / den) ** 2) if num and den else math.inf


@dataclass(frozen=True)
class NoiseAnisotropy:
    """Zhu et al.'s indicator ``Tr(HΣ)`` against the isotropic noise of equal ``Tr Σ``: ``Tr H·TrΣ/D``.

    ``ratio = Tr(HΣ) / (Tr H·TrΣ/D)``; > 1 means the noise is concentrated on sharp directions
    (escapes sharp minima faster than isotropic noise).
    """

    trace_h_sigma: float
    trace_h_sigma_stderr: float
    trace_h: float
    trace_h_stderr: float
    trace_sigma: float
    dim: int
    isotropic: float
    isotropic_stderr: float
    ratio: float
    ratio_stderr: float

    def to_dict(self) -> dict:
        return asdict(self)


def noise_anisotropy(
    hessian: Operand,
    covariance: GramOperator | torch.Tensor,
    *,
    trace_h: TraceResult | None = None,
    n_products: int = 99,
    max_products: int | None = None,
    seed: Seed = 0,
) -> NoiseAnisotropy:
    """Zhu's ``Tr(HΣ)``, its isotropic counterpart and their ratio, with standard errors.

    ``Tr H`` is exact for a dense Hessian, else taken from ``trace_h`` or estimated by Hutch++
    with ``n_products``. ``Tr(HΣ)`` as in :func:`trace_of_product`; ``Tr Σ`` is exact.
    """
    h = _operator(hessian, "hessian")
    if trace_h is None:
        trace_h = (
            TraceResult(float(h.matrix.trace()), 0.0, 0, 0, "exact")
            if isinstance(h, DenseOperator)
            else hutchpp_trace(h, n_products, seed=seed)
        )
    ths, ths_se = trace_of_product(h, covariance, max_products=max_products, seed=seed)
    tr_sigma = float(covariance_factor(covariance).square().sum())
    iso = trace_h.estimate * tr_sigma / h.dim
    iso_se = trace_h.stderr * tr_sigma / h.dim
    ratio = ths / iso if iso else math.inf
    return NoiseAnisotropy(
        ths,
        ths_se,
        trace_h.estimate,
        trace_h.stderr,
        tr_sigma,
        h.dim,
        iso,
        iso_se,
        ratio,
        _ratio_stderr(ths, ths_se, iso, iso_se),
    )


def zhu_loss_increase(hessian: torch.Tensor, covariance: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """``E[L(θ_t) − L₀] = ¼ Tr((I − e^{−2Ht}) Σ)`` for the OU process from the minimum (Zhu et al. 2019).

    ``hessian``, ``covariance`` dense ``(D, D)``; ``t`` a scalar or a tensor of times (result has its shape).
    With ``H = UΛUᵀ``: ``¼ Σ_i (1 − e^{−2λ_i t}) (UᵀΣU)_{ii}``.
    """
    h, s = _operator(hessian, "hessian").matrix, _operator(covariance, "covariance").matrix
    lam, u = torch.linalg.eigh(h)
    sigma_diag = torch.einsum("di,de,ei->i", u, s, u)
    times = torch.as_tensor(t, dtype=h.dtype, device=h.device)
    return 0.25 * ((1 - torch.exp(-2 * lam * times.unsqueeze(-1))) * sigma_diag).sum(-1)


@dataclass(frozen=True)
class AverageAlignment:
    """Wang & Wu's ``μ = Tr(Σ₁G) / (2L‖G‖²_F)`` with its parts (μ ≥ 1 for linear regression)."""

    mu: float
    trace_sigma_g: float
    frobenius_g_sq: float
    loss: float

    def to_dict(self) -> dict:
        return asdict(self)


def _trace_gram_product(fa: torch.Tensor, fb: torch.Tensor) -> float:
    """``Tr(AᵀA·BᵀB) = ‖A Bᵀ‖²_F`` by the cheaper of the ``(ra, rb)`` and ``(D, D)`` routes."""
    if fa.shape[0] * fb.shape[0] <= fa.shape[1] ** 2:
        return float((fa @ fb.T).square().sum())
    return float(((fa.T @ fa) * (fb.T @ fb)).sum())


def average_alignment(
    sigma1: GramOperator | torch.Tensor, gram: GramOperator | torch.Tensor, loss: float
) -> AverageAlignment:
    """``μ = Tr(Σ₁G) / (2L‖G‖²_F)``; ``Σ₁`` the per-sample gradient covariance (``noise_covariance``
    with ``batch_size=1``), ``G = (1/n)Σ∇f_i∇f_iᵀ`` (``empirical_fisher`` of output gradients),
    ``L`` the loss in the convention ``L = (1/2n)Σ(f_i − y_i)²``."""
    if not loss > 0:
        raise InvalidInputError(f"loss must be > 0 (μ divides by 2L); got {loss}")
    fs, fg = covariance_factor(sigma1), covariance_factor(gram)
    if fs.shape[1] != fg.shape[1]:
        raise InvalidInputError(f"Σ₁ has dimension {fs.shape[1]}, G has {fg.shape[1]}")
    fg = fg.to(fs)
    tr, fro = _trace_gram_product(fs, fg), _trace_gram_product(fg, fg)
    return AverageAlignment(tr / (2 * loss * fro), tr, fro, float(loss))


def directional_alignment(sigma1: Operand, gram: Operand, loss: float, directions: torch.Tensor) -> torch.Tensor:
    """``g(θ, v) = vᵀΣ₁v / (2L vᵀGv)`` for each column ``v`` of ``directions`` ``(D, k)`` (or one ``(D,)``).

    Returns shape ``(k,)`` (or a 0-d tensor). Typical directions: Hessian eigenvectors
    (``EigenResult.eigenvectors``). Directions with ``vᵀGv = 0`` give ``inf``/``nan``.
    """
    if not loss > 0:
        raise InvalidInputError(f"loss must be > 0 (g divides by 2L); got {loss}")
    s, g = _operator(sigma1, "sigma1"), _operator(gram, "gram")
    _check_same_dim(s, g)
    v = directions.unsqueeze(1) if directions.ndim == 1 else directions
    v = v.to(dtype=s.dtype, device=s.device)
    values = quadratic_forms(s, v) / (2 * loss * quadratic_forms(g, v))
    return values[0] if directions.ndim == 1 else values


@dataclass(frozen=True)
class GradientNoiseScale:
    """McCandlish et al.'s critical batch sizes: ``B_simple = TrΣ₁/‖G‖²``, ``B_noise = Tr(HΣ₁)/GᵀHG``.

    ``G`` here is the full gradient; plug-in estimates from the per-sample gradients given.
    ``b_noise`` is ``None`` when no Hessian was given.
    """

    b_simple: float
    trace_sigma: float
    gradient_norm_sq: float
    b_noise: float | None = None
    b_noise_stderr: float | None = None
    trace_h_sigma: float | None = None
    gradient_curvature: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def gradient_noise_scale(
    sample_gradients: torch.Tensor, hessian: Operand | None = None, *, max_products: int | None = None, seed: Seed = 0
) -> GradientNoiseScale:
    """``B_simple`` and (with a Hessian) ``B_noise`` from per-sample gradients ``(n, D)``.

    ``Σ₁`` is the per-sample covariance (eq. 2 with ``B = 1``); ``Tr(HΣ₁)`` as in
    :func:`trace_of_product` (``max_products`` subsamples rows; its stderr propagates to ``b_noise``).
    """
    sigma1 = noise_covariance(sample_gradients, 1)
    grad = sample_gradients.mean(0)
    norm_sq = float(grad.square().sum())
    if norm_sq == 0:
        raise InvalidInputError("the mean gradient is exactly zero: the noise scales are infinite")
    tr_sigma = sigma1.trace()
    if hessian is None:
        return GradientNoiseScale(tr_sigma / norm_sq, tr_sigma, norm_sq)
    h = _operator(hessian, "hessian")
    ths, ths_se = trace_of_product(h, sigma1, max_products=max_products, seed=seed)
    ghg = float(grad.to(h.dtype) @ h.matvec(grad))
    return GradientNoiseScale(tr_sigma / norm_sq, tr_sigma, norm_sq, ths / ghg, abs(ths_se / ghg), ths, ghg)


@dataclass(frozen=True)
class NoiseStrength:
    """Mori et al.'s ``𝒩 = (1/n)Σ‖∇ℓ_j‖² − ‖∇L‖²`` (= Tr Σ₁), ``𝒩/L`` and, given ``Tr H``,
    ``𝒩/(2L·Tr H)``, which their approximation ``Σ ≈ (2L/B)H`` (MSE, near a minimum) puts at 1."""

    strength: float
    loss: float
    ratio: float
    mori_ratio: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def noise_strength(sample_gradients: torch.Tensor, loss: float, trace_h: float | None = None) -> NoiseStrength:
    """``𝒩`` from per-sample gradients ``(n, D)`` and the loss ``L`` (> 0); optional ``Tr H``."""
    if not loss > 0:
        raise InvalidInputError(f"loss must be > 0; got {loss}")
    strength = noise_covariance(sample_gradients, 1).trace()
    mori = strength / (2 * loss * trace_h) if trace_h else None
    return NoiseStrength(strength, float(loss), strength / loss, mori)


@dataclass(frozen=True)
class HessianOutliers:
    """The outlier group of the top Hessian eigenvalues: count ``n`` and typical magnitude ``h*``.

    ``gap`` is the eigenvalue ratio ``λ_n/λ_{n+1}`` that separates them from the bulk;
    ``at_edge`` warns that the gap sits between the last two computed eigenvalues (compute
    more to confirm the bulk starts there).
    """

    n: int
    h_star: float
    gap: float
    min_gap: float
    at_edge: bool
    eigenvalues: tuple[float, ...]

    def to_dict(self) -> dict:
        return asdict(self)


def hessian_outliers(eigenvalues: torch.Tensor | EigenResult, *, min_gap: float = 3.0) -> HessianOutliers:
    """Split the top-k eigenvalues into outliers and bulk by their largest ratio gap.

    Rule: sort descending; ``r_i = λ_i / max(λ_{i+1}, τ)`` for positive ``λ_i`` (else 1), with the
    floor ``τ = max(|λ_k|, 1e-6·λ_1)``: the magnitude of the smallest computed eigenvalue stands
    for the bulk scale, so a bulk straddling zero creates no spurious gap. The outliers are
    ``λ_1 … λ_n`` with ``n = argmax_i r_i`` if ``max r_i ≥ min_gap``, else ``n = 0`` (no separated
    group). ``h*`` is their geometric mean (``nan`` when ``n = 0``). Pass k comfortably larger than
    the expected number of outliers (for a c-class classifier about c).
    """
    values = eigenvalues.eigenvalues if isinstance(eigenvalues, EigenResult) else eigenvalues
    lam = torch.as_tensor(values, dtype=torch.float64).reshape(-1).sort(descending=True).values
    if lam.numel() < 2 or not torch.isfinite(lam).all() or not min_gap > 1:
        raise InvalidInputError(
            f"need >= 2 finite eigenvalues and min_gap > 1; got {lam.numel()} values, min_gap={min_gap}"
        )
    if lam[0] <= 0:
        return HessianOutliers(0, math.nan, 1.0, min_gap, False, tuple(lam.tolist()))
    floor = max(float(lam[-1].abs()), 1e-6 * float(lam[0]))
    ratios = lam[:-1] / lam[1:].clamp_min(floor)
    ratios = torch.where(lam[:-1] > 0, ratios, torch.ones_like(ratios))
    i = int(ratios.argmax())
    gap = float(ratios[i])
    if gap < min_gap:
        return HessianOutliers(0, math.nan, gap, min_gap, False, tuple(lam.tolist()))
    n = i + 1
    return HessianOutliers(
        n, float(lam[:n].log().mean().exp()), gap, min_gap, n == lam.numel() - 1, tuple(lam.tolist())
    )
