"""Every engine's noise equals the brute-force loop (one autograd.grad per mini-batch) to 1e-5."""

from __future__ import annotations

import warnings

import pytest
import torch

from sgdnoise.gradients import collect_noise

from .cases import MLP, brute_force_noise, budget_for, make_case

CASES = [
    ("mlp", "loop"),
    ("mlp", "vmap"),
    ("mlp", "entries"),
    ("mlp", "auto"),
    ("cnn", "loop"),
    ("cnn", "vmap"),
    ("cnn", "entries"),
    ("resnet", "loop"),
    ("resnet", "vmap"),
    ("resnet", "entries"),
    ("resnet", "auto"),
    ("transformer", "loop"),
    ("transformer", "vmap"),
]


@pytest.mark.filterwarnings("ignore:There is a performance drop")  # vmap over attention on CPU
@pytest.mark.parametrize(("kind", "method"), CASES)
def test_noise_equals_brute_force_loop(kind, method, loss_fn):
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
    assert result.method == (method if method != "auto" else result.method)
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


def test_entries_falls_back_to_loop_with_warning(loss_fn):
    """Attention in-projection weights are not supported by the entries engine."""
    model, data = make_case("transformer")
    with pytest.warns(UserWarning, match="entries engine cannot take"):
        result = collect_noise(model, loss_fn, data, batch_size=8, num_batches=3, seed=5, method="entries")
    assert result.method == "loop"


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
