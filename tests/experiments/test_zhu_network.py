"""The Zhu-on-a-network recipe's configuration (its run is tested beside the dynamics it drives)."""

import pytest

from sgdnoise.errors import ConfigError
from sgdnoise.experiments.zhu_network import ZhuNetworkConfig


def test_bad_configuration_is_refused():
    with pytest.raises(ConfigError, match=r"n_repeats \(for standard errors\) must be an int ≥ 2; got 1"):
        ZhuNetworkConfig(n_repeats=1)
    with pytest.raises(ConfigError, match="corrupt_fraction"):
        ZhuNetworkConfig(corrupt_fraction=1.5)
    with pytest.raises(ConfigError, match="match_at"):
        ZhuNetworkConfig(match_at=("start", "start"))
