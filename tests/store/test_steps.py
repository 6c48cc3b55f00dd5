"""Result records (no pickle) and resumable steps."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import torch

from sgdnoise.errors import DataFileError
from sgdnoise.experiments.escape_axis import EscapeAxisConfig, EscapeAxisResult
from sgdnoise.store.records import read_record, write_record
from sgdnoise.store.steps import fingerprint, run_step


def _result() -> EscapeAxisResult:
    table = pd.DataFrame(
        {"delta": [0.0, 0.5], "p_exit_x1": [0.5, float("nan")], "stderr": [0.1, 0.1], "name": ["a", "b"]}
    )
    table.attrs["n_rows"] = 2
    return EscapeAxisResult(EscapeAxisConfig(deltas=(0.0, 0.5), paths=7), table)


def test_a_record_gives_back_the_same_result(tmp_path):
    nested = {"result": _result(), "x": np.arange(6.0).reshape(2, 3), "t": torch.arange(4), "s": (1, "a", None)}
    write_record(nested, tmp_path)
    back = read_record(tmp_path)
    assert isinstance(back["result"], EscapeAxisResult) and back["result"].config == nested["result"].config
    pd.testing.assert_frame_equal(back["result"].table, nested["result"].table)
    assert back["result"].table.attrs == {"n_rows": 2}
    np.testing.assert_array_equal(back["x"], nested["x"])
    assert torch.equal(back["t"], nested["t"]) and back["s"] == (1, "a", None)


def test_a_record_naming_a_class_outside_sgdnoise_is_refused(tmp_path):
    write_record(_result(), tmp_path)
    record = json.loads((tmp_path / "record.json").read_text())
    record["value"]["__dataclass__"] = "subprocess:Popen"
    (tmp_path / "record.json").write_text(json.dumps(record))
    with pytest.raises(DataFileError, match="outside sgdnoise"):
        read_record(tmp_path)


def test_fingerprints_follow_content():
    config = EscapeAxisConfig(paths=7)
    assert fingerprint({"c": config}) == fingerprint({"c": EscapeAxisConfig(paths=7)})
    assert fingerprint({"c": config}) != fingerprint({"c": dataclasses.replace(config, paths=8)})
    assert fingerprint(torch.ones(3)) != fingerprint(torch.ones(3, dtype=torch.float64))
    # classes by name (a module class has a state_dict method, but no weights of its own)
    assert fingerprint({"owner": torch.nn.Linear}) == fingerprint({"owner": torch.nn.Linear})
    assert fingerprint(torch.nn.Linear) != fingerprint(torch.nn.Conv2d)


def test_a_step_runs_once_per_inputs_and_is_recomputed_when_they_change(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return _result()

    first = run_step(tmp_path, {"paths": 7}, compute)
    again = run_step(tmp_path, {"paths": 7}, compute)
    assert len(calls) == 1 and not first.resumed and again.resumed and again.seconds == first.seconds
    pd.testing.assert_frame_equal(again.result.table, first.result.table)
    assert (tmp_path / "escape_axis.csv").is_file()  # the result's own files
    run_step(tmp_path, {"paths": 8}, compute)
    assert len(calls) == 2


def test_a_step_interrupted_while_computing_leaves_no_finished_marker(tmp_path):
    run_step(tmp_path, {"v": 1}, _result)

    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_step(tmp_path, {"v": 2}, interrupted)
    assert not (tmp_path / "step.json").exists()  # neither the old inputs' result nor a half-written new one
