"""The kept noise of a collection, and which computed gradients are written straight into it.

The kept noise of ``name`` is ``(K, *shape)`` for a tensor kept whole and ``(K, n)`` for ``n``
sampled entries (the layout of :meth:`ParameterSelection.take`). An engine that computes a kept
tensor in that same layout writes its gradients into the kept noise, where the noise is then
made in place: no chunk is copied, and those gradients need no memory of their own.
"""

from __future__ import annotations

import torch

from sgdnoise.gradients.selection import ParameterSelection


def written_in_place(kept: ParameterSelection, computed: ParameterSelection) -> list[str]:
    """The kept tensors whose computed gradients have the kept layout: all when the engine
    computes just the kept entries, else those kept whole (and computed whole)."""
    if computed is kept:
        return list(kept.names)
    return [n for n in kept.names if kept.entries[n] is None and computed.entries[n] is None]


def keeps_everything(kept: ParameterSelection, computed: ParameterSelection) -> bool:
    """Whether ``kept`` holds every entry of ``computed``, both as whole tensors."""
    return set(kept.names) == set(computed.names) and all(
        kept.entries[n] is None and computed.entries[n] is None for n in computed.names
    )


class KeptNoise:
    """The kept noise (name → ``(K, ...)``) and losses ``(K,)`` of all ``K`` mini-batches, made at
    the start and filled chunk by chunk."""

    def __init__(self, kept: ParameterSelection, params: dict[str, torch.Tensor], num_batches: int):
        layout = {n: kept.shapes[n] if kept.entries[n] is None else (kept.count(n),) for n in kept.names}
        self.noise = {n: params[n].new_empty((num_batches, *shape)) for n, shape in layout.items()}
        self.losses = torch.empty(num_batches, dtype=torch.float64)  # on the CPU, whatever the engine used

    def rows(self, start: int, stop: int) -> dict[str, torch.Tensor]:
        """The kept noise of mini-batches ``start…stop−1`` (views)."""
        return {n: t[start:stop] for n, t in self.noise.items()}

    def add(self, start: int, noise: dict[str, torch.Tensor], losses: torch.Tensor) -> None:
        """Keep the chunk of mini-batches ``start…start+len(losses)−1`` (a no-op for what is already there)."""
        stop = start + losses.shape[0]
        for name, t in noise.items():
            dest = self.noise[name][start:stop]
            if t.data_ptr() != dest.data_ptr():
                dest.copy_(t)
        self.losses[start:stop] = losses
