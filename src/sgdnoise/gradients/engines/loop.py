"""The loop engine: one ``torch.autograd.grad`` per mini-batch (or micro-batch).

It takes any model, is the brute-force reference the other engines are checked against, and is
the one engine that can split a mini-batch too large for the memory budget. Conv weights run
channels-last (:mod:`sgdnoise.gradients.layout`), faster on a CPU for convolutional nets.

Memory rule (bytes, ``s`` bytes per float, ``P`` trainable parameters, ``A`` leaf-output floats
per sample, :mod:`sgdnoise.gradients.probe`): ``s·(Kc·3P + 2·m·A)`` for ``Kc`` mini-batches —
the kept gradient, its noise and a temporary per mini-batch, and the activations of one backward
pass of ``m`` samples (``m = B`` unless split; twice ``A`` per sample covers the saved
activations and their gradients).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from sgdnoise.errors import InvalidInputError
from sgdnoise.gradients.engines.base import ChunkTask, OneInstance, Workload
from sgdnoise.gradients.layout import in_channels_last
from sgdnoise.gradients.selection import ParameterSelection
from sgdnoise.plumbing.losses import LossFn
from sgdnoise.plumbing.parameters import trainable_parameters


def loop_gradients(
    model: nn.Module,
    loss_fn: LossFn,
    x: torch.Tensor,
    y: torch.Tensor,
    micro_batch: int | None = None,
    out: dict[str, torch.Tensor] | None = None,
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Mini-batch gradients of every trainable parameter, one ``autograd.grad`` per mini-batch:
    ``x`` ``(Kc, B, ...)``, ``y`` ``(Kc, B, ...)`` → ``grads[name]`` ``(Kc, *param.shape)``
    (written into ``out[name]`` where given) and ``losses`` ``(Kc,)`` float64.

    With ``micro_batch = m < B`` each mini-batch is split into micro-batches ``Ω_k = ∪_j μ_j`` of
    at most ``m`` samples and ``g_k = Σ_j (|μ_j|/B) ∇ loss_fn(μ_j)`` (equal to the mini-batch
    gradient for a mean loss, up to rounding): one micro-batch's activations in memory at a time.
    """
    params = trainable_parameters(model)
    out = out or {}
    b = x.shape[1]
    step = micro_batch or b

    def compute() -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        grads = {n: out[n].zero_() if n in out else p.new_zeros((x.shape[0], *p.shape)) for n, p in params.items()}
        losses = torch.zeros(x.shape[0], dtype=torch.float64)
        for k in range(x.shape[0]):
            for start in range(0, b, step):
                weight = min(step, b - start) / b
                with torch.enable_grad():
                    loss = loss_fn(model(x[k, start : start + step]), y[k, start : start + step])
                    g = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
                losses[k] += weight * loss.detach().double()
                for n, gk in zip(params, g):
                    if gk is not None:
                        grads[n][k].add_(gk, alpha=weight)
        return grads, losses

    return in_channels_last(model, compute)


class LoopEngine(OneInstance):
    """The loop engine (module docstring), as the planner and the collection see it."""

    name = "loop"
    computes_subsets = False
    writes_in_place = True

    def supports(self, model: nn.Module, computed: ParameterSelection) -> str | None:
        """Always ``None``: the loop takes any model."""
        return None

    def chunk_bytes(self, work: Workload, chunk: int, micro_batch: int | None = None) -> int:
        """``s·(Kc·3P + 2·m·A)`` (module docstring), ``m = micro_batch or B``."""
        probe = work.probe
        return probe.itemsize * (
            chunk * 3 * probe.num_params + 2 * (micro_batch or work.batch_size) * probe.activations_per_sample
        )

    def micro_batch(self, work: Workload, memory_budget: int) -> int:
        """``B`` if one mini-batch fits ``memory_budget``, else the largest ``m`` with
        ``s·(3P + 2·m·A) ≤ memory_budget``, ``m = floor((memory_budget/s − 3P)/(2·A))``. Raises
        :class:`InvalidInputError` when not even one sample fits."""
        probe = work.probe
        if self.chunk_bytes(work, 1) <= memory_budget:
            return work.batch_size
        micro = math.floor((memory_budget / probe.itemsize - 3 * probe.num_params) / (2 * probe.activations_per_sample))
        if micro < 1:
            need = self.chunk_bytes(work, 1, 1) / 2**20
            raise InvalidInputError(
                f"memory_budget={memory_budget} bytes is too small for this model: one sample needs about "
                f"{need:.1f} MiB (3 gradient copies of {probe.num_params} parameters and the activations of one "
                "sample); raise memory_budget"
            )
        return micro

    def gradients(self, task: ChunkTask) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """:func:`loop_gradients` of the task's mini-batches, ``task.micro_batch`` samples per backward pass."""
        return loop_gradients(task.model, task.loss_fn, *task.samples(), task.micro_batch, out=task.out)


LOOP = LoopEngine()
