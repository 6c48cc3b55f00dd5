"""The Ray executor on a local instance: the same numbers as in this process, a killed worker's
task retried with nothing missing or doubled, a failing task named with the finished kept."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from sgdnoise.errors import TaskFailedError
from sgdnoise.parallel import Task, run_tasks, seed_chunks, use_executor
from sgdnoise.store.shards import shard_scope

ray = pytest.importorskip("ray")
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import test modules


def _noise(seed: int, n: int) -> dict:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 64, generator=gen, dtype=torch.float64)
    return {"seed": seed, "mean": x.mean(0).numpy(), "threads": torch.get_num_threads()}


def _slow_unless_retried(index: int, folder: str) -> int:
    """Task ``index``; the first attempt of task 2 writes its pid and waits to be killed."""
    if index == 2:
        first = Path(folder) / "attempt1.pid"
        if not first.exists():
            first.write_text(str(os.getpid()))
            time.sleep(120)
    return index * index


def _fails(index: int) -> int:
    if index == 1:
        raise ValueError("this shard cannot be computed")
    return index


def test_ray_gives_the_in_process_numbers(ray_executor):
    tasks = [Task(f"seed={s}", _noise, (s, 500)) for s in range(6)]
    here = run_tasks(tasks)
    with use_executor(ray_executor):
        there = run_tasks(tasks)
        assert len(seed_chunks(range(40))) == 2  # two workers: the seeds split in two
    for a, b in zip(here, there):
        assert a["seed"] == b["seed"] and (a["mean"] == b["mean"]).all()
        assert b["threads"] == torch.get_num_threads()  # the caller's thread count, not Ray's 1


def test_a_killed_worker_is_retried_and_the_result_is_complete_and_exact(ray_executor, tmp_path):
    def kill_first_attempt():
        pid_file = tmp_path / "attempt1.pid"
        for _ in range(600):
            if pid_file.exists() and pid_file.read_text():
                time.sleep(0.2)
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
                return
            time.sleep(0.1)

    killer = threading.Thread(target=kill_first_attempt)
    killer.start()
    tasks = [Task(f"i={i}", _slow_unless_retried, (i, str(tmp_path))) for i in range(5)]
    with use_executor(ray_executor), shard_scope(tmp_path / "shards") as store:
        values = run_tasks(tasks)
    killer.join()
    assert (tmp_path / "attempt1.pid").exists()  # the worker was killed mid-task...
    assert values == [0, 1, 4, 9, 16]  # ...and every task's value is there, once, in order
    assert len(store.names()) == 5


def test_a_failing_task_ends_the_run_naming_it_and_the_finished_are_kept(ray_executor, tmp_path):
    tasks = [Task(f"shard {i}", _fails, (i,)) for i in range(3)]
    with use_executor(ray_executor), shard_scope(tmp_path) as store:
        with pytest.raises(TaskFailedError, match=r"'shard 1'.*this shard cannot be computed") as raised:
            run_tasks(tasks)
        assert "kept in" in str(raised.value)
        assert sorted(n.split("-")[0] for n in store.names()) == ["shard_0", "shard_2"]  # as stored on disk
