"""A seed's mini-batch stream is the package's sampling rule on a generator seeded with it, whatever
the blocking. (Its random start is tested through sgd_ensemble in test_ensemble.py.)"""

import pytest
import torch

from sgdnoise.dynamics import batch_indices
from sgdnoise.errors import InvalidInputError
from sgdnoise.plumbing import sample_batch_indices

BATCH = 16


def test_batch_stream_is_the_documented_rule():
    # the same B-subset rule as the noise-measurement sampler, and independent of how it is blocked
    ref = sample_batch_indices(300, BATCH, 600, seed=7)
    assert torch.equal(batch_indices(7, 300, BATCH, 50), ref[:50])
    assert torch.equal(batch_indices(7, 300, BATCH, 20, start=30), ref[30:50])
    assert torch.equal(batch_indices(7, 300, BATCH, 40, start=530), ref[530:570])  # skips more than one block
    assert all(len(set(row.tolist())) == BATCH for row in ref)
    with pytest.raises(InvalidInputError, match="start must be an int ≥ 0"):
        batch_indices(7, 300, BATCH, 5, start=-1)
