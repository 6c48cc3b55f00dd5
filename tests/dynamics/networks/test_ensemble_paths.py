"""The two gradient paths of sgd_ensemble — the direct stacked-MLP path (Sequential of Linear/ReLU,
with the closed-form cross-entropy gradient or autograd through vmap(loss)) and the generic
vmap(functional_call) path — each against the seed-by-seed torch.optim.SGD loop. Exact equality."""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sgdnoise.data import load_dataset
from sgdnoise.dynamics import sgd_ensemble
from sgdnoise.dynamics.networks.ensemble import _StackedMLP
from sgdnoise.models import MLP
from sgdnoise.plumbing.batches import sample_batch_indices

SEEDS = (2, 5, 17)
LR = 0.2


class Wrapped(nn.Module):
    """The same MLP behind a custom forward: only the generic path can run it."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x)


def _loop(model, loss_fn, x, y, seed, batch, steps):
    """Plain SGD on a copy of ``model``, batches drawn one step at a time from the seed's generator."""
    net = copy.deepcopy(model)
    opt = torch.optim.SGD(net.parameters(), lr=LR)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = sample_batch_indices(len(x), batch, 1, gen)[0]
        opt.zero_grad()
        loss_fn(net(x[idx]), y[idx]).backward()
        opt.step()
    return dict(net.named_parameters())


def _assert_equals_loop(model, loss_fn, x, y, batch, steps=12):
    res = sgd_ensemble(model, loss_fn, (x, y), seeds=SEEDS, lr=LR, batch_size=batch, steps=steps, block_steps=5)
    for i, s in enumerate(SEEDS):
        ref = _loop(model, loss_fn, x, y, s, batch, steps)
        for name, p in ref.items():
            assert torch.equal(res.params[name][i], p.detach()), (s, name)


def _digits(dtype, n=200):
    x, y = load_dataset("digits").tensors
    return x[:n].to(dtype), y[:n]


def _mlp(dtype, **kw):
    torch.manual_seed(3)
    return MLP((1, 8, 8), 10, depth=2, width=20, **kw).to(dtype)


def test_path_selection():
    x, y = _digits(torch.float64)
    assert _StackedMLP.of(_mlp(torch.float64), F.cross_entropy, x, y) is not None
    assert _StackedMLP.of(_mlp(torch.float64, activation="tanh"), F.cross_entropy, x, y) is None
    assert _StackedMLP.of(Wrapped(_mlp(torch.float64)), F.cross_entropy, x, y) is None
    no_flatten = nn.Sequential(nn.Linear(64, 8), nn.ReLU(), nn.Linear(8, 10)).double()
    assert _StackedMLP.of(no_flatten, F.cross_entropy, x, y) is None  # (N, 1, 8, 8) inputs need the Flatten
    assert _StackedMLP.of(no_flatten, F.cross_entropy, x.reshape(len(x), -1), y) is not None


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_generic_vmap_path_equals_loop(dtype):
    x, y = _digits(dtype)
    _assert_equals_loop(Wrapped(_mlp(dtype)), F.cross_entropy, x, y, batch=12)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize(
    "loss_fn",
    [nn.CrossEntropyLoss(), lambda out, y: F.cross_entropy(out, y, label_smoothing=0.1)],
    ids=["CrossEntropyLoss-module", "label-smoothing-via-autograd"],
)
def test_direct_path_with_other_losses_equals_loop(dtype, loss_fn):
    x, y = _digits(dtype)
    _assert_equals_loop(_mlp(dtype), loss_fn, x, y, batch=12)  # B = 12: −1/B is not a power of two


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
    assert _StackedMLP.of(model, F.cross_entropy, x, y) is not None
    _assert_equals_loop(model.eval(), F.cross_entropy, x, y, batch=20)  # eval: the ensemble runs dropout off too
