"""`sgdnoise curvature`: parses its options, runs the curvature recipe, prints its tables and writes its files."""

import argparse
import json

from sgdnoise.cli import curvature as curvature_cli
from sgdnoise.cli import main


def test_cli_runs_and_writes_outputs(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    curvature_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        [
            "curvature",
            "--model",
            "mlp",
            "--data",
            "digits",
            "--model-opt",
            "width=4",
            "--model-opt",
            "depth=1",
            "--k",
            "3",
            "--max-samples",
            "40",
            "--batch-size",
            "4",
            "--trace-products",
            "12",
            "--out",
            str(tmp_path),
        ]
    )
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "top-3 Hessian eigenvalues" in printed and "Tr(HΣ)" in printed
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert len(summary["summary"]["eigen"]["eigenvalues"]) == 3 and summary["summary"]["n_samples"] == 40
    assert (tmp_path / "density.csv").exists()
    for figure in ("spectral_density.png", "alignment.png"):
        assert (tmp_path / figure).stat().st_size > 1000


def test_bad_options_give_an_error_message_and_exit_code_2(capsys):
    assert main(["curvature", "--model", "mlp", "--data", "digits", "--k", "0"]) == 2
    assert "k must be an int ≥ 1; got 0" in capsys.readouterr().err
    assert main(["curvature", "--model", "mlp", "--data", "digits", "--model-opt", "width"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err
