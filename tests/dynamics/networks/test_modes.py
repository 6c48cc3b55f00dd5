"""Every dynamics function that switches a model to eval mode gives each submodule its own flag back —
a BatchNorm frozen in eval inside a model in train mode, a dropout in train inside a model in eval
mode — whether it returns or raises; while it runs, every module is in eval mode."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sgdnoise.dynamics import (
    escape_by_distance,
    escape_by_loss,
    sgd_ensemble,
    sgd_noise_variance,
    zhu_network_dynamics,
)

GEN = torch.Generator().manual_seed(0)
DATA = (torch.randn(20, 3, generator=GEN, dtype=torch.float64), torch.randint(3, (20,), generator=GEN))
RUN = {"seeds": [0, 1], "lr": 0.1, "batch_size": 4}

CALLS = {
    "sgd_ensemble": lambda model, loss: sgd_ensemble(model, loss, DATA, steps=3, **RUN),
    "escape_by_loss": lambda model, loss: escape_by_loss(model, loss, DATA, factor=2.0, max_steps=3, **RUN),
    "escape_by_distance": lambda model, loss: escape_by_distance(model, loss, DATA, radius=10.0, max_steps=3, **RUN),
    "zhu_network_dynamics": lambda model, loss: zhu_network_dynamics(
        model, loss, DATA, variants=("gd", "sgd", "isotropic", "covariance", "top_eigvec"), n_steps=2, **RUN
    ),
    "sgd_noise_variance": lambda model, loss: sgd_noise_variance(model, loss, DATA, lr=0.1, batch_size=4),
}


class LossFailed(RuntimeError):
    pass


def _model(outer_training: bool) -> nn.Module:
    """Linear, BatchNorm, ReLU, Dropout, Linear; the model in train mode with its BatchNorm frozen in
    eval, or the model in eval mode with its dropout left in train."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Dropout(0.3), nn.Linear(6, 3)).double()
    with torch.no_grad():  # running statistics other than (0, 1), so that eval mode matters
        model[1].running_mean.uniform_(-0.5, 0.5, generator=GEN)
        model[1].running_var.uniform_(0.5, 2.0, generator=GEN)
    model.train(outer_training)
    model[1 if outer_training else 3].train(not outer_training)
    return model


def _flags(model: nn.Module) -> list[bool]:
    return [m.training for m in model.modules()]


@pytest.mark.parametrize("outer_training", [True, False], ids=["frozen-batchnorm-in-train", "dropout-in-eval"])
@pytest.mark.parametrize("fails", [False, True], ids=["returns", "raises"])
@pytest.mark.parametrize("name", list(CALLS))
def test_every_submodule_comes_back_in_its_own_mode(name, fails, outer_training):
    model = _model(outer_training)
    before = _flags(model)
    assert len(set(before)) == 2  # the model and one submodule differ
    all_eval = []

    def loss(out, y):
        all_eval.append(not any(_flags(model)))
        if fails:
            raise LossFailed("the loss fails on purpose")
        return F.cross_entropy(out, y)

    if fails:
        with pytest.raises(LossFailed):
            CALLS[name](model, loss)
    else:
        CALLS[name](model, loss)
    assert _flags(model) == before
    assert all_eval and all(all_eval)
