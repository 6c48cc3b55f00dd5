"""Streaming per-entry moments of the noise: count, mean, variance, skewness.

Chunks of noise ``u`` of shape ``(Kc, *shape)`` are merged into running central sums
``M1 = mean``, ``M2 = Σ(u−mean)²``, ``M3 = Σ(u−mean)³`` with the pairwise update of Chan,
Golub & LeVeque (1979) extended to the third moment (Pébay 2008): for parts a, b with
``n = n_a + n_b`` and ``δ = mean_b − mean_a``,

    mean = mean_a + δ·n_b/n
    M2   = M2_a + M2_b + δ²·n_a·n_b/n
    M3   = M3_a + M3_b + δ³·n_a·n_b·(n_a − n_b)/n² + 3δ·(n_a·M2_b − n_b·M2_a)/n

A chunk's own moments are computed in the noise's dtype and device (a float32 model gives
float32 chunk sums), the merged accumulators are float64 on the CPU; nothing of size K is held.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class NoiseStats:
    """Per-entry noise statistics over ``count`` mini-batches, ``name → tensor(shape)``.

    ``var`` is the unbiased sample variance ``M2/(n−1)``; ``skew`` the sample skewness
    ``g1 = √n·M3/M2^{3/2}`` (NaN where the variance is 0, e.g. behind a dead ReLU).
    ``scope`` is ``"all"`` (every trainable parameter) or ``"selected"`` (selected entries only,
    layout of :meth:`ParameterSelection.take` without the K axis).
    """

    count: int
    mean: dict[str, torch.Tensor]
    var: dict[str, torch.Tensor]
    skew: dict[str, torch.Tensor]
    scope: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "scope": self.scope,
            **{key: {n: t.tolist() for n, t in getattr(self, key).items()} for key in ("mean", "var", "skew")},
        }


@dataclass(frozen=True)
class ChunkMoments:
    """One chunk's own moments, before they are merged: ``count`` mini-batches, the tensors'
    ``shapes`` (name → shape without the K axis, in the order of the flat vectors) and the flat
    ``mean``, ``M2 = Σ(u−mean)²`` and ``M3 = Σ(u−mean)³`` in the noise's dtype and device.

    A task that computes some chunks of a collection hands these back, and the run merges them
    in chunk order (:meth:`RunningMoments.merge`), exactly as if it had computed the chunks itself.
    """

    count: int
    shapes: dict[str, tuple[int, ...]]
    mean: torch.Tensor
    m2: torch.Tensor
    m3: torch.Tensor

    @classmethod
    def of(cls, chunk: dict[str, torch.Tensor]) -> ChunkMoments:
        """The moments of ``chunk`` ``name → (Kc, *shape)`` over its first axis."""
        nb = next(iter(chunk.values())).shape[0]
        parts = [v.detach().reshape(nb, -1) for v in chunk.values()]
        return cls(nb, {n: tuple(v.shape[1:]) for n, v in chunk.items()}, *_chunk_moments(parts))


class RunningMoments:
    """Mergeable running moments of many named tensors (see module docstring).

    The accumulators of all names are one flat vector each (entries concatenated in first-seen
    order), so the float64 merge is a few tensor operations however many tensors a model has.
    """

    def __init__(self, state: dict[str, torch.Tensor] | None = None) -> None:
        self.count = 0
        self.shapes: dict[str, torch.Size] = {}
        self.mean = self.m2 = self.m3 = torch.empty(0, dtype=torch.float64)
        if state:
            self._load(state)

    def update(self, chunk: dict[str, torch.Tensor]) -> None:
        """Merge a chunk ``name → (Kc, *shape)`` (all names share ``Kc`` and, after the first
        chunk, the same names and shapes)."""
        self.merge(ChunkMoments.of({n: chunk[n] for n in self.shapes} if self.shapes else chunk))

    def merge(self, part: ChunkMoments) -> None:
        """Merge one chunk's own moments (:meth:`ChunkMoments.of`): the same numbers as
        :meth:`update` with that chunk, wherever its moments were computed."""
        nb = part.count
        if not self.shapes:
            self.shapes = {n: torch.Size(s) for n, s in part.shapes.items()}
        elif list(part.shapes) != list(self.shapes):
            raise ValueError(f"chunk moments of {list(part.shapes)} cannot merge into those of {list(self.shapes)}")
        moments = (part.mean, part.m2, part.m3)
        na, n = self.count, self.count + nb
        if na == 0:
            self.mean, self.m2, self.m3 = (t.to("cpu", torch.float64, copy=True) for t in moments)
        else:  # block by block, so the float64 temporaries stay small on a big model (BERT-base: 110M entries)
            for block in _blocks(len(self.mean)):
                mean_b, m2_b, m3_b = (t[block].to("cpu", torch.float64) for t in moments)
                mean_a, m2_a, m3_a = self.mean[block], self.m2[block], self.m3[block]
                delta = mean_b - mean_a
                m3 = m3_a + m3_b + delta**3 * na * nb * (na - nb) / n**2 + 3 * delta * (na * m2_b - nb * m2_a) / n
                m2_a.copy_(m2_a + m2_b + delta**2 * na * nb / n)
                m3_a.copy_(m3)
                mean_a.copy_(mean_a + delta * nb / n)
        self.count = n

    def result(self, scope: str) -> NoiseStats:
        n = self.count
        var = self.m2 / max(n - 1, 1)
        skew = torch.empty_like(self.m2)
        for block in _blocks(len(skew)):
            m2 = self.m2[block]
            skew[block] = n**0.5 * self.m3[block] / torch.where(m2 > 0, m2, torch.nan) ** 1.5
        return NoiseStats(
            count=n, mean=self._split(self.mean), var=self._split(var), skew=self._split(skew), scope=scope
        )

    def state(self) -> dict[str, torch.Tensor]:
        """Flat ``key → tensor`` state for saving (``count``, ``mean:<name>``, ``m2:…``, ``m3:…``)."""
        out = {"count": torch.tensor(self.count)}
        for key in ("mean", "m2", "m3"):
            out.update({f"{key}:{n}": t for n, t in self._split(getattr(self, key)).items()})
        return out

    def _split(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        sizes = [math.prod(shape) for shape in self.shapes.values()]
        return {n: part.reshape(shape) for (n, shape), part in zip(self.shapes.items(), flat.split(sizes))}

    def _load(self, state: dict[str, torch.Tensor]) -> None:
        self.count = int(state["count"])
        parts: dict[str, dict[str, torch.Tensor]] = {"mean": {}, "m2": {}, "m3": {}}
        for full_key, t in state.items():
            key, _, name = full_key.partition(":")
            if name:
                parts[key][name] = t.to(torch.float64)
        self.shapes = {n: t.shape for n, t in parts["mean"].items()}
        self.mean, self.m2, self.m3 = (
            torch.cat([parts[k][n].reshape(-1) for n in self.shapes])
            if self.shapes
            else torch.empty(0, dtype=torch.float64)
            for k in ("mean", "m2", "m3")
        )


_BLOCK_FLOATS = 1 << 16  # temporaries of one column block: 256 KiB in float32, cache-sized
_MERGE_BLOCK = 1 << 20  # entries per block of the float64 merge: 8 MiB temporaries


def _blocks(total: int) -> list[slice]:
    """Consecutive slices of at most :data:`_MERGE_BLOCK` entries covering ``range(total)``; the
    merge's formulas are elementwise, so merging block by block gives the same numbers."""
    return [slice(start, min(start + _MERGE_BLOCK, total)) for start in range(0, total, _MERGE_BLOCK)]


def _chunk_moments(parts: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``mean``, ``Σ(u−mean)²``, ``Σ(u−mean)³`` over axis 0 of the columns of all ``parts``
    (each ``(Kc, n_i)``), concatenated: three flat vectors.

    Computed over blocks of columns of each part, so the temporaries are small and reused
    (cache-resident, no fresh pages per chunk) and the chunk is never copied whole.
    """
    kc, total = parts[0].shape[0], sum(p.shape[1] for p in parts)
    mean, m2, m3 = (torch.empty(total, dtype=parts[0].dtype, device=parts[0].device) for _ in range(3))
    width = max(1, _BLOCK_FLOATS // max(kc, 1))
    offset = 0
    for part in parts:
        for start in range(0, part.shape[1], width):
            block = part[:, start : start + width]
            cols = slice(offset + start, offset + start + block.shape[1])
            torch.mean(block, 0, out=mean[cols])
            dev = block - mean[cols]
            dev2 = dev.square()
            torch.sum(dev2, 0, out=m2[cols])
            torch.sum(dev2.mul_(dev), 0, out=m3[cols])
        offset += part.shape[1]
    return mean, m2, m3
