"""Report steps as Ray tasks: the same tables as in this process, written as they finish, read
back by a rerun."""

import pandas as pd
import pytest

from sgdnoise.parallel import use_executor
from sgdnoise.studies.reproduce import reproduce_steps, size_for
from sgdnoise.studies.steps import run_steps

pytest.importorskip("ray")


def test_steps_on_ray_equal_in_process_and_resume(ray_executor, tmp_path, single_thread):
    steps = [s for s in reproduce_steps(size_for("quick")) if s.key in ("escape_direction", "zhu_toy")]
    here = run_steps(steps, tmp_path / "here", title="t")
    with use_executor(ray_executor):
        assert ray_executor.workers == 2  # so the two steps run at once, as tasks
        there = run_steps(steps, tmp_path / "ray", title="t")
        again = run_steps(steps, tmp_path / "ray", title="t")
    assert [o.resumed for o in there.outcomes.values()] == [False, False]
    assert [o.resumed for o in again.outcomes.values()] == [True, True]
    tables = sorted(p.relative_to(tmp_path / "here") for p in (tmp_path / "here" / "tables").rglob("*.parquet"))
    assert len(tables) >= 2
    for table in tables:
        ours, theirs = pd.read_parquet(tmp_path / "ray" / table), pd.read_parquet(tmp_path / "here" / table)
        pd.testing.assert_frame_equal(ours, theirs)
    assert list(there.sections) == list(here.sections)  # the report in the steps' order
