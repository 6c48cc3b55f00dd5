"""The Zhu-on-a-network recipe: its configuration, and a run on a small budget that writes its table."""

import pandas as pd
import pytest

from sgdnoise.dynamics import ZHU_VARIANTS
from sgdnoise.errors import ConfigError
from sgdnoise.experiments.zhu_network import COLUMNS, ZhuNetworkConfig, run_zhu_network


def test_bad_configuration_is_refused():
    with pytest.raises(ConfigError, match=r"n_repeats \(for standard errors\) must be an int ≥ 2; got 1"):
        ZhuNetworkConfig(n_repeats=1)
    with pytest.raises(ConfigError, match="corrupt_fraction"):
        ZhuNetworkConfig(corrupt_fraction=1.5)
    with pytest.raises(ConfigError, match="match_at"):
        ZhuNetworkConfig(match_at=("start", "start"))


def test_recipe_runs_and_writes_its_table(tmp_path):
    config = ZhuNetworkConfig(n_train=60, width=8, gd_steps=30, n_steps=6, n_repeats=2, hessian_k=2, refresh=3)
    result = run_zhu_network(config)
    paths = result.write(tmp_path)
    table = pd.read_csv(paths["table"])
    assert list(table.columns) == list(COLUMNS)
    noisy = [v for v in ZHU_VARIANTS if v not in ("gd", "sgd")]
    assert list(table["variant"]) == list(ZHU_VARIANTS) + noisy
    assert list(table["match_at"]) == ["any", "any"] + ["start"] * len(noisy) + ["current"] * len(noisy)
    assert table[list(COLUMNS[2:])].notna().all().all()
    assert result.anisotropy.ratio > 0 and result.noise_variance > 0
    assert paths["manifest"].is_file()
