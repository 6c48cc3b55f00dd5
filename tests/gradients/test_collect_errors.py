"""Bad input to collect_noise gives a clear InvalidInputError naming the culprit."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sgdnoise.errors import InvalidInputError
from sgdnoise.gradients import collect_noise

from .cases import make_case


def test_nan_data_point_names_the_mini_batch(loss_fn):
    model, (x, y) = make_case("mlp")
    x = x.clone()
    full = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    probe = collect_noise(model, loss_fn, (x, y), batch_size=8, num_batches=10, seed=0, full_grad=full)
    first = next(k for k, row in enumerate(probe.batch_indices) if 5 in row.tolist())
    x[5] = float("nan")
    with pytest.raises(InvalidInputError, match=rf"loss is NaN or Inf on mini-batch {first}\b"):
        collect_noise(model, loss_fn, (x, y), batch_size=8, num_batches=10, seed=0, full_grad=full)


class SqrtModel(nn.Module):
    """out = sqrt(|w·x|): finite loss, but a NaN gradient for w at a point with x = 0."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(3, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.w).abs().sqrt()


@pytest.mark.parametrize("method", ["loop", "vmap"])
def test_nan_gradient_names_parameter_and_mini_batch(method):
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(20, 3, generator=gen, dtype=torch.float64) + 0.1
    x[7] = 0.0
    y = torch.zeros(20, 3, dtype=torch.float64)
    model = SqrtModel()
    full = {"w": torch.zeros(3, dtype=torch.float64)}
    probe = collect_noise(model, nn.MSELoss(), (x[:7], y[:7]), batch_size=4, num_batches=1, seed=0, full_grad=full)
    assert probe.losses.isfinite().all()
    with pytest.raises(InvalidInputError, match=r"gradient of parameter 'w' is NaN or Inf on mini-batch \d+"):
        collect_noise(model, nn.MSELoss(), (x, y), batch_size=10, num_batches=5, seed=0, full_grad=full, method=method)
    with pytest.raises(InvalidInputError, match=r"full-data gradient of parameter 'w'"):
        collect_noise(model, nn.MSELoss(), (x, y), batch_size=10, num_batches=5, seed=0)


def test_nan_weights_name_the_parameter(loss_fn):
    model, data = make_case("mlp")
    with torch.no_grad():
        model.fc2.bias[0] = float("nan")
    with pytest.raises(InvalidInputError, match="NaN"):
        collect_noise(model, loss_fn, data, batch_size=8, num_batches=2, seed=0)


def test_batch_size_larger_than_data(loss_fn):
    model, data = make_case("mlp", num_points=10)
    with pytest.raises(InvalidInputError, match="batch_size=11 is larger than the data set"):
        collect_noise(model, loss_fn, data, batch_size=11, num_batches=2, seed=0)


@pytest.mark.parametrize("params", ["nothing.*", [], "fc9*"])
def test_empty_selection(params, loss_fn):
    model, data = make_case("mlp")
    with pytest.raises(InvalidInputError, match="matches none"):
        collect_noise(model, loss_fn, data, batch_size=8, num_batches=2, seed=0, params=params)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"data": "digits"}, "data must be a pair"),
        ({"data": [1, 2, 3]}, "taken by index"),
        ({"num_batches": 0}, "num_batches must be an int ≥ 1"),
        ({"method": "fast"}, "method must be one of"),
        ({"memory_budget": -1}, r"memory_budget \(bytes\) must be an int ≥ 1"),
        ({"memory_budget": 1000}, "too small for this model.*raise memory_budget"),
        ({"full_grad": {"fc1.weight": torch.zeros(2)}}, "full_grad must hold"),
        ({"seed": "x"}, "seed must be an int"),
        ({"params": 0}, "per_layer"),
    ],
)
def test_other_bad_arguments(kwargs, match, loss_fn):
    model, data = make_case("mlp")
    args = {"data": data, "batch_size": 8, "num_batches": 2, "seed": 0, **kwargs}
    with pytest.raises(InvalidInputError, match=match):
        collect_noise(model, loss_fn, args.pop("data"), **args)
