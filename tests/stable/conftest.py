import functools

import numpy as np
import pytest
from scipy.stats import levy_stable

ROWS, K = 120, 1000


@pytest.fixture(scope="session")
def scipy_samples():
    """``scipy_samples(alpha)``: 120 rows of K = 1000 draws from scipy's sampler (not ours), scale 1, loc 0."""

    @functools.cache
    def draw(alpha: float) -> np.ndarray:
        return levy_stable.rvs(alpha, 0.0, size=(ROWS, K), random_state=np.random.default_rng(round(100 * alpha)))

    return draw


@pytest.fixture
def scipy_s0():
    """scipy's ``levy_stable`` switched to Nolan's S0 parameterisation for one test, then restored."""
    previous = levy_stable.parameterization
    levy_stable.parameterization = "S0"
    yield levy_stable
    levy_stable.parameterization = previous
