"""``sgdnoise study`` on a model and data defined in a file the test writes (not in any registry),
the same from Python, and the config's up-front validation."""

import json
import textwrap

import pandas as pd
import pytest
import torch
from torch import nn

import sgdnoise
from sgdnoise.cli import main
from sgdnoise.errors import ConfigError
from sgdnoise.studies.config import EXAMPLE, StudyConfig, parse_config

USER_MODULE = textwrap.dedent(
    """
    import torch
    from torch import nn

    def make_model():
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))

    def load():
        g = torch.Generator().manual_seed(1)
        x = torch.randn(240, 6, generator=g)
        return x, (x[:, 0] + 0.5 * x[:, 1] > 0).long() + (x[:, 2] > 1).long()
    """
)
CONFIG = textwrap.dedent(
    """
    analyses = ["noise_fits", "curvature"]
    seed = 3
    [train]
    epochs = 3
    lr = 0.1
    [noise_fits]
    batch_size = 16
    batches = 60
    per_layer = 4
    [curvature]
    k = 4
    max_samples = 120
    trace_products = 12
    """
)


@pytest.fixture
def user_files(tmp_path, monkeypatch):
    (tmp_path / "usernet.py").write_text(USER_MODULE)
    (tmp_path / "study.toml").write_text(CONFIG)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_study_of_a_user_model_writes_its_report_and_resumes(user_files, capsys):
    out = user_files / "out"
    argv = ["study", "--model", "usernet:make_model", "--data", "usernet:load", "--loss", "cross-entropy"]
    argv += ["--config", str(user_files / "study.toml"), "--out", str(out)]
    assert main(argv) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert [s["key"] for s in manifest["sections"]] == ["noise_fits", "curvature"]
    assert manifest["config"]["seed"] == 3 and manifest["config"]["subject"] == "usernet:make_model on usernet:load"
    page = (out / "index.html").read_text()
    assert "SαS beats the Gaussian on AIC for" in page and "Tr(HΣ) is" in page
    assert page.count("data:image/png;base64,") == 4
    summary = pd.read_parquet(out / "tables" / "noise_fits" / "summary.parquet")
    assert list(summary["metric"]) == ["SSE", "Chi2", "KS", "AIC"]
    eigen = pd.read_csv(out / "tables" / "curvature" / "eigenvalues.csv")
    assert len(eigen) == 4 and eigen["eigenvalue"].is_monotonic_decreasing
    assert capsys.readouterr().out.count("read back from the last run") == 0
    assert main(argv) == 0  # same inputs: both analyses are read back
    assert capsys.readouterr().out.count("read back from the last run") == 2
    pd.testing.assert_frame_equal(pd.read_csv(out / "tables" / "curvature" / "eigenvalues.csv"), eigen)


def test_the_python_api_gives_results_and_writes_the_same_page(user_files):
    import usernet

    x, y = usernet.load()
    config = {"analyses": ["alpha_vs_batch"], "alpha_vs_batch": {"batch_sizes": [4, 32], "batches": 40, "per_layer": 3}}
    study = sgdnoise.study(usernet.make_model(), nn.CrossEntropyLoss(), (x, y), config)
    layers = study.results["alpha_vs_batch"].layers
    assert sorted(set(layers["batch_size"])) == [4, 32] and (layers["entries"] > layers["degenerate"]).all()
    scale = layers.groupby("batch_size")["scale_median"].median()
    assert scale[32] < scale[4]  # larger batches average the noise down
    files = study.write(user_files / "api")
    assert files["html"].read_text().count('<section id="section-alpha_vs_batch"') == 1
    assert (user_files / "api" / "alpha_vs_batch" / "alpha_vs_batch.svg").is_file()
    assert list(study.tables()) == ["alpha_vs_batch/alpha_vs_batch"]


def test_the_example_config_is_printed_and_parses_to_the_defaults(capsys):
    import tomllib

    assert main(["study", "--example-config"]) == 0
    printed = capsys.readouterr().out
    assert printed == EXAMPLE and parse_config(tomllib.loads(printed)) == StudyConfig()


BAD = [
    ("unknown top-level key", "noise_fit = 3", "unknown key `noise_fit`"),
    (
        "unknown nested key",
        "[noise_fits]\nbatchs = 100",
        "unknown key `noise_fits.batchs`; remove it or use one of: batch_size",
    ),
    ("wrong type", '[noise_fits]\nbatches = "many"', "`noise_fits.batches` input should be a valid integer"),
    ("float for an int", "[curvature]\nk = 2.5", "`curvature.k`"),
    (
        "too few mini-batches",
        "[noise_fits]\nbatches = 5",
        "`noise_fits.batches` input should be greater than or equal to 20",
    ),
    ("negative epochs", "[train]\nepochs = -1", "`train.epochs`"),
    ("impossible tolerance", "[curvature]\ntol = 2.0", "`curvature.tol` input should be less than 1"),
    ("unknown analysis", 'analyses = ["noise_fits", "magic"]', "`analyses.1` input should be 'noise_fits'"),
    ("no analysis", "analyses = []", "`analyses` tuple should have at least 1 item"),
    ("repeated analysis", 'analyses = ["curvature", "curvature"]', "`analyses` names an analysis twice"),
    ("one batch size", "[alpha_vs_batch]\nbatch_sizes = [8]", "`alpha_vs_batch.batch_sizes`"),
    ("unknown estimator", '[noise_fits]\nmethod = "magic"', "`noise_fits.method` input should be 'cf'"),
    ("missing checkpoint", 'checkpoint = "nowhere/model.pt"', "`checkpoint`: no such file 'nowhere/model.pt'"),
    ("not TOML", "analyses = [", "is not valid TOML"),
    (
        "batch larger than the data",
        "[noise_fits]\nbatch_size = 500",
        "`noise_fits.batch_size` asks for mini-batches of 500",
    ),
]


@pytest.mark.parametrize(("kind", "text", "message"), BAD, ids=[kind for kind, _, _ in BAD])
def test_a_bad_config_is_refused_before_anything_runs(user_files, capsys, kind, text, message):
    (user_files / "bad.toml").write_text(text + "\n")
    out = user_files / "never"
    argv = [
        "study",
        "--model",
        "usernet:make_model",
        "--data",
        "usernet:load",
        "--config",
        str(user_files / "bad.toml"),
    ]
    assert main([*argv, "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_missing_files_and_bad_import_paths_are_refused(user_files, capsys):
    out = user_files / "never"
    cases = [
        (["--config", str(user_files / "none.toml")], "no config file"),
        (["--checkpoint", str(user_files / "none.pt")], "`checkpoint`: no such file"),
        (["--loss", "hinge"], "--loss 'hinge': use cross-entropy, mse or an import path"),
        (["--model", "usernet:nothing"], "usernet has no 'nothing'"),
        (["--model", "nowhere_pkg.nets:make"], "cannot import nowhere_pkg.nets"),
    ]
    for extra, message in cases:
        argv = ["study", "--model", "usernet:make_model", "--data", "usernet:load", "--out", str(out), *extra]
        assert main(argv) == 2
        assert message in capsys.readouterr().err, extra
    assert not out.exists()
    with pytest.raises(ConfigError, match=r"unknown key `curvature\.kk`"):
        sgdnoise.study(nn.Linear(2, 2), nn.MSELoss(), (torch.zeros(4, 2), torch.zeros(4, 2)), {"curvature": {"kk": 1}})
