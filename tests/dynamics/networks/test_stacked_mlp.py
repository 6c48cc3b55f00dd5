"""The direct stacked-MLP path of sgd_ensemble — a Sequential of Linear/ReLU written out on stacked
tensors, with the closed-form cross-entropy gradient or autograd through vmap(loss) — against the
seed-by-seed torch.optim.SGD loop (``reference.sgd_loop``). Exact equality."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sgdnoise.data import load_dataset
from sgdnoise.dynamics import sgd_ensemble
from sgdnoise.dynamics.networks.stacked_mlp import StackedMLP
from sgdnoise.models import MLP

from .reference import Wrapped, assert_equals_loop

SEEDS = (2, 5, 17)
LR = 0.2


def _digits(dtype, n=200):
    x, y = load_dataset("digits").tensors
    return x[:n].to(dtype), y[:n]


def _mlp(dtype, **kw):
    torch.manual_seed(3)
    return MLP((1, 8, 8), 10, depth=2, width=20, **kw).to(dtype)


def _check(model, loss_fn, x, y, batch, steps=12):
    res = sgd_ensemble(model, loss_fn, (x, y), seeds=SEEDS, lr=LR, batch_size=batch, steps=steps, block_steps=5)
    assert_equals_loop(res, model, loss_fn, (x, y), lr=LR, batch_size=batch, steps=steps)


def test_path_selection():
    x, y = _digits(torch.float64)
    assert StackedMLP.of(_mlp(torch.float64), F.cross_entropy, x, y) is not None
    assert StackedMLP.of(_mlp(torch.float64, activation="tanh"), F.cross_entropy, x, y) is None
    assert StackedMLP.of(Wrapped(_mlp(torch.float64)), F.cross_entropy, x, y) is None
    no_flatten = nn.Sequential(nn.Linear(64, 8), nn.ReLU(), nn.Linear(8, 10)).double()
    assert StackedMLP.of(no_flatten, F.cross_entropy, x, y) is None  # (N, 1, 8, 8) inputs need the Flatten
    assert StackedMLP.of(no_flatten, F.cross_entropy, x.reshape(len(x), -1), y) is not None


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize(
    "loss_fn",
    [
        nn.CrossEntropyLoss(),
        lambda out, y: F.cross_entropy(out, y, label_smoothing=0.1),
        nn.CrossEntropyLoss(ignore_index=3),
    ],
    ids=["CrossEntropyLoss-module", "label-smoothing-via-autograd", "ignored-class-via-autograd"],
)
def test_direct_path_with_other_losses_equals_loop(dtype, loss_fn):
    x, y = _digits(dtype)
    _check(_mlp(dtype), loss_fn, x, y, batch=12)  # B = 12: −1/B is not a power of two


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_direct_path_without_flatten_and_with_pass_through_layers(dtype):
    x, y = _digits(dtype)
    x = x.reshape(len(x), -1)
    torch.manual_seed(4)
    model = nn.Sequential(
        nn.Linear(64, 16),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(16, 16, bias=False),
        nn.Identity(),
        nn.ReLU(),
        nn.Linear(16, 10),
    ).to(dtype)
    assert StackedMLP.of(model, F.cross_entropy, x, y) is not None
    _check(model.eval(), F.cross_entropy, x, y, batch=20)  # eval: the ensemble runs dropout off too


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("bias", [True, False])
def test_tiny_layers_and_bias_free_layers_are_exact(dtype, bias):
    # products under 400 multiply-adds take another kernel in torch.bmm; B = 3, width 6, 2 outputs
    x, y = load_dataset("breast_cancer").tensors
    x = x.to(dtype)
    torch.manual_seed(1)
    model = MLP((30,), 2, depth=2, width=6, bias=bias).to(dtype)
    res = sgd_ensemble(model, F.cross_entropy, (x, y), seeds=SEEDS, lr=0.3, batch_size=3, steps=30, block_steps=7)
    assert_equals_loop(res, model, F.cross_entropy, (x, y), lr=0.3, batch_size=3, steps=30)
