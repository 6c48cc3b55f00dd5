"""torch_threads: the count is lowered inside the block and comes back, also on error."""

import threading

import pytest
import torch

from sgdnoise.errors import InvalidInputError
from sgdnoise.parallel import torch_threads

pytestmark = pytest.mark.skipif(
    not torch.backends.openmp.is_available(), reason="the count is per thread under the OpenMP backend only"
)


@pytest.fixture
def two_threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)


def test_the_block_runs_on_one_thread_and_the_count_comes_back(two_threads):
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2


def test_the_count_comes_back_when_the_block_raises(two_threads):
    with pytest.raises(ZeroDivisionError), torch_threads(1):
        _ = 1 / 0
    assert torch.get_num_threads() == 2


def test_a_count_above_the_current_one_changes_nothing(two_threads):
    with torch_threads(8):
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == 2


def test_threads_that_ran_torch_code_keep_their_count_and_later_threads_start_as_before(two_threads):
    seen = []
    started, inside, done = threading.Event(), threading.Event(), threading.Event()

    def other():
        seen.append(torch.get_num_threads())
        started.set()
        inside.wait(10)
        seen.append(torch.get_num_threads())
        done.set()

    worker = threading.Thread(target=other)
    worker.start()
    started.wait(10)
    with torch_threads(1):
        inside.set()
        done.wait(10)
    worker.join()
    later = []
    fresh = threading.Thread(target=lambda: later.append(torch.get_num_threads()))
    fresh.start()
    fresh.join()
    assert seen == [2, 2] and later == [2]


def test_a_bad_count_is_refused():
    with pytest.raises(InvalidInputError, match="n must be an int"), torch_threads(0):
        pass
