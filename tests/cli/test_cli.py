"""The command line, run in-process through sgdnoise.cli.main (and once through the console entry point)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sgdnoise
from sgdnoise.cli import main
from sgdnoise.stable import sample_sas
from sgdnoise.studies.reproduce import reproduce_steps, size_for


def test_fit_writes_per_row_results_and_prints_tables(tmp_path, capsys):
    x = sample_sas(np.array([[1.3], [2.0]]), size=(2, 400), seed=0)
    np.save(tmp_path / "noise.npy", x)
    assert main(["fit", str(tmp_path / "noise.npy"), "--out", str(tmp_path / "fits.csv")]) == 0
    frame = pd.read_csv(tmp_path / "fits.csv")
    assert len(frame) == 2 and {"alpha", "chi2_sas", "aic_gauss"} <= set(frame.columns)
    assert frame.alpha[0] < 1.6 < frame.alpha[1]
    assert json.loads((tmp_path / "fits.json").read_text())["config"]["method"] == "cf"
    out = capsys.readouterr().out
    assert "Gaussian vs SαS" in out and "row0" in out


def test_fit_counts_classes_and_compares_all_laws(tmp_path, capsys):
    rng = np.random.default_rng(4)
    spike = np.where(rng.random((1, 400)) < 0.3, 0.0, rng.standard_cauchy((1, 400)))
    x = np.concatenate([sample_sas(np.array([[1.3], [2.0]]), size=(2, 400), seed=0), spike, np.zeros((1, 400))])
    np.save(tmp_path / "noise.npy", x)
    assert main(["fit", str(tmp_path / "noise.npy"), "--out", str(tmp_path / "sas.csv")]) == 0
    out = capsys.readouterr().out
    assert "classes: 2 ordinary, 1 spike_with_tail, 0 multimodal, 1 degenerate" in out
    sas = pd.read_csv(tmp_path / "sas.csv")
    assert {"alpha", "aic_sas", "class", "atom_weight"} <= set(sas.columns)  # today's columns, plus the classes
    assert main(["fit", str(tmp_path / "noise.npy"), "--law", "all", "--out", str(tmp_path / "all.csv")]) == 0
    out = capsys.readouterr().out
    assert "Which law" in out and "1 spike_with_tail" in out and "β = 0 rejected" in out
    frame = pd.read_csv(tmp_path / "all.csv")
    assert {"aic_t", "bic_mixture", "hellinger_stable", "sse_density_sas", "best_bic", "beta_lr_pvalue"} <= set(
        frame.columns
    )
    manifest = json.loads((tmp_path / "all.json").read_text())
    assert manifest["config"]["law"] == "all" and manifest["config"]["method"] == "mle"
    assert manifest["classes"]["n_degenerate"] == 1
    assert main(["fit", str(tmp_path / "noise.npy"), "--law", "t", "--out", str(tmp_path / "t.csv")]) == 0
    assert {"df_t", "aic_gauss"} <= set(pd.read_csv(tmp_path / "t.csv").columns)


def test_fit_defaults_its_output_beside_the_input(tmp_path):
    np.save(tmp_path / "noise.npy", sample_sas(1.5, size=(1, 100), seed=1))
    assert main(["fit", str(tmp_path / "noise.npy"), "--method", "quantile"]) == 0
    assert (tmp_path / "noise_fits.parquet").exists()


def test_bad_input_gives_an_error_message_and_exit_code_2(tmp_path, capsys):
    assert main(["fit", str(tmp_path / "missing.npy")]) == 2
    assert "no such file" in capsys.readouterr().err
    np.save(tmp_path / "short.npy", np.arange(5.0))
    assert main(["fit", str(tmp_path / "short.npy")]) == 2
    assert "at least 20" in capsys.readouterr().err


def test_unknown_method_is_refused_by_the_parser(tmp_path):
    with pytest.raises(SystemExit):
        main(["fit", "x.npy", "--method", "magic"])
    with pytest.raises(SystemExit):
        main(["fit", "x.npy", "--law", "cauchy"])


REPRODUCE_SECTIONS = [step.key for step in reproduce_steps(size_for("quick"))]  # every bundled recipe, in order


def test_reproduce_writes_its_report(tiny_reproduce):
    out = tiny_reproduce
    page = (out / "index.html").read_text()
    report = (out / "report.md").read_text()
    for text in (page, report):
        assert "Estimator recovery" in text and "Gradient noise of a trained network" in text
        assert "on a network? (Zhu et al." in text and "top_eigvec" in text
        assert "(entries gradient engine," in text  # the MLP's noise, by the engine "auto" picks for dense nets
        assert "SαS beats the Gaussian on AIC for" in text  # the plain-words reading
        assert "Which law wins per layer" in text and "Entry classes, decided before any fit" in text
        assert "α against the batch size" in text and "At the trained weights the median α over layers" in text
    assert "| true α |" in report and "http" not in page.replace("http-equiv", "")  # nothing fetched online
    for figure in (
        "noise_fits/histograms",
        "noise_fits/alpha_by_layer",
        "alpha_vs_batch/alpha_vs_batch",
        "lr_decay/step_noise",
        "escape_axis/escape_axis",
        "escape_time/escape_time",
        "escape_model/escape_model",
        "zhu_network/zhu_network",
    ):
        assert (out / f"{figure}.png").stat().st_size > 1000 and (out / f"{figure}.svg").read_text().startswith("<?xml")
        assert f'href="{figure}.svg"' in page
    accuracy = pd.read_csv(out / "estimator_recovery" / "accuracy.csv")
    assert set(accuracy.method) == {"cf", "quantile", "tail", "mle"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert [s["key"] for s in manifest["sections"]] == REPRODUCE_SECTIONS
    assert REPRODUCE_SECTIONS[:2] == ["noise_fits", "alpha_vs_batch"] and "escape_model" in REPRODUCE_SECTIONS
    assert manifest["config"]["size"]["rows"] == 5 and manifest["versions"]["torch"]
    for section in manifest["sections"]:
        assert section["seconds"] > 0 and section["seed"] == 0 and section["reading"]
        for files in section["tables"].values():
            assert [Path(f).suffix for f in files] == [".csv", ".parquet"]
            csv, parquet = (out / f for f in files)
            pd.testing.assert_frame_equal(pd.read_csv(csv), pd.read_parquet(parquet), check_dtype=False)


def test_console_entry_point_runs_main():
    code = "import sys; from sgdnoise.cli import console_main; sys.argv = ['sgdnoise', '--version']; console_main()"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("sgdnoise ")


HELP_SCRIPT = """
import sys
from sgdnoise.cli import console_main
sys.argv = ["sgdnoise", "--help"]
try:
    console_main()
except SystemExit:
    pass
heavy = ("torch", "numpy", "sgdnoise.experiments", "sgdnoise.report", "sgdnoise.stable", "sgdnoise.gradients")
print("loaded:", *sorted(m for m in sys.modules if m.startswith(heavy)), file=sys.stderr)
"""


def test_help_loads_neither_torch_nor_the_recipes():
    src = str(Path(sgdnoise.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", HELP_SCRIPT], capture_output=True, text=True, env=env)
    assert done.returncode == 0 and "reproduce" in done.stdout and "curvature" in done.stdout
    assert done.stderr.strip() == "loaded:"
