"""collect_noise end to end: every engine's noise equals the brute-force loop (one autograd.grad
per mini-batch); the data forms, the model's modes and dropout during a collection."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from sgdnoise.gradients import collect_noise

from .cases import MLP, brute_force_noise, budget_for, make_case

CASES = [  # model, method, the engine that must run (auto → entries: the dense net, and the tiny ResNet,
    # a deep net on small inputs, whose loop at B = 8 pays mostly per module call)
    ("mlp", "loop", "loop"),
    ("mlp", "vmap", "vmap"),
    ("mlp", "entries", "entries"),
    ("mlp", "auto", "entries"),
    ("cnn", "loop", "loop"),
    ("cnn", "vmap", "vmap"),
    ("cnn", "entries", "entries"),
    ("resnet", "loop", "loop"),
    ("resnet", "vmap", "vmap"),
    ("resnet", "entries", "entries"),
    ("resnet", "auto", "entries"),
    ("transformer", "loop", "loop"),
    ("transformer", "vmap", "vmap"),
]


@pytest.mark.filterwarnings("ignore:There is a performance drop")  # vmap over attention on CPU
@pytest.mark.parametrize(("kind", "method", "engine"), CASES)
def test_noise_equals_brute_force_loop(kind, method, engine, loss_fn):
    model, data = make_case(kind)
    result = collect_noise(
        model,
        loss_fn,
        data,
        batch_size=8,
        num_batches=6,
        seed=3,
        method=method,
        memory_budget=budget_for(model, data, 8, 2, method),
    )
    full, noise = brute_force_noise(model, loss_fn, data, result.batch_indices)
    assert result.method == engine and result.chunk_size == 2 and result.plan.micro_batch == 8
    for name in noise:
        torch.testing.assert_close(result.full_grad[name], full[name], atol=1e-10, rtol=0)
        torch.testing.assert_close(result.noise[name], noise[name], atol=1e-10, rtol=0)


@pytest.mark.parametrize("kind", ["mlp", "cnn", "resnet"])
def test_sampled_entries_equal_brute_force(kind, loss_fn):
    model, data = make_case(kind)
    result = collect_noise(model, loss_fn, data, batch_size=8, num_batches=5, seed=4, params=3, method="entries")
    _, noise = brute_force_noise(model, loss_fn, data, result.batch_indices)
    assert result.method == "entries" and result.stats.scope == "selected"
    for name, idx in result.selection.entries.items():
        torch.testing.assert_close(result.noise[name], noise[name].flatten(1)[:, idx], atol=1e-10, rtol=0)


def test_transformer_entries_on_supported_layers(loss_fn):
    """Linear and LayerNorm entries of a transformer block go through the entries engine."""
    model, data = make_case("transformer")
    result = collect_noise(
        model,
        loss_fn,
        data,
        batch_size=8,
        num_batches=4,
        seed=5,
        method="entries",
        params=["block.linear*", "block.norm*", "head.*"],
    )
    _, noise = brute_force_noise(model, loss_fn, data, result.batch_indices)
    assert result.method == "entries"
    for name in result.selection.names:
        torch.testing.assert_close(result.noise[name], noise[name], atol=1e-10, rtol=0)


def test_float32_mlp_within_1e5(loss_fn):
    torch.manual_seed(0)
    model = MLP()
    gen = torch.Generator().manual_seed(2)
    data = (torch.randn(64, 6, generator=gen), torch.randint(0, 3, (64,), generator=gen))
    for method in ("vmap", "entries"):
        result = collect_noise(model, loss_fn, data, batch_size=16, num_batches=8, seed=0, method=method)
        _, noise = brute_force_noise(model, loss_fn, data, result.batch_indices)
        for name in noise:
            torch.testing.assert_close(result.noise[name], noise[name], atol=1e-5, rtol=0)


def test_tensor_pair_dataset_and_loader_give_the_same_noise(loss_fn):
    model, (x, y) = make_case("mlp")
    runs = [
        collect_noise(model, loss_fn, src, batch_size=8, num_batches=4, seed=0, params="fc3.*")
        for src in ((x, y), TensorDataset(x, y), DataLoader(TensorDataset(x, y), batch_size=5, shuffle=True))
    ]
    for other in runs[1:]:
        for name in runs[0].noise:
            torch.testing.assert_close(other.noise[name], runs[0].noise[name], atol=1e-12, rtol=0)


def test_modes_restored_and_buffers_untouched(loss_fn):
    model, data = make_case("resnet")
    model.train()
    model.blocks[0].eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    collect_noise(model, loss_fn, data, batch_size=8, num_batches=3, seed=0, method="vmap")
    assert model.training and not model.blocks[0].training and model.blocks[1].training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_dropout_is_off_during_collection(loss_fn):
    model, data = make_case("mlp")
    dropped = nn.Sequential(model, nn.Dropout(0.5)).train()
    a = collect_noise(dropped, loss_fn, data, batch_size=8, num_batches=3, seed=0, method="loop")
    b = collect_noise(model, loss_fn, data, batch_size=8, num_batches=3, seed=0, method="loop")
    torch.testing.assert_close(a.noise["0.fc1.weight"], b.noise["fc1.weight"], atol=0, rtol=0)
