"""`sgdnoise escape`: parses its options, runs the escape-model study, writes and prints its results."""

import json

import pandas as pd

from sgdnoise.cli import main


def test_escape_command_writes_everything(tmp_path, capsys):
    out = tmp_path / "e"
    args = ["escape", "--model-opt", "depth=2", "--model-opt", "width=4", "--epochs", "3", "--batches", "30"]
    args += ["--seeds", "4", "--max-steps", "20", "--lr", "0.5", "--out", str(out)]
    assert main(args) == 0
    params = pd.read_parquet(out / "parameters.parquet")
    assert len(params) == 30 * 4 + 4 + 4 * 4 + 4 + 4 * 2 + 2  # 30-4-4-2 MLP
    assert {"alpha", "basin_lower", "basin_upper", "exit_prob_predicted", "exits_sgd"} <= set(params.columns)
    seeds = pd.read_parquet(out / "seeds.parquet")
    assert set(seeds.model) == {"sgd", "levy", "gauss", "stable", "gauss_full"} and len(seeds) == 20
    assert (out / "escape_model.png").stat().st_size > 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["n_seeds"] == 4 and manifest["config"]["network"]["model_options"]["width"] == 4
    assert "Lévy prediction" in capsys.readouterr().out


def test_escape_at_two_minima_tabulates_the_dependence(tmp_path, capsys):
    out = tmp_path / "levels"
    args = ["escape", "--model-opt", "depth=2", "--model-opt", "width=4", "--epochs", "6", "--also-epochs", "2"]
    args += ["--batches", "30", "--seeds", "4", "--max-steps", "10", "--lr", "0.5", "--out", str(out)]
    assert main(args) == 0
    levels = pd.read_csv(out / "levels.csv")
    assert list(levels.minimum) == ["epochs=2", "epochs=6"] and list(levels.epochs) == [2, 6]
    assert levels.train_loss.iloc[0] > levels.train_loss.iloc[1]  # the earlier stop is the higher minimum
    assert {"share_degenerate", "median_alpha", "sgd_median_steps", "levy_ks_to_sgd"} <= set(levels.columns)
    assert (out / "epochs=2" / "comparison.csv").exists()
    assert "dependence on the minimum" in capsys.readouterr().out
