"""The escape-time recipe (Battash et al. Figs. 3 and 4) on a small budget."""

import numpy as np

from sgdnoise.experiments.escape_time import EscapeTimeConfig, run_escape_time


def test_escape_times_fall_with_the_learning_rate_and_larger_batches_survive_longer(tmp_path):
    r = run_escape_time(
        EscapeTimeConfig(lrs=(0.4, 0.5, 0.7), seeds=40, survival_batch_sizes=(4, 16), max_steps=400, train_epochs=60)
    )
    tau = r.times.mean_steps_exponential_mle.to_numpy()
    # 40 seeds per point, roughly exponential escape times: relative stderr ≈ 1/√40 = 16%; measured ratio > 2
    assert tau[0] > 1.5 * tau[2]
    s = r.survival.pivot(index="u", columns="batch_size", values="survival")
    assert np.all(np.diff(s.to_numpy(), axis=0) <= 0)  # survival never increases
    assert (s[16] >= s[4]).all() and s.loc[s.index[s.index >= 20][0], 16] > s.loc[s.index[s.index >= 20][0], 4]
    assert set(r.fits.model) == {"levy", "kramers", "mori"}
    assert r.write(tmp_path)["figure"].stat().st_size > 1000


def test_too_few_learning_rates_are_refused():
    import pytest

    from sgdnoise.errors import ConfigError

    with pytest.raises(ConfigError, match="3 learning rates"):
        EscapeTimeConfig(lrs=(0.4, 0.7))
    with pytest.raises(ConfigError, match="seeds must be an int ≥ 2; got 1"):
        EscapeTimeConfig(seeds=1)
    with pytest.raises(ConfigError, match="factor"):
        EscapeTimeConfig(factor=1.0)
