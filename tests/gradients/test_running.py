"""Running moments: merging chunks in any order gives the moments of the whole sample."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from scipy import stats as sps

from sgdnoise.gradients import RunningMoments
from sgdnoise.gradients.running import ChunkMoments

from .cases import bits


def test_running_moments_merge_is_order_free():
    gen = torch.Generator().manual_seed(0)
    x = -torch.rand(50, 4, generator=gen, dtype=torch.float64).log()  # skewed (exponential) draws
    parts = [x[:7], x[7:8], x[8:30], x[30:]]
    acc = RunningMoments()
    for p in parts:
        acc.update({"a": p})
    res = acc.result("all")
    np.testing.assert_allclose(res.skew["a"], sps.skew(x.numpy(), axis=0), rtol=1e-10)
    np.testing.assert_allclose(res.var["a"], x.numpy().var(0, ddof=1), rtol=1e-12)
    restored = RunningMoments(acc.state()).result("all")
    assert torch.equal(restored.var["a"], res.var["a"]) and torch.equal(restored.skew["a"], res.skew["a"])


def test_chunk_moments_merge_as_the_chunk_itself():
    gen = torch.Generator().manual_seed(0)
    chunks = [{"a": torch.randn(n, 3, generator=gen), "b": torch.randn(n, 2, 2, generator=gen)} for n in (5, 1, 7)]
    direct, merged = RunningMoments(), RunningMoments()
    for chunk in chunks:
        direct.update(chunk)
        merged.merge(pickle.loads(pickle.dumps(ChunkMoments.of(chunk))))  # as a task hands them back
    for key in ("mean", "m2", "m3"):
        assert torch.equal(bits(getattr(direct, key)), bits(getattr(merged, key)))
    with pytest.raises(ValueError, match="cannot merge"):
        merged.merge(ChunkMoments.of({"b": chunks[0]["b"], "a": chunks[0]["a"]}))
