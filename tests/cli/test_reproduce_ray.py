"""``sgdnoise reproduce --executor ray`` (a local Ray instance started on demand) writes the same
tables, number for number, as the in-process run."""

import subprocess

import pandas as pd
import pytest

from sgdnoise.store.records import read_record

pytest.importorskip("ray")


def test_reproduce_on_ray_equals_in_process(tiny_reproduce, tiny_reproduce_args, sgdnoise_process, tmp_path):
    out = tmp_path / "ray"
    command, env = sgdnoise_process("reproduce", "--executor", "ray", "--out", str(out), *tiny_reproduce_args)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    reference = tiny_reproduce
    tables = sorted(p.relative_to(reference) for p in (reference / "tables").rglob("*.parquet"))
    assert len(tables) >= 11
    assert sorted(p.relative_to(out) for p in (out / "tables").rglob("*.parquet")) == tables
    for table in tables:
        pd.testing.assert_frame_equal(pd.read_parquet(out / table), pd.read_parquet(reference / table))
    ours, theirs = read_record(out / "escape_time" / "record"), read_record(reference / "escape_time" / "record")
    for frame in ("times", "survival", "minima_times"):  # the sweep whose seeds ran as Ray tasks
        pd.testing.assert_frame_equal(getattr(ours, frame), getattr(theirs, frame))
    assert not any((out / step / "shards").exists() for step in ("escape_time", "escape_model"))  # kept in records
