"""Zhu et al.'s GD + noise variants at equal total variance, on a real network (papers.md §5).

From a start ``w₀`` (typically a sharp minimum found by GD), each repeat of a shaped variant runs

    w ← w − η ∇L(w) + ξ,     ξ ~ N(0, v·C(w)),   Tr C = 1,

with ``L`` the full-data loss and ``v`` the total variance added per step, for the shapes ``C`` of
Zhu, Wu, Yu, Wu & Ma (2019) (names as :data:`~sgdnoise.dynamics.sde.zhu.ZHU_VARIANTS`):

* ``gd`` — ``C = 0``; ``isotropic`` — ``I/P`` (GLD-const); ``diagonal`` — ``diag Σ / Tr Σ`` (GLD-diag);
* ``covariance`` — ``Σ/Tr Σ`` (GLD-full), sampled without forming a ``P × P`` matrix:
  ``ξ = √(v/(N Tr Σ)) Σ_i (g_i − ḡ) z_i``, ``z_i`` iid N(0, 1), so ``Cov ξ = v Σ/Tr Σ``;
* ``hessian`` — ``H_k / Tr H_k`` with ``H_k = Σ_{j≤k} λ_j u_j u_jᵀ`` the top-k eigenpairs
  (GLD-Hessian; negative λ_j clamped to 0): ``ξ = √v Σ_j √(λ_j/Σλ) u_j z_j``;
* ``top_eigvec`` — ``u₁u₁ᵀ`` (GLD-1st eigvec): ``ξ = √v u₁ z``;
* ``sgd`` — plain mini-batch SGD with its own noise, not rescaled: :func:`~sgdnoise.dynamics.sgd_ensemble`.

``Σ(w) = (1/N) Σ_i (g_i − ḡ)(g_i − ḡ)ᵀ`` is the covariance of the per-sample gradients ``g_i`` and
``H(w)`` the Hessian of ``L``. The shape ``C`` is recomputed at each repeat's current point every
``refresh`` steps and held in between (Zhu et al. refresh the Hessian eigenpairs periodically;
here Σ follows the same cadence, since per-sample gradients at every step dominate the cost;
``refresh=1`` recomputes every step). Eigenpairs come from Lanczos, all repeats at once.

"Equal total variance": by default ``v = η² Tr Σ_B(w₀)``, the total per-step variance of SGD's
own noise at the start, ``Σ_B = Σ (N − B)/(B (N − 1))`` for batches drawn without replacement
(as :func:`sgd_ensemble` draws them; :func:`sgd_noise_variance`), held fixed as in Zhu et al.
With ``match_at="current"`` each repeat's ``v`` instead follows SGD's variance at its own current
point, ``v_t = η² Tr Σ_B(w_t)`` (updated with the shape); the ``covariance`` variant is then the
Gaussian twin of SGD, ``N(0, η² Σ_B(w))``, which separates the effect of the noise's shape from
that of its growth away from the minimum.

Repeats are stacked on a leading axis (flat parameters ``(R, P)``) and every gradient, per-sample
gradient and Hessian-vector product is one ``torch.func.vmap`` over them. Repeat ``r`` of variant
``V`` draws its noise from its own generator (seeded from ``(seeds[r], V)``), so running repeats
together or one at a time gives the same paths (to floating-point rounding of the batched
products); the only Python loops over repeats draw those random numbers, once per block of steps.
The network is evaluated in eval mode (as :func:`sgd_ensemble`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.func import grad, jvp, vmap

from sgdnoise.curvature.algorithms import LanczosProcess
from sgdnoise.curvature.functional import FunctionalModel, LossFn
from sgdnoise.curvature.operators import LinearOperator
from sgdnoise.curvature.parameters import ParameterSpace
from sgdnoise.dynamics.networks.ensemble import sgd_ensemble
from sgdnoise.dynamics.progress import step_progress
from sgdnoise.dynamics.sde.zhu import ZHU_VARIANTS
from sgdnoise.errors import ConvergenceError, InvalidInputError
from sgdnoise.plumbing import as_data_source
from sgdnoise.rng import as_generator

_NOISY = ("isotropic", "diagonal", "covariance", "hessian", "top_eigvec")
MATCH_AT = ("start", "current")


@dataclass(frozen=True)
class ZhuNetworkRun:
    """Final parameters of every variant and repeat of :func:`zhu_network_dynamics`.

    params : ``(V, R, P)`` flat final parameters (``named_parameters()`` order), variants in the
        order of ``variants``, repeats in the order of ``seeds``.
    start : ``(P,)`` the common start ``w₀``.
    noise_variance : the total per-step variance ``v`` of the shaped variants at the start (0 if none ran).
    match_at : "start" (``v`` fixed) or "current" (``v`` follows SGD's at each repeat's current point).
    """

    variants: tuple[str, ...]
    seeds: tuple[int, ...]
    start: torch.Tensor = field(repr=False)
    params: torch.Tensor = field(repr=False)
    noise_variance: float
    lr: float
    n_steps: int
    batch_size: int
    hessian_k: int
    refresh: int
    match_at: str

    def of(self, variant: str) -> torch.Tensor:
        """Final parameters ``(R, P)`` of ``variant``."""
        if variant not in self.variants:
            raise InvalidInputError(f"variant {variant!r} was not run; the run has {self.variants}")
        return self.params[self.variants.index(variant)]

    def distance(self) -> torch.Tensor:
        """``‖w_final − w₀‖`` per variant and repeat, ``(V, R)``."""
        return (self.params - self.start).norm(dim=-1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "variants": list(self.variants),
            "seeds": list(self.seeds),
            "noise_variance": self.noise_variance,
            "lr": self.lr,
            "n_steps": self.n_steps,
            "batch_size": self.batch_size,
            "hessian_k": self.hessian_k,
            "refresh": self.refresh,
            "match_at": self.match_at,
            "distance": self.distance().tolist(),
        }


class StackedLoss:
    """The full-data loss of one network at ``R`` stacked flat parameter vectors ``θ (R, P)``."""

    def __init__(self, model: nn.Module, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor) -> None:
        self.space = ParameterSpace(model)
        self.fmodel = FunctionalModel(model, loss_fn, self.space, "eval")
        self.x, self.y = x, y
        self._grad = grad(self.fmodel.loss)

    def gradients(self, theta: torch.Tensor) -> torch.Tensor:
        """``∇L(θ_r)`` for every row, ``(R, P)``."""
        return vmap(self._grad, in_dims=(0, None, None))(theta, self.x, self.y)

    def sample_gradients(self, theta: torch.Tensor) -> torch.Tensor:
        """``∇ℓ_i(θ_r)`` for every row and sample, ``(R, N, P)``."""
        return vmap(self.fmodel.sample_gradients, in_dims=(0, None, None))(theta, self.x, self.y)

    def hessian_products(self, theta: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
        """``H(θ_r) v_r`` for every row (forward-over-reverse), ``(R, P)``."""

        def hvp(th: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
            return jvp(lambda t: self._grad(t, self.x, self.y), (th,), (v,))[1]

        return vmap(hvp)(theta, vectors)


class _ColumnwiseHessian(LinearOperator):
    """Column ``r`` of a ``(P, R)`` block ↦ ``H(θ_r) v_r``: ``R`` Hessians, one per column.

    Not one matrix: only for :class:`LanczosProcess`, whose columns are independent recurrences
    (each column sees only its own Hessian), to run one Lanczos per repeat in a single batch.
    """

    def __init__(self, loss: StackedLoss, theta: torch.Tensor) -> None:
        super().__init__(theta.shape[1], theta.dtype, theta.device)
        self.loss, self.theta = loss, theta

    def _matmat(self, vectors: torch.Tensor) -> torch.Tensor:
        return self.loss.hessian_products(self.theta, vectors.T.contiguous()).T


def top_hessian_eigenpairs(
    loss: StackedLoss, theta: torch.Tensor, k: int, starts: torch.Tensor, *, tol: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-``k`` Hessian eigenpairs at every row of ``θ (R, P)``: values ``(R, k)`` descending, vectors ``(R, P, k)``.

    One Lanczos recurrence per repeat from ``starts (R, P)``, all advanced by one batched HVP per
    step, until every wanted Ritz pair has residual ``|β_m s_{m,i}| ≤ tol·λ₁`` (Parlett §13.1;
    relative to the repeat's top eigenvalue, since that is the accuracy the unit-trace noise shape
    needs). Each vector's sign is fixed so that its largest-magnitude entry is positive.
    ``generator`` draws the restart vector of a recurrence that finds an invariant subspace
    (possible only when ``P`` is tiny). Raises :class:`ConvergenceError` if that takes more than
    ``min(P, max(100, 20k))`` steps.
    """
    op = _ColumnwiseHessian(loss, theta)
    max_steps = min(op.dim, max(100, 20 * k))
    process = LanczosProcess(op, starts.T.contiguous(), max_steps, generator)
    while True:
        process.step()
        m = process.steps
        if m < k:
            continue
        a, b = process.alpha[:m].T, process.beta[:m].T  # (R, m)
        tri = torch.diag_embed(a) + torch.diag_embed(b[:, :-1], 1) + torch.diag_embed(b[:, :-1], -1)
        ritz, s = torch.linalg.eigh(tri)  # ascending
        values, s_top = ritz[:, -k:].flip(-1), s[:, :, -k:].flip(-1)
        residuals = (b[:, -1:] * s_top[:, -1, :]).abs()
        scale = values[:, :1].abs().clamp_min(torch.finfo(values.dtype).tiny)
        if bool((residuals <= tol * scale).all()):
            break
        if m == max_steps:
            raise ConvergenceError(
                f"Lanczos did not find the top {k} Hessian eigenpairs of every repeat in {m} steps "
                f"(worst relative residual {float((residuals / scale).max()):.3g} > tol={tol}); "
                "lower hessian_k or raise lanczos_tol"
            )
    vectors = torch.einsum("jdr,rjk->rdk", process.basis[:m], s_top)
    peak = vectors.abs().argmax(dim=1, keepdim=True)
    vectors = vectors * torch.gather(vectors, 1, peak).sign()
    return values, vectors


def unit_trace_factor(
    variant: str,
    theta: torch.Tensor,
    loss: StackedLoss,
    *,
    hessian_k: int,
    tol: float,
    generators: Sequence[torch.Generator],
    sample_gradients: torch.Tensor | None = None,
) -> torch.Tensor:
    """A factor ``F`` of the noise shape at every row of ``θ (R, P)``: ``C = F Fᵀ``, ``Tr C = 1``.

    Shape ``(R, P)`` for a diagonal ``F`` (isotropic: ``1/√P``; diagonal: ``√(diag Σ/Tr Σ)``) and
    ``(R, P, d)`` otherwise: covariance ``(g_i − ḡ)/√(N Tr Σ)`` as columns (d = N), hessian
    ``u_j √(λ_j/Σλ)`` (d = k, λ clamped at 0), top_eigvec ``u₁`` (d = 1). ``generators`` (one per
    repeat) draw the Lanczos start vectors; ``sample_gradients (R, N, P)`` at ``θ``, if already
    computed, are used instead of recomputing them. Raises :class:`ConvergenceError` where the shape is
    undefined (Σ = 0, or no positive Hessian eigenvalue).
    """
    dim = theta.shape[1]
    if variant == "isotropic":
        return torch.full_like(theta, dim**-0.5)
    if variant in ("diagonal", "covariance"):
        per_sample = loss.sample_gradients(theta) if sample_gradients is None else sample_gradients
        centred = per_sample - per_sample.mean(dim=1, keepdim=True)
        n = centred.shape[1]
        variance = centred.square().sum(dim=1) / n  # diag Σ, (R, P)
        trace = variance.sum(dim=1, keepdim=True)
        if not bool((trace > 0).all()):
            raise ConvergenceError(
                "the per-sample gradients of a repeat are all equal (Σ = 0): the noise shape "
                f"of variant {variant!r} is undefined there"
            )
        if variant == "diagonal":
            return (variance / trace).sqrt()
        return (centred.transpose(1, 2) / (n * trace[:, :, None]).sqrt()).contiguous()
    if variant in ("hessian", "top_eigvec"):
        starts = torch.stack(
            [torch.randn(dim, generator=g, dtype=theta.dtype, device=theta.device) for g in generators]
        )
        k = hessian_k if variant == "hessian" else 1
        lam, vectors = top_hessian_eigenpairs(loss, theta, k, starts, tol=tol, generator=generators[0])
        lam = lam.clamp_min(0)
        if not bool((lam[:, 0] > 0).all()):
            raise ConvergenceError(
                "the Hessian of a repeat has no positive eigenvalue: the noise shape of variant "
                f"{variant!r} is undefined (start from a minimum)"
            )
        return vectors * (lam / lam.sum(dim=1, keepdim=True)).sqrt()[:, None, :]
    raise InvalidInputError(f"variant {variant!r} has no noise shape; choose from {_NOISY}")


def apply_factor(factor: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """``ξ_r = F_r z_r``, ``(R, P)``, for a factor from :func:`unit_trace_factor` and ``z (R, d)``."""
    return factor * z if factor.ndim == 2 else torch.einsum("rpd,rd->rp", factor, z)


def sgd_step_variance(per_sample: torch.Tensor, *, lr: float, batch_size: int) -> torch.Tensor:
    """``η² Tr Σ_B`` from per-sample gradients ``(R, N, P)``, one value per repeat ``(R,)``.

    ``Σ_B = (1/B)·(N − B)/(N − 1)·Σ`` for mini-batches drawn without replacement (papers.md §1,
    eq. 2, as :func:`~sgdnoise.curvature.noise_covariance`), ``Tr Σ = (1/N) Σ_i ‖g_i − ḡ‖²``.
    """
    n = per_sample.shape[1]
    trace = (per_sample - per_sample.mean(dim=1, keepdim=True)).square().sum(dim=(1, 2)) / n
    return lr * lr * (n - batch_size) / (batch_size * max(n - 1, 1)) * trace


def sgd_noise_variance(model: nn.Module, loss_fn: LossFn, data: Any, *, lr: float, batch_size: int) -> float:
    """The total per-step variance of SGD's own noise at the model's weights (:func:`sgd_step_variance`)."""
    x, y = as_data_source(data).tensors(next(model.parameters()).device)
    loss = StackedLoss(model, loss_fn, x, y)
    return float(sgd_step_variance(loss.sample_gradients(loss.space.vector()[None]), lr=lr, batch_size=batch_size)[0])


def _variant_seed(seed: int, variant: str) -> int:
    return int(np.random.SeedSequence([seed, ZHU_VARIANTS.index(variant)]).generate_state(1)[0])


def _check(
    variants: Sequence[str],
    seeds: Sequence[int],
    lr: float,
    n_steps: int,
    batch_size: int,
    n_points: int,
    noise_variance: float | None,
    match_at: str,
    hessian_k: int,
    refresh: int,
    lanczos_tol: float,
    block_steps: int,
    dim: int,
) -> tuple[tuple[str, ...], tuple[int, ...]]:
    variants, seeds = tuple(variants), tuple(seeds)
    unknown = [v for v in variants if v not in ZHU_VARIANTS]
    if unknown or not variants or len(set(variants)) != len(variants):
        raise InvalidInputError(f"variants must be distinct names from {ZHU_VARIANTS}; got {variants}")
    if (
        not seeds
        or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)
        or len(set(seeds)) != len(seeds)
    ):
        raise InvalidInputError(f"seeds must be distinct non-negative ints, one per repeat; got {seeds[:5]!r}")
    for name, value in (
        ("n_steps", n_steps),
        ("batch_size", batch_size),
        ("hessian_k", hessian_k),
        ("refresh", refresh),
        ("block_steps", block_steps),
    ):
        if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            raise InvalidInputError(f"{name} must be an int ≥ 1; got {value!r}")
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise InvalidInputError(f"lr must be a finite number > 0; got {lr!r}")
    if batch_size > n_points:
        raise InvalidInputError(f"batch_size={batch_size} is larger than the data set ({n_points} points); lower it")
    if noise_variance is not None and not (math.isfinite(noise_variance) and noise_variance >= 0):
        raise InvalidInputError(
            f"noise_variance must be None (SGD's own) or a finite number ≥ 0; got {noise_variance!r}"
        )
    if "hessian" in variants and hessian_k > dim:
        raise InvalidInputError(f"hessian_k={hessian_k} exceeds the number of parameters ({dim})")
    if match_at not in MATCH_AT or (match_at == "current" and noise_variance is not None):
        raise InvalidInputError(
            f"match_at must be one of {MATCH_AT}, and 'current' needs noise_variance=None; "
            f"got match_at={match_at!r}, noise_variance={noise_variance!r}"
        )
    if not (math.isfinite(lanczos_tol) and lanczos_tol > 0):
        raise InvalidInputError(f"lanczos_tol must be a finite number > 0; got {lanczos_tol!r}")
    return variants, seeds


def zhu_network_dynamics(
    model: nn.Module,
    loss_fn: LossFn,
    data: Any,
    *,
    seeds: Sequence[int],
    variants: Sequence[str] = ZHU_VARIANTS,
    lr: float,
    n_steps: int,
    batch_size: int,
    noise_variance: float | None = None,
    match_at: str = "start",
    hessian_k: int = 10,
    refresh: int = 10,
    lanczos_tol: float = 1e-2,
    block_steps: int = 64,
    progress: bool = False,
) -> ZhuNetworkRun:
    """Run every variant once per seed from the model's current weights ``w₀`` for ``n_steps`` steps.

    Parameters
    ----------
    model : the network at the start ``w₀`` (read, never written; run in eval mode).
    loss_fn : ``loss_fn(outputs, targets)`` → batch-mean loss (e.g. ``F.cross_entropy``).
    data : the training set, ``(inputs, targets)`` or a TensorDataset; ``L`` is its mean loss.
    seeds : one distinct int per repeat; repeat ``r`` of ``sgd`` draws its batches with
        :func:`~sgdnoise.dynamics.batch_indices` ``(seeds[r], …)``, repeat ``r`` of a noisy variant its
        noise from a generator seeded from ``(seeds[r], variant)``.
    lr : η; the same for every variant.  n_steps : steps per repeat.
    batch_size : B of the ``sgd`` variant (and of the default ``noise_variance``).
    noise_variance : total variance ``v`` of ξ per step; default ``η² Tr Σ_B(w₀)`` (:func:`sgd_noise_variance`).
    match_at : "start" (default, Zhu et al.: ``v`` fixed) or "current" (``v = η² Tr Σ_B(w_t)`` per
        repeat, recomputed every ``refresh`` steps; see the module note).
    hessian_k : eigenpairs kept by ``hessian`` (``top_eigvec`` uses the first).
    refresh : steps between recomputations of the noise shapes (Σ and Hessian eigenpairs).
    lanczos_tol : Lanczos tolerance relative to λ₁ (:func:`top_hessian_eigenpairs`).
    block_steps : steps whose noise is drawn at once per repeat (paths depend on it and on ``refresh``,
        not on ``n_steps``: a shorter run is a prefix of a longer one).  progress : show a progress bar.

    Raises :class:`InvalidInputError` for bad arguments and :class:`ConvergenceError` when a path
    becomes NaN/Inf or a noise shape is undefined (see :func:`unit_trace_factor`).
    """
    if not isinstance(model, nn.Module) or not any(True for _ in model.parameters()):
        raise InvalidInputError("model must be a torch.nn.Module with parameters")
    x, y = as_data_source(data).tensors(next(model.parameters()).device)
    loss = StackedLoss(model, loss_fn, x, y)
    start = loss.space.vector()
    variants, seeds = _check(
        variants,
        seeds,
        lr,
        n_steps,
        batch_size,
        len(x),
        noise_variance,
        match_at,
        hessian_k,
        refresh,
        lanczos_tol,
        block_steps,
        loss.space.dim,
    )
    if noise_variance is None:  # no shaped noise without a noisy variant
        noise_variance = (
            sgd_noise_variance(model, loss_fn, (x, y), lr=lr, batch_size=batch_size)
            if set(variants) & set(_NOISY)
            else 0.0
        )
    shaped = [v for v in variants if v != "sgd"]
    finals = {}
    if "sgd" in variants:
        finals["sgd"] = sgd_ensemble(
            model, loss_fn, (x, y), seeds=seeds, lr=float(lr), batch_size=batch_size, steps=n_steps, progress=progress
        ).flat()
    if shaped:
        finals.update(
            _run_shaped(
                loss,
                start,
                shaped,
                seeds,
                float(lr),
                n_steps,
                batch_size,
                float(noise_variance),
                match_at,
                hessian_k,
                refresh,
                lanczos_tol,
                block_steps,
                progress,
            )
        )
    return ZhuNetworkRun(
        variants,
        seeds,
        start,
        torch.stack([finals[v] for v in variants]),
        float(noise_variance),
        float(lr),
        n_steps,
        batch_size,
        hessian_k,
        refresh,
        match_at,
    )


def _run_shaped(
    loss: StackedLoss,
    start: torch.Tensor,
    variants: list[str],
    seeds: tuple[int, ...],
    lr: float,
    n_steps: int,
    batch_size: int,
    noise_variance: float,
    match_at: str,
    hessian_k: int,
    refresh: int,
    lanczos_tol: float,
    block_steps: int,
    progress: bool,
) -> dict[str, torch.Tensor]:
    """All shaped variants' repeats as one ``(V·R, P)`` stack; returns ``{variant: (R, P)}``."""
    n_rep, dim = len(seeds), start.numel()
    rows = {v: slice(i * n_rep, (i + 1) * n_rep) for i, v in enumerate(variants)}
    noisy = [v for v in variants if v != "gd" and noise_variance > 0]
    generators = {v: [as_generator(_variant_seed(s, v), start.device) for s in seeds] for v in noisy}
    factors: dict[str, torch.Tensor] = {}
    theta = start.expand(len(variants) * n_rep, dim).clone()
    scales = {v: math.sqrt(noise_variance) for v in noisy}
    with step_progress(progress, n_steps, "Zhu noise variants") as advance:
        for t in range(n_steps):
            if t % refresh == 0:
                per_sample = {
                    v: loss.sample_gradients(theta[rows[v]])
                    for v in noisy
                    if match_at == "current" or v in ("diagonal", "covariance")
                }
                factors = {
                    v: unit_trace_factor(
                        v,
                        theta[rows[v]],
                        loss,
                        hessian_k=hessian_k,
                        tol=lanczos_tol,
                        generators=generators[v],
                        sample_gradients=per_sample.get(v),
                    )
                    for v in noisy
                }
                if match_at == "current":
                    scales = {
                        v: sgd_step_variance(g, lr=lr, batch_size=batch_size).sqrt()[:, None]
                        for v, g in per_sample.items()
                    }
            j = t % block_steps
            if j == 0:  # whole blocks, so a path does not depend on n_steps
                k_steps = min(block_steps, n_steps - t)
                z_block = {
                    v: torch.stack(
                        [
                            torch.randn(
                                block_steps,
                                factors[v].shape[-1] if factors[v].ndim == 3 else dim,
                                generator=g,
                                dtype=theta.dtype,
                                device=theta.device,
                            )
                            for g in generators[v]
                        ]
                    )
                    for v in noisy
                }
            step = -lr * loss.gradients(theta)
            for v in noisy:
                step[rows[v]] += scales[v] * apply_factor(factors[v], z_block[v][:, j])
            theta = theta + step
            if not bool(torch.isfinite(theta).all()):
                bad = variants[int((~torch.isfinite(theta).all(dim=1)).nonzero()[0]) // n_rep]
                raise ConvergenceError(
                    f"variant {bad!r} diverged (NaN/Inf parameters) at step {t + 1}; lower lr or noise_variance"
                )
            if j == k_steps - 1:
                advance(k_steps)
    return {v: theta[rows[v]] for v in variants}
