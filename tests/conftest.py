"""Fixtures shared by all test folders."""

import pytest
import torch


@pytest.fixture(scope="module")
def single_thread():
    """Run a module's small-tensor tests on one torch thread, restoring the setting afterwards:
    tiny ops are dispatch-bound, and on a busy 2-core machine two intra-op threads spin-wait and
    make them 10-1000× slower. Folders opt in with an autouse fixture that requests this one."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module", autouse=True)
def torch_thread_count_restored():
    """Fail a test module that leaves torch's intra-op thread count changed: the modules after it
    would run with it, and a bit-exact comparison with a fresh process (another thread count sums
    in another order) would fail there instead."""
    before = torch.get_num_threads()
    yield
    after = torch.get_num_threads()
    assert after == before, f"this module changed torch's thread count from {before} to {after}; request single_thread"


@pytest.fixture(scope="session")
def breast_cancer_minimum():
    """``train(steps) -> (model, (x, y))``: a 30-4-4-2 float64 MLP (seed 0) trained by full-batch GD
    (lr 0.1) for ``steps`` steps on the first 120 breast-cancer points: a small network at a
    minimum, for the escape-model tests."""
    import torch.nn.functional as F

    from sgdnoise.data import load_dataset
    from sgdnoise.models import MLP

    def train(steps: int):
        x, y = load_dataset("breast_cancer").tensors
        x, y = x[:120].double(), y[:120]
        torch.manual_seed(0)
        model = MLP((30,), 2, depth=2, width=4).double()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for _ in range(steps):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
        return model, (x, y)

    return train


TINY_REPRODUCE = (
    "--quick",
    "--rows", "5",
    "--batches", "50",
    "--epochs", "2",
    "--paths", "100",
    "--zhu-steps", "30",
    "--decay-epochs", "4",
    "--escape-model-seeds", "8",
    "--escape-model-steps", "40",
)  # fmt: skip


@pytest.fixture(scope="session")
def sgdnoise_process():
    """``run(*args) -> (argv, env)``: how to run ``sgdnoise *args`` from this checkout in a fresh
    interpreter (``python -m sgdnoise`` with this checkout's ``src`` first on PYTHONPATH)."""
    import os
    import sys
    from pathlib import Path

    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    return lambda *args: ([sys.executable, "-m", "sgdnoise", *args], env)


@pytest.fixture(scope="session")
def tiny_reproduce_args():
    """The options of a tiny ``sgdnoise reproduce --quick`` run."""
    return TINY_REPRODUCE


@pytest.fixture(scope="session")
def tiny_reproduce(tmp_path_factory, sgdnoise_process):
    """One uninterrupted ``sgdnoise reproduce`` with ``TINY_REPRODUCE`` in a fresh process: its
    output folder. Shared by the command's, the browser's and the resume tests."""
    import subprocess

    out = tmp_path_factory.mktemp("reproduce")
    argv, env = sgdnoise_process("reproduce", "--out", str(out), *TINY_REPRODUCE)
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


@pytest.fixture(scope="session")
def ray_executor():
    """A local Ray instance with two CPUs, started once for the session and stopped at its end;
    one CPU per task whatever the thread count, so that every run splits in two."""
    from sgdnoise.parallel import RayExecutor

    executor = RayExecutor(num_cpus=2, cpus_per_task=1)
    assert executor.workers == 2  # started
    yield executor
    executor.close()


@pytest.fixture
def split_in_process():
    """An executor that runs tasks here, one after another, but has three workers: library code
    splits its work as it would on Ray (``parts`` > 1) without Ray. ``labels``: the tasks it ran."""
    from sgdnoise.parallel import InProcessExecutor

    class Splitting(InProcessExecutor):
        workers = 3

        def __init__(self):
            self.labels = []

        def submit(self, tasks, settings):
            self.labels.extend(t.label for t in tasks)
            yield from super().submit(tasks, settings)

    return Splitting()
