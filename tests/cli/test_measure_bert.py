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
