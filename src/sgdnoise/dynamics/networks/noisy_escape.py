"""Escape of gradient descent plus per-parameter noise from a minimum of a real network, many seeds at once.

The two noise models of SGD that Battash et al.'s framework compares, on the network itself:

    w_{t+1} = w_t − η ∇L(w_t) + η ξ_t,    ξ_{t,l} = scale_l · S_{α_l}  ("levy")   or   std_l · Z  ("gauss"),

``L`` the full-data loss, ``S_α`` standard SαS (``E e^{iuS} = e^{−|u|^α}``, :mod:`sgdnoise.stable`)
and ``Z`` standard normal, independent over steps, parameters and seeds. Two more models of SGD's
noise: ``"stable"``, ``ξ_{t,l} = scale_l · S(α_l, β_l, 1, 0; 0) + loc_l`` (a skewed stable law per
parameter, Nolan's S0, :func:`sgdnoise.stable.sample_stable`), and ``"gauss_full"``, a Gaussian
with the full covariance ``Σ = UᵀU/K`` of K noise samples ``U (K, P)`` (rows centred): ``ξ_t =
Uᵀz_t/√K`` with ``z_t ~ N(0, I_K)``, so no ``P × P`` matrix is formed (rank ≤ K). With ``scale_l`` the
fitted SαS scale of SGD's noise ``u_k`` at batch size B (and ``std_l`` its standard deviation),
``η ξ`` has the law of SGD's noise step ``η u_k`` under each model; in SDE time ``t = η·step`` the
Lévy model is Battash et al.'s eq. 3 with ``ε_l = η^{(α_l−1)/α_l}``
(:func:`sgdnoise.theory.battash_epsilon`). A parameter with ``scale_l = 0`` (or ``std_l = 0``)
gets no noise.

Seed ``s`` is stopped at its escape step σ, the first step t with ``L(w_t) ≥ level`` (the rule of
:func:`~sgdnoise.dynamics.networks.escape.escape_by_level`), and frozen there. The parameters of
all running seeds are stacked as flat vectors ``(S, P)``; each step is one ``vmap`` of
``grad_and_value`` of the loss over them (:class:`~sgdnoise.dynamics.networks.stacked_loss.StackedLoss`).
Seed s draws its noise from its own generator, seeded from ``(seed, s, model)``, a block of
``block_steps`` steps at a time, so a seed's path does not depend on which other seeds run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from sgdnoise.dynamics.networks.escape import EscapeResult
from sgdnoise.dynamics.networks.seeds import checked_seeds
from sgdnoise.dynamics.networks.stacked_loss import StackedLoss
from sgdnoise.dynamics.progress import step_progress
from sgdnoise.errors import ConvergenceError, InvalidInputError
from sgdnoise.plumbing import LossFn, as_data_source, evaluation_mode, model_device, positive_int, positive_number
from sgdnoise.rng import as_generator, derived_seed
from sgdnoise.stable.sampling import sample_stable, standard_sas

NOISE_MODELS = ("levy", "gauss", "stable", "gauss_full")


def _per_parameter(value: Any, dim: int, name: str, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    t = torch.as_tensor(value, dtype=dtype, device=device).reshape(-1)
    if t.numel() == 1:
        t = t.expand(dim)
    if t.numel() != dim or not bool(torch.isfinite(t).all()):
        raise InvalidInputError(f"{name} must be finite, one value or one per parameter ({dim}); got {t.numel()}")
    return t


def noisy_gd_escape(
    model: nn.Module,
    loss_fn: LossFn,
    data: Any,
    *,
    noise: str,
    level: float,
    seeds: Sequence[int],
    lr: float,
    max_steps: int,
    scale: Any,
    alpha: Any = None,
    beta: Any = None,
    loc: Any = None,
    factor: Any = None,
    seed: int = 0,
    block_steps: int = 64,
    progress: bool = False,
) -> EscapeResult:
    """Run GD + ``noise`` from the model's current weights (the minimum) for every seed until escape.

    Parameters
    ----------
    model, loss_fn, data : the network at its minimum ``w*``, the batch-mean loss and the training set
        (:func:`sgdnoise.plumbing.as_data_source`); ``L`` is the mean loss over all of it.
    noise : ``"levy"`` (``scale_l S_{α_l}``), ``"gauss"`` (``scale_l Z``: pass the standard deviations),
        ``"stable"`` (``scale_l S(α_l, β_l; 0) + loc_l``) or ``"gauss_full"`` (``Uᵀz/√K``; ``scale`` unused).
    level : escape when ``L(w_t) ≥ level``; must exceed ``L(w*)``.
    seeds : distinct non-negative ints, one per path.  lr : η.  max_steps : horizon (censored after).
    scale : ``(P,)`` or one number, ≥ 0, in ``parameters_to_vector`` order.
    alpha : ``(P,)`` or one number in (0, 2] (``"levy"`` and ``"stable"``).
    beta, loc : ``(P,)`` or one number, β in [−1, 1] (``"stable"``; loc default 0).
    factor : ``(K, P)`` noise samples U (``"gauss_full"``), centred here over K.
    seed : mixed into every path's generator, so two models' noises are independent.
    block_steps : steps of noise drawn at once per seed.

    Returns an :class:`~sgdnoise.dynamics.networks.escape.EscapeResult` (``batch_size`` 0: no mini-batches).
    Raises :class:`InvalidInputError` for bad arguments and :class:`ConvergenceError` when a path's
    loss becomes NaN/Inf.
    """
    if noise not in NOISE_MODELS:
        raise InvalidInputError(f"noise must be one of {NOISE_MODELS}; got {noise!r}")
    seeds = checked_seeds(seeds, non_negative=True)
    positive_int(max_steps, "max_steps")
    positive_int(block_steps, "block_steps")
    positive_int(seed, "seed", minimum=0)
    lr = positive_number(lr, "lr")
    x, y = as_data_source(data).tensors(model_device(model))
    loss = StackedLoss(model, loss_fn, x, y)
    dim, dtype, device = loss.dim, loss.start.dtype, loss.start.device
    scale_t = _per_parameter(scale, dim, "scale", dtype, device)
    if bool((scale_t < 0).any()):
        raise InvalidInputError("scale must be ≥ 0 for every parameter (0 = no noise)")
    if noise == "levy":
        if alpha is None:
            raise InvalidInputError("noise='levy' needs alpha (one tail index per parameter)")
        alpha_t = _per_parameter(alpha, dim, "alpha", dtype, device)
        if not bool(((alpha_t > 0) & (alpha_t <= 2)).all()):
            raise InvalidInputError("alpha must lie in (0, 2] for every parameter")
    if noise == "stable":
        if alpha is None or beta is None:
            raise InvalidInputError("noise='stable' needs alpha and beta (one per parameter)")
        alpha_t = _per_parameter(alpha, dim, "alpha", dtype, device)
        beta_t = _per_parameter(beta, dim, "beta", dtype, device)
        loc_t = _per_parameter(0.0 if loc is None else loc, dim, "loc", dtype, device)
        if not bool(((alpha_t > 0) & (alpha_t <= 2)).all() and (beta_t.abs() <= 1).all()):
            raise InvalidInputError("alpha must lie in (0, 2] and beta in [-1, 1] for every parameter")
    if noise == "gauss_full":
        if factor is None:
            raise InvalidInputError("noise='gauss_full' needs factor: K noise samples as a (K, P) array")
        u = torch.as_tensor(factor, dtype=dtype, device=device)
        if u.ndim != 2 or u.shape[1] != dim or u.shape[0] < 2 or not bool(torch.isfinite(u).all()):
            raise InvalidInputError(
                f"factor must be a finite (K, P) array with K ≥ 2 and P = {dim}; got {tuple(u.shape)}"
            )
        u = (u - u.mean(0)) / u.shape[0] ** 0.5  # Σ = uᵀu
    generators = [as_generator(derived_seed(seed, s, NOISE_MODELS.index(noise)), device) for s in seeds]

    def draw(gen: torch.Generator) -> torch.Tensor:
        """``(block_steps, P)`` noise ξ of one seed."""
        if noise == "levy":
            return scale_t * standard_sas(alpha_t, (block_steps, dim), gen)
        if noise == "stable":
            return scale_t * sample_stable(alpha_t, beta_t, 1.0, 0.0, (block_steps, dim), gen).to(dtype) + loc_t
        if noise == "gauss_full":
            return torch.randn(block_steps, u.shape[0], generator=gen, dtype=dtype, device=device) @ u
        return scale_t * torch.randn(block_steps, dim, generator=gen, dtype=dtype, device=device)

    n = len(seeds)
    theta = loss.start.expand(n, dim).clone()
    steps = np.full(n, max_steps, dtype=np.int64)
    escaped = np.zeros(n, dtype=bool)
    active = torch.arange(n)
    bar = step_progress(progress, max_steps, f"GD + {noise} noise", running="seeds running")
    with evaluation_mode(model), bar as advance:
        value0 = float(loss.losses(loss.start[None])[0])
        if not level > value0:
            raise InvalidInputError(f"level={level} does not exceed the loss at the minimum ({value0}); raise it")
        t = 0
        while True:
            grads, values = loss.gradients_and_losses(theta[active])
            if not bool(torch.isfinite(values).all()):
                bad = seeds[int(active[~torch.isfinite(values)][0])]
                raise ConvergenceError(f"the loss of seed {bad} is not finite at step {t}; lower lr or the noise")
            if t > 0:
                out = values >= level
                if bool(out.any()):
                    done = active[out]
                    steps[done.numpy()] = t
                    escaped[done.numpy()] = True
                    active, grads = active[~out], grads[~out]
            if t == max_steps or not active.numel():
                break
            j = t % block_steps
            if j == 0:
                block = torch.zeros(n, block_steps, dim, dtype=dtype, device=device)  # (S, block, P)
                for i in active.tolist():
                    block[i] = draw(generators[i])
            theta[active] += -lr * grads + lr * block[active, j]
            t += 1
            if j == block_steps - 1 or t == max_steps:
                advance(j + 1, active.numel())
    return EscapeResult(
        seeds=seeds,
        steps=steps,
        escaped=escaped,
        displacement=theta - loss.start,
        max_steps=max_steps,
        lr=lr,
        batch_size=0,
        protocol=f"gd+{noise}, loss>={level:g}",
    )
