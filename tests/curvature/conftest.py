"""Small float64 models and data whose exact Hessians are cheap to form with autograd."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.autograd.functional import hessian
from torch.nn import functional as F
from torch.utils.data import Dataset

from sgdnoise.curvature.functional import FunctionalModel
from sgdnoise.plumbing.parameters import ParameterSpace


@pytest.fixture(autouse=True, scope="module")
def _single_thread(single_thread):
    """Tiny tensors: run single-threaded (see tests/conftest.py)."""
    yield


def small_mlp(seed: int = 0, d_in: int = 4, hidden: int = 6, d_out: int = 3) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d_in, hidden), nn.Tanh(), nn.Linear(hidden, d_out)).double()


def classification_data(n: int = 40, d_in: int = 4, classes: int = 3, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d_in, generator=g, dtype=torch.float64), torch.randint(0, classes, (n,), generator=g)


def regression_data(n: int = 40, d_in: int = 4, d_out: int = 3, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d_in, generator=g, dtype=torch.float64), torch.randn(
        n, d_out, generator=g, dtype=torch.float64
    )


def exact_hessian(model: nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor, params=None, mode: str = "eval"):
    """Reference: ``torch.autograd.functional.hessian`` of the whole-batch loss in θ."""
    space = ParameterSpace(model, params)
    fmodel = FunctionalModel(model, loss_fn, space, mode)
    return hessian(lambda th: fmodel.loss(th, x, y), space.vector())


class PairDataset(Dataset):
    """A map-style dataset of (x, y) pairs that is not a TensorDataset (read point by point)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        return self.x[i], self.y[i]


@pytest.fixture(scope="session")
def mlp_ce():
    """(model, loss, data, exact Hessian) for a tanh MLP with cross-entropy."""
    model, data = small_mlp(), classification_data()
    return model, F.cross_entropy, data, exact_hessian(model, F.cross_entropy, *data)


@pytest.fixture(scope="session")
def mlp_mse():
    model, data = small_mlp(), regression_data()
    return model, F.mse_loss, data, exact_hessian(model, F.mse_loss, *data)


def spectrum_matrix(eigenvalues: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """``Q diag(λ) Qᵀ`` with a random orthogonal Q: a symmetric matrix of known spectrum."""
    d = eigenvalues.numel()
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64))
    a = (q * eigenvalues) @ q.T
    return (a + a.T) / 2
