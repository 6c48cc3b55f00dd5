"""Row helpers against brute force: NumPy's quantiles, a count of every value, the atom share."""

from collections import Counter

import numpy as np
import pytest
import torch

from sgdnoise.stable.rows import largest_atom_share, most_common, quantiles


def test_quantiles_are_numpys_type_7_for_lists_and_tensors_of_probabilities():
    rng = np.random.default_rng(0)
    for k in (1, 2, 7, 1000):
        x = np.sort(rng.standard_cauchy((3, k)), axis=1)
        probs = [0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0]
        expected = np.quantile(x, probs, axis=1).T
        for given in (probs, tuple(probs), torch.tensor(probs, dtype=torch.float64)):
            np.testing.assert_allclose(quantiles(torch.from_numpy(x), given).numpy(), expected, rtol=1e-13, atol=0)


def test_most_common_is_the_most_frequent_value_and_the_smallest_among_ties():
    g = torch.Generator().manual_seed(0)
    for _ in range(200):
        k = int(torch.randint(1, 40, (1,), generator=g))
        levels = int(torch.randint(1, 6, (1,), generator=g))
        rows = torch.randint(0, levels, (5, k), generator=g).double().sort(1).values
        value, count = most_common(rows)
        for row, v, c in zip(rows.tolist(), value.tolist(), count.tolist(), strict=True):
            counts = Counter(row)
            top = max(counts.values())
            assert (v, c) == (min(x for x, n in counts.items() if n == top), top)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_atom_share_counts_the_atom_on_the_whole_row(dtype):
    rng = np.random.default_rng(1)
    atom = np.r_[np.full(700, 0.25), rng.normal(size=300)]
    rng.shuffle(atom)
    rows = torch.tensor(np.stack([atom, rng.normal(size=1000)]), dtype=dtype)
    sub = rows[:, ::3].sort(1).values
    share = largest_atom_share(rows, sub)
    assert share.dtype == dtype
    assert share.tolist() == pytest.approx([0.7, 0.001])
