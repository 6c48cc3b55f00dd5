"""A training process killed with SIGKILL (no clean-up runs) resumes to the uninterrupted result."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest
import torch

from sgdnoise.data import load_dataset
from sgdnoise.models import build_model
from sgdnoise.training import TrainConfig, train

CONFIG = dict(epochs=3, lr=0.05, batch_size=16, lr_milestones=(2,), seed=7)

SCRIPT = textwrap.dedent(
    """
    import os, signal, sys, torch
    from sgdnoise.data import load_dataset
    from sgdnoise.models import build_model
    from sgdnoise.training import TrainConfig, train

    def kill_mid_epoch(info):
        if (info.epoch, info.step) == (2, 5):
            os.kill(os.getpid(), signal.SIGKILL)

    torch.manual_seed(0)
    model = build_model("cnn", input_shape=(1, 8, 8), num_classes=10, channels=(4,), batch_norm=True)
    config = TrainConfig(**{config}, checkpoint_dir=sys.argv[1])
    train(model, load_dataset("digits", split="test"), config, on_step=kill_mid_epoch)
    """
)


def _model():
    torch.manual_seed(0)
    return build_model("cnn", input_shape=(1, 8, 8), num_classes=10, channels=(4,), batch_norm=True)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_sigkill_then_resume(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(config=CONFIG), str(out)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert (out / "last.pt").is_file() and not list(out.glob(".*.tmp"))
    data = load_dataset("digits", split="test")
    resumed = train(_model(), data, TrainConfig(**CONFIG, checkpoint_dir=str(out)))
    straight = train(_model(), data, TrainConfig(**CONFIG))
    assert resumed.resumed_from_epoch == 1
    for a, b in zip(resumed.model.state_dict().values(), straight.model.state_dict().values()):
        assert torch.equal(a, b)
    assert os.path.isfile(out / "model.pt")
