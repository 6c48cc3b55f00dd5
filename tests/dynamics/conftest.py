"""Run these small-tensor tests single-threaded: on a shared 2-core machine torch's intra-op
threads make tiny ops 10-30x slower under load. The previous setting is restored afterwards."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _single_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
