import pytest
import torch
from torch import nn

from sgdnoise.errors import InvalidInputError
from sgdnoise.plumbing.parameters import ParameterSpace


def small_mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3)).double()


def test_flatten_unflatten_round_trip_matches_named_parameters():
    model = small_mlp()
    space = ParameterSpace(model)
    theta = space.vector()
    assert space.dim == sum(p.numel() for p in model.parameters()) == theta.numel()
    parts = space.unflatten(theta)
    for name, p in model.named_parameters():
        assert torch.equal(parts[name], p.detach())
    assert torch.equal(space.flatten(parts), theta)
    sl = space.slices()["2.weight"]
    assert torch.equal(theta[sl], model[2].weight.detach().reshape(-1))


def test_globs_select_and_exclude():
    model = small_mlp()
    assert ParameterSpace(model, "*.weight").names == ("0.weight", "2.weight")
    assert ParameterSpace(model, exclude="0.*").names == ("2.weight", "2.bias")
    assert ParameterSpace(model, ["0.bias", "2.bias"]).dim == 6 + 3


def test_frozen_parameters_left_out_by_default():
    model = small_mlp()
    model[0].weight.requires_grad_(False)
    assert "0.weight" not in ParameterSpace(model).names


def test_errors():
    with pytest.raises(InvalidInputError, match="no parameter matches"):
        ParameterSpace(small_mlp(), "nothing*")
    with pytest.raises(InvalidInputError, match=r"nn\.Module"):
        ParameterSpace(lambda x: x)
    mixed = nn.Sequential(nn.Linear(2, 2).double(), nn.Linear(2, 2))
    with pytest.raises(InvalidInputError, match="one float dtype"):
        ParameterSpace(mixed)


def test_tied_weight_appears_once():
    emb = nn.Linear(3, 3, bias=False)
    model = nn.Sequential(emb, nn.Tanh(), emb)
    space = ParameterSpace(model)
    assert space.names == ("0.weight",) and space.dim == 9
