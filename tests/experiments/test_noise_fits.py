"""The noise-fits recipe on a network trained on bundled real data."""

import pytest

from sgdnoise.errors import ConfigError
from sgdnoise.experiments.noise_fits import NoiseFitConfig, run_noise_fits


@pytest.fixture(scope="module")
def digits_mlp():
    # MLP trained on scikit-learn's digits (real data), noise of K = 1000 mini-batches of B = 32.
    return run_noise_fits(NoiseFitConfig(epochs=20, num_batches=1000, per_layer=16, seed=0))


def test_trained_network_noise_is_heavy_tailed_and_differs_between_layers(digits_mlp):
    r = digits_mlp
    assert r.training["test_accuracy"] > 0.9  # a real minimum, not random weights
    ok = r.fits[~r.fits.degenerate]
    assert len(ok) >= 60
    assert (ok.chi2_sas < ok.chi2_gauss).mean() > 0.8
    assert (ok.aic_sas < ok.aic_gauss).mean() > 0.8
    assert ok.alpha.median() < 1.8
    medians = r.layers.alpha_median
    assert medians.max() - medians.min() > 0.2


def test_dead_units_are_counted_not_fitted(digits_mlp):
    # digits has pixels that are 0 in every image: the first-layer weights on them get exactly constant noise
    dead = digits_mlp.fits[digits_mlp.fits.degenerate]
    assert len(dead) > 0 and (dead.atom_share > 0.2).all() and dead.alpha.isna().all()
    assert digits_mlp.summary.attrs["n_degenerate"] == len(dead)


def test_laws_are_compared_on_classified_entries(digits_mlp):
    laws, summary = digits_mlp.laws, digits_mlp.laws_summary
    assert list(laws.name) == list(digits_mlp.fits.name)
    # constant noise (pixels that are 0 in every image) is degenerate in both tables
    constant = digits_mlp.fits.atom_share == 1.0
    assert constant.any() and (laws["class"][constant] == "degenerate").all()
    counts = [summary.attrs[f"n_{c}"] for c in ("ordinary", "spike_with_tail", "multimodal", "degenerate")]
    assert sum(counts) == len(laws)
    fitted = laws[laws["class"] != "degenerate"]
    assert fitted.best_aic.isin(["gauss", "sas", "stable", "t", "mixture"]).all()
    assert (fitted.best_aic != "gauss").mean() > 0.8  # heavy tails, as the SαS-vs-Gauss table says
    assert summary.attrs["n_beta_tested"] == len(fitted)


def test_bad_configuration_is_refused():
    with pytest.raises(ConfigError):
        NoiseFitConfig(num_batches=5)
    with pytest.raises(ConfigError, match="memory_budget"):
        NoiseFitConfig(memory_budget=0)
    with pytest.raises(ConfigError, match="unknown laws"):
        NoiseFitConfig(laws=("gauss", "cauchy"))
    with pytest.raises(ConfigError, match="gradient engine"):
        NoiseFitConfig(engine="gpu")
    with pytest.raises(ConfigError, match="per_layer must be an int ≥ 1; got 0"):
        NoiseFitConfig(per_layer=0)
    with pytest.raises(ConfigError, match=r"batch_size must be an int ≥ 1; got 2\.5"):
        NoiseFitConfig(batch_size=2.5)
