"""The entries engine's memory rule: bytes of one chunk of ``Kc`` mini-batches.

``1.25·s·(Up·(3A + G) + U·J + Kc·(B·L + S − S_in_place) + W)`` (notation of
:mod:`sgdnoise.gradients.probe`):

- ``Up·(3A + G)``: module inputs, output gradients and temporaries of one piece of
  ``Up = min(U, piece)`` samples (:func:`samples_per_piece`), ``G`` the widest per-sample
  temporary (a tensor's selected entries × its module's output positions ``T``);
- ``U·J``: the factors (input + output floats) of the modules whose whole weights are summed per
  mini-batch, kept for all ``U`` distinct samples of the chunk (:mod:`.joined`), ``U`` the
  expected number of distinct points (:meth:`Workload.expected_distinct`);
- ``Kc·B·L``: their per-draw gathers, ``L`` the widest;
- ``Kc·(S − S_in_place)``: the ``S`` computed entries of each mini-batch (the gradient, made the
  noise in place) less those written straight into the kept noise;
- ``W``: a piece of per-sample weight gradients and the convolution's scratch of the same size,
  ``2·max(WEIGHT_PIECE_BYTES/s, |W|)`` for the largest weight taking that way, or for a conv
  weight summed per mini-batch the scratch of one call, at most ``(T + 1)·|W|`` per mini-batch.

The factor ``ENTRIES_SLACK = 1.25`` covers what a count of tensors misses: freed memory the
allocator keeps between pieces and chunks, convolution scratch, kernel code loaded on first use
(the measured peaks that set it are in benchmarks/RESULTS.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sgdnoise.gradients.engines.base import Workload
from sgdnoise.gradients.engines.entries import paths
from sgdnoise.gradients.probe import ModelProbe

PIECE_BYTES = 32 << 20
ENTRIES_SLACK = 1.25


@dataclass(frozen=True)
class EntryFloats:
    """What the engine holds besides the activations, in floats: ``per_sample`` (``G``) per sample
    of a piece, ``joined`` (``J``) per distinct sample, ``gathered`` (``L``) per draw and
    ``weight_piece`` (``W``) per chunk (module docstring)."""

    per_sample: int = 0
    joined: int = 0
    gathered: int = 0
    weight_piece: int = 0


def samples_per_piece(probe: ModelProbe) -> int:
    """Distinct samples per forward/backward pass: ``PIECE_BYTES`` of activations (one pass over
    thousands of conv-net samples runs out of cache)."""
    return max(1, PIECE_BYTES // (probe.itemsize * probe.activations_per_sample))


def entry_floats(work: Workload) -> EntryFloats:
    """``G``, ``J``, ``L`` and ``W`` of the computed entries of ``work`` (module docstring), each
    tensor counted by the way :mod:`.paths` sends it: a tensor outside the weight paths adds its
    selected entries × ``T`` to ``G`` (its size for a whole tensor: biases, norms); a whole
    weight summed per mini-batch adds its module's factors to ``J`` and ``L`` (and a conv its
    scratch to ``W``); a whole weight per sample adds its piece to ``W``."""
    computed, probe = work.computed, work.probe
    owners = paths.weight_path_owners(probe.owner_types)
    piece_floats = paths.WEIGHT_PIECE_BYTES // probe.itemsize
    per_sample, joined, gathered, weight_piece = [0], [0], [0], [0]
    for name in computed.names:
        owner, shape = name.rpartition(".")[0], computed.shapes[name]
        positions = probe.positions.get(owner, 1)
        if not paths.on_weight_path(computed, name, owners):
            per_sample.append(computed.count(name) * (positions if computed.entries[name] is not None else 1))
        elif paths.summed_per_mini_batch(positions):
            factors = probe.factors.get(owner, sum(shape))
            joined.append(factors)
            gathered.append(factors)
            if len(shape) == 4:  # a conv's scratch per call: at most (T + 1)·|W| per mini-batch
                weight_piece.append(2 * max(piece_floats, (positions + 1) * math.prod(shape)))
        else:
            weight_piece.append(2 * max(piece_floats, math.prod(shape)))
    return EntryFloats(max(per_sample), sum(joined), max(gathered), max(weight_piece))


def entries_chunk_bytes(work: Workload, chunk: int) -> int:
    """Estimated bytes of ``chunk`` mini-batches (module docstring)."""
    probe, e = work.probe, entry_floats(work)
    distinct = work.expected_distinct(chunk)
    held = min(distinct, samples_per_piece(probe))
    per_batch = work.batch_size * e.gathered + work.computed.total - work.in_place
    a = probe.activations_per_sample
    return math.ceil(
        ENTRIES_SLACK
        * probe.itemsize
        * (held * (3 * a + e.per_sample) + distinct * e.joined + chunk * per_batch + e.weight_piece)
    )
