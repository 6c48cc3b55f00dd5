"""Running statistics over chunks, results on disk, and resuming a killed run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy import stats as sps

from sgdnoise.errors import ConfigError
from sgdnoise.gradients import RunningMoments, collect_noise, runstore

from .cases import budget_for, make_case


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

    # Kill the run after chunk 4's file is written but before the state counts it.
    real_save = runstore.NoiseRunStore.save_state

    def save_then_die(self, chunks_done, state):
        if chunks_done == 5:
            raise KeyboardInterrupt
        real_save(self, chunks_done, state)

    monkeypatch.setattr(runstore.NoiseRunStore, "save_state", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        collect_noise(model, loss_fn, data, out=tmp_path / "run", **kwargs)
    monkeypatch.setattr(runstore.NoiseRunStore, "save_state", real_save)
    assert json.loads((tmp_path / "run" / "manifest.json").read_text())["status"] == "running"
    assert runstore.NoiseRunStore(tmp_path / "run").load_state()[0] == 4

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


def _count_chunks(monkeypatch, computed):
    from sgdnoise.gradients.run import CollectionRun

    real = CollectionRun.chunk_noise

    def counting(self, start, stop, *args):
        computed.append(start // (stop - start))
        return real(self, start, stop, *args)

    monkeypatch.setattr(CollectionRun, "chunk_noise", counting)


def test_out_folder_of_another_run_is_refused(tmp_path, loss_fn):
    model, data = make_case("mlp")
    collect_noise(model, loss_fn, data, batch_size=8, num_batches=3, seed=1, out=tmp_path)
    with pytest.raises(ConfigError, match="batch_size"):
        collect_noise(model, loss_fn, data, batch_size=4, num_batches=3, seed=1, out=tmp_path)
    with torch.no_grad():
        model.fc1.bias += 1
    with pytest.raises(ConfigError, match="weights_sha256"):
        collect_noise(model, loss_fn, data, batch_size=8, num_batches=3, seed=1, out=tmp_path)


def test_files_on_disk(tmp_path, loss_fn):
    model, data = make_case("mlp")
    result = collect_noise(
        model,
        loss_fn,
        data,
        batch_size=8,
        num_batches=5,
        seed=1,
        out=tmp_path,
        memory_budget=budget_for(model, data, 8, 1),
        params="fc3.*",
    )
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["config"]["seed"] == 1 and manifest["chunk_size"] == 1
    assert np.array_equal(np.load(tmp_path / "batch_indices.npy"), result.batch_indices.numpy())
    chunks = sorted((tmp_path / "chunks").glob("chunk_*.npz"))
    assert len(chunks) == 5
    with np.load(chunks[2]) as first:
        np.testing.assert_array_equal(first["noise:fc3.weight"], result.noise["fc3.weight"][2:3].numpy())
