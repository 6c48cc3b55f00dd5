"""The escape-time recipe (Battash et al. Figs. 3 and 4) on a small budget."""

import numpy as np

from sgdnoise.experiments.escape_time import EscapeTimeConfig, run_escape_time
from sgdnoise.report.sections import build_section


def test_escape_times_fall_with_the_learning_rate_and_larger_batches_survive_longer(tmp_path):
    r = run_escape_time(
        EscapeTimeConfig(
            lrs=(0.4, 0.5, 0.7),
            seeds=40,
            survival_batch_sizes=(4, 16),
            max_steps=400,
            train_epochs=60,
            alpha_batches=50,
            minima_seeds=10,
        )
    )
    tau = r.times.mean_steps_exponential_mle.to_numpy()
    # 40 seeds per point, roughly exponential escape times: relative stderr ≈ 1/√40 = 16%; measured ratio > 2
    assert tau[0] > 1.5 * tau[2]
    s = r.survival.pivot(index="u", columns="batch_size", values="survival")
    assert np.all(np.diff(s.to_numpy(), axis=0) <= 0)  # survival never increases
    assert (s[16] >= s[4]).all() and s.loc[s.index[s.index >= 20][0], 16] > s.loc[s.index[s.index >= 20][0], 4]
    # on one minimum Kramers and Mori are one law: one row, with the reason
    assert list(r.fits.model) == ["levy", "kramers = mori", "levy_fixed_alpha"]
    assert "one law on one minimum" in r.fits.note.iloc[1] and "measured median α" in r.fits.note.iloc[2]
    check = r.alpha_check.iloc[0]
    assert 0.5 <= check.alpha_measured <= 2 and check.alpha_fitted == r.fits.param1_value.iloc[0]
    # three minima (clean, 10% and 25% of labels replaced): the loss at the minimum grows with label noise
    assert list(r.minima.label_noise) == [0.0, 0.1, 0.25] and np.all(np.diff(r.minima.loss_min) > 0)
    assert np.all(r.minima.top_eigenvalue > 0) and len(r.minima_times) == 9
    if r.minima_fits is not None:  # fitted on the points where some seed escaped
        assert {"levy", "kramers", "mori"} <= set(r.minima_fits.model)
    paths = r.write(tmp_path)
    assert paths["figure"].stat().st_size > 1000 and paths["alpha_check"].exists()
    section = build_section("escape_time", r, tmp_path)
    reading = " ".join(section.reading)
    assert "Kramers and Mori are one row" in reading and "the Lévy fit's slope α" in reading
    names = [t.name for t in section.tables]
    assert names[:3] == ["escape_times", "theory_fits", "alpha_check"] and "note" in section.tables[1].frame


def test_too_few_learning_rates_are_refused():
    import pytest

    from sgdnoise.errors import ConfigError

    with pytest.raises(ConfigError, match="3 learning rates"):
        EscapeTimeConfig(lrs=(0.4, 0.7))
    with pytest.raises(ConfigError, match="seeds must be an int ≥ 2; got 1"):
        EscapeTimeConfig(seeds=1)
    with pytest.raises(ConfigError, match="factor"):
        EscapeTimeConfig(factor=1.0)
