"""The chunk loop of one collection, shared by fresh and resumed runs.

Chunk after chunk of mini-batches: the plan's engine computes their gradients (written into the
kept noise where the layouts agree, :mod:`sgdnoise.gradients.kept`), the noise ``∇U − g_k`` is
made in the gradients' storage, its running moments are merged when not all of it is kept, and
the chunk is kept and written to the run folder. An engine that finds it cannot take the model
hands over to the loop (:meth:`CollectionPlan.falling_back`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from sgdnoise.errors import InvalidInputError
from sgdnoise.gradients.engines import FALLBACK, ChunkTask
from sgdnoise.gradients.kept import KeptNoise, keeps_everything, written_in_place
from sgdnoise.gradients.planning import CollectionPlan
from sgdnoise.gradients.probe import ModelProbe
from sgdnoise.gradients.result import NoiseResult
from sgdnoise.gradients.running import RunningMoments
from sgdnoise.gradients.runstore import NoiseRunStore
from sgdnoise.gradients.selection import ParameterSelection
from sgdnoise.plumbing.checks import is_int
from sgdnoise.plumbing.data import DataSource
from sgdnoise.plumbing.losses import LossFn
from sgdnoise.plumbing.parameters import trainable_parameters


class CollectionRun:
    """One collection of the ``kept`` entries' noise over the mini-batches ``batch_indices``
    ``(K, B)`` under ``plan``; ``everything`` selects every entry, ``probe`` is the planner's."""

    def __init__(
        self,
        model: nn.Module,
        loss_fn: LossFn,
        source: DataSource,
        kept: ParameterSelection,
        everything: ParameterSelection,
        batch_indices: torch.Tensor,
        device: torch.device,
        plan: CollectionPlan,
        probe: ModelProbe,
    ) -> None:
        self.model, self.loss_fn, self.source, self.kept, self.everything = model, loss_fn, source, kept, everything
        self.batch_indices, self.device, self.plan, self.probe = batch_indices, device, plan, probe
        self.verified = False

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
        if set(written_in_place(self.kept, computed)) != set(computed.names):
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
