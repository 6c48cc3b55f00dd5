"""This folder's tests are small-tensor tests: run them single-threaded (see tests/conftest.py)."""

import pytest


@pytest.fixture(autouse=True, scope="module")
def _single_thread(single_thread):
    yield
