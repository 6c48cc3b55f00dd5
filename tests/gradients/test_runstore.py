"""A run folder: its files, and a folder of another run refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from sgdnoise.errors import ConfigError
from sgdnoise.gradients import collect_noise

from .cases import budget_for, make_case


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
        memory_budget=budget_for(model, data, 8, 1, "auto", "fc3.*"),
        params="fc3.*",
    )
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["config"]["seed"] == 1 and manifest["chunk_size"] == 1
    assert manifest["engine"] == result.method == "entries"  # auto on a dense net
    assert {key: manifest[key] for key in result.collection} == result.collection  # the plan, as the result has it
    assert set(result.collection) == {"engine", "chunk_size", "micro_batch", "full_pass", "reason"}
    assert np.array_equal(np.load(tmp_path / "batch_indices.npy"), result.batch_indices.numpy())
    chunks = sorted((tmp_path / "chunks").glob("chunk_*.npz"))
    assert len(chunks) == 5
    with np.load(chunks[2]) as first:
        np.testing.assert_array_equal(first["noise:fc3.weight"], result.noise["fc3.weight"][2:3].numpy())
