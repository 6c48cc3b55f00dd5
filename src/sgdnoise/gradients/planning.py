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
- ``entries``: ``1.25·s·(Up·(3A + G) + U·J + Kc·(B·L + S − S_in_place) + W)`` — module inputs, output
  gradients and temporaries of one piece of ``Up = min(U, piece)`` samples (``piece`` =
  :func:`samples_per_piece`), the factors ``J`` of the whole weights summed per mini-batch (few
  positions: Linear layers, small feature maps) kept for all ``U`` distinct samples, their
  per-draw gathers ``L`` of ``Kc·B`` samples, the ``S`` computed entries of each mini-batch
  (the gradient, made the noise in place) less those ``collect_noise`` has the engine write
  straight into the kept noise (``Workload.in_place``: tensors kept whole, or every kept entry
  under ``method="entries"``), and ``W`` floats of a piece of per-sample weight gradients.
  ``U = D·(1 − (1 − B/D)^Kc)`` is the expected number of distinct samples among ``Kc``
  mini-batches of ``B`` out of ``D`` points (:func:`expected_distinct`); ``G``, ``J``, ``L`` and
  ``W`` come from :func:`entry_floats`. The factor ``ENTRIES_SLACK = 1.25`` covers what the count
  of tensors misses: freed memory the allocator keeps between pieces and chunks, convolution
  scratch, kernel code loaded on first use. Peak RSS of ResNet-20 on 8×8 images was 2–18% above
  the bare count at 256–512 MiB, while live heap bytes stayed well below it.

``chunk`` = the largest ``Kc`` in ``[1, K]`` within ``memory_budget`` (each rule grows with ``Kc``). The
budget bounds these estimates, not the process RSS (the model, the data and the kept noise samples come on top).

When even one mini-batch does not fit, the ``loop`` engine takes over (a requested ``vmap`` or
``entries`` warns) and, if ``s·(3P + 2·B·A)`` still exceeds the budget, splits every mini-batch
into micro-batches of ``m = floor((memory_budget/s − 3P) / (2·A))`` samples whose gradients are
accumulated with weights ``m_j/B`` (exact for a mean loss, up to rounding), one backward at a
time; a budget below one sample (``m < 1``) is an error.

Engine rule for ``method="auto"`` (benchmarks/bench_noise.py, CPU, one thread):

- ``entries`` when every trainable parameter sits in a module it supports and the model has no
  convolution: dense nets (the whole collection of a 6.6k-parameter MLP 6.6–10.0× the loop at
  B = 8 and 3.9–8.3× at B = 32, ahead of ``vmap``);
- ``entries`` also for convolutional nets when a budget-sized chunk draws every distinct sample
  at least ``REUSE_FOR_CONV`` times on average (``Kc·B/U``): each distinct sample's forward,
  backward and weight gradients are then paid once (the engine alone, one chunk, one thread, a
  small CNN / ResNet-20 (32×32) at B = 32: 0.95× the loop at 1.27 draws per distinct sample,
  1.36× / 1.13× at 1.58, 1.54× / 1.46× at 1.93, 2.1× / 1.9× at 2.3, 7.1× (CNN) at 9);
- else ``vmap`` for models of at most ``VMAP_MAX_PARAMS`` trainable parameters without
  convolutions or BatchNorm, and ``loop`` otherwise (vmap is slower than the loop on CNNs and
  CIFAR ResNets on CPU, and needs far more memory).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

from sgdnoise.errors import InvalidInputError
from sgdnoise.gradients.entries import (
    WEIGHT_PIECE_BYTES,
    entries_unsupported_reason,
    on_weight_path,
    summed_per_mini_batch,
    weight_path_owners,
)
from sgdnoise.gradients.selection import ParameterSelection, select_parameters
from sgdnoise.plumbing.checks import positive_int

METHODS = ("auto", "loop", "vmap", "entries")
VMAP_MAX_PARAMS = 100_000
REUSE_FOR_CONV = 1.5
PIECE_BYTES = 32 << 20
ENTRIES_SLACK = 1.25  # the entries estimate's margin for what its tensor count misses (module docstring)
_VMAP_SLOW_MODULES = (nn.modules.conv._ConvNd, nn.modules.batchnorm._BatchNorm)


@dataclass(frozen=True)
class ModelProbe:
    """Sizes measured once: trainable parameters ``P``, leaf outputs per sample ``A``, bytes per
    float ``itemsize``, and for each module holding a computed entry (``owner``, summed over its
    calls) ``positions[owner]``, the per-sample spatial size ``T`` (tokens, pixels) of its
    output, and ``factors[owner]``, the floats of its input and output for one sample;
    ``weight_paths``, the owners whose whole weight takes the engine's weight paths (Linear,
    Conv2d)."""

    num_params: int
    activations_per_sample: int
    itemsize: int
    positions: Mapping[str, int] = field(default_factory=dict)
    factors: Mapping[str, int] = field(default_factory=dict)
    weight_paths: frozenset[str] = frozenset()


def probe_model(model: nn.Module, x1: torch.Tensor, owners: set[str]) -> ModelProbe:
    """Run one sample ``x1`` (leading axis 1) through ``model`` and count output floats."""
    sizes: dict[str, int] = {}
    positions: dict[str, int] = {}
    factors: dict[str, int] = {}

    def hook(name: str):
        def count(module: nn.Module, args: tuple, output) -> None:
            if isinstance(output, torch.Tensor):
                sizes[name] = sizes.get(name, 0) + output.numel()
                if name in owners:
                    channels = output.shape[-1] if isinstance(module, (nn.Linear, nn.LayerNorm)) else output.shape[1]
                    positions[name] = positions.get(name, 0) + (
                        output.numel() // max(channels, 1) if output.ndim > 1 else 1
                    )
                    factors[name] = factors.get(name, 0) + args[0].numel() + output.numel()

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
        itemsize=params[0].element_size() if params else 4,
        positions=positions,
        factors=factors,
        weight_paths=weight_path_owners({n: m for n, m in leaves if n in owners}),
    )


@dataclass(frozen=True)
class EntryFloats:
    """What the entries engine holds besides the activations, in floats (:func:`entry_floats`):
    ``per_sample`` (``G``) per sample of a piece, ``joined`` (``J``) per distinct sample,
    ``gathered`` (``L``) per draw and ``weight_piece`` (``W``) per chunk."""

    per_sample: int = 0
    joined: int = 0
    gathered: int = 0
    weight_piece: int = 0


@dataclass(frozen=True)
class Workload:
    """What a collection computes: ``B``, ``K``, data size ``D``, computed entries per mini-batch
    ``S`` (``None``: all ``P``), the entries engine's extra floats (:func:`entry_floats`) and
    ``in_place``, how many of the ``S`` it writes straight into the kept noise (which the budget
    does not cover)."""

    batch_size: int
    num_batches: int
    num_points: int
    computed: int | None = None
    entry: EntryFloats = EntryFloats()
    in_place: int = 0


def expected_distinct(num_points: int, batch_size: int, chunk: int) -> float:
    """``D·(1 − (1 − B/D)^Kc)``: expected distinct samples among ``Kc`` mini-batches of ``B``."""
    return num_points * (1.0 - (1.0 - batch_size / num_points) ** chunk)


def chunk_bytes(probe: ModelProbe, method: str, work: Workload, chunk: int, micro_batch: int | None = None) -> int:
    """Estimated bytes of one chunk of ``chunk`` mini-batches (rule in the module docstring)."""
    a, s, p, b = probe.activations_per_sample, probe.itemsize, probe.num_params, work.batch_size
    if method == "entries":
        e = work.entry
        distinct = expected_distinct(work.num_points, b, chunk)
        held = min(distinct, samples_per_piece(probe))
        per_batch = b * e.gathered + (work.computed or p) - work.in_place
        return math.ceil(
            ENTRIES_SLACK
            * s
            * (held * (3 * a + e.per_sample) + distinct * e.joined + chunk * per_batch + e.weight_piece)
        )
    if method == "vmap":
        return s * chunk * (3 * p + 12 * b * a)
    return s * (chunk * 3 * p + 2 * (micro_batch or b) * a)


def chunk_size(
    probe: ModelProbe, method: str, work: Workload, memory_budget: int, micro_batch: int | None = None
) -> int:
    """Mini-batches per chunk under ``memory_budget`` bytes: the largest ``Kc ≤ K`` whose
    :func:`chunk_bytes` fit (bisection; the bytes grow with ``Kc``), at least 1."""
    _check_budget(memory_budget)
    low, high = 1, work.num_batches
    while low < high:
        mid = (low + high + 1) // 2
        if chunk_bytes(probe, method, work, mid, micro_batch) <= memory_budget:
            low = mid
        else:
            high = mid - 1
    return low


def fits_one_mini_batch(probe: ModelProbe, method: str, work: Workload, memory_budget: int) -> bool:
    """Whether one whole mini-batch of ``method`` fits ``memory_budget``."""
    _check_budget(memory_budget)
    return chunk_bytes(probe, method, work, 1) <= memory_budget


def entry_floats(selection: ParameterSelection, probe: ModelProbe) -> EntryFloats:
    """The entries engine's floats for ``selection`` (module docstring; ``T`` = output positions
    of the owner module): ``G``, the widest per-sample temporary, a tensor's selected entries × T
    (its size for a whole tensor outside the weight paths: biases, norms); ``J``, the input +
    output floats of the modules of all whole weights summed per mini-batch
    (``entries.summed_per_mini_batch``), and ``L`` the widest of them; ``W``, a piece of
    per-sample gradients of the largest other whole weight and the convolution's scratch of the
    same size (a single call peaked at about twice its output), ``2·max(WEIGHT_PIECE_BYTES/s, |W|)``,
    or for a conv weight summed per mini-batch the scratch of one call, bounded the same way by
    ``(T + 1)·|W|`` per mini-batch (the folded outer products hold ``T·Q·O·C < T·|W|``)."""
    per_sample, joined, gathered, weight_piece = [0], [0], [0], [0]
    for name in selection.names:
        owner, shape = name.rpartition(".")[0], selection.shapes[name]
        positions = probe.positions.get(owner, 1)
        if not on_weight_path(selection, name, probe.weight_paths):
            per_sample.append(selection.count(name) * (positions if selection.entries[name] is not None else 1))
        elif summed_per_mini_batch(positions):
            factors = probe.factors.get(owner, sum(shape))
            joined.append(factors)
            gathered.append(factors)
            if (
                len(shape) == 4
            ):  # a conv's scratch per call: at most (T + 1)·|W| per mini-batch (entries.batches_per_call)
                weight_piece.append(2 * max(WEIGHT_PIECE_BYTES // probe.itemsize, (positions + 1) * math.prod(shape)))
        else:
            weight_piece.append(2 * max(WEIGHT_PIECE_BYTES // probe.itemsize, math.prod(shape)))
    return EntryFloats(max(per_sample), sum(joined), max(gathered), max(weight_piece))


def choose_method(method: str, model: nn.Module, probe: ModelProbe, work: Workload, memory_budget: int) -> str:
    """The engine to use for ``method`` (``"auto"`` resolved by the rule in the module docstring)."""
    if method not in METHODS:
        raise InvalidInputError(f"method must be one of {METHODS}; got {method!r}")
    if method != "auto":
        return method
    trainable = {n: p.shape for n, p in model.named_parameters() if p.requires_grad}
    if entries_unsupported_reason(model, select_parameters(trainable)) is None:
        if not any(isinstance(m, nn.modules.conv._ConvNd) for m in model.modules()):
            return "entries"
        chunk = chunk_size(probe, "entries", work, memory_budget)
        if chunk * work.batch_size >= REUSE_FOR_CONV * expected_distinct(work.num_points, work.batch_size, chunk):
            return "entries"
    slow = any(isinstance(m, _VMAP_SLOW_MODULES) for m in model.modules())
    return "vmap" if probe.num_params <= VMAP_MAX_PARAMS and not slow else "loop"


def micro_batch_size(probe: ModelProbe, batch_size: int, memory_budget: int) -> int:
    """Samples per backward pass of the ``loop`` engine: ``B`` if one mini-batch fits
    ``memory_budget``, else the micro-batch size of the module docstring. Raises when not even
    one sample fits."""
    _check_budget(memory_budget)
    s, a, p = probe.itemsize, probe.activations_per_sample, probe.num_params
    if chunk_bytes(probe, "loop", Workload(batch_size, 1, batch_size), 1) <= memory_budget:
        return batch_size
    micro = math.floor((memory_budget / s - 3 * p) / (2 * a))
    if micro < 1:
        need = chunk_bytes(probe, "loop", Workload(1, 1, 1), 1) / 2**20
        raise InvalidInputError(
            f"memory_budget={memory_budget} bytes is too small for this model: one sample needs about "
            f"{need:.1f} MiB (3 gradient copies of {p} parameters and the activations of one sample); "
            "raise memory_budget"
        )
    return micro


def samples_per_piece(probe: ModelProbe) -> int:
    """Distinct samples per forward/backward pass of the entries engine: ``PIECE_BYTES`` of
    activations (one pass over thousands of conv-net samples runs out of cache: a small CNN
    was 1.6× the loop in one pass and 1.9× in pieces of 64–256 samples)."""
    return max(1, PIECE_BYTES // (probe.itemsize * probe.activations_per_sample))


def _check_budget(memory_budget: int) -> None:
    positive_int(memory_budget, "memory_budget (bytes)")
