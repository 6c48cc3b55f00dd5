"""The executor interface in this process: task order, shards kept and read back, errors that
name the task, and the seed split (Ray: test_ray.py)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sgdnoise.errors import ConfigError, InvalidInputError
from sgdnoise.parallel import InProcessExecutor, Task, current_executor, executor_named, run_tasks, seed_chunks
from sgdnoise.store.shards import ShardStore, shard_scope
from sgdnoise.store.steps import fingerprint

CALLS: list[int] = []


def _scaled(x: int, w: torch.Tensor) -> dict:
    CALLS.append(x)
    return {"x": x, "total": float((w * x).sum())}


def _fails_at(x: int, bad: int) -> int:
    CALLS.append(x)
    if x == bad:
        raise ValueError(f"no {x}")
    return x


def test_values_come_back_in_task_order():
    w = torch.arange(4.0)
    values = run_tasks([Task(f"x={x}", _scaled, (x, w)) for x in (3, 1, 2)])
    assert [v["x"] for v in values] == [3, 1, 2]
    assert [v["total"] for v in values] == [18.0, 6.0, 12.0]
    assert isinstance(current_executor(), InProcessExecutor)


def test_a_rerun_reads_finished_shards_back_and_computes_only_new_work(tmp_path):
    w = torch.arange(4.0)
    tasks = [Task(f"x={x}", _scaled, (x, w)) for x in range(4)]
    CALLS.clear()
    with shard_scope(tmp_path / "shards") as store:
        first = run_tasks(tasks)
        assert len(store.names()) == 4
        again = run_tasks([*tasks, Task("x=9", _scaled, (9, w))])
    assert CALLS == [0, 1, 2, 3, 9]  # the four finished shards were not recomputed
    assert again[:4] == first
    # other arguments (the weights) are other work: a new shard, not a stale one
    CALLS.clear()
    run_tasks([Task("x=1", _scaled, (1, w + 1))], store=ShardStore(tmp_path / "shards"))
    assert CALLS == [1]


def test_writing_a_shard_twice_leaves_one_equal_shard(tmp_path):
    store = ShardStore(tmp_path)
    store.write("a", {"v": [1.5, 2.5]})
    store.write("a", {"v": [1.5, 2.5]})
    assert store.names() == ["a"] and store.read("a") == {"v": [1.5, 2.5]}


def test_a_failing_task_in_process_raises_its_own_error_naming_the_task_and_keeps_the_finished(tmp_path):
    CALLS.clear()
    tasks = [Task(f"x={x}", _fails_at, (x, 2)) for x in range(4)]
    with shard_scope(tmp_path) as store, pytest.raises(ValueError, match="no 2") as raised:
        run_tasks(tasks)
    assert any("'x=2'" in note for note in raised.value.__notes__)
    assert CALLS == [0, 1, 2] and len(store.names()) == 2
    CALLS.clear()
    with shard_scope(tmp_path), pytest.raises(ValueError):
        run_tasks(tasks)
    assert CALLS == [2]  # the rerun starts at the failed task


def test_labels_must_be_unique():
    with pytest.raises(InvalidInputError, match="unique"):
        run_tasks([Task("a", _scaled, (1, torch.ones(1))), Task("a", _scaled, (2, torch.ones(1)))])


def test_shard_names_follow_content_not_addresses():
    def scaled_by(k):
        return lambda x: k * x

    assert fingerprint(scaled_by(2)) != fingerprint(scaled_by(3))  # what a closure holds counts
    assert fingerprint(_scaled) == fingerprint(_scaled)
    a, b = nn.Linear(3, 2), nn.Linear(3, 2)
    assert fingerprint(a) != fingerprint(b)  # other weights
    b.load_state_dict(a.state_dict())
    assert fingerprint(a) == fingerprint(b)
    assert Task("t", _scaled, (1, a)).shard_name() == Task("t", _scaled, (1, b)).shard_name()


def test_seed_chunks_cover_every_seed_once_in_order():
    seeds = list(range(5, 42))
    for parts in (1, 2, 3, 7):
        chunks = seed_chunks(seeds, parts=parts)
        assert [s for c in chunks for s in c] == seeds
        assert len(chunks) == min(parts, len(seeds) // 8)
        assert max(map(len, chunks)) - min(map(len, chunks)) <= 1
    assert seed_chunks(seeds) == [seeds]  # in this process: one part
    assert seed_chunks([1, 2, 3], parts=4) == [[1, 2, 3]]


def test_executor_names():
    assert isinstance(executor_named("in-process"), InProcessExecutor)
    with pytest.raises(ConfigError, match="choose one of"):
        executor_named("dask")
    with pytest.raises(ConfigError, match="--address"):
        executor_named("in-process", address="auto")


def test_the_ray_executor_without_ray_says_how_to_install_it(monkeypatch):
    import sys

    from sgdnoise.parallel import RayExecutor

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    with pytest.raises(ConfigError, match=r"pip install 'sgdnoise\[ray\]'"):
        run_tasks_on(RayExecutor(), [Task("t", _scaled, (1, torch.ones(1)))])


def run_tasks_on(executor, tasks):
    from sgdnoise.parallel import use_executor

    with use_executor(executor):
        return run_tasks(tasks)
