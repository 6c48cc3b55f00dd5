"""The vmap engine: ``torch.func.vmap(grad_and_value(loss))`` over a chunk of mini-batches.

The chunk's mini-batches are stacked on a leading axis and the model is called through
``torch.func.functional_call``: one batched call instead of ``Kc`` small ones, which pays on small
dense nets. ``torch.func`` cannot batch every module (in-place buffer updates, data-dependent
control flow, random ops); it says so only when it runs, and the collection then falls back to
the loop.

Memory rule (bytes, notation of :mod:`sgdnoise.gradients.probe`): ``s·Kc·(3P + 12·B·A)`` — the
kept gradient, its noise and a temporary (``3P``), and the activations saved for backward, their
gradients and the batching and convolution temporaries of every mini-batch of the chunk at once
(``12·A`` per sample, above the largest peaks measured, benchmarks/RESULTS.md).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call, grad_and_value, vmap

from sgdnoise.gradients.engines.base import ChunkTask, OneInstance, Workload
from sgdnoise.gradients.selection import ParameterSelection
from sgdnoise.plumbing.losses import LossFn
from sgdnoise.plumbing.parameters import trainable_parameters


def vmap_gradients(
    model: nn.Module, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Mini-batch gradients of every trainable parameter by ``vmap`` over the mini-batch axis:
    ``x`` ``(Kc, B, ...)``, ``y`` ``(Kc, B, ...)`` → ``grads[name]`` ``(Kc, *param.shape)`` and
    ``losses`` ``(Kc,)`` float64. Raises whatever ``torch.func`` raises for modules it cannot batch."""
    params = {n: p.detach() for n, p in trainable_parameters(model).items()}
    frozen = {n: p.detach() for n, p in model.named_parameters() if not p.requires_grad}
    buffers = {**dict(model.named_buffers()), **frozen}

    def batch_loss(p: dict[str, torch.Tensor], xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        return loss_fn(functional_call(model, (p, buffers), (xb,)), yb)

    with torch.enable_grad():
        grads, losses = vmap(grad_and_value(batch_loss), in_dims=(None, 0, 0))(params, x, y)
    return grads, losses.detach().double()


class VmapEngine(OneInstance):
    """The vmap engine (module docstring), as the planner and the collection see it."""

    name = "vmap"
    computes_subsets = False
    writes_in_place = False

    def supports(self, model: nn.Module, computed: ParameterSelection) -> str | None:
        """Always ``None``: ``torch.func`` tells only when it runs."""
        return None

    def chunk_bytes(self, work: Workload, chunk: int, micro_batch: int | None = None) -> int:
        """``s·Kc·(3P + 12·B·A)`` (module docstring)."""
        probe = work.probe
        return probe.itemsize * chunk * (3 * probe.num_params + 12 * work.batch_size * probe.activations_per_sample)

    def micro_batch(self, work: Workload, memory_budget: int) -> int:
        """``B``: mini-batches stay whole."""
        return work.batch_size

    def gradients(self, task: ChunkTask) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """:func:`vmap_gradients` of the task's mini-batches."""
        return vmap_gradients(task.model, task.loss_fn, *task.samples())


VMAP = VmapEngine()
