"""`sgdnoise train` parses, trains, writes its files and resumes."""

import argparse
import json

import pytest

from sgdnoise.cli import train as train_cli
from sgdnoise.errors import ConfigError
from sgdnoise.models import build_model, load_checkpoint


def _run(argv):
    parser = argparse.ArgumentParser()
    train_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["train", *argv])
    return args.func(args)


def test_train_writes_files_and_resumes(tmp_path, capsys):
    out = tmp_path / "run"
    common = [
        "--model",
        "cnn",
        "--data",
        "digits",
        "--lr",
        "0.05",
        "--batch-size",
        "32",
        "--milestones",
        "1",
        "--out",
        str(out),
    ]
    common += ["--model-opt", "channels=(4,)", "--model-opt", "batch_norm=True", "--no-progress"]
    assert _run([*common, "--epochs", "1"]) == 0
    assert _run([*common, "--epochs", "2"]) == 0
    printed = capsys.readouterr().out
    assert "resumed after epoch 1" in printed and "cnn on digits" in printed
    meta = json.loads((out / "manifest.json").read_text())
    assert (
        meta["status"] == "finished"
        and meta["metadata"]["model"] == "cnn"
        and meta["metadata"]["model_options"] == {"channels": [4], "batch_norm": True}
    )
    model = build_model(
        "cnn",
        input_shape=tuple(meta["metadata"]["dataset"]["input_shape"]),
        num_classes=10,
        channels=(4,),
        batch_norm=True,
    )
    load_checkpoint(model, out / "model.pt")
    assert len((out / "metrics.csv").read_text().strip().splitlines()) == 3  # header + 2 epochs


def test_unknown_names_fail_before_training(tmp_path):
    with pytest.raises(ConfigError, match="unknown model"):
        _run(
            [
                "--model",
                "vgg",
                "--data",
                "wine",
                "--epochs",
                "1",
                "--lr",
                "0.1",
                "--batch-size",
                "8",
                "--out",
                str(tmp_path),
                "--no-progress",
            ]
        )
    with pytest.raises(ConfigError, match="unknown dataset"):
        _run(
            [
                "--model",
                "mlp",
                "--data",
                "winee",
                "--epochs",
                "1",
                "--lr",
                "0.1",
                "--batch-size",
                "8",
                "--out",
                str(tmp_path),
                "--no-progress",
            ]
        )
    assert not list(tmp_path.iterdir())  # nothing written for a run that could not start
