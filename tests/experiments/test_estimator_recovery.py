"""The estimator-recovery recipe's configuration (the recipe itself runs in the reproduce command's test)."""

import pytest

from sgdnoise.errors import ConfigError
from sgdnoise.experiments.estimator_recovery import RecoveryConfig


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"rows_per_alpha": 0}, "rows_per_alpha must be an int ≥ 1; got 0"),
        ({"k": 10}, r"k \(draws per sample\) must be an int ≥ 20; got 10"),
        ({"alphas": (2.5,)}, "alphas must lie in"),
        ({"methods": ("magic",)}, "unknown methods"),
    ],
)
def test_bad_configuration_is_refused(kw, message):
    with pytest.raises(ConfigError, match=message):
        RecoveryConfig(**kw)
