"""sgdnoise measure and the noise-fits recipe on a network trained on bundled real data."""

import json

import numpy as np
import pandas as pd
import pytest

from sgdnoise.cli import main
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


def test_measure_command_writes_everything(tmp_path):
    out = tmp_path / "m"
    assert (
        main(
            ["measure", "--epochs", "2", "--batches", "60", "--per-layer", "3", "--memory-mib", "64", "--out", str(out)]
        )
        == 0
    )
    fits = pd.read_parquet(out / "fits.parquet")
    assert {"layer", "alpha", "chi2_sas"} <= set(fits.columns) and len(fits) == 18
    with np.load(out / "samples.npz") as npz:
        assert npz["noise"].shape == (18, 60) and list(npz["names"]) == list(fits.name)
    assert (out / "histograms.png").stat().st_size > 0 and (out / "alpha_by_layer.png").stat().st_size > 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["num_batches"] == 60 and manifest["config"]["engine"] == "auto"
    collection = manifest["result"]["collection"]  # what "auto" resolved to, for the record
    assert collection["engine"] == "entries" and 1 <= collection["chunk_size"] <= 60 and collection["seconds"] > 0


def test_measure_engine_option_gives_the_same_noise(tmp_path):
    """--engine picks the gradient engine; loop and auto (entries on this MLP) sample the same noise."""
    common = ["measure", "--epochs", "1", "--batches", "30", "--per-layer", "2"]
    assert main([*common, "--engine", "loop", "--out", str(tmp_path / "loop")]) == 0
    assert main([*common, "--out", str(tmp_path / "auto")]) == 0
    with np.load(tmp_path / "loop" / "samples.npz") as a, np.load(tmp_path / "auto" / "samples.npz") as b:
        np.testing.assert_allclose(a["noise"], b["noise"], rtol=0, atol=1e-6)
    loop = json.loads((tmp_path / "loop" / "manifest.json").read_text())
    assert loop["config"]["engine"] == "loop" and loop["result"]["collection"]["engine"] == "loop"


def test_bad_configuration_is_refused(capsys):
    with pytest.raises(ConfigError):
        NoiseFitConfig(num_batches=5)
    with pytest.raises(ConfigError, match="memory_budget"):
        NoiseFitConfig(memory_budget=0)
    with pytest.raises(ConfigError, match="gradient engine"):
        NoiseFitConfig(engine="gpu")
    assert main(["measure", "--model", "nosuchnet", "--epochs", "1", "--batches", "30"]) == 2
    assert "nosuchnet" in capsys.readouterr().err
