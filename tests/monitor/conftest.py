"""Fixtures of the monitor tests: a small classification problem and tiny networks."""

import pytest
import torch
from torch import nn


@pytest.fixture(autouse=True, scope="module")
def _single_thread(single_thread):
    """Tiny models are dispatch-bound: run single-threaded (see tests/conftest.py)."""
    yield


def blobs(n: int = 240, features: int = 6, classes: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points of ``classes`` overlapping Gaussian blobs (float32 inputs, int64 labels)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(classes, (n,), generator=g)
    centres = torch.randn(classes, features, generator=g)
    x = centres[y] + 1.5 * torch.randn(n, features, generator=g)
    return x, y


def tiny_mlp(features: int = 6, classes: int = 3, seed: int = 0, dropout: float = 0.0) -> nn.Module:
    torch.manual_seed(seed)
    layers = [nn.Linear(features, 16), nn.BatchNorm1d(16), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers, nn.Linear(16, classes))


@pytest.fixture
def data() -> tuple[torch.Tensor, torch.Tensor]:
    return blobs()
