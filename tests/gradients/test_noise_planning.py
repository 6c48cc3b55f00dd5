"""Chunk sizes follow the documented memory rule; "auto" follows the documented engine rule."""

from __future__ import annotations

import warnings

import pytest
import torch
from .cases import brute_force_noise, budget_for, make_case
from torch import nn

from sgdnoise.errors import InvalidInputError
from sgdnoise.gradients import collect_noise
from sgdnoise.gradients.planning import ModelProbe, choose_method, chunk_size, micro_batch_size, probe_model


def test_probe_counts_parameters_and_leaf_outputs():
    model = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 2))
    probe = probe_model(model, torch.randn(1, 5), owners={"0"})
    assert probe.num_params == 5 * 7 + 7 + 7 * 2 + 2
    assert probe.activations_per_sample == 7 + 7 + 2  # Linear, ReLU, Linear outputs of one sample
    assert probe.itemsize == 4 and probe.max_positions == 1


def test_chunk_size_rule():
    probe = ModelProbe(num_params=1000, activations_per_sample=50, max_positions=4, itemsize=4)
    per_batch = 4 * (3 * 1000 + 12 * 8 * 50)  # vmap: s·(3P + 12·B·A) per mini-batch
    assert chunk_size(probe, "vmap", 8, 100, 10 * per_batch, 1) == 10
    assert chunk_size(probe, "vmap", 8, 100, 10 * per_batch - 1, 1) == 9
    assert chunk_size(probe, "vmap", 8, 5, 10 * per_batch, 1) == 5  # at most K
    assert chunk_size(probe, "vmap", 8, 100, 1, 1) == 1  # at least one mini-batch
    # loop: one mini-batch's activations at a time, s·(Kc·3P + 2·B·A)
    assert chunk_size(probe, "loop", 8, 100, 4 * (7 * 3000 + 2 * 8 * 50), 1) == 7
    assert chunk_size(probe, "loop", 8, 100, 4 * (7 * 3000 + 2 * 4 * 50), 1, micro_batch=4) == 7
    per_batch_entries = 4 * 8 * (3 * 50 + 6 * 4)  # s·B·(3A + G), G = 6 entries × 4 positions
    assert chunk_size(probe, "entries", 8, 100, 3 * per_batch_entries, 6) == 3


def test_auto_rule():
    mlp, _ = make_case("mlp")
    cnn, _ = make_case("cnn")
    big = nn.Sequential(nn.Linear(400, 300), nn.ReLU(), nn.Linear(300, 10))
    probe = lambda m: ModelProbe(sum(p.numel() for p in m.parameters()), 1, 1, 4)  # noqa: E731
    assert choose_method("auto", mlp, probe(mlp)) == "vmap"
    assert choose_method("auto", cnn, probe(cnn)) == "loop"  # convolutions / BatchNorm
    assert choose_method("auto", big, probe(big)) == "loop"  # > 100k parameters
    assert choose_method("entries", cnn, probe(cnn)) == "entries"


def test_auto_in_collect_noise(loss_fn):
    model, data = make_case("mlp")
    assert collect_noise(model, loss_fn, data, batch_size=8, num_batches=2, seed=0).method == "vmap"
    model, data = make_case("resnet")
    assert collect_noise(model, loss_fn, data, batch_size=8, num_batches=2, seed=0).method == "loop"


def test_micro_batch_rule():
    probe = ModelProbe(num_params=1000, activations_per_sample=50, max_positions=4, itemsize=4)
    one_sample = 4 * (3 * 1000 + 2 * 50)  # loop: s·(3P + 2·m·A)
    assert micro_batch_size(probe, 8, 4 * (3 * 1000 + 2 * 8 * 50)) == 8  # the mini-batch fits
    assert micro_batch_size(probe, 8, 4 * (3 * 1000 + 2 * 3 * 50) + 1) == 3
    assert micro_batch_size(probe, 8, one_sample) == 1
    with pytest.raises(InvalidInputError, match="raise memory_budget"):
        micro_batch_size(probe, 8, one_sample - 1)


@pytest.mark.parametrize(("kind", "method"), [("resnet", "auto"), ("transformer", "vmap")])
def test_mini_batch_above_budget_is_split_exactly(kind, method, loss_fn):
    """A budget of three samples: micro-batches of 3, 3, 2 through the loop engine, and the noise
    is still the brute-force mini-batch noise (float64, so rounding stays far below 1e-10)."""
    model, data = make_case(kind)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = collect_noise(model, loss_fn, data, batch_size=8, num_batches=4, seed=2, method=method,
                               memory_budget=budget_for(model, data, 3, 1, "loop"))
    assert result.method == "loop" and result.chunk_size == 1
    assert (method == "vmap") == any("using the loop engine" in str(w.message) for w in caught)
    _, noise = brute_force_noise(model, loss_fn, data, result.batch_indices)
    for name in noise:
        torch.testing.assert_close(result.noise[name], noise[name], atol=1e-10, rtol=0)
