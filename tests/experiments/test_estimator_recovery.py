"""The estimator-recovery recipe's configuration (the recipe itself runs in the reproduce command's test)."""

import pandas as pd
import pytest

from sgdnoise.errors import ConfigError
from sgdnoise.experiments.estimator_recovery import RecoveryConfig, RecoveryResult


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


def test_rmse_by_method_has_a_row_per_alpha_and_a_column_per_method():
    accuracy = pd.DataFrame(
        {"alpha": [1.1, 1.1, 1.9, 1.9], "method": ["tail", "cf", "tail", "cf"], "rmse_alpha": [0.4, 0.1, 0.3, 0.2]}
    )
    table = RecoveryResult(RecoveryConfig(), accuracy, pd.DataFrame(), pd.DataFrame()).rmse_by_method()
    assert list(table.columns) == ["true α", "cf", "tail"]
    assert table.to_numpy().tolist() == [[1.1, 0.1, 0.4], [1.9, 0.2, 0.3]]
