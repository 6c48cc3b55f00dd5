"""The entries engine as the planner and the collection see it (:class:`~sgdnoise.gradients.engines.base.Engine`)."""

from __future__ import annotations

import torch
from torch import nn

from sgdnoise.gradients.engines.base import ChunkTask, OneInstance, Workload
from sgdnoise.gradients.engines.entries.check import check_first_mini_batch
from sgdnoise.gradients.engines.entries.gradients import entry_gradients
from sgdnoise.gradients.engines.entries.memory import entries_chunk_bytes, samples_per_piece
from sgdnoise.gradients.engines.entries.support import unsupported_reason
from sgdnoise.gradients.selection import ParameterSelection


class EntriesEngine(OneInstance):
    """Mini-batch gradients from per-sample factors, each distinct sample through the model once
    (:mod:`sgdnoise.gradients.engines.entries`)."""

    name = "entries"
    computes_subsets = True
    writes_in_place = True

    def supports(self, model: nn.Module, computed: ParameterSelection) -> str | None:
        """:func:`~.support.unsupported_reason`."""
        return unsupported_reason(model, computed)

    def chunk_bytes(self, work: Workload, chunk: int, micro_batch: int | None = None) -> int:
        """:func:`~.memory.entries_chunk_bytes` (mini-batches are never split)."""
        return entries_chunk_bytes(work, chunk)

    def micro_batch(self, work: Workload, memory_budget: int) -> int:
        """``B``: mini-batches stay whole."""
        return work.batch_size

    def gradients(self, task: ChunkTask) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """:func:`~.gradients.entry_gradients` of the task's distinct samples, in pieces of
        :func:`~.memory.samples_per_piece`; the first chunk of a run is checked against the loop
        (:mod:`.check`)."""
        x, y, rows = task.distinct_samples()
        grads, losses = entry_gradients(
            task.model, task.loss_fn, x, y, rows, task.computed, samples_per_piece(task.probe), out=task.out
        )
        if task.verify:
            check_first_mini_batch(task, grads, losses)
        return grads, losses


ENTRIES = EntriesEngine()
