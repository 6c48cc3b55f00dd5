"""A collection split into tasks (here on an executor with three workers in this process; on Ray
in test_sharded_ray.py) gives the numbers of the collection in one piece, bit for bit."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from sgdnoise.gradients import collect_noise, sample_batch_indices
from sgdnoise.gradients import run as run_module
from sgdnoise.gradients.runstore import load_npz
from sgdnoise.parallel import InProcessExecutor, use_executor

from .cases import MLP, assert_same_collection, bits, budget_for, make_case

K = 40


@pytest.fixture(autouse=True)
def _small_tasks(monkeypatch):
    """Tasks of 16 mini-batches: K = 40 splits in two (three workers, so at most two tasks)."""
    monkeypatch.setattr(run_module, "MIN_SHARD_BATCHES", 16)


def _both(split, model, loss_fn, data, **kwargs):
    """The collection in one piece and split by ``split``."""
    one = collect_noise(model, loss_fn, data, **kwargs)
    with use_executor(split):
        many = collect_noise(model, loss_fn, data, **kwargs)
    return one, many


@pytest.mark.parametrize(
    ("kind", "method", "params", "chunk", "tasks"),
    [
        ("mlp", "loop", 2, 10, 2),  # moments streamed: ranges of whole chunks
        ("mlp", "loop", 2, 5, 0),  # the moments of 8 chunks, held until merged, pass the budget: one piece
        ("mlp", "vmap", None, 5, 2),  # a chunk's mini-batches vmapped together
        ("mlp", "entries", 2, 5, 2),  # the kept entries only
        ("mlp", "loop", None, K, 2),  # one chunk, nothing streamed: split at any mini-batch
        ("cnn", "auto", 3, 4, 2),
        ("mlp", "vmap", 2, K, 0),  # one chunk that streams moments: one piece, no task
    ],
)
def test_a_split_collection_gives_the_numbers_of_one_piece(
    split_in_process, loss_fn, kind, method, params, chunk, tasks
):
    model, data = make_case(kind)
    budget = budget_for(model, data, 8, chunk, method, params=params, num_batches=K)
    kwargs = dict(batch_size=8, num_batches=K, seed=3, method=method, params=params, memory_budget=budget)
    one, many = _both(split_in_process, model, loss_fn, data, **kwargs)
    assert one.chunk_size == min(chunk, K)
    assert len(split_in_process.labels) == tasks
    assert_same_collection(one, many)


def test_given_mini_batches_are_split_too(split_in_process, loss_fn):
    model, data = make_case("mlp")
    given = sample_batch_indices(48, 6, K, seed=11)
    one, many = _both(split_in_process, model, loss_fn, data, batch_indices=given, seed=0, method="loop")
    assert split_in_process.labels == ["mini-batches 0-19", "mini-batches 20-39"]
    assert torch.equal(many.batch_indices, given)
    assert_same_collection(one, many)


def test_the_minimum_task_size_bounds_the_split(split_in_process, loss_fn, monkeypatch):
    model, data = make_case("mlp")
    kwargs = dict(batch_size=8, num_batches=K, seed=3, method="loop")
    monkeypatch.setattr(run_module, "MIN_SHARD_BATCHES", 8)
    one, many = _both(split_in_process, model, loss_fn, data, **kwargs)  # three workers: three tasks
    assert split_in_process.labels == ["mini-batches 0-13", "mini-batches 14-26", "mini-batches 27-39"]
    assert_same_collection(one, many)
    monkeypatch.setattr(run_module, "MIN_SHARD_BATCHES", K)
    split_in_process.labels.clear()
    with use_executor(split_in_process):
        collect_noise(model, loss_fn, data, **kwargs)
    assert split_in_process.labels == []  # one piece: no task, the chunk loop


@pytest.mark.parametrize("method", ["vmap", "entries"])
def test_a_fall_back_goes_as_in_one_piece(split_in_process, method):
    """vmap cannot batch a data-dependent branch: every task falls back. entries checks the run's
    first chunk against autograd: a summed loss fails there only, and the tasks after the first
    are computed again on the loop, as the chunk loop would have."""

    class Branchy(MLP):
        def forward(self, x):
            return super().forward(x) if x.sum() > -1e9 else x

    model, data = make_case("mlp")
    if method == "vmap":
        branchy = Branchy().double()
        branchy.load_state_dict(model.state_dict())
        model, loss_fn = branchy, nn.CrossEntropyLoss()
    else:
        loss_fn = nn.CrossEntropyLoss(reduction="sum")
    budget = budget_for(model, data, 8, 5, method, params=2, num_batches=K)
    kwargs = dict(batch_size=8, num_batches=K, seed=2, method=method, params=2, memory_budget=budget)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        one, many = _both(split_in_process, model, loss_fn, data, **kwargs)
    assert one.method == many.method == "loop"
    redone = ["mini-batches 20-39"] if method == "entries" else []  # computed by entries, unchecked: again
    assert split_in_process.labels == ["mini-batches 0-19", "mini-batches 20-39", *redone]
    assert sum("falling back" in str(w.message) for w in caught) == 2  # once per run
    assert_same_collection(one, many)


def test_a_run_folder_of_a_split_run_holds_the_files_of_one_piece(split_in_process, loss_fn, tmp_path):
    model, data = make_case("mlp")
    budget = budget_for(model, data, 8, 10, "loop", params=2, num_batches=K)
    kwargs = dict(batch_size=8, num_batches=K, seed=3, method="loop", params=2, memory_budget=budget)
    one = collect_noise(model, loss_fn, data, out=tmp_path / "one", **kwargs)
    with use_executor(split_in_process):
        many = collect_noise(model, loss_fn, data, out=tmp_path / "many", **kwargs)
        again = collect_noise(model, loss_fn, data, out=tmp_path / "many", **kwargs)  # complete: read back
    assert len(split_in_process.labels) == 2
    assert_same_collection(one, many)
    assert_same_collection(one, again)
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.npz"))
    assert len(files) == 4 + 2  # chunks, full gradient, running state
    assert sorted(p.relative_to(tmp_path / "many") for p in (tmp_path / "many").rglob("*") if p.is_file()) == sorted(
        p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*") if p.is_file()
    )  # no shards/ left behind
    for name in files:
        ours, theirs = load_npz(tmp_path / "one" / name), load_npz(tmp_path / "many" / name)
        assert ours.keys() == theirs.keys() and all(torch.equal(bits(ours[k]), bits(theirs[k])) for k in ours)


class _Interrupted(InProcessExecutor):
    """Three workers; the run is interrupted after the first task has finished."""

    workers = 3

    def submit(self, tasks, settings):
        yield next(super().submit(tasks, settings))
        raise KeyboardInterrupt


def test_an_interrupted_split_run_resumes_with_its_finished_tasks(split_in_process, loss_fn, tmp_path):
    model, data = make_case("mlp")
    kwargs = dict(batch_size=8, num_batches=K, seed=3, method="loop", out=tmp_path)
    with use_executor(_Interrupted()), pytest.raises(KeyboardInterrupt):
        collect_noise(model, loss_fn, data, **kwargs)
    assert len(list((tmp_path / "shards").iterdir())) == 1
    with use_executor(split_in_process):
        resumed = collect_noise(model, loss_fn, data, **kwargs)
    assert split_in_process.labels == ["mini-batches 20-39"]  # the first task was read back
    assert not (tmp_path / "shards").exists()
    assert_same_collection(resumed, collect_noise(model, loss_fn, data, **{**kwargs, "out": None}))
