"""``collect_noise``: the SGN of a PyTorch model over K mini-batches, chunked and resumable."""

from __future__ import annotations

import hashlib
import warnings
from typing import Any

import torch
from torch import nn

from sgdnoise.errors import InvalidInputError
from sgdnoise.gradients.full import check_finite_gradient, full_gradient
from sgdnoise.gradients.minibatches import indices_digest, mini_batches
from sgdnoise.gradients.planning import AUTO, Planner
from sgdnoise.gradients.result import NoiseResult
from sgdnoise.gradients.run import CollectionRun
from sgdnoise.gradients.runstore import NoiseRunStore
from sgdnoise.gradients.selection import ParameterSelection, select_parameters
from sgdnoise.plumbing.checks import is_int
from sgdnoise.plumbing.data import as_indexed_source
from sgdnoise.plumbing.losses import LossFn
from sgdnoise.plumbing.modes import evaluation_mode
from sgdnoise.plumbing.parameters import trainable_parameters
from sgdnoise.rng import Seed, as_generator

DEFAULT_MEMORY_BUDGET = 1 << 30  # 1 GiB


def collect_noise(
    model: nn.Module,
    loss_fn: LossFn,
    data: Any,
    *,
    batch_size: int | None = None,
    num_batches: int | None = None,
    seed: Seed,
    batch_indices: Any = None,
    params: Any = None,
    method: str = AUTO,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    full_grad: dict[str, torch.Tensor] | None = None,
    replacement: bool = False,
    out: Any = None,
    progress: bool = False,
) -> NoiseResult:
    """Collect the noise ``u_k = ∇U(w) − (1/B) Σ_{ℓ∈Ω_k} ∇U_ℓ(w)`` (papers.md §1 eq. 1), k = 1…K.

    Parameters
    ----------
    model, loss_fn:
        Any ``nn.Module`` and ``loss_fn(output, target)`` returning the *mean* loss of a batch.
        The model is put in eval mode for the run (BatchNorm uses running statistics, dropout
        is off) and every module's mode is restored afterwards; weights are not changed.
    data:
        ``(X, y)`` tensors, a map-style ``Dataset`` of ``(x, y)`` pairs, or a ``DataLoader``
        over one (its dataset; its batches are not used). ``D`` = number of points.
    batch_size, num_batches, seed:
        ``B``, ``K`` and the seed of the mini-batches (``batch_indices``, each row B distinct
        points unless ``replacement=True``) and of the sampled parameter entries. The
        mini-batches depend only on ``seed``, ``D``, ``B``, ``K`` and ``replacement`` — the same
        seed gives the same mini-batches at another checkpoint or with another selection.
    batch_indices:
        Given mini-batches instead of drawn ones: a ``(K, B)`` tensor or array of point indices
        in ``[0, D)`` (each row distinct points unless ``replacement=True``), e.g. the batches a
        training run used, or ``res.batch_indices`` of an earlier run. ``batch_size`` and
        ``num_batches`` then follow from it (if given, they must agree), and ``seed`` only draws
        the sampled entries of ``params`` (pass ``params=res.selection`` to keep an earlier run's).
    params:
        Which noise samples to keep: ``None``/``"all"``, name glob(s), an int ``n`` (n random
        entries per parameter tensor) or a :class:`ParameterSelection`.
    method:
        ``"loop"``, ``"vmap"``, ``"entries"`` or ``"auto"`` (rule in
        :mod:`sgdnoise.gradients.planning`). An engine that cannot take the model falls back
        to ``"loop"`` with a warning.
    memory_budget:
        Bytes one chunk of mini-batches may use (the engines' estimates, see ``planning``). A
        mini-batch larger than the budget is split into micro-batches (loop engine); a budget
        below one sample raises :class:`InvalidInputError`.
    full_grad:
        ``name → ∇U`` if already known; otherwise computed in passes over the data.
    out:
        A folder: the run streams there chunk by chunk (``runstore``) and a re-run with the
        same arguments resumes after the last finished chunk (``seed`` must be an int).

    Executors: on an executor with several workers (``with use_executor(RayExecutor()):``,
    :mod:`sgdnoise.parallel`) the mini-batches are cut into contiguous ranges, about one per
    worker and none under ``MIN_SHARD_BATCHES`` (:mod:`sgdnoise.gradients.run`), each computed
    by a task with this process's plan, full gradient and mini-batches (drawn here once: the
    seed's generator draws them row after row, so row k cannot be drawn without rows 0…k−1).
    The result is the in-process one number for number: kept noise and losses are put together
    in order, the chunks' own moments merged in chunk order. A range is made of whole chunks of
    the plan, since ``vmap`` and ``entries`` compute a chunk's mini-batches together and moments
    are streamed per chunk; on the loop engine with no moments streamed (every tensor kept
    whole) it may end at any mini-batch. So a plan of one chunk on ``vmap`` or ``entries``, or
    one that streams moments, runs in one piece (a smaller ``memory_budget`` makes more chunks,
    here and on the workers alike); so does a run whose chunks' moments, held until every task
    is done (three floats per computed entry and chunk), would pass ``memory_budget``. With
    ``out`` the chunk files and states are written by this process, in chunk order, once the
    tasks are done; finished tasks are kept in ``out/shards`` until then, so an interrupted run
    resumes with them. ``progress`` shows no bar for a sharded run.

    Returns a :class:`NoiseResult` (``res.plan``: engine, chunk size, micro-batch size and why).
    Raises :class:`InvalidInputError` for a batch size larger than the data, bad
    ``batch_indices``, an empty selection, or a NaN/Inf loss or gradient (naming the mini-batch
    and the parameter), :class:`ConfigError` when ``out`` holds a different run.
    """
    if not isinstance(model, nn.Module) or not callable(loss_fn):
        raise InvalidInputError("model must be a torch.nn.Module and loss_fn a callable (output, target) -> mean loss")
    source = as_indexed_source(data)
    named = trainable_parameters(model)
    if not named:
        raise InvalidInputError("the model has no trainable parameters (requires_grad=True)")
    if out is not None and not is_int(seed):
        raise InvalidInputError("a run written to out= must have an int seed, so that it can be resumed")
    gen = as_generator(seed)  # mini-batches first, so they depend on the seed only, not on `params`
    indices = mini_batches(source.size, batch_size, num_batches, gen, replacement=replacement, given=batch_indices)
    kept = select_parameters({n: p.shape for n, p in named.items()}, params, seed=gen)
    device = next(iter(named.values())).device
    with evaluation_mode(model):
        x1, _ = source.take(torch.zeros(1, dtype=torch.int64))
        num_batches, batch_size = indices.shape
        planner = Planner(
            model,
            x1.to(device),
            kept,
            batch_size=batch_size,
            num_batches=num_batches,
            num_points=source.size,
            method=method,
        )
        plan = planner.plan(memory_budget)
        if plan.fell_back:
            warnings.warn(plan.reason, stacklevel=2)
        run = CollectionRun(
            model,
            loss_fn,
            source,
            kept,
            planner.everything,
            indices,
            device,
            plan,
            planner.probe,
            memory_budget=memory_budget,
        )

        def get_full_grad() -> dict[str, torch.Tensor]:
            if full_grad is None:
                return full_gradient(model, loss_fn, source, samples_per_pass=plan.full_pass)
            return _checked_full_grad(full_grad, named)

        store = None
        if out is not None:
            given = indices_digest(indices) if batch_indices is not None else None
            store = NoiseRunStore(out, _config(named, kept, indices, replacement, method, source.size, seed, given))
        return run.execute(get_full_grad, seed, replacement, store, progress)


def _checked_full_grad(full_grad: dict[str, torch.Tensor], named: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    missing = [n for n in named if n not in full_grad or tuple(full_grad[n].shape) != tuple(named[n].shape)]
    if missing:
        raise InvalidInputError(
            "full_grad must hold a tensor of the parameter's shape for every trainable parameter; "
            f"wrong or missing: {missing[:5]}"
        )
    out = {n: full_grad[n].detach().to(named[n]) for n in named}
    check_finite_gradient(out, what="the given full_grad")
    return out


def _config(
    named: dict[str, torch.Tensor],
    kept: ParameterSelection,
    indices: torch.Tensor,
    replacement: bool,
    method: str,
    num_points: int,
    seed: Any,
    given_digest: str | None,
) -> dict[str, Any]:
    """What must match for a run folder to be resumed (weights included, as a SHA-256; given
    mini-batches as the SHA-256 of their indices, drawn ones by their seed)."""
    digest = hashlib.sha256()
    for n, p in named.items():
        digest.update(n.encode())
        digest.update(p.detach().cpu().contiguous().numpy().tobytes())
    config = {
        "seed": seed if is_int(seed) else None,
        "batch_size": int(indices.shape[1]),
        "num_batches": int(indices.shape[0]),
        "replacement": replacement,
        "method": method,
        "num_points": num_points,
        "weights_sha256": digest.hexdigest(),
        "selection": kept.to_dict(),
    }
    if given_digest is not None:
        config["batch_indices_sha256"] = given_digest
    return config
