"""The entries engine's check of its first mini-batch against one ``autograd.grad``.

The engine relies on what it cannot see before running: a loss that is the mean of per-sample
losses, a model that treats samples independently, and every computed parameter used inside its
own module's ``forward`` (its hooks see nothing else). So the first mini-batch of a run is
compared with the loop engine, and a difference beyond rounding raises
:class:`UnsupportedModelError` (the collection then falls back to the loop).
"""

from __future__ import annotations

import dataclasses

import torch

from sgdnoise.gradients.engines.base import ChunkTask, UnsupportedModelError
from sgdnoise.gradients.engines.loop import loop_gradients

TOLERANCE = 1e-3  # relative to the largest entry of a tensor: far above float32 rounding


def check_first_mini_batch(task: ChunkTask, grads: dict[str, torch.Tensor], losses: torch.Tensor) -> None:
    """Compare mini-batch 0 of ``grads`` and ``losses`` (the engine's answer to ``task``) with the
    loop engine; raise :class:`UnsupportedModelError` naming what differs by more than
    ``TOLERANCE`` of the tensor's largest entry (of the loss, for the loss)."""
    first = dataclasses.replace(task, indices=task.indices[:1])
    ref, ref_loss = loop_gradients(task.model, task.loss_fn, *first.samples(), task.micro_batch)
    if abs(float(losses[0] - ref_loss[0])) > TOLERANCE * max(abs(float(ref_loss[0])), 1e-12):
        raise UnsupportedModelError(
            "the loss of the first mini-batch is not the mean of its per-sample losses "
            "(is loss_fn not a mean over samples, or does the model mix samples?)"
        )
    for name, g in grads.items():
        r = task.computed.take(name, ref[name])[0]
        if (g[0] - r).abs().max() > TOLERANCE * max(float(r.abs().max()), 1e-12):
            raise UnsupportedModelError(
                f"its gradient of {name} differs from autograd's on the first mini-batch "
                "(does the model mix samples, or use the parameter outside its module?)"
            )
