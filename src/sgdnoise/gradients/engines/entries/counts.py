"""The mini-batches of a chunk as a sparse count matrix over its distinct samples.

``C`` ``(Kc, U)``, ``C[k, n]`` = times sample ``n`` is in mini-batch ``k`` (2 for a sample drawn
twice, with replacement). ``C @ X`` sums per-sample rows ``X`` ``(U, ...)`` into mini-batches:
``Kc·B`` additions per column and no gathered copy. It is stored as CSR, which was faster than
COO and than a gather and sum (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import warnings

import torch


class MiniBatchCounts:
    """``C`` of the mini-batches ``rows`` ``(Kc, B)`` over ``num_samples`` distinct samples (module
    docstring), and the sums it forms, written into ``out[key]`` where given."""

    def __init__(self, rows: torch.Tensor, num_samples: int, out: dict[str, torch.Tensor]):
        self.rows, self.num_samples, self.out = rows, num_samples, out
        kc = rows.shape[0]
        batch_major = torch.arange(kc, device=rows.device)[:, None] * num_samples + rows
        keys, self._counts = torch.unique(batch_major, return_counts=True)  # sorted by (k, n)
        self._batch, self._sample = keys // num_samples, keys % num_samples
        self._matrices: dict[tuple, torch.Tensor] = {}

    def matrix(self, dtype: torch.dtype, start: int, stop: int) -> torch.Tensor:
        """``C[:, start:stop]`` as a CSR tensor of ``dtype``, built once."""
        key = (dtype, start, stop)
        if key not in self._matrices:
            kc = self.rows.shape[0]
            batch, sample, counts = self._batch, self._sample, self._counts
            if (start, stop) != (0, self.num_samples):
                inside = (sample >= start) & (sample < stop)
                batch, sample, counts = batch[inside], sample[inside] - start, counts[inside]
            crow = torch.zeros(kc + 1, dtype=torch.int64, device=self.rows.device)
            crow[1:] = torch.bincount(batch, minlength=kc).cumsum(0)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta")
                self._matrices[key] = torch.sparse_csr_tensor(
                    crow, sample, counts.to(dtype), (kc, stop - start), check_invariants=True
                )
        return self._matrices[key]

    def add(self, sums: dict[str, torch.Tensor], key: str, per_sample: torch.Tensor, start: int) -> None:
        """``sums[key] += C[:, start:start+n] @ per_sample`` (``(Kc, width)``, zeroed at the first
        call, in ``out[key]`` if given): the contributions ``per_sample`` ``(n, ...)`` of samples
        ``start:start+n`` summed into their mini-batches."""
        flat = per_sample.reshape(per_sample.shape[0], -1)
        if key not in sums:
            kc = self.rows.shape[0]
            sums[key] = self.out[key].view(kc, -1).zero_() if key in self.out else flat.new_zeros(kc, flat.shape[1])
        sums[key].addmm_(self.matrix(flat.dtype, start, start + flat.shape[0]), flat)


def gathered(per_sample: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """``(m, B, ...)``: the rows ``(m, B)`` of ``per_sample`` ``(U, ...)``, for the per-mini-batch
    paths (``index_select``, faster than advanced indexing on a CPU)."""
    return per_sample.index_select(0, rows.flatten()).reshape(*rows.shape, *per_sample.shape[1:])
