"""The chunk loop of one collection, shared by fresh and resumed runs.

Chunk after chunk of mini-batches: the plan's engine computes their gradients (written into the
kept noise where the layouts agree, :mod:`sgdnoise.gradients.kept`), the noise ``∇U − g_k`` is
made in the gradients' storage, its running moments are merged when not all of it is kept, and
the chunk is kept and written to the run folder. An engine that finds it cannot take the model
hands over to the loop (:meth:`CollectionPlan.falling_back`).
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from sgdnoise.errors import InvalidInputError
from sgdnoise.gradients.engines import FALLBACK, LOOP, ChunkTask
from sgdnoise.gradients.kept import KeptNoise, keeps_everything, written_in_place
from sgdnoise.gradients.planning import CollectionPlan
from sgdnoise.gradients.probe import ModelProbe
from sgdnoise.gradients.result import NoiseResult
from sgdnoise.gradients.running import ChunkMoments, RunningMoments
from sgdnoise.gradients.runstore import NoiseRunStore
from sgdnoise.gradients.selection import ParameterSelection
from sgdnoise.parallel import Task, run_tasks, seed_chunks
from sgdnoise.plumbing.checks import is_int
from sgdnoise.plumbing.data import DataSource
from sgdnoise.plumbing.losses import LossFn
from sgdnoise.plumbing.modes import evaluation_mode
from sgdnoise.plumbing.parameters import trainable_parameters
from sgdnoise.store.shards import ShardStore

MIN_SHARD_BATCHES = 32
"""Fewest mini-batches a task of a sharded collection computes. A sharded call costs Ray tens of
milliseconds on 2 cores (10–110 ms measured, busy machine), as much as a few tens of a small CNN's
mini-batches (≈ 6 ms each); a small MLP's (0.2 ms each) need hundreds (benchmarks/RESULTS.md,
"Ray executor")."""


@dataclass(eq=False)
class CollectionRun:
    """One collection of the ``kept`` entries' noise over the mini-batches ``batch_indices``
    ``(K, B)`` under ``plan``; ``everything`` selects every entry, ``probe`` is the planner's.
    ``verified``: the engine has been checked on the run's first chunk (or need not be);
    ``memory_budget``: the collection's, which also bounds what a sharded run holds in addition
    (:meth:`shard_bounds`)."""

    model: nn.Module
    loss_fn: LossFn
    source: DataSource
    kept: ParameterSelection
    everything: ParameterSelection
    batch_indices: torch.Tensor
    device: torch.device
    plan: CollectionPlan
    probe: ModelProbe
    verified: bool = False
    memory_budget: int | None = None

    @property
    def computed(self) -> ParameterSelection:
        """The entries whose noise is computed and enters the running statistics."""
        return self.kept if self.plan.computes_kept_only else self.everything

    def execute(
        self,
        get_full_grad: Callable[[], dict[str, torch.Tensor]],
        seed: Any,
        replacement: bool,
        store: NoiseRunStore | None,
        progress: bool,
    ) -> NoiseResult:
        """Run (or resume from ``store``) all chunks; ``get_full_grad()`` is only called for a new run."""
        saved = store.read_manifest() if store is not None else None
        if saved is not None:
            store.check_same_run(saved)
            full_grad, self.plan = store.full_grad(), self.plan.resumed(saved)
        else:
            full_grad = get_full_grad()
            if store is not None:
                store.start(seed, full_grad, self.batch_indices, **self.plan.to_dict())
                saved = store.read_manifest()
        done, state = store.load_state() if store is not None else (0, {})
        moments = RunningMoments(state)
        num_batches, chunk = self.batch_indices.shape[0], self.plan.chunk_size
        starts = list(range(0, num_batches, chunk))
        kept = KeptNoise(self.kept, trainable_parameters(self.model), num_batches)
        for c in range(done):
            kept.add(starts[c], *store.read_chunk(c))
        shards = self.shard_bounds(starts[done] if done < len(starts) else num_batches)
        if len(shards) > 1:
            chunk_moments = self.collect_shards(shards, full_grad, kept, store)
            for c in range(done, len(starts)):  # merged and kept chunk after chunk, as the loop below does
                if c in chunk_moments:
                    moments.merge(chunk_moments.pop(c))
                if store is not None:
                    stop = min(starts[c] + chunk, num_batches)
                    store.write_chunk(c, kept.rows(starts[c], stop), kept.losses[starts[c] : stop])
                    store.save_state(c + 1, moments.state())
        else:
            for c in _progress(range(done, len(starts)), progress, total=len(starts), completed=done):
                stop = min(starts[c] + chunk, num_batches)
                noise, losses = self.chunk_noise(starts[c], stop, full_grad, moments, kept.rows(starts[c], stop))
                kept.add(starts[c], noise, losses)
                if store is not None:
                    store.write_chunk(c, noise, losses)
                    store.save_state(c + 1, moments.state())
                del noise, losses  # kept; freed before the next chunk's gradients are made
        if store is not None and saved.get("status") != "complete":
            store.finish(saved)
        streamed = moments.count == num_batches  # else every computed entry was kept (or a fall back changed that)
        scope = "all" if keeps_everything(self.computed, self.everything) else "selected"
        return NoiseResult(
            full_grad=full_grad,
            batch_indices=self.batch_indices,
            noise=kept.noise,
            selection=self.kept,
            losses=kept.losses,
            streamed_stats=moments.result(scope) if streamed else None,
            stats_scope="all" if keeps_everything(self.kept, self.everything) else "selected",
            plan=self.plan,
            seed=seed if is_int(seed) else None,
            replacement=replacement,
            num_points=self.source.size,
        )

    @property
    def streams_moments(self) -> bool:
        """Whether the chunks' computed noise is merged into running moments (:meth:`chunk_noise`):
        some computed tensor is not kept whole in the computed layout."""
        return set(written_in_place(self.kept, self.computed)) != set(self.computed.names)

    def shard_bounds(self, first: int) -> list[tuple[int, int]]:
        """Mini-batches ``first…K−1`` as the contiguous ranges ``[start, stop)`` that tasks compute
        (:func:`collect_range`): about one per worker of the current executor, each of at least
        :data:`MIN_SHARD_BATCHES` mini-batches; one range in this process.

        A range is made of whole chunks of the plan, so every chunk's gradients and moments are
        the in-process ones (vmap and entries compute a chunk's mini-batches together). The loop
        engine computes each mini-batch on its own, so when no moments are streamed its ranges
        may end at any mini-batch (a plan of one chunk still splits). Chunk moments are merged
        once every task is done, so a run that streams them holds ``3·P`` floats per chunk
        (``P`` computed entries) meanwhile; when those pass ``memory_budget`` it runs in one
        piece (a model of many entries in many small chunks: BERT-base, 1.3 GB per chunk)."""
        num_batches = self.batch_indices.shape[0]
        step = 1 if self.plan.engine is LOOP and not self.streams_moments else self.plan.chunk_size
        units = list(range(first, num_batches, step))
        if not units:
            return []
        if self.streams_moments and self.memory_budget is not None:
            held = len(units) * 3 * self.computed.total * self.probe.itemsize
            if held > self.memory_budget:
                return [(first, num_batches)]
        parts = seed_chunks(units, min_size=max(1, -(-MIN_SHARD_BATCHES // step)))
        return [(part[0], min(part[-1] + step, num_batches)) for part in parts]

    def collect_shards(
        self,
        shards: list[tuple[int, int]],
        full_grad: dict[str, torch.Tensor],
        kept: KeptNoise,
        store: NoiseRunStore | None,
    ) -> dict[int, ChunkMoments]:
        """Compute the mini-batches of ``shards`` as tasks on the current executor
        (:func:`collect_range`), put their kept noise and losses into ``kept`` and return the
        moments of every chunk that streams them, by chunk number. A run folder keeps finished
        tasks (``shards/``) until the run is complete.

        A fall back goes as in the chunk loop: the engine is checked on the first chunk this
        process computes (in the first shard), and once a shard's engine has fallen back, the
        shards after it that did not fall back on their first chunk are computed again on the
        loop, as the chunk loop would have computed them."""
        results = run_tasks(self._shard_tasks(shards, full_grad), store=_task_store(store))
        fell = next((i for i, r in enumerate(results) if r["fell_back_at"] is not None), None)
        if fell is not None:
            self.plan = dataclasses.replace(self.plan, engine=FALLBACK, reason=results[fell]["reason"])
            warnings.warn(self.plan.reason, stacklevel=4)
            again = [i for i in range(fell + 1, len(shards)) if results[i]["fell_back_at"] != shards[i][0]]
            if again:
                redone = run_tasks(self._shard_tasks([shards[i] for i in again], full_grad), store=_task_store(store))
                for i, result in zip(again, redone):
                    results[i] = result
        chunk_moments: dict[int, ChunkMoments] = {}
        for (start, _), result in zip(shards, results):
            kept.add(start, result["noise"], result["losses"])
            for i, part in enumerate(result["moments"]):
                if part is not None:  # a range that streams moments is made of whole chunks
                    chunk_moments[start // self.plan.chunk_size + i] = part
        return chunk_moments

    def _shard_tasks(self, shards: list[tuple[int, int]], full_grad: dict[str, torch.Tensor]) -> list[Task]:
        first = None if self.verified else shards[0][0]  # as the chunk loop checks its first chunk
        return [
            Task(
                f"mini-batches {a}-{b - 1}",
                collect_range,
                (self, full_grad),
                {"start": a, "stop": b, "verify": a == first},
            )
            for a, b in shards
        ]

    def compute_range(self, full_grad: dict[str, torch.Tensor], start: int, stop: int) -> dict[str, Any]:
        """Mini-batches ``start…stop−1`` in chunks of the plan from ``start``: their kept noise
        and losses, the moments of each chunk (``None`` for a chunk that streams none), the first
        mini-batch of the chunk where the engine fell back (``None`` if it did not) and the plan's
        reason."""
        kept = KeptNoise(self.kept, trainable_parameters(self.model), stop - start)
        moments: list[ChunkMoments | None] = []
        fell_back_at = None
        for a in range(start, stop, self.plan.chunk_size):
            b = min(a + self.plan.chunk_size, stop)
            recorded, engine = _RecordedMoments(), self.plan.engine
            noise, losses = self.chunk_noise(a, b, full_grad, recorded, kept.rows(a - start, b - start))
            kept.add(a - start, noise, losses)
            moments.append(recorded.part)
            if self.plan.engine is not engine:
                fell_back_at = a
            del noise, losses
        return {
            "noise": kept.noise,
            "losses": kept.losses,
            "moments": moments,
            "fell_back_at": fell_back_at,
            "reason": self.plan.reason,
        }

    def chunk_noise(
        self, start: int, stop: int, full_grad, moments: RunningMoments, kept_rows: dict[str, torch.Tensor]
    ) -> tuple[dict, torch.Tensor]:
        """Kept noise ``name → (stop−start, ...)`` and losses of mini-batches ``start…stop−1``;
        merges the chunk's computed noise into ``moments`` when some computed tensor is not kept
        whole (else :class:`NoiseResult` computes the statistics from the kept noise on use).
        ``kept_rows``: the chunk's kept noise, where the engine writes what it can."""
        grads, losses = self.gradients(self.batch_indices[start:stop], kept_rows)
        _check_finite_chunk(grads, losses, start)
        computed = self.computed
        noise = {n: torch.sub(computed.take(n, full_grad[n][None]), g, out=g) for n, g in grads.items()}  # ∇U − g_k
        if self.streams_moments:
            moments.update(noise)
        if computed is self.kept:
            return noise, losses
        return {n: self.kept.take(n, noise[n]) for n in self.kept.names}, losses

    def gradients(self, idx: torch.Tensor, kept_rows: dict[str, torch.Tensor]) -> tuple[dict, torch.Tensor]:
        """Mini-batch gradients (``computed`` entries) and losses of the mini-batches ``idx``
        ``(Kc, B)`` by the plan's engine, written into ``kept_rows`` where their layouts agree.
        The layout is that of the engine that runs, so it changes on a fall back."""
        engine = self.plan.engine
        out = {n: kept_rows[n] for n in written_in_place(self.kept, self.computed)} if engine.writes_in_place else {}
        task = ChunkTask(
            self.model,
            self.loss_fn,
            self.source,
            idx,
            self.device,
            self.computed,
            self.probe,
            self.plan.micro_batch,
            out=out,
            verify=not self.verified,
        )
        try:
            result = engine.gradients(task)
        except (RuntimeError, NotImplementedError, ValueError) as exc:
            if engine is FALLBACK or isinstance(exc, InvalidInputError):
                raise
            self.plan = self.plan.falling_back(str(exc))
            warnings.warn(self.plan.reason, stacklevel=5)
            return self.gradients(idx, kept_rows)
        self.verified = True
        return result


def collect_range(
    run: CollectionRun, full_grad: dict[str, torch.Tensor], *, start: int, stop: int, verify: bool
) -> dict[str, Any]:
    """The task of one shard of a collection: :meth:`CollectionRun.compute_range` of mini-batches
    ``start…stop−1`` by a copy of the driver's ``run`` (its plan), in eval mode; ``verify``: check
    the engine on the first chunk, as the chunk loop does on the first one it computes. A fall
    back is reported in the result, not warned about (the driver warns once)."""
    run = dataclasses.replace(run, verified=not verify)
    with evaluation_mode(run.model), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run.compute_range(full_grad, start, stop)


def _task_store(store: NoiseRunStore | None) -> ShardStore | None:
    """Where a sharded run keeps its finished tasks: its run folder's, else the caller's scope's."""
    return store.task_shards() if store is not None else None


class _RecordedMoments:
    """Stands in for the running moments of a chunk computed in a shard: keeps the chunk's own."""

    part: ChunkMoments | None = None

    def update(self, chunk: dict[str, torch.Tensor]) -> None:
        self.part = ChunkMoments.of(chunk)


def _check_finite_chunk(grads: dict[str, torch.Tensor], losses: torch.Tensor, start: int) -> None:
    """Raise naming the first mini-batch (and parameter) whose loss or gradient is NaN/Inf."""
    bad_loss = (~torch.isfinite(losses)).nonzero()
    if bad_loss.numel():
        k = start + int(bad_loss[0])
        raise InvalidInputError(
            f"the loss is NaN or Inf on mini-batch {k} (row {k} of batch_indices); "
            "check those data points and the weights"
        )
    for name, g in grads.items():
        if torch.isfinite(g.sum()):  # fast path; a NaN or Inf anywhere makes the sum non-finite
            continue
        bad = (~torch.isfinite(g.reshape(g.shape[0], -1))).any(1).nonzero()
        if bad.numel():
            k = start + int(bad[0])
            raise InvalidInputError(
                f"the gradient of parameter {name!r} is NaN or Inf on mini-batch {k} (row {k} of batch_indices); "
                "check those data points and the weights"
            )


def _progress(steps: range, show: bool, *, total: int, completed: int) -> Any:
    if not show:
        return steps
    from rich.progress import track

    return track(steps, description="mini-batch gradients", total=total, completed=completed)
