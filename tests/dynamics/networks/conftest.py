"""Fixtures of the network-side tests."""

import pytest

from .zhu_reference import tiny_problem


@pytest.fixture(scope="module")
def setup():
    """:func:`zhu_reference.tiny_problem`, once per module."""
    return tiny_problem()
