"""Mini-batch index sampling (eq. 1's Ω_k): uniform B-subsets, reproducible, independent of blocking."""

from __future__ import annotations

import collections
import itertools

import pytest
import scipy.stats
import torch

from sgdnoise.plumbing.batches import _floyd_subsets, sample_batch_indices, sample_batch_indices_per_stream


def test_batch_indices_are_reproducible_and_respect_replacement():
    a = sample_batch_indices(30, 30, 4, 1)
    assert all(sorted(r.tolist()) == list(range(30)) for r in a)
    assert torch.equal(sample_batch_indices(30, 7, 5, 3), sample_batch_indices(30, 7, 5, 3))
    with_repl = sample_batch_indices(5, 40, 2, 0, replacement=True)
    assert with_repl.shape == (2, 40) and with_repl.max() < 5


@pytest.mark.parametrize("num_points, batch_size", [(6, 3), (10, 9)])  # Floyd's path; the top-uniforms path
def test_batch_indices_are_uniform_subsets(num_points, batch_size):
    """Every B-subset equally likely: Pearson χ² over all C(D, B) subsets of 20,000 rows, at the
    1e-4 upper quantile (a false alarm once in 10,000 seeds), and no repeated index in a row."""
    rows = sample_batch_indices(num_points, batch_size, 20_000, 5)
    assert all(len(set(r)) == batch_size for r in rows.tolist())
    subsets = list(itertools.combinations(range(num_points), batch_size))
    counts = collections.Counter(tuple(sorted(r)) for r in rows.tolist())
    expected = rows.shape[0] / len(subsets)
    chi2 = sum((counts.get(s, 0) - expected) ** 2 / expected for s in subsets)
    assert chi2 < scipy.stats.chi2.ppf(1 - 1e-4, len(subsets) - 1)


def test_floyd_rows_are_those_of_the_sequential_algorithm():
    """The loop-free Floyd equals Floyd's algorithm run draw by draw on the same uniforms,
    including rows where a replacement m_i is drawn again later (chains of replacements)."""
    gen = torch.Generator().manual_seed(0)
    for num_points, batch_size in [(12, 8), (40, 17), (2048, 32), (9, 9)]:
        uniforms = torch.rand(3000, batch_size, generator=gen, dtype=torch.float64)
        expected = []
        for u in uniforms.tolist():
            row = []
            for j, uj in enumerate(u):
                m = num_points - batch_size + j
                t = int(uj * (m + 1))
                row.append(m if t in row else t)
            expected.append(row)
        assert torch.equal(_floyd_subsets(num_points, uniforms), torch.tensor(expected))


@pytest.mark.parametrize("num_points, batch_size", [(100, 5), (100, 50)])  # both algorithms
def test_batch_indices_do_not_depend_on_blocking(num_points, batch_size):
    """Rows drawn K at a time equal rows drawn one at a time from the same generator."""
    together = sample_batch_indices(num_points, batch_size, 7, torch.Generator().manual_seed(3))
    gen = torch.Generator().manual_seed(3)
    one_by_one = torch.cat([sample_batch_indices(num_points, batch_size, 1, gen) for _ in range(7)])
    assert torch.equal(together, one_by_one)


@pytest.mark.parametrize("num_points, batch_size", [(100, 5), (100, 50)])  # both algorithms
def test_many_streams_at_once_equal_each_stream_alone(num_points, batch_size):
    together = sample_batch_indices_per_stream(
        num_points, batch_size, 6, [torch.Generator().manual_seed(s) for s in range(4)]
    )
    alone = [sample_batch_indices(num_points, batch_size, 6, torch.Generator().manual_seed(s)) for s in range(4)]
    assert together.shape == (4, 6, batch_size) and torch.equal(together, torch.stack(alone))
