"""Mori et al.'s multiplicative-noise SDE (``stationary_samples``): bad input is refused.
Its stationary law is checked by the recipe's tests (tests/experiments/test_mori_stationary.py)."""

import pytest

from sgdnoise.dynamics import stationary_samples
from sgdnoise.errors import InvalidInputError


def test_bad_parameters_are_refused():
    with pytest.raises(InvalidInputError, match="lr"):
        stationary_samples(curvature=1.0, loss_min=0.1, lr=0.0, batch_size=1)
