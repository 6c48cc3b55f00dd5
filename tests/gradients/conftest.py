"""Fixtures of the gradients tests; the test models and the brute-force reference are in cases.py."""

import pytest
from torch import nn


@pytest.fixture
def loss_fn() -> nn.Module:
    return nn.CrossEntropyLoss()


@pytest.fixture(autouse=True, scope="module")
def _single_thread(single_thread):
    """Tiny models are dispatch-bound: run single-threaded (see tests/conftest.py)."""
    yield
