"""A collection split into tasks on a local Ray instance gives the in-process numbers, bit for bit."""

from __future__ import annotations

import sys

import pytest
from torch import nn

from sgdnoise.gradients import collect_noise, sample_batch_indices
from sgdnoise.gradients import run as run_module
from sgdnoise.parallel import use_executor
from sgdnoise.store.shards import shard_scope

from . import cases
from .cases import assert_same_collection, budget_for, make_case

ray = pytest.importorskip("ray")
for module in (sys.modules[__name__], cases):  # workers cannot import test modules
    ray.cloudpickle.register_pickle_by_value(module)

K = 40


@pytest.fixture(autouse=True)
def _small_tasks(monkeypatch):
    """Tasks of 16 mini-batches, so that K = 40 splits in two (read by this process only)."""
    monkeypatch.setattr(run_module, "MIN_SHARD_BATCHES", 16)


@pytest.mark.parametrize(
    ("method", "params", "chunk", "given"),
    [
        ("loop", 2, 10, False),  # moments streamed, merged chunk by chunk
        ("vmap", None, 5, False),
        ("entries", 2, 5, False),  # the kept entries only
        ("loop", None, K, True),  # given mini-batches, one chunk split at mini-batch 20
    ],
)
def test_ray_gives_the_in_process_collection(ray_executor, tmp_path, method, params, chunk, given):
    model, data = make_case("mlp")
    kwargs = dict(seed=3, method=method, params=params)
    kwargs["memory_budget"] = budget_for(model, data, 8, chunk, method, params=params, num_batches=K)
    if given:
        kwargs["batch_indices"] = sample_batch_indices(48, 8, K, seed=11)
    else:
        kwargs.update(batch_size=8, num_batches=K)
    here = collect_noise(model, nn.CrossEntropyLoss(), data, **kwargs)
    with use_executor(ray_executor), shard_scope(tmp_path) as tasks:
        there = collect_noise(model, nn.CrossEntropyLoss(), data, **kwargs)
    assert len(tasks.names()) == 2  # two workers: two tasks
    assert_same_collection(here, there)
