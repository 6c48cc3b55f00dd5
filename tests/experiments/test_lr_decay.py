"""The learning-rate-decay recipe (Battash et al. Fig. 2) on digits."""

import numpy as np
import pytest

from sgdnoise.errors import ConfigError
from sgdnoise.experiments.lr_decay import DecayConfig, run_lr_decay


@pytest.fixture(scope="module")
def decay():
    return run_lr_decay(DecayConfig(epochs=6, milestone=3, noise_batches=200, per_layer=6))


def test_runs_agree_until_the_milestone_and_then_reduce_the_noise_as_designed(decay):
    t = decay.table.set_index(["schedule", "stage"])
    before = t.xs("before", level="stage")
    # same seed, same schedule until the milestone: identical weights, so identical measurements
    assert before.noise_scale_median.nunique() == 1 and before.test_accuracy.nunique() == 1
    after = t.xs("after", level="stage")
    assert after.loc["lr_decay", "lr"] == pytest.approx(0.001) and after.loc["batch_increase", "batch_size"] == 160
    # LR decay cuts the step noise eta*u; a 10x larger batch cuts the gradient noise u itself
    # (by 10^(1-1/alpha): at least 10^0.3 = 2 for alpha >= 1.43, measured 3.1)
    assert after.loc["lr_decay", "step_noise_scale_median"] < 0.2 * after.loc["constant", "step_noise_scale_median"]
    assert after.loc["batch_increase", "noise_scale_median"] < 0.5 * after.loc["constant", "noise_scale_median"]


def test_outputs_are_written(decay, tmp_path):
    paths = decay.write(tmp_path)
    assert paths["figure"].stat().st_size > 1000
    assert set(decay.fits.schedule) == {"constant", "lr_decay", "batch_increase"}
    assert all(np.isfinite(v).all() and len(v) == 200 for v in decay.step_noise.values())


def test_bad_milestone_is_refused():
    with pytest.raises(ConfigError, match="milestone"):
        DecayConfig(epochs=5, milestone=5)
    with pytest.raises(ConfigError, match="factor must be an int ≥ 2; got 1"):
        DecayConfig(factor=1)
