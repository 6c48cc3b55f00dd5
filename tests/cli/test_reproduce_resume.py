"""Ctrl-C and rerun: ``sgdnoise reproduce --quick`` stopped by a real SIGINT in the middle of a
step, then started again, ends with the numbers of an uninterrupted run, and reads back the steps
that had finished instead of computing them again."""

import json
import signal
import subprocess
import time

import pandas as pd

from sgdnoise.store.records import read_record


def test_sigint_then_rerun_equals_an_uninterrupted_run(tiny_reproduce, tiny_reproduce_args, sgdnoise_process, tmp_path):
    out = tmp_path / "resumed"
    command, env = sgdnoise_process("reproduce", "--out", str(out), *tiny_reproduce_args)
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600
    while not (out / "zhu_toy" / "step.json").exists():  # six steps done, Zhu's network (seconds) running
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr[-2000:]
    assert "interrupted; finished results are on disk, re-run to resume" in stderr
    assert not (out / "zhu_network" / "step.json").exists() and not (out / "index.html").exists()
    first_key = json.loads((out / "noise_fits" / "step.json").read_text())["key"]

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "(read back from the last run)" in rerun.stdout.replace("\n", " ")
    assert json.loads((out / "noise_fits" / "step.json").read_text())["key"] == first_key

    reference = tiny_reproduce
    tables = sorted(p.relative_to(reference) for p in (reference / "tables").rglob("*.parquet"))
    assert len(tables) >= 11
    for table in tables:
        pd.testing.assert_frame_equal(pd.read_parquet(out / table), pd.read_parquet(reference / table))
    for step in ("noise_fits", "lr_decay", "estimator_recovery"):
        pd.testing.assert_frame_equal(
            read_record(out / step / "record").fits, read_record(reference / step / "record").fits
        )
