"""The escape-axis recipe (Battash et al. Fig. 6)."""

import numpy as np
import pytest

from sgdnoise.errors import ConfigError
from sgdnoise.experiments.escape_axis import EscapeAxisConfig, run_escape_axis


def test_heavier_tailed_axis_is_the_escape_route(tmp_path):
    r = run_escape_axis(EscapeAxisConfig(deltas=(0.0, 0.3, 0.6), paths=800, seed=3))
    t = r.table
    assert (t.exited > 0.95).all()
    # binomial sd at p = 0.5 with 800 paths: 0.018; 0.06 is > 3 sd
    assert t.p_exit_x1[0] == pytest.approx(0.5, abs=0.06)
    assert np.all(np.diff(t.p_exit_x1) > 0) and t.p_exit_x1.iloc[-1] > 0.7
    assert r.write(tmp_path)["figure"].stat().st_size > 1000


def test_alpha_out_of_range_is_refused():
    with pytest.raises(ConfigError):
        EscapeAxisConfig(alpha=1.8, deltas=(2.0,))
