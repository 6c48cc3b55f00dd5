"""How many mini-batches per chunk, and which engine, from a probe of the model.

Memory rule (bytes, ``s`` = bytes per float, ``P`` = trainable parameters, ``A`` = floats of
all leaf-module outputs for one sample, measured by one probe forward pass, ``Kc`` mini-batches
in a chunk, :func:`chunk_bytes`):

- ``vmap``: ``s·Kc·(3P + 12·B·A)`` — the kept gradient, its noise and a temporary (3P) plus the
  activations saved for backward, their gradients and batching/convolution temporaries of every
  mini-batch of the chunk at once (12A per sample; measured peaks were 2–6·A per sample on
  benchmarks/bench_noise.py's CNN and ResNet-20 at B = 128, and ≈10.5·A once with more chunks).
- ``loop``: ``s·(Kc·3P + 2·m·A)`` — one backward of ``m`` samples at a time (``m = B``, or the
  micro-batch below); measured peaks were 0.7–1.2·A per sample.
- ``entries``: ``s·Kc·B·(3A + G)``, ``G`` = the largest per-sample gather of one layer:
  (selected entries, or entries per output unit for a whole tensor) × output positions.

``chunk`` = the largest ``Kc`` in ``[1, K]`` within ``memory_budget``. The budget bounds these
estimates, not the process RSS (the model, the data and the kept noise samples come on top).

When even one mini-batch does not fit, the ``loop`` engine takes over (a requested ``vmap`` or
``entries`` warns) and, if ``s·(3P + 2·B·A)`` still exceeds the budget, splits every mini-batch
into micro-batches of ``m = floor((memory_budget/s − 3P) / (2·A))`` samples whose gradients are
accumulated with weights ``m_j/B`` (exact for a mean loss, up to rounding), one backward at a
time; a budget below one sample (``m < 1``) is an error.

Engine rule for ``method="auto"`` (benchmarks/bench_noise.py, CPU): ``vmap`` for models of at
most ``VMAP_MAX_PARAMS`` trainable parameters without convolutions or BatchNorm (the engine call
alone is 14.5× the loop on a 6.6k-parameter MLP at B = 8, the whole collection 6.4×); otherwise
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
from sgdnoise.gradients.selection import ParameterSelection

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


def chunk_bytes(probe: ModelProbe, method: str, batch_size: int, chunk: int, micro_batch: int, selected_max: int) -> int:
    """Estimated bytes of one chunk of ``chunk`` mini-batches (rule in the module docstring)."""
    a, s, p = probe.activations_per_sample, probe.itemsize, probe.num_params
    if method == "entries":
        return s * chunk * batch_size * (3 * a + selected_max * probe.max_positions)
    if method == "vmap":
        return s * chunk * (3 * p + 12 * batch_size * a)
    return s * (chunk * 3 * p + 2 * micro_batch * a)


def chunk_size(probe: ModelProbe, method: str, batch_size: int, num_batches: int, memory_budget: int,
               selected_max: int, micro_batch: int | None = None) -> int:
    """Mini-batches per chunk under ``memory_budget`` bytes: the largest ``Kc ≤ K`` whose
    :func:`chunk_bytes` fit, at least 1."""
    _check_budget(memory_budget)
    micro = micro_batch or batch_size
    one = chunk_bytes(probe, method, batch_size, 1, micro, selected_max)
    extra = chunk_bytes(probe, method, batch_size, 2, micro, selected_max) - one  # bytes per further mini-batch
    return max(1, min(num_batches, 1 + math.floor((memory_budget - one) / extra)))


def fits_one_mini_batch(probe: ModelProbe, method: str, batch_size: int, memory_budget: int, selected_max: int) -> bool:
    """Whether one whole mini-batch of ``method`` fits ``memory_budget``."""
    _check_budget(memory_budget)
    return chunk_bytes(probe, method, batch_size, 1, batch_size, selected_max) <= memory_budget


def gather_width(selection: ParameterSelection) -> int:
    """Per-position width of the widest per-sample gather of the entries engine (``G`` of the memory rule)."""
    return max(
        selection.count(n) if selection.entries[n] is not None else selection.count(n) // max(selection.shapes[n][:1] or (1,))
        for n in selection.names
    )


def choose_method(method: str, model: nn.Module, probe: ModelProbe) -> str:
    """The engine to use for ``method`` (``"auto"`` resolved by the rule in the module docstring)."""
    if method not in METHODS:
        raise InvalidInputError(f"method must be one of {METHODS}; got {method!r}")
    if method != "auto":
        return method
    slow = any(isinstance(m, _VMAP_SLOW_MODULES) for m in model.modules())
    return "vmap" if probe.num_params <= VMAP_MAX_PARAMS and not slow else "loop"


def micro_batch_size(probe: ModelProbe, batch_size: int, memory_budget: int) -> int:
    """Samples per backward pass of the ``loop`` engine: ``B`` if one mini-batch fits
    ``memory_budget``, else the micro-batch size of the module docstring. Raises when not even
    one sample fits."""
    if fits_one_mini_batch(probe, "loop", batch_size, memory_budget, 0):
        return batch_size
    s, a, p = probe.itemsize, probe.activations_per_sample, probe.num_params
    micro = math.floor((memory_budget / s - 3 * p) / (2 * a))
    if micro < 1:
        need = chunk_bytes(probe, "loop", 1, 1, 1, 0) / 2**20
        raise InvalidInputError(
            f"memory_budget={memory_budget} bytes is too small for this model: one sample needs about "
            f"{need:.1f} MiB (3 gradient copies of {p} parameters and the activations of one sample); "
            "raise memory_budget"
        )
    return micro


def _check_budget(memory_budget: int) -> None:
    if not isinstance(memory_budget, int) or isinstance(memory_budget, bool) or memory_budget <= 0:
        raise InvalidInputError(f"memory_budget must be a positive number of bytes; got {memory_budget!r}")

