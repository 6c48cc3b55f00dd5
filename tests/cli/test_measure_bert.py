"""`sgdnoise measure --model bert_mini --data cola --data-opt root=DIR --epochs 1 --batch-size 8 …`:
offline, on CoLA files the test writes, it trains, collects and writes its fits (fewer mini-batches
and entries than the documented --batches 50 --per-layer 5, to keep the test fast)."""

import json

import numpy as np
import pandas as pd
import pytest

from sgdnoise.cli import main
from sgdnoise.data import write_cola_folder


@pytest.fixture(autouse=True, scope="module")
def _single_thread(single_thread):
    yield


def test_measure_bert_mini_on_cola_files(tmp_path):
    root = write_cola_folder(tmp_path / "cola", train=48, dev=16, seed=0)
    out = tmp_path / "out"
    command = ["measure", "--model", "bert_mini", "--data", "cola", "--data-opt", f"root={root}"]
    command += ["--epochs", "1", "--batch-size", "8", "--batches", "20", "--per-layer", "2", "--out", str(out)]
    assert main(command) == 0
    fits = pd.read_parquet(out / "fits.parquet")
    tensors = fits["layer"].nunique()
    assert tensors == 4 * 16 + 5 + 2 + 2  # 4 encoder layers, embeddings, pooler, classifier
    assert len(fits) == 2 * tensors
    with np.load(out / "samples.npz") as npz:
        assert npz["noise"].shape == (len(fits), 20)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["model"] == "bert_mini" and manifest["result"]["collection"]["engine"] == "loop"
    assert (out / "summary.csv").is_file() and (out / "histograms.png").stat().st_size > 0


@pytest.mark.filterwarnings("ignore:the vmap engine cannot take")  # auto tries vmap on the tiny BERT
def test_fine_tune_with_train_then_measure_its_checkpoint(tmp_path):
    """`sgdnoise train` fine-tunes a BERT on CoLA; `measure --checkpoint` reads its weights in another
    call, which rebuilds the same vocabulary (the same token ids) from the files."""
    root = write_cola_folder(tmp_path / "cola", train=64, dev=16, seed=1)
    run = tmp_path / "run"
    common = ["--model", "tiny_bert", "--data", "cola", "--data-opt", f"root={root}", "--model-opt", "num_layers=1"]
    assert main(["train", *common, "--epochs", "2", "--lr", "0.05", "--batch-size", "16", "--out", str(run)]) == 0
    metrics = pd.read_csv(run / "metrics.csv")
    assert len(metrics) == 2 and metrics["test_accuracy"].notna().all()
    manifest = json.loads((run / "manifest.json").read_text())
    assert (
        manifest["metadata"]["dataset"]["vocab_size"] > 5
        and "WordPiece" in manifest["metadata"]["dataset"]["tokenizer"]
    )
    out = tmp_path / "noise"
    command = ["measure", *common, "--checkpoint", str(run / "model.pt"), "--batches", "20", "--per-layer", "1"]
    assert main([*command, "--batch-size", "8", "--out", str(out)]) == 0
    accuracy = json.loads((out / "manifest.json").read_text())["result"]["training"]["test_accuracy"]
    assert accuracy == pytest.approx(metrics["test_accuracy"].iloc[-1])  # the same weights on the same ids
