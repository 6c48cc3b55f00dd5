"""The first mini-batch's check: what the engine cannot see before running sends the run to the
loop, which is exact."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sgdnoise.gradients import collect_noise

from ...cases import MLP, brute_force_noise, make_case


def test_loss_that_is_not_a_mean_of_per_sample_losses_falls_back():
    """Class-weighted cross-entropy divides by the mini-batch's total weight, not by B: the
    check on the first mini-batch sends the run to the loop, which is exact."""
    model, data = make_case("mlp")
    loss_fn = nn.CrossEntropyLoss(weight=torch.tensor([1.0, 5.0, 0.2], dtype=torch.float64))
    _assert_exact_loop_after_warning(model, loss_fn, data, "falling back to the loop", method="entries")


def test_model_that_mixes_samples_falls_back(loss_fn):
    """Centring by the batch mean couples the samples of a mini-batch: auto must not use the
    per-sample factors silently."""

    class Centred(MLP):
        def forward(self, x):
            return super().forward(x - x.mean(0))

    torch.manual_seed(0)
    model = Centred().double()
    _, data = make_case("mlp")
    _assert_exact_loop_after_warning(model, loss_fn, data, "does the model mix samples")
    # sampled entries under an explicit method="entries": the engine had been writing them in
    # their (K, n) layout, and the loop it falls back to computes whole tensors
    _assert_exact_loop_after_warning(model, loss_fn, data, "does the model mix samples", params=3, method="entries")


def test_parameter_used_outside_its_module_falls_back(loss_fn):
    """A weight also used functionally (weight tying by hand) escapes the module hooks: the
    gradient check on the first mini-batch catches it."""

    class Tied(MLP):
        def forward(self, x):
            return super().forward(x) + nn.functional.linear(x, self.fc1.weight)[:, :3]

    torch.manual_seed(0)
    model = Tied().double()
    _, data = make_case("mlp")
    _assert_exact_loop_after_warning(model, loss_fn, data, "fc1.weight differs from autograd")


def _assert_exact_loop_after_warning(model, loss_fn, data, match: str, **kwargs) -> None:
    """The collection warns (``match``), falls back to the loop engine and equals brute force."""
    with pytest.warns(UserWarning, match=match):
        result = collect_noise(model, loss_fn, data, batch_size=8, num_batches=4, seed=0, **kwargs)
    _, noise = brute_force_noise(model, loss_fn, data, result.batch_indices)
    assert result.method == "loop"
    for name in result.noise:
        torch.testing.assert_close(result.noise[name], result.selection.take(name, noise[name]), atol=1e-10, rtol=0)
