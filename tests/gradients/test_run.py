"""The chunk loop: running statistics over chunks, resuming a killed run, and the fall back to the
loop when an engine cannot take the model while running."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from scipy import stats as sps

from sgdnoise.gradients import collect_noise, runstore

from .cases import MLP, brute_force_noise, budget_for, make_case


@pytest.mark.parametrize("method", ["loop", "vmap"])
def test_running_stats_match_scipy_on_all_parameters(method, loss_fn):
    model, data = make_case("cnn")
    # A budget of one mini-batch forces chunks of one mini-batch; only fc.* samples are kept, but the
    # statistics cover every parameter.
    result = collect_noise(
        model,
        loss_fn,
        data,
        batch_size=8,
        num_batches=13,
        seed=0,
        method=method,
        params="fc.*",
        memory_budget=budget_for(model, data, 8, 1, method),
    )
    full = collect_noise(model, loss_fn, data, batch_size=8, num_batches=13, seed=0, method=method, params=None)
    assert result.chunk_size == 1 and full.chunk_size == 13 and set(result.noise) == {"fc.weight", "fc.bias"}
    assert result.stats.scope == "all" and result.stats.count == 13
    for name, u in full.noise.items():
        u = u.numpy()
        np.testing.assert_allclose(result.stats.mean[name], u.mean(0), atol=1e-12)
        np.testing.assert_allclose(result.stats.var[name], u.var(0, ddof=1), rtol=1e-9, atol=1e-15)
        ok = u.std(0) > 1e-9
        np.testing.assert_allclose(result.stats.skew[name].numpy()[ok], sps.skew(u, axis=0, bias=True)[ok], rtol=1e-6)


@pytest.mark.parametrize("method", ["loop", "entries"])
def test_stats_of_a_run_that_keeps_everything_are_computed_on_use(method, loss_fn):
    model, data = make_case("cnn")
    kwargs = dict(batch_size=8, num_batches=13, seed=0, method=method)
    kept = collect_noise(
        model, loss_fn, data, params=None, memory_budget=budget_for(model, data, 8, 3, method), **kwargs
    )
    assert kept.streamed_stats is None and kept.chunk_size < 13  # nothing streamed, over several chunks
    # A run that keeps fewer entries than it computes streams its statistics (of every entry).
    streamed = collect_noise(model, loss_fn, data, params=2, **kwargs)
    assert (streamed.streamed_stats is None) == (method == "entries")  # "entries" computes only the kept entries
    assert kept.stats.scope == "all" and kept.stats.count == 13
    for name, u in kept.noise.items():
        u = u.double().numpy()
        np.testing.assert_allclose(kept.stats.mean[name], u.mean(0), rtol=1e-5, atol=1e-9)
        np.testing.assert_allclose(kept.stats.var[name], u.var(0, ddof=1), rtol=1e-4, atol=1e-12)
        if method == "loop":
            for key in ("mean", "var"):
                torch.testing.assert_close(
                    getattr(kept.stats, key)[name], getattr(streamed.stats, key)[name], rtol=1e-4, atol=1e-9
                )
    assert kept.stats is kept.stats  # computed once


def _assert_same(a, b):
    assert torch.equal(a.batch_indices, b.batch_indices) and a.method == b.method and a.chunk_size == b.chunk_size
    for key in ("full_grad", "noise"):
        for name in getattr(a, key):
            assert torch.equal(getattr(a, key)[name], getattr(b, key)[name])
    assert torch.equal(a.losses, b.losses)
    for key in ("mean", "var", "skew"):
        for name in getattr(a.stats, key):
            torch.testing.assert_close(
                getattr(a.stats, key)[name], getattr(b.stats, key)[name], atol=0, rtol=0, equal_nan=True
            )


@pytest.mark.parametrize(
    "params, method", [(2, "loop"), (None, "entries")]
)  # copied into, or written in, the kept noise
def test_killed_run_resumes_to_identical_result(params, method, tmp_path, monkeypatch, loss_fn):
    model, data = make_case("resnet")
    budget = budget_for(model, data, 8, 1, method, params)
    kwargs = dict(batch_size=8, num_batches=11, seed=9, params=params, method=method, memory_budget=budget)
    reference = collect_noise(model, loss_fn, data, out=tmp_path / "ref", **kwargs)

    _killed_after_chunk_4(monkeypatch, model, loss_fn, data, tmp_path / "run", **kwargs)

    computed = []
    _count_chunks(monkeypatch, computed)
    resumed = collect_noise(model, loss_fn, data, out=tmp_path / "run", **kwargs)
    assert computed == list(range(4, 11))  # chunks 0-3 were read from disk, not recomputed
    _assert_same(resumed, reference)
    assert json.loads((tmp_path / "run" / "manifest.json").read_text())["status"] == "complete"

    computed.clear()
    again = collect_noise(model, loss_fn, data, out=tmp_path / "run", **kwargs)
    assert computed == []  # a finished run is only read
    _assert_same(again, reference)


def _killed_after_chunk_4(monkeypatch, model, loss_fn, data, folder, **kwargs) -> None:
    """Run into ``folder`` and kill the run after chunk 4's file is written but before the state counts it."""
    real_save = runstore.NoiseRunStore.save_state

    def save_then_die(self, chunks_done, state):
        if chunks_done == 5:
            raise KeyboardInterrupt
        real_save(self, chunks_done, state)

    monkeypatch.setattr(runstore.NoiseRunStore, "save_state", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        collect_noise(model, loss_fn, data, out=folder, **kwargs)
    monkeypatch.setattr(runstore.NoiseRunStore, "save_state", real_save)
    assert json.loads((folder / "manifest.json").read_text())["status"] == "running"
    assert runstore.NoiseRunStore(folder).load_state()[0] == 4


def test_a_resumed_run_keeps_its_plan(tmp_path, monkeypatch, loss_fn):
    """Resumed under another budget, a run goes on with the engine, chunk and micro-batch sizes its
    manifest recorded (micro-batches of 3 here), and ends as the uninterrupted run."""
    model, data = make_case("resnet")
    kwargs = dict(batch_size=8, num_batches=11, seed=9, method="loop")
    small = budget_for(model, data, 3, 1, "loop")
    reference = collect_noise(model, loss_fn, data, memory_budget=small, **kwargs)
    assert reference.plan.micro_batch == 3 and reference.chunk_size == 1
    _killed_after_chunk_4(monkeypatch, model, loss_fn, data, tmp_path, memory_budget=small, **kwargs)
    resumed = collect_noise(model, loss_fn, data, out=tmp_path, memory_budget=1 << 30, **kwargs)
    assert resumed.plan.micro_batch == 3
    _assert_same(resumed, reference)


def _count_chunks(monkeypatch, computed):
    from sgdnoise.gradients.run import CollectionRun

    real = CollectionRun.chunk_noise

    def counting(self, start, stop, *args):
        computed.append(start // (stop - start))
        return real(self, start, stop, *args)

    monkeypatch.setattr(CollectionRun, "chunk_noise", counting)


def test_vmap_falls_back_on_unbatchable_module(loss_fn):
    """A module with a data-dependent Python branch cannot be vmapped: loop, with a warning."""

    class Branchy(MLP):
        def forward(self, x):
            return super().forward(x) if x.sum() > -1e9 else x

    model, data = make_case("mlp")
    branchy = Branchy().double()
    branchy.load_state_dict(model.state_dict())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = collect_noise(branchy, loss_fn, data, batch_size=8, num_batches=4, seed=1, method="vmap")
    assert result.method == "loop" and any("falling back to the loop" in str(w.message) for w in caught)
    _, noise = brute_force_noise(branchy, loss_fn, data, result.batch_indices)
    torch.testing.assert_close(result.noise["fc1.weight"], noise["fc1.weight"], atol=1e-10, rtol=0)
