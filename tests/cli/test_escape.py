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
    assert set(seeds.model) == {"sgd", "levy", "gauss"} and len(seeds) == 12
    assert (out / "escape_model.png").stat().st_size > 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["n_seeds"] == 4 and manifest["config"]["network"]["model_options"]["width"] == 4
    assert "Lévy prediction" in capsys.readouterr().out
