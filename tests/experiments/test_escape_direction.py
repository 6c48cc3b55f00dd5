"""GD escapes along the sharpest direction, SGD along flatter ones (Wang & Wu 2023)."""

import pytest

from sgdnoise.errors import ConfigError
from sgdnoise.experiments.escape_direction import EscapeDirectionConfig, run_escape_direction


def test_gd_exits_along_the_top_eigenvector_and_sgd_does_not():
    t = run_escape_direction(EscapeDirectionConfig(seeds=30)).table.set_index("method")
    assert (t.escaped == 1).all()
    # GD on a quadratic is unstable only along v_1: its exit is v_1 up to rounding
    assert t.loc["GD", "share_top1"] > 0.999
    # SGD at a rate where GD is stable exits mostly outside the top eigenvector
    # (measured 0.15 over these 30 seeds, 0.17 over 50)
    assert t.loc["SGD", "lr_times_lambda_max"] < 2 and t.loc["SGD", "share_top1"] < 0.4
    assert t.loc["SGD", "share_topk"] < 0.7


def test_configuration_must_separate_the_two_regimes():
    with pytest.raises(ConfigError):
        EscapeDirectionConfig(sgd_factor=2.5)
    with pytest.raises(ConfigError):
        EscapeDirectionConfig(n_points=60, dim=50)
