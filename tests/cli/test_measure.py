"""`sgdnoise measure`: parses its options, runs the noise-fits recipe, writes and prints its results."""

import json

import numpy as np
import pandas as pd

from sgdnoise.cli import main


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
    laws = pd.read_parquet(out / "laws.parquet")  # the law comparison, same entries, with their classes
    assert list(laws.name) == list(fits.name) and {"layer", "class", "best_aic", "beta_lr_pvalue"} <= set(laws.columns)
    counts = manifest["result"]["laws_counts"]
    assert sum(counts[f"n_{c}"] for c in ("ordinary", "spike_with_tail", "multimodal", "degenerate")) == 18
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


def test_unknown_model_gives_an_error_message_and_exit_code_2(capsys):
    assert main(["measure", "--model", "nosuchnet", "--epochs", "1", "--batches", "30"]) == 2
    assert "nosuchnet" in capsys.readouterr().err
