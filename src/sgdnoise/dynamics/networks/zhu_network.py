"""Zhu et al.'s GD + noise variants at equal total variance, on a real network (papers.md §5).

From a start ``w₀`` (typically a sharp minimum found by GD), each repeat of a shaped variant runs

    w ← w − η ∇L(w) + ξ,     ξ ~ N(0, v·C(w)),   Tr C = 1,

with ``L`` the full-data loss and ``v`` the total variance added per step, for the shapes ``C`` of
Zhu, Wu, Yu, Wu & Ma (2019) (names as :data:`~sgdnoise.dynamics.ZHU_VARIANTS`): ``gd`` (``C = 0``), and ``isotropic``,
``diagonal``, ``covariance``, ``hessian``, ``top_eigvec``, each drawn as ``ξ = √v F z`` from a factor
``C = F Fᵀ`` without forming a ``P × P`` matrix (:mod:`~sgdnoise.dynamics.networks.zhu_shapes`);
``sgd`` is plain mini-batch SGD with its own noise, not rescaled (:func:`~sgdnoise.dynamics.sgd_ensemble`).

The shape ``C`` is recomputed at each repeat's current point every
``refresh`` steps and held in between (Zhu et al. refresh the Hessian eigenpairs periodically;
here Σ follows the same cadence, since per-sample gradients at every step dominate the cost;
``refresh=1`` recomputes every step). Eigenpairs come from Lanczos, all repeats at once.

"Equal total variance": by default ``v = η² Tr Σ_B(w₀)``, the total per-step variance of SGD's
own noise at the start, ``Σ_B = Σ (N − B)/(B (N − 1))`` for batches drawn without replacement
(as :func:`~sgdnoise.dynamics.sgd_ensemble` draws them; :func:`~sgdnoise.dynamics.sgd_noise_variance`),
held fixed as in Zhu et al.
With ``match_at="current"`` each repeat's ``v`` instead follows SGD's variance at its own current
point, ``v_t = η² Tr Σ_B(w_t)`` (updated with the shape); the ``covariance`` variant is then the
Gaussian twin of SGD, ``N(0, η² Σ_B(w))``, which separates the effect of the noise's shape from
that of its growth away from the minimum.

Repeats are stacked on a leading axis (flat parameters ``(R, P)``) and every gradient, per-sample
gradient and Hessian-vector product is one ``torch.func.vmap`` over them. Repeat ``r`` of variant
``V`` draws its noise from its own generator (seeded from ``(seeds[r], V)``), so running repeats
together or one at a time gives the same paths (to floating-point rounding of the batched
products); the only Python loops over repeats draw those random numbers, once per block of steps.
The network is evaluated in eval mode (as :func:`~sgdnoise.dynamics.sgd_ensemble`; every
submodule gets its own flag back afterwards, also on error).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from sgdnoise.dynamics.networks.ensemble import sgd_ensemble
from sgdnoise.dynamics.networks.seeds import check_batch_size, checked_seeds
from sgdnoise.dynamics.networks.sgd_variance import sgd_noise_variance, sgd_step_variance
from sgdnoise.dynamics.networks.stacked_loss import StackedLoss
from sgdnoise.dynamics.networks.zhu_shapes import NOISY, apply_factor, unit_trace_factor
from sgdnoise.dynamics.progress import step_progress
from sgdnoise.dynamics.sde.zhu import ZHU_VARIANTS
from sgdnoise.errors import ConvergenceError, InvalidInputError
from sgdnoise.plumbing import LossFn, as_data_source, evaluation_mode, model_device, positive_int, positive_number
from sgdnoise.rng import as_generator, derived_seed

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


@dataclass(frozen=True)
class ZhuSettings:
    """What one :func:`zhu_network_dynamics` call runs (see its parameters); :meth:`check` validates it."""

    variants: tuple[str, ...]
    seeds: tuple[int, ...]
    lr: float
    n_steps: int
    batch_size: int
    noise_variance: float | None
    match_at: str
    hessian_k: int
    refresh: int
    lanczos_tol: float
    block_steps: int

    def check(self, n_points: int, dim: int) -> None:
        """Raise :class:`InvalidInputError` unless every setting is valid for ``n_points`` data points
        and ``dim`` parameters."""
        variants = self.variants
        unknown = [v for v in variants if v not in ZHU_VARIANTS]
        if unknown or not variants or len(set(variants)) != len(variants):
            raise InvalidInputError(f"variants must be distinct names from {ZHU_VARIANTS}; got {variants}")
        checked_seeds(self.seeds, non_negative=True)  # one per repeat, fed to a SeedSequence
        for name in ("n_steps", "batch_size", "hessian_k", "refresh", "block_steps"):
            positive_int(getattr(self, name), name)
        positive_number(self.lr, "lr")
        check_batch_size(self.batch_size, n_points)
        noise_variance = self.noise_variance
        if noise_variance is not None and not (math.isfinite(noise_variance) and noise_variance >= 0):
            raise InvalidInputError(
                f"noise_variance must be None (SGD's own) or a finite number ≥ 0; got {noise_variance!r}"
            )
        if "hessian" in variants and self.hessian_k > dim:
            raise InvalidInputError(f"hessian_k={self.hessian_k} exceeds the number of parameters ({dim})")
        if self.match_at not in MATCH_AT or (self.match_at == "current" and noise_variance is not None):
            raise InvalidInputError(
                f"match_at must be one of {MATCH_AT}, and 'current' needs noise_variance=None; "
                f"got match_at={self.match_at!r}, noise_variance={noise_variance!r}"
            )
        positive_number(self.lanczos_tol, "lanczos_tol")


def _variant_seed(seed: int, variant: str) -> int:
    return derived_seed(seed, ZHU_VARIANTS.index(variant))


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
    data : the training set (anything :func:`sgdnoise.plumbing.as_data_source` takes); ``L`` is its mean loss.
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
    lanczos_tol : Lanczos tolerance relative to λ₁
        (:func:`~sgdnoise.dynamics.networks.hessian_eigenpairs.top_hessian_eigenpairs`).
    block_steps : steps whose noise is drawn at once per repeat (paths depend on it and on ``refresh``,
        not on ``n_steps``: a shorter run is a prefix of a longer one).  progress : show a progress bar.

    Raises :class:`InvalidInputError` for bad arguments and :class:`ConvergenceError` when a path
    becomes NaN/Inf or a noise shape is undefined
    (see :func:`~sgdnoise.dynamics.networks.zhu_shapes.unit_trace_factor`).
    """
    x, y = as_data_source(data).tensors(model_device(model))
    loss = StackedLoss(model, loss_fn, x, y)
    settings = ZhuSettings(
        variants=tuple(variants),
        seeds=tuple(seeds),
        lr=lr,
        n_steps=n_steps,
        batch_size=batch_size,
        noise_variance=noise_variance,
        match_at=match_at,
        hessian_k=hessian_k,
        refresh=refresh,
        lanczos_tol=lanczos_tol,
        block_steps=block_steps,
    )
    settings.check(len(x), loss.dim)
    shaped = [v for v in settings.variants if v != "sgd"]
    finals = {}
    with evaluation_mode(model):
        if noise_variance is None:  # no shaped noise without a noisy variant
            noise_variance = (
                sgd_noise_variance(model, loss_fn, (x, y), lr=lr, batch_size=batch_size)
                if set(settings.variants) & set(NOISY)
                else 0.0
            )
        settings = dataclasses.replace(settings, lr=float(lr), noise_variance=float(noise_variance))
        if "sgd" in settings.variants:
            finals["sgd"] = sgd_ensemble(
                model,
                loss_fn,
                (x, y),
                seeds=settings.seeds,
                lr=settings.lr,
                batch_size=batch_size,
                steps=n_steps,
                progress=progress,
            ).flat()
        if shaped:
            finals.update(_run_shaped(loss, shaped, settings, progress))
    return ZhuNetworkRun(
        variants=settings.variants,
        seeds=settings.seeds,
        start=loss.start,
        params=torch.stack([finals[v] for v in settings.variants]),
        noise_variance=settings.noise_variance,
        lr=settings.lr,
        n_steps=n_steps,
        batch_size=batch_size,
        hessian_k=hessian_k,
        refresh=refresh,
        match_at=match_at,
    )


def _run_shaped(
    loss: StackedLoss, variants: list[str], settings: ZhuSettings, progress: bool
) -> dict[str, torch.Tensor]:
    """All shaped ``variants``' repeats from ``loss.start`` as one ``(V·R, P)`` stack, with
    ``settings.noise_variance`` resolved to a number; returns ``{variant: (R, P)}``."""
    seeds, lr, n_steps, block_steps = settings.seeds, settings.lr, settings.n_steps, settings.block_steps
    noise_variance, match_at, start = settings.noise_variance, settings.match_at, loss.start
    n_rep, dim = len(seeds), start.numel()
    rows = {v: slice(i * n_rep, (i + 1) * n_rep) for i, v in enumerate(variants)}
    noisy = [v for v in variants if v != "gd" and noise_variance > 0]
    generators = {v: [as_generator(_variant_seed(s, v), start.device) for s in seeds] for v in noisy}
    factors: dict[str, torch.Tensor] = {}
    theta = start.expand(len(variants) * n_rep, dim).clone()
    scales = {v: math.sqrt(noise_variance) for v in noisy}
    with step_progress(progress, n_steps, "Zhu noise variants") as advance:
        for t in range(n_steps):
            if t % settings.refresh == 0:
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
                        hessian_k=settings.hessian_k,
                        tol=settings.lanczos_tol,
                        generators=generators[v],
                        sample_gradients=per_sample.get(v),
                    )
                    for v in noisy
                }
                if match_at == "current":
                    scales = {
                        v: sgd_step_variance(g, lr=lr, batch_size=settings.batch_size).sqrt()[:, None]
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
