"""How many mini-batches per chunk, and which engine, from a probe of the model.

Memory rule (bytes, ``s`` = bytes per float, ``P`` = trainable parameters, ``A`` = floats of
all leaf-module outputs for one sample, measured by one probe forward pass):

- full-gradient engines (``loop``, ``vmap``), per mini-batch in a chunk:
  ``s·(3P + 12·B·A)`` — the kept gradient, its noise and a temporary (3P) plus, for vmap,
  activations saved for backward, their gradients and batching/convolution temporaries (12A
  per sample: the peak RSS of benchmarks/bench_noise.py was ≈10.5A per sample on a CNN with
  BatchNorm at B = 128). The loop holds only one mini-batch's activations, but uses the same
  rule so chunks (and files) do not depend on the engine.
- ``entries`` engine, per mini-batch: ``s·B·(3A + G)``, ``G`` = the largest per-sample gather
  of one layer: (selected entries, or entries per output unit for a whole tensor) × output
  positions.

``chunk = clamp(floor(memory_budget / per_batch), 1, K)``. The budget bounds these estimates,
not the process RSS (the model, the data and the kept noise samples come on top).

When even one mini-batch exceeds the budget (``s·(3P + 12·B·A) > memory_budget``), the mini-batch
is split into micro-batches of ``m = floor((memory_budget/s − 3P) / (12·A))`` samples whose
gradients are accumulated with weights ``m_j/B`` (exact for a mean loss, up to rounding), one
backward at a time, by the ``loop`` engine; a budget below one sample (``m < 1``) is an error.

Engine rule for ``method="auto"`` (benchmarks/bench_noise.py, CPU): ``vmap`` for models of at
most ``VMAP_MAX_PARAMS`` trainable parameters without convolutions or BatchNorm (the engine call
alone is ~15× the loop on a 6.6k-parameter MLP at B = 8, the whole collection 2–3×); otherwise
``loop`` (vmap is slower than the loop on CNNs and CIFAR ResNets on CPU, and needs far more
memory). ``entries`` is never chosen automatically: on CPU it was not faster than the loop on
conv nets; use it explicitly to keep only sampled entries of a big model without forming any
full gradient.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from sgdnoise.errors import InvalidInputError

METHODS = ("auto", "loop", "vmap", "entries")
VMAP_MAX_PARAMS = 100_000
_VMAP_SLOW_MODULES = (nn.modules.conv._ConvNd, nn.modules.batchnorm._BatchNorm)


@dataclass(frozen=True)
class ModelProbe:
    """Sizes measured once: trainable parameters ``P``, leaf outputs per sample ``A``, the largest
    per-sample spatial size of a selected module's output ``T``, bytes per float ``itemsize``."""

    num_params: int
    activations_per_sample: int
    max_positions: int
    itemsize: int


def probe_model(model: nn.Module, x1: torch.Tensor, owners: set[str]) -> ModelProbe:
    """Run one sample ``x1`` (leading axis 1) through ``model`` and count output floats."""
    sizes: dict[str, int] = {}
    positions = [1]

    def hook(name: str):
        def count(module: nn.Module, args: tuple, output) -> None:
            if isinstance(output, torch.Tensor):
                sizes[name] = sizes.get(name, 0) + output.numel()
                if name in owners and output.ndim > 1:
                    channels = output.shape[-1] if isinstance(module, (nn.Linear, nn.LayerNorm)) else output.shape[1]
                    positions.append(output.numel() // max(channels, 1))

        return count

    leaves = [(n, m) for n, m in model.named_modules() if not list(m.children()) or n in owners]
    handles = [m.register_forward_hook(hook(n)) for n, m in leaves]
    try:
        with torch.no_grad():
            model(x1)
    finally:
        for h in handles:
            h.remove()
    params = [p for p in model.parameters() if p.requires_grad]
    return ModelProbe(
        num_params=sum(p.numel() for p in params),
        activations_per_sample=max(sum(sizes.values()), 1),
        max_positions=max(positions),
        itemsize=params[0].element_size() if params else 4,
    )


def chunk_size(probe: ModelProbe, method: str, batch_size: int, num_batches: int, memory_budget: int, selected_max: int) -> int:
    """Mini-batches per chunk under ``memory_budget`` bytes (rule in the module docstring)."""
    _check_budget(memory_budget)
    a, s = probe.activations_per_sample, probe.itemsize
    if method == "entries":
        per_batch = s * batch_size * (3 * a + selected_max * probe.max_positions)
    else:
        per_batch = s * (3 * probe.num_params + 12 * batch_size * a)
    return max(1, min(num_batches, math.floor(memory_budget / per_batch)))


def choose_method(method: str, model: nn.Module, probe: ModelProbe) -> str:
    """The engine to use for ``method`` (``"auto"`` resolved by the rule in the module docstring)."""
    if method not in METHODS:
        raise InvalidInputError(f"method must be one of {METHODS}; got {method!r}")
    if method != "auto":
        return method
    slow = any(isinstance(m, _VMAP_SLOW_MODULES) for m in model.modules())
    return "vmap" if probe.num_params <= VMAP_MAX_PARAMS and not slow else "loop"


def micro_batch_size(probe: ModelProbe, batch_size: int, memory_budget: int) -> int:
    """Samples per backward pass: ``B`` if one mini-batch fits ``memory_budget``, else the
    micro-batch size of the module docstring. Raises when not even one sample fits."""
    _check_budget(memory_budget)
    s, a, p = probe.itemsize, probe.activations_per_sample, probe.num_params
    if s * (3 * p + 12 * batch_size * a) <= memory_budget:
        return batch_size
    micro = math.floor((memory_budget / s - 3 * p) / (12 * a))
    if micro < 1:
        need = s * (3 * p + 12 * a) / 2**20
        raise InvalidInputError(
            f"memory_budget={memory_budget} bytes is too small for this model: one sample needs about "
            f"{need:.1f} MiB (3 gradient copies of {p} parameters and the activations of one sample); "
            "raise memory_budget"
        )
    return micro


def _check_budget(memory_budget: int) -> None:
    if not isinstance(memory_budget, int) or isinstance(memory_budget, bool) or memory_budget <= 0:
        raise InvalidInputError(f"memory_budget must be a positive number of bytes; got {memory_budget!r}")

