"""Many plain-SGD runs of one network at once, over a leading seed axis.

Seed ``s`` (one of ``seeds``) is the run ``w_{t+1} = w_t − η ∇_w (1/B) Σ_{ℓ∈Ω_t^s} loss_ℓ(w_t)``
(no momentum, no weight decay) on its own mini-batch stream ``Ω_1^s, Ω_2^s, …``
(:func:`~sgdnoise.dynamics.networks.seeds.batch_indices`). All seeds' parameters are stacked,
``{name: (S, *shape)}``; one step is one forward and backward over all running seeds
(:func:`~sgdnoise.dynamics.networks.seed_gradients.gradient_path`), and all running seeds' next
``block_steps`` batches are drawn in one batched call.

Seeds whose ``stop`` fires are frozen (their parameters stop changing) and dropped from the
computation, as exited paths in :func:`~sgdnoise.dynamics.simulate_exit`; memory does not grow
with the number of steps.

Exactness: each seed's parameters are bit-identical (``torch.equal``, CPU, float32 and float64,
one intra-op thread) to ``torch.optim.SGD`` on a copy of the model fed the same batches
(:mod:`~sgdnoise.dynamics.networks.seedwise` says why batching needs care).

The network is run in eval mode (every submodule; each gets its own flag back afterwards):
BatchNorm uses its running statistics (buffers shared by all seeds and never updated) and
dropout is off. For networks without such layers this is plain SGD.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from sgdnoise.dynamics.networks.seed_gradients import SeedGradients, gradient_path
from sgdnoise.dynamics.networks.seeds import (
    DEFAULT_BLOCK_STEPS,
    Params,
    check_batch_size,
    checked_seeds,
    flat,
    starting_params,
)
from sgdnoise.dynamics.progress import step_progress
from sgdnoise.errors import ConvergenceError, InvalidInputError
from sgdnoise.plumbing import (
    LossFn,
    as_data_source,
    evaluation_mode,
    model_device,
    positive_int,
    positive_number,
    sample_batch_indices_per_stream,
)
from sgdnoise.rng import as_generator

StopRule = Callable[[int, Params, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class EnsembleResult:
    """Outcome of :func:`sgd_ensemble` for ``S`` seeds.

    params : ``{name: (S, *shape)}`` final parameters (a stopped seed's at its stop step).
    stop_step : ``(S,)`` int, the number of SGD steps the seed took (``steps`` if never stopped).
    stopped : ``(S,)`` bool, whether ``stop`` fired.
    loss_steps, losses : ``(R,)`` step numbers t and ``(R, S)`` mini-batch loss ``L_{Ω_t}(w_{t−1})``
        of step t (the loss whose gradient made step t), NaN once a seed has stopped; None unless
        ``record_every`` was given. These equal a seed-by-seed loop's to rounding only (vmap sums
        the batch mean in another order); the parameters are exact.
    trajectory : ``(R, S, D)`` flat parameters after each recorded step, or None.
    """

    seeds: tuple[int, ...]
    params: Params
    stop_step: np.ndarray
    stopped: np.ndarray
    n_steps: int
    lr: float
    batch_size: int
    loss_steps: np.ndarray | None = None
    losses: np.ndarray | None = field(default=None, repr=False)
    trajectory: torch.Tensor | None = field(default=None, repr=False)

    def flat(self) -> torch.Tensor:
        """Final parameters as ``(S, D)``, each seed's tensors flattened in ``named_parameters()`` order."""
        return flat(self.params)

    def state_dict(self, i: int) -> dict[str, torch.Tensor]:
        """Parameters of the ``i``-th seed (position in ``seeds``), for ``model.load_state_dict(..., strict=False)``."""
        return {k: v[i].clone() for k, v in self.params.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "seeds": list(self.seeds),
            "stop_step": self.stop_step.tolist(),
            "stopped": self.stopped.tolist(),
            "n_steps": self.n_steps,
            "lr": self.lr,
            "batch_size": self.batch_size,
            "loss_steps": None if self.loss_steps is None else self.loss_steps.tolist(),
            "losses": None if self.losses is None else self.losses.tolist(),
        }


@dataclass(frozen=True)
class EnsembleSettings:
    """What one :func:`sgd_ensemble` call runs, checked on entry (see its parameters)."""

    seeds: tuple[int, ...]
    lr: float
    batch_size: int
    steps: int
    block_steps: int = DEFAULT_BLOCK_STEPS
    record_every: int | None = None
    record_trajectory: bool = False
    stop: StopRule | None = None


def sgd_ensemble(
    model: nn.Module,
    loss_fn: LossFn,
    data: Any,
    *,
    seeds: Sequence[int],
    lr: float,
    batch_size: int,
    steps: int,
    init: Any = None,
    record_every: int | None = None,
    record_trajectory: bool = False,
    stop: StopRule | None = None,
    block_steps: int = DEFAULT_BLOCK_STEPS,
    progress: bool = False,
) -> EnsembleResult:
    """Run ``len(seeds)`` independent plain-SGD runs of ``model`` at once.

    Parameters
    ----------
    model : the architecture (its parameters are read, never written; eval mode, see the module note).
    loss_fn : ``loss_fn(outputs, targets)`` → mean loss over the batch (e.g. ``F.cross_entropy``).
    data : ``(inputs (N, ...), targets (N, ...))``, a Dataset, a DataLoader or a list of batches
        (:func:`sgdnoise.plumbing.as_data_source`), read once into tensors on the model's device.
    seeds : distinct ints; seed s draws its batches with :func:`batch_indices` ``(s, N, B, …)``.
    lr, batch_size, steps : η > 0, B ≤ N, number of SGD steps.
    init : None (the model's current weights for every seed), a state_dict (a common start, e.g. a
        trained minimum), a list of one state_dict per seed, or ``"random"`` (fresh weights per
        seed from ``reset_parameters`` under ``torch.manual_seed(init_seed(s))``).
    record_every : record each seed's mini-batch loss every that many steps (memory grows with steps).
    record_trajectory : with ``record_every``, also keep the flat parameters ``(R, S, D)``.
    stop : ``stop(t, params, seed_idx) -> (S_a,) bool`` called after step t with the running seeds'
        stacked parameters ``{name: (S_a, *shape)}`` (updated in place by later steps: copy what you
        keep) and their positions ``seed_idx`` in ``seeds``; seeds for which it is True stop there
        (``stop_step = t``) and stay frozen.
    block_steps : steps whose mini-batch indices are drawn at once per seed (the batches do not depend on it).
    progress : show a rich progress bar (steps done, seeds still running).

    Raises :class:`InvalidInputError` for bad arguments and :class:`ConvergenceError` when a
    running seed's loss becomes NaN/Inf (naming the seed and step).
    """
    seeds = checked_seeds(seeds)
    for name, v in (("batch_size", batch_size), ("steps", steps), ("block_steps", block_steps)):
        positive_int(v, name)
    if record_every is not None:
        positive_int(record_every, "record_every")
    settings = EnsembleSettings(
        seeds=seeds,
        lr=positive_number(lr, "lr"),
        batch_size=batch_size,
        steps=steps,
        block_steps=block_steps,
        record_every=record_every,
        record_trajectory=record_trajectory,
        stop=stop,
    )
    x, y = as_data_source(data).tensors(model_device(model))
    check_batch_size(batch_size, len(x))
    params = starting_params(model, init, seeds)
    with (
        evaluation_mode(model),
        step_progress(progress, steps, "SGD ensemble", running="seeds running") as advance,
    ):
        gradients, inputs = gradient_path(model, loss_fn, x, y)
        return _run(gradients, inputs, y, params, settings, advance)


def _gather(data: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``data[idx]`` for ``idx (S, B)`` as ``(S, B, …)``, by one ``index_select``."""
    return data.index_select(0, idx.reshape(-1)).view(*idx.shape, *data.shape[1:])


def _run(
    gradients: SeedGradients,
    x: torch.Tensor,
    y: torch.Tensor,
    params: Params,
    settings: EnsembleSettings,
    advance: Callable[..., None],
) -> EnsembleResult:
    """The step loop: per block, draw the running seeds' next batches; per step, every running
    seed's gradient, the SGD update in place, the records, and the stop rule."""
    seeds, steps, lr = settings.seeds, settings.steps, settings.lr
    record_every, stop = settings.record_every, settings.stop
    n_seeds, n_points = len(seeds), len(x)
    generators = [as_generator(s) for s in seeds]
    final = {k: v.clone() for k, v in params.items()}
    active = torch.arange(n_seeds, device=x.device)
    stop_step = np.full(n_seeds, steps, dtype=np.int64)
    stopped = np.zeros(n_seeds, dtype=bool)
    loss_rows, loss_steps, frames = [], [], []
    t = 0
    while t < steps and active.numel() > 0:
        k = min(settings.block_steps, steps - t)
        # (k, S_a, B), step-major: the next k batches of each running seed's stream
        streams = [generators[i] for i in active.tolist()]
        block = sample_batch_indices_per_stream(n_points, settings.batch_size, k, streams).transpose(0, 1).to(x.device)
        for j in range(k):
            t += 1
            grads, loss = gradients(params, _gather(x, block[j]), _gather(y, block[j]))
            if not bool(torch.isfinite(loss).all()):
                bad = int(active[~torch.isfinite(loss)][0])
                raise ConvergenceError(
                    f"the loss of seed {seeds[bad]} is {float(loss[~torch.isfinite(loss)][0])} at step {t}; "
                    "lower the learning rate"
                )
            for n, p in params.items():  # in place, as torch.optim.SGD (the stacked tensors are the ensemble's own)
                p.add_(grads[n], alpha=-lr)
            if record_every is not None and t % record_every == 0:
                row = np.full(n_seeds, np.nan)
                row[active.cpu().numpy()] = loss.detach().cpu().double().numpy()
                loss_rows.append(row)
                loss_steps.append(t)
                if settings.record_trajectory:
                    frames.append(flat({n: final[n].index_copy(0, active, p) for n, p in params.items()}).cpu())
            halt = (
                None
                if stop is None
                else torch.as_tensor(stop(t, params, active), dtype=torch.bool, device=x.device).reshape(-1)
            )
            if halt is not None and halt.shape[0] != active.numel():
                raise InvalidInputError(
                    f"stop must return one bool per running seed ({active.numel()}); got shape {tuple(halt.shape)}"
                )
            if halt is not None and bool(halt.any()):
                done = active[halt]
                for n, p in params.items():
                    final[n][done] = p[halt]
                stop_step[done.cpu().numpy()] = t
                stopped[done.cpu().numpy()] = True
                keep = ~halt
                active, block = active[keep], block[:, keep]
                params = {n: p[keep] for n, p in params.items()}
                if active.numel() == 0:
                    break
        advance(j + 1, active.numel())
    for n, p in params.items():
        final[n][active] = p
    return EnsembleResult(
        seeds=seeds,
        params=final,
        stop_step=stop_step,
        stopped=stopped,
        n_steps=t,
        lr=lr,
        batch_size=settings.batch_size,
        loss_steps=np.asarray(loss_steps, dtype=np.int64) if record_every is not None else None,
        losses=np.stack(loss_rows) if loss_rows else (np.empty((0, n_seeds)) if record_every is not None else None),
        trajectory=(torch.stack(frames) if frames else None) if settings.record_trajectory else None,
    )
