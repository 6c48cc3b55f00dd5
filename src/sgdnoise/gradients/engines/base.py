"""What every noise engine answers, and what it is given.

An engine turns a chunk of ``Kc`` mini-batches into their gradients
``g_k = ∇[(1/B) Σ_{ℓ∈Ω_k} U_ℓ](w)`` (papers.md §1 eq. 1). The planner
(:mod:`sgdnoise.gradients.planning`) asks each engine whether it can take a model
(:meth:`Engine.supports`), how many bytes a chunk needs (:meth:`Engine.chunk_bytes`, from a
:class:`Workload`) and how many samples one backward pass may hold (:meth:`Engine.micro_batch`);
the collection then hands it one :class:`ChunkTask` after another (:meth:`Engine.gradients`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch import nn

from sgdnoise.gradients.probe import ModelProbe
from sgdnoise.gradients.selection import ParameterSelection
from sgdnoise.plumbing.data import DataSource
from sgdnoise.plumbing.losses import LossFn


class UnsupportedModelError(RuntimeError):
    """An engine found, while running, that it cannot take this model or loss (the collection
    then falls back to the loop engine)."""


@dataclass(frozen=True)
class Workload:
    """What one collection computes, as the memory rules read it: the model's ``probe``, ``B``,
    ``K``, the data size ``D``, the ``computed`` entries of every mini-batch, and ``in_place``,
    how many of them are written straight into the kept noise (which the budget does not cover)."""

    probe: ModelProbe
    batch_size: int
    num_batches: int
    num_points: int
    computed: ParameterSelection
    in_place: int = 0

    def expected_distinct(self, chunk: int) -> float:
        """``U = D·(1 − (1 − B/D)^Kc)``: the expected number of distinct points among ``Kc``
        mini-batches of ``B`` points out of ``D``."""
        return self.num_points * (1.0 - (1.0 - self.batch_size / self.num_points) ** chunk)


@dataclass(frozen=True)
class ChunkTask:
    """One chunk for an engine: mini-batches ``indices`` ``(Kc, B)`` (int64, rows of
    ``batch_indices``) of ``source``, whose ``computed`` entries are wanted (the layout of
    :meth:`ParameterSelection.take`). ``micro_batch``: samples per backward pass (engines that
    split a mini-batch). ``out``: name → tensor of a gradient's layout to write it into (a slice
    of the kept noise); names it lacks get new tensors. ``verify``: this is the first chunk of
    the run, for an engine that checks itself against autograd once."""

    model: nn.Module
    loss_fn: LossFn
    source: DataSource
    indices: torch.Tensor
    device: torch.device
    computed: ParameterSelection
    probe: ModelProbe
    micro_batch: int
    out: dict[str, torch.Tensor] = field(default_factory=dict)
    verify: bool = False

    def samples(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The samples of every mini-batch on ``device``: ``x`` ``(Kc, B, ...)`` and ``y`` ``(Kc, B, ...)``."""
        x, y = self.source.take(self.indices.flatten())
        shape = self.indices.shape
        return x.to(self.device).reshape(*shape, *x.shape[1:]), y.to(self.device).reshape(*shape, *y.shape[1:])

    def distinct_samples(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The ``U`` distinct samples of the chunk on ``device``, ``x`` ``(U, ...)`` and ``y``
        ``(U, ...)``, and ``rows`` ``(Kc, B)``: mini-batch ``k`` is samples ``rows[k]``."""
        distinct, rows = torch.unique(self.indices, return_inverse=True)
        x, y = self.source.take(distinct)
        return x.to(self.device), y.to(self.device), rows.to(self.device)


class OneInstance:
    """An engine class has one instance, a module-level constant named after the engine (``LOOP``,
    ``VMAP``, ``ENTRIES``). It pickles as a reference to that constant, so a plan sent to another
    process (a Ray worker) holds the same engine there and the planner's identity checks
    (``engine is FALLBACK``) still hold; its repr carries no address, so a content hash of a plan
    (:func:`sgdnoise.store.steps.fingerprint`) is the same in every process."""

    name: str

    def __reduce__(self) -> str:
        return self.name.upper()

    def __repr__(self) -> str:
        return f"<{self.name} engine>"


class Engine(Protocol):
    """A way to compute mini-batch gradients: loop, vmap or entries (:mod:`sgdnoise.gradients.engines`)."""

    name: str
    """What ``method=`` and a run's manifest call it."""
    computes_subsets: bool
    """Whether it can compute some entries of a tensor only (the kept ones, when ``method=`` names it)."""
    writes_in_place: bool
    """Whether it writes gradients into :attr:`ChunkTask.out`, so the noise is made in the kept noise."""

    def supports(self, model: nn.Module, computed: ParameterSelection) -> str | None:
        """Why it cannot take ``model`` for the ``computed`` entries, or ``None`` when it can (as
        far as can be told without running)."""

    def chunk_bytes(self, work: Workload, chunk: int, micro_batch: int | None = None) -> int:
        """Estimated bytes of one chunk of ``chunk`` mini-batches (``micro_batch`` samples per
        backward pass where it splits them); grows with ``chunk``."""

    def micro_batch(self, work: Workload, memory_budget: int) -> int:
        """Samples per backward pass under ``memory_budget``: ``B`` for an engine that keeps
        mini-batches whole."""

    def gradients(self, task: ChunkTask) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """``(grads, losses)`` of the task's mini-batches: ``grads[name]`` ``(Kc, *shape)`` for a
        whole computed tensor, ``(Kc, n)`` for ``n`` computed entries; ``losses`` ``(Kc,)`` float64,
        the mean loss of each mini-batch."""
