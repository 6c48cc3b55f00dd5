"""The result of a noise collection run."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import torch

from sgdnoise.gradients.planning import CollectionPlan
from sgdnoise.gradients.running import NoiseStats, RunningMoments
from sgdnoise.gradients.selection import ParameterSelection


@dataclass(frozen=True)
class NoiseResult:
    """Stochastic gradient noise ``u_k = ∇U(w) − g_k`` (papers.md §1 eq. 1) of K mini-batches.

    - ``full_grad``: ``name → ∇U`` for every trainable parameter.
    - ``batch_indices``: ``(K, B)`` int64, row k is ``Ω_k``.
    - ``noise``: ``name → (K, *shape)`` for a whole selected tensor, ``(K, n)`` for ``n`` sampled
      entries (their flat indices in ``selection``).
    - ``losses``: ``(K,)`` float64 on the CPU, the mean loss of each mini-batch.
    - ``stats``: mean/var/skew of the noise per entry (every parameter, or the selected entries
      only for the ``entries`` engine; see ``stats.scope``). Streamed chunk by chunk during the
      run (``streamed_stats``) when some computed noise is not kept; when all of it is kept
      (``streamed_stats`` is None) they are computed from ``noise`` on first access, so a run that
      keeps everything does not pay for them unless they are used.
    - ``plan``: how the run went (:class:`CollectionPlan`: engine, chunk size, micro-batch size,
      why); ``method`` is the engine's name, ``chunk_size`` the mini-batches per chunk,
      ``collection`` the plan as a dict (what the run's manifest records).
    """

    full_grad: dict[str, torch.Tensor]
    batch_indices: torch.Tensor
    noise: dict[str, torch.Tensor]
    selection: ParameterSelection
    losses: torch.Tensor
    streamed_stats: NoiseStats | None
    stats_scope: str
    plan: CollectionPlan
    seed: int | None
    replacement: bool
    num_points: int

    @cached_property
    def stats(self) -> NoiseStats:
        """The streamed statistics, or those of the kept noise (computed once, on first access)."""
        if self.streamed_stats is not None:
            return self.streamed_stats
        moments = RunningMoments()
        moments.update(self.noise)
        return moments.result(self.stats_scope)

    @property
    def method(self) -> str:
        """The name of the engine that computed the noise (the last one, after a fall back)."""
        return self.plan.engine.name

    @property
    def chunk_size(self) -> int:
        """Mini-batches per chunk."""
        return self.plan.chunk_size

    @property
    def collection(self) -> dict[str, Any]:
        """The plan as a dict: ``engine``, ``chunk_size``, ``micro_batch``, ``full_pass``, ``reason``."""
        return self.plan.to_dict()

    @property
    def num_batches(self) -> int:
        return int(self.batch_indices.shape[0])

    @property
    def batch_size(self) -> int:
        return int(self.batch_indices.shape[1])

    def noise_matrix(self) -> tuple[torch.Tensor, list[str]]:
        """All kept noise as one ``(n_entries, K)`` matrix (one sample per row, the layout
        ``sgdnoise.stable`` fits take) and the row labels ``"name[flat index]"``."""
        rows = torch.cat([self.noise[n].reshape(self.num_batches, -1).T for n in self.selection.names])
        return rows, self.selection.entry_labels()

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "chunk_size": self.chunk_size,
            "collection": self.collection,
            "seed": self.seed,
            "replacement": self.replacement,
            "num_points": self.num_points,
            "batch_size": self.batch_size,
            "num_batches": self.num_batches,
            "batch_indices": self.batch_indices.tolist(),
            "selection": self.selection.to_dict(),
            "full_grad": {n: t.tolist() for n, t in self.full_grad.items()},
            "noise": {n: t.tolist() for n, t in self.noise.items()},
            "losses": self.losses.tolist(),
            "stats": self.stats.to_dict(),
        }
