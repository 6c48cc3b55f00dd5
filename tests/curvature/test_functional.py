"""Mode switching: every curvature function that evaluates the model in a mode gives the model
back exactly as it was — every submodule's own train/eval flag and every buffer — also when it
raises. The model is in train mode with a BatchNorm frozen in eval inside it."""

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from sgdnoise.curvature import (
    EmpiricalFisherOperator,
    GGNOperator,
    HessianOperator,
    hessian_eigenvalues,
    hessian_trace,
    per_sample_gradients,
)

from .conftest import classification_data


def _model_with_frozen_norm() -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.Tanh(), nn.Linear(6, 3)).double()
    net.train()
    net(torch.randn(16, 4, dtype=torch.float64))  # running statistics away from their start
    net[1].eval()
    return net


def _snapshot(net: nn.Module):
    return [(name, m.training) for name, m in net.named_modules()], {k: v.clone() for k, v in net.state_dict().items()}


def _assert_unchanged(net: nn.Module, before) -> None:
    flags, state = _snapshot(net)
    assert flags == before[0]
    assert state.keys() == before[1].keys()
    assert all(torch.equal(state[k], before[1][k]) for k in state)


def _calls(mode: str):
    """Each call switches the model to ``mode`` (per-sample gradients: eval only)."""
    vector = lambda op: torch.ones(op.dim, dtype=torch.float64)  # noqa: E731
    calls = {
        "hessian_eigenvalues": lambda net, data: hessian_eigenvalues(net, F.cross_entropy, data, k=2, mode=mode),
        "hessian_trace": lambda net, data: hessian_trace(net, F.cross_entropy, data, n_products=9, mode=mode),
        "loss": lambda net, data: HessianOperator(net, F.cross_entropy, data, mode=mode).loss(),
        "gradient": lambda net, data: HessianOperator(net, F.cross_entropy, data, mode=mode).gradient(),
    }
    for cls in (HessianOperator, GGNOperator):
        calls[f"{cls.__name__}.matvec"] = lambda net, data, cls=cls: (
            op := cls(net, F.cross_entropy, data, mode=mode, chunk_size=16)
        ).matvec(vector(op))
    if mode == "eval":
        calls["per_sample_gradients"] = lambda net, data: per_sample_gradients(net, F.cross_entropy, data)
        calls["EmpiricalFisherOperator.matvec"] = lambda net, data: (
            op := EmpiricalFisherOperator(net, F.cross_entropy, data)
        ).matvec(vector(op))
    return calls


CASES = [(mode, name) for mode in ("eval", "train") for name in _calls(mode)]


@pytest.mark.parametrize("mode, name", CASES)
def test_the_model_comes_back_exactly_as_it_was(mode, name):
    net = _model_with_frozen_norm()
    before = _snapshot(net)
    _calls(mode)[name](net, classification_data(n=40))
    _assert_unchanged(net, before)


@pytest.mark.parametrize("mode, name", CASES)
def test_the_model_comes_back_exactly_as_it_was_when_the_call_raises(mode, name):
    net = _model_with_frozen_norm()
    before = _snapshot(net)
    x, y = classification_data(n=40)
    wrong_width = torch.cat([x, x[:, :1]], dim=1)  # 5 features for a 4-input model: the forward raises
    with pytest.raises(RuntimeError):
        _calls(mode)[name](net, (wrong_width, y))
    _assert_unchanged(net, before)
