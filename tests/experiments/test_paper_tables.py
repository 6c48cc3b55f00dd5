"""The paper's tables as configurations, the check of their data, and their runs on stand-ins."""

import json

import pandas as pd
import pytest
import torch

from sgdnoise.errors import ConfigError, DataFileError
from sgdnoise.experiments.paper_tables import (
    missing_data,
    paper_table_config,
    run_paper_table,
    sample_entries,
    stand_in_config,
)
from sgdnoise.models import build_model


@pytest.fixture(autouse=True, scope="module")
def _single_thread(single_thread):
    yield


def test_configs_hold_the_papers_settings(tmp_path):
    t1, t2, t3 = (paper_table_config(name, tmp_path) for name in ("table1", "table2", "table3"))
    assert [r.model for r in t1.runs] == ["resnet18", "resnet34", "resnet50", "resnet110"]
    assert {(r.data, r.batch_sizes, r.num_params) for r in t1.runs} == {("cifar100", (400,), 100)}
    assert {(r.data, r.batch_sizes, r.num_params) for r in t3.runs} == {("cinic10", (400,), 100)}
    (bert,) = t2.runs
    assert (bert.model, bert.data, bert.batch_sizes, bert.num_params) == ("bert_base", "cola", (8, 32), 120)
    assert bert.model_options["checkpoint"] == str(tmp_path / "bert-base-uncased")
    assert all(any("K = 1000" in a for a in t.assumptions) for t in (t1, t2, t3))
    with pytest.raises(ConfigError, match="table1, table2, table3"):
        paper_table_config("table4")


def test_missing_data_says_what_and_where(tmp_path):
    (cifar,) = missing_data(paper_table_config("table1", tmp_path))
    assert "CIFAR-100" in cifar.what and cifar.where == str(tmp_path / "cifar-100-python")
    assert "cifar-100-python.tar.gz" in cifar.how
    (cinic,) = missing_data(paper_table_config("table3", tmp_path))
    assert cinic.where == str(tmp_path / "cinic-10")
    cola, bert = missing_data(paper_table_config("table2", tmp_path))
    assert "in_domain_train.tsv" in cola.what and bert.where == str(tmp_path / "bert-base-uncased")
    with pytest.raises(DataFileError, match=r"(?s)table2 needs data.*in_domain_train.*bert-base-uncased.*stand_in"):
        run_paper_table(paper_table_config("table2", tmp_path))
    (tmp_path / "cifar-100-python").mkdir()
    (tmp_path / "cifar-100-python" / "test").write_bytes(b"")
    assert missing_data(paper_table_config("table1", tmp_path)) == []


def test_entries_are_drawn_uniformly_over_the_network():
    model = build_model("mlp", input_shape=(30,), num_classes=3, depth=1, width=40)  # 1200 + 40 + 120 + 3 entries
    selection = sample_entries(model, 200, seed=0)
    again = sample_entries(model, 200, seed=0)
    assert selection.total == 200 and all(torch.equal(a, again.entries[n]) for n, a in selection.entries.items())
    counts = {name: selection.count(name) for name in selection.names}
    assert sum(counts.values()) == 200 and counts[next(iter(counts))] > 150  # the 1200-entry weight gets most
    for name, idx in selection.entries.items():
        assert torch.equal(idx, idx.unique()) and int(idx.max()) < dict(model.named_parameters())[name].numel()
    with pytest.raises(ConfigError, match="cannot sample"):
        sample_entries(model, 10_000, seed=0)


@pytest.mark.filterwarnings("ignore:the vmap engine cannot take")  # auto tries vmap on the tiny BERT
@pytest.mark.parametrize("name", ["table1", "table2"])
def test_tables_run_on_stand_ins(tmp_path, name):
    config = paper_table_config(name, tmp_path / "empty")
    small = stand_in_config(config, work_dir=tmp_path, runs=1)
    assert small.stand_in and len(small.runs) == 1 and small.runs[0].num_batches == 20
    result = run_paper_table(config, stand_in=True, work_dir=tmp_path / "work", runs=1)
    table = result.table
    expected_b = [8, 32] if name == "table2" else [32]
    assert table["batch_size"].tolist() == expected_b
    assert {"Gauss-SSE", "SaS-SSE", "Gauss-Chi2", "SaS-Chi2", "entries", "degenerate"} <= set(table.columns)
    assert (table["entries"] + table["degenerate"] == 12).all() and (table["entries"] > 0).all()
    assert result.missing and "put it in" in result.missing[0]
    paths = result.write(tmp_path / "out")
    assert pd.read_csv(paths["table"])["batch_size"].tolist() == expected_b
    manifest = json.loads(paths["manifest"].read_text())
    assert manifest["config"]["stand_in"] is True and manifest["config"]["name"] == name
