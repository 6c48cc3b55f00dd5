"""Escape of SGD from a minimum of a real network, many seeds at once (on :func:`sgd_ensemble`).

Two protocols, both started from the same minimum ``w*`` (a state_dict), each seed stopped and
frozen at its escape step σ:

* :func:`escape_by_loss` — Battash et al. (Fig. 3/4): after training to ``w*`` (lr 0.05, batch
  128 in the paper), run SGD with a smaller batch; σ is the first step t with
  ``L_eval(w_t) > factor · L_eval(w*)``, ``L_eval`` the mean loss over ``eval_data`` (the full
  training set or a fixed subset). The paper does not state its threshold; this relative rule
  (scale-free across data sets and losses) is our choice. With ``L_eval(w*) = 0`` every step escapes.
* :func:`escape_by_level` — the same with an absolute level: σ is the first step with
  ``L_eval(w_t) ≥ level`` (e.g. ``L(w*) + Δ``).
* :func:`escape_by_distance` — Simsekli et al.'s ``sgd_first_exit_time``: σ is the first step with
  ``‖w_t − w*‖₂ > radius``.

:func:`escape_sweep` runs many points (learning rate, batch size, seeds, rule) at once: every
point's seeds are split into parts over the current executor's workers
(:func:`sgdnoise.parallel.run_tasks`; one part in this process) and joined in seed order. Each
seed's path is its own (bit-identical to a seed-by-seed loop), so the split changes no number;
the three functions above are one-point sweeps.

Per seed: σ (or ``max_steps``, censored), the escaped flag and the exit displacement
``w_σ − w*`` (flat, ``named_parameters()`` order — the layout of
``sgdnoise.curvature.hessian_eigenvalues``' eigenvectors, over which
:func:`~sgdnoise.dynamics.networks.projection.project_displacements` splits it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.func import vmap

from sgdnoise.dynamics.censored import mean_exit_time, survival
from sgdnoise.dynamics.networks.ensemble import sgd_ensemble
from sgdnoise.dynamics.networks.seed_gradients import seed_loss
from sgdnoise.dynamics.networks.seeds import Params, checked_seeds, flat
from sgdnoise.errors import InvalidInputError
from sgdnoise.parallel import Task, run_tasks, seed_chunks
from sgdnoise.plumbing import LossFn, as_data_source, evaluation_mode, model_device, positive_number


@dataclass(frozen=True)
class EscapeResult:
    """Per-seed escape from ``w*``.

    steps : ``(S,)`` escape step σ (first step past the threshold), ``max_steps`` if censored.
    escaped : ``(S,)`` bool. displacement : ``(S, D)`` ``w_σ − w*`` (last weights if censored).
    """

    seeds: tuple[int, ...]
    steps: np.ndarray
    escaped: np.ndarray
    displacement: torch.Tensor
    max_steps: int
    lr: float
    batch_size: int
    protocol: str

    def survival(self, u: Any) -> np.ndarray:
        """Empirical ``P(σ > u)`` over seeds at steps ``u`` (any shape); NaN beyond ``max_steps``."""
        return survival(self.steps, self.escaped, self.max_steps, u)

    def summary(self) -> dict[str, float]:
        """Mean σ ± sd/√S (NaN unless every seed escaped), and the exponential-law MLE
        (total steps of all seeds, censored included, / number escaped), usable when some are censored
        (:mod:`sgdnoise.dynamics.censored`)."""
        mean, stderr, mle = mean_exit_time(self.steps, self.escaped)
        return {
            "n_seeds": len(self.steps),
            "n_escaped": int(self.escaped.sum()),
            "mean_steps": mean,
            "mean_steps_stderr": stderr,
            "mean_steps_exponential_mle": mle,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "seeds": list(self.seeds),
            "steps": self.steps.tolist(),
            "escaped": self.escaped.tolist(),
            "max_steps": self.max_steps,
            "lr": self.lr,
            "batch_size": self.batch_size,
            "protocol": self.protocol,
            "summary": self.summary(),
        }


def joined(parts: Sequence[EscapeResult]) -> EscapeResult:
    """One result from the results of disjoint seed parts of one point, in the parts' order."""
    first = parts[0]
    return replace(
        first,
        seeds=tuple(s for part in parts for s in part.seeds),
        steps=np.concatenate([part.steps for part in parts]),
        escaped=np.concatenate([part.escaped for part in parts]),
        displacement=torch.cat([part.displacement for part in parts]),
    )


@dataclass(frozen=True)
class EscapePoint:
    """One point of :func:`escape_sweep`: SGD with ``lr`` and ``batch_size`` from ``w*`` for
    ``seeds``, at most ``max_steps`` steps, until exactly one of the rules fires: the loss above
    ``factor`` × its minimum (:func:`escape_by_loss`), the loss at ``level``
    (:func:`escape_by_level`), or the distance beyond ``radius`` (:func:`escape_by_distance`)."""

    lr: float
    batch_size: int
    seeds: tuple[int, ...]
    max_steps: int
    factor: float | None = None
    level: float | None = None
    radius: float | None = None

    def __post_init__(self) -> None:
        rules = [r for r in ("factor", "level", "radius") if getattr(self, r) is not None]
        if len(rules) != 1:
            raise InvalidInputError(f"an escape point takes one of factor, level, radius; got {rules or 'none'}")
        object.__setattr__(self, "seeds", checked_seeds(self.seeds))
        if self.factor is not None and not (_is_real(self.factor) and np.isfinite(self.factor) and self.factor > 1):
            raise InvalidInputError(
                "factor must be a finite number > 1 (escape when the loss exceeds factor × its value at the minimum); "
                f"got {self.factor!r}"
            )
        if self.level is not None and not (_is_real(self.level) and np.isfinite(self.level)):
            raise InvalidInputError(f"level must be a finite number (the escape loss); got {self.level!r}")
        if self.radius is not None:
            positive_number(self.radius, "radius")

    @property
    def label(self) -> str:
        rule = next(f"{r}={getattr(self, r):g}" for r in ("factor", "level", "radius") if getattr(self, r) is not None)
        return f"lr={self.lr:g} B={self.batch_size} {rule} seeds {self.seeds[0]}..{self.seeds[-1]}"


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def escape_sweep(
    model: nn.Module,
    loss_fn: LossFn,
    data: Any,
    points: Sequence[EscapePoint],
    *,
    minimum: Mapping[str, torch.Tensor] | None = None,
    eval_data: Any = None,
    progress: bool = False,
) -> list[EscapeResult]:
    """The escape of every point from ``w*`` (``minimum``, default the model's weights), in
    order; each point's seeds split over the current executor's workers and joined."""
    parts = [(k, replace(p, seeds=tuple(chunk))) for k, p in enumerate(points) for chunk in seed_chunks(p.seeds)]
    tasks = [
        Task(f"point {k}: {part.label}", _escape_point, (model, loss_fn, data, part, minimum, eval_data, progress))
        for k, part in parts
    ]
    values = run_tasks(tasks)
    return [joined([v for (k, _), v in zip(parts, values) if k == index]) for index in range(len(points))]


def _escape_point(model, loss_fn, data, point: EscapePoint, minimum, eval_data, progress) -> EscapeResult:
    common = dict(seeds=point.seeds, lr=point.lr, batch_size=point.batch_size, max_steps=point.max_steps)
    if point.radius is not None:
        return _escape_by_distance(model, loss_fn, data, point.radius, minimum=minimum, progress=progress, **common)
    if point.factor is not None:
        factor = point.factor
        level_of, strict, protocol = (lambda loss_min: factor * loss_min), True, f"loss>{factor:g}×minimum"
    else:
        level = point.level

        def level_of(loss_min: torch.Tensor) -> torch.Tensor:
            if not float(loss_min) < level:
                raise InvalidInputError(
                    f"level={level} does not exceed the loss at the minimum ({float(loss_min)}); raise it"
                )
            return torch.as_tensor(level, dtype=loss_min.dtype)

        strict, protocol = False, f"loss>={level:g}"
    return _escape_by_eval_loss(
        model,
        loss_fn,
        data,
        level_of,
        strict=strict,
        protocol=protocol,
        minimum=minimum,
        eval_data=eval_data,
        progress=progress,
        **common,
    )


def _minimum(model: nn.Module, minimum: Mapping[str, torch.Tensor] | None) -> dict[str, torch.Tensor]:
    ref = dict(model.named_parameters())
    minimum = dict(minimum) if minimum is not None else ref
    missing = [n for n in ref if n not in minimum]
    if missing:
        raise InvalidInputError(f"minimum lacks parameters {missing[:5]}; pass the trained model's state_dict()")
    return {n: minimum[n].detach().to(ref[n]) for n in ref}


def _flat_minimum(minimum: dict[str, torch.Tensor]) -> torch.Tensor:
    """``w*`` as one vector ``(D,)``, in ``named_parameters()`` order."""
    return torch.cat([v.reshape(-1) for v in minimum.values()])


def _escape(
    model, loss_fn, data, minimum, crossed, *, seeds, lr, batch_size, max_steps, protocol, progress
) -> EscapeResult:
    res = sgd_ensemble(
        model,
        loss_fn,
        data,
        seeds=seeds,
        lr=lr,
        batch_size=batch_size,
        steps=max_steps,
        init=minimum,
        stop=lambda t, params, idx: crossed(params),
        progress=progress,
    )
    return EscapeResult(
        seeds=res.seeds,
        steps=res.stop_step,
        escaped=res.stopped,
        displacement=res.flat() - _flat_minimum(minimum),
        max_steps=max_steps,
        lr=res.lr,
        batch_size=res.batch_size,
        protocol=protocol,
    )


def escape_by_distance(
    model: nn.Module,
    loss_fn: LossFn,
    data: Any,
    *,
    radius: float,
    seeds: Sequence[int],
    lr: float,
    batch_size: int,
    max_steps: int,
    minimum: Mapping[str, torch.Tensor] | None = None,
    progress: bool = False,
) -> EscapeResult:
    """Simsekli's protocol: σ = first step with ``‖w_t − w*‖₂ > radius`` (``w*`` = ``minimum``,
    default the model's weights). Other arguments as :func:`sgd_ensemble`."""
    point = EscapePoint(lr, batch_size, tuple(seeds), max_steps, radius=radius)
    return escape_sweep(model, loss_fn, data, [point], minimum=minimum, progress=progress)[0]


def _escape_by_distance(model, loss_fn, data, radius, *, seeds, lr, batch_size, max_steps, minimum, progress):
    w_min = _minimum(model, minimum)
    w_opt = _flat_minimum(w_min)

    def crossed(params: Params) -> torch.Tensor:
        return torch.linalg.vector_norm(flat(params) - w_opt, dim=1) > radius

    return _escape(
        model,
        loss_fn,
        data,
        w_min,
        crossed,
        seeds=seeds,
        lr=lr,
        batch_size=batch_size,
        max_steps=max_steps,
        protocol=f"distance>{radius:g}",
        progress=progress,
    )


def escape_by_loss(
    model: nn.Module,
    loss_fn: LossFn,
    data: Any,
    *,
    factor: float,
    seeds: Sequence[int],
    lr: float,
    batch_size: int,
    max_steps: int,
    minimum: Mapping[str, torch.Tensor] | None = None,
    eval_data: Any = None,
    progress: bool = False,
) -> EscapeResult:
    """Battash et al.'s protocol: σ = first step with ``L_eval(w_t) > factor · L_eval(w*)``.

    ``eval_data`` (default ``data``) is evaluated in full for every running seed after every
    step — pass a fixed subset to make that cheaper. ``factor`` > 1.
    """
    point = EscapePoint(lr, batch_size, tuple(seeds), max_steps, factor=factor)
    return escape_sweep(model, loss_fn, data, [point], minimum=minimum, eval_data=eval_data, progress=progress)[0]


def escape_by_level(
    model: nn.Module,
    loss_fn: LossFn,
    data: Any,
    *,
    level: float,
    seeds: Sequence[int],
    lr: float,
    batch_size: int,
    max_steps: int,
    minimum: Mapping[str, torch.Tensor] | None = None,
    eval_data: Any = None,
    progress: bool = False,
) -> EscapeResult:
    """σ = first step with ``L_eval(w_t) ≥ level`` (an absolute loss level, e.g. ``L(w*) + Δ``).

    Same protocol and arguments as :func:`escape_by_loss` otherwise; ``level`` must exceed
    ``L_eval(w*)``.
    """
    point = EscapePoint(lr, batch_size, tuple(seeds), max_steps, level=level)
    return escape_sweep(model, loss_fn, data, [point], minimum=minimum, eval_data=eval_data, progress=progress)[0]


def _escape_by_eval_loss(
    model, loss_fn, data, level_of, *, strict, protocol, seeds, lr, batch_size, max_steps, minimum, eval_data, progress
) -> EscapeResult:
    """SGD from ``w*`` until ``L_eval(w_t)`` passes ``level_of(L_eval(w*))`` (``>`` if ``strict``, else ``≥``)."""
    w_min = _minimum(model, minimum)
    xe, ye = as_data_source(eval_data if eval_data is not None else data).tensors(model_device(model))
    loss_at = seed_loss(model, loss_fn)  # the ensemble's own forward, so σ matches a seed-by-seed loop

    def eval_loss(params: Params) -> torch.Tensor:
        return loss_at(params, xe, ye)

    with evaluation_mode(model), torch.no_grad():
        threshold = level_of(eval_loss(w_min))
    batched = vmap(eval_loss)

    def crossed(params: Params) -> torch.Tensor:
        with torch.no_grad():
            values = batched(params)
            return values > threshold if strict else values >= threshold

    return _escape(
        model,
        loss_fn,
        data,
        w_min,
        crossed,
        seeds=seeds,
        lr=lr,
        batch_size=batch_size,
        max_steps=max_steps,
        protocol=protocol,
        progress=progress,
    )
