"""Fixtures shared by all test folders."""

import pytest
import torch


@pytest.fixture(scope="module")
def single_thread():
    """Run a module's small-tensor tests on one torch thread, restoring the setting afterwards:
    tiny ops are dispatch-bound, and on a busy 2-core machine two intra-op threads spin-wait and
    make them 10-1000× slower. Folders opt in with an autouse fixture that requests this one."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
