"""Two versions of sgdnoise side by side: the same public calls timed on each, interleaved.

Run:  python3 benchmarks/bench_versions.py BEFORE [AFTER]      (git revisions; AFTER defaults to the work tree)
      python3 benchmarks/bench_versions.py cd04f71 --rounds 5 --threads 1

Each revision is exported (``git archive``) to a temporary folder and imported from there in a
fresh child process per (round, case, version), with ``PYTHONPATH`` pointing at its ``src``. The
versions alternate within every round, so a load that comes and goes on the machine hits both
alike. Inside a child the call runs once to warm up, then at least ``INNER`` times and until
``WINDOW`` seconds have passed; the child reports the fastest run. Over the rounds the median
counts, and ``after/before`` is printed per case (below 1: the later version is faster). Cases
use only public calls that both versions have, on generated data of fixed seeds, so they
compute the same numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

INNER, WINDOW = 3, 2.0  # at least INNER timed runs, and more until WINDOW seconds have passed
ROOT = Path(__file__).resolve().parents[1]

SETUP = """
import time, torch
from torch import nn
from torch.nn import functional as F
torch.set_num_threads({threads})
torch.manual_seed(0)
"""

# name -> (setup code, the timed statement); both run in the child with the version's sgdnoise.
CASES = {
    "collect_noise mlp B=32 K=256 (D=512)": (
        "from sgdnoise.gradients import collect_noise\n"
        "from sgdnoise.models import build_model\n"
        "model = build_model('mlp', input_shape=(64,), num_classes=10)\n"
        "x, y = torch.randn(512, 64), torch.randint(0, 10, (512,))\n",
        "collect_noise(model, nn.CrossEntropyLoss(), (x, y), batch_size=32, num_batches=256, seed=0)",
    ),
    "collect_noise mlp B=128 K=64 (D=8192)": (
        "from sgdnoise.gradients import collect_noise\n"
        "from sgdnoise.models import build_model\n"
        "model = build_model('mlp', input_shape=(64,), num_classes=10)\n"
        "x, y = torch.randn(8192, 64), torch.randint(0, 10, (8192,))\n",
        "collect_noise(model, nn.CrossEntropyLoss(), (x, y), batch_size=128, num_batches=64, seed=0)",
    ),
    "collect_noise cnn B=32 K=144 (D=512)": (
        "from sgdnoise.gradients import collect_noise\n"
        "from sgdnoise.models import build_model\n"
        "model = build_model('cnn', input_shape=(1, 16, 16), num_classes=10, batch_norm=True).eval()\n"
        "x, y = torch.randn(512, 1, 16, 16), torch.randint(0, 10, (512,))\n",
        "collect_noise(model, nn.CrossEntropyLoss(), (x, y), batch_size=32, num_batches=144, seed=0, params=16)",
    ),
    "collect_noise resnet20 8x8 B=32 K=200 (D=1797)": (
        "from sgdnoise.gradients import collect_noise\n"
        "from sgdnoise.models import build_model\n"
        "model = build_model('resnet20', input_shape=(1, 8, 8), num_classes=10).eval()\n"
        "x, y = torch.randn(1797, 1, 8, 8), torch.randint(0, 10, (1797,))\n",
        "collect_noise(model, nn.CrossEntropyLoss(), (x, y), batch_size=32, num_batches=200, seed=0, params=16)",
    ),
    "collect_noise resnet20 32x32 B=8 K=16 (loop)": (
        "from sgdnoise.gradients import collect_noise\n"
        "from sgdnoise.models import build_model\n"
        "model = build_model('resnet20', input_shape=(3, 32, 32), num_classes=10).eval()\n"
        "x, y = torch.randn(2048, 3, 32, 32), torch.randint(0, 10, (2048,))\n",
        "collect_noise(model, nn.CrossEntropyLoss(), (x, y), batch_size=8, num_batches=16, seed=0, params=16)",
    ),
    "fit_sas cf 2000 rows x 1000": (
        "from sgdnoise.stable import fit_sas, sample_sas\n"
        "import numpy as np\n"
        "x = sample_sas(np.full((2000, 1), 1.5), 1.0, size=(2000, 1000), seed=0)\n",
        "fit_sas(x)",
    ),
    "fit_sas quantile 1 row x 1000": (
        "from sgdnoise.stable import fit_sas, sample_sas\nx = sample_sas(1.5, 1.0, size=(1, 1000), seed=0)\n",
        "[fit_sas(x, method='quantile') for _ in range(100)]",
    ),
    "compare_fits 200 rows x 1000": (
        "from sgdnoise.stable import compare_fits, sample_sas\n"
        "import numpy as np\n"
        "x = sample_sas(np.full((200, 1), 1.5), 1.0, size=(200, 1000), seed=0)\n",
        "compare_fits(x)",
    ),
    "hessian_eigenvalues top-5 mlp (D=2000)": (
        "from sgdnoise.curvature import hessian_eigenvalues\n"
        "from sgdnoise.models import build_model\n"
        "model = build_model('mlp', input_shape=(64,), num_classes=10)\n"
        "x, y = torch.randn(2000, 64), torch.randint(0, 10, (2000,))\n",
        "hessian_eigenvalues(model, F.cross_entropy, (x, y), k=5)",
    ),
    "hessian_trace mlp (D=2000)": (
        "from sgdnoise.curvature import hessian_trace\n"
        "from sgdnoise.models import build_model\n"
        "model = build_model('mlp', input_shape=(64,), num_classes=10)\n"
        "x, y = torch.randn(2000, 64), torch.randint(0, 10, (2000,))\n",
        "hessian_trace(model, F.cross_entropy, (x, y))",
    ),
    "sgd_ensemble 256 seeds x 200 steps mlp": (
        "from sgdnoise.dynamics import sgd_ensemble\n"
        "from sgdnoise.models import build_model\n"
        "model = build_model('mlp', input_shape=(64,), num_classes=10)\n"
        "x, y = torch.randn(1024, 64), torch.randint(0, 10, (1024,))\n",
        "sgd_ensemble(model, F.cross_entropy, (x, y), seeds=range(256), lr=0.05, batch_size=32, steps=200)",
    ),
    "simulate_exit 20000 paths levy (quadratic)": (
        "from sgdnoise.dynamics import Box, Quadratic, simulate_exit\n",
        "simulate_exit(Quadratic(torch.ones(2)), torch.zeros(2), alpha=torch.tensor([1.5, 1.8]), eps=0.1, dt=0.01,"
        " domain=Box(-torch.ones(2), torch.ones(2)), n_paths=20000, max_steps=2000, seed=0)",
    ),
    "train mlp digits 3 epochs": (
        "from sgdnoise.data import load_dataset\n"
        "from sgdnoise.models import build_model\n"
        "from sgdnoise.training import TrainConfig, train\n"
        "data = load_dataset('digits')\n",
        "train(build_model('mlp', input_shape=(1, 8, 8), num_classes=10), data,"
        " TrainConfig(epochs=3, lr=0.05, batch_size=32))",
    ),
}

CHILD = """
{setup}
{case_setup}
def run():
    {statement}
run()
best, runs, began = float("inf"), 0, time.perf_counter()
while runs < {inner} or time.perf_counter() - began < {window}:
    start = time.perf_counter()
    run()
    best, runs = min(best, time.perf_counter() - start), runs + 1
print("SECONDS", best)
"""


def export(revision: str, into: Path) -> Path:
    """The tree of ``revision`` (its ``src`` folder) unpacked under ``into``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "src"], capture_output=True, check=True)
    folder = into / revision.replace("/", "_")
    folder.mkdir()
    with tempfile.TemporaryFile() as buffer:
        buffer.write(archive.stdout)
        buffer.seek(0)
        with tarfile.open(fileobj=buffer) as tar:
            tar.extractall(folder, filter="data")
    return folder / "src"


def time_case(src: Path, name: str, threads: int) -> float:
    case_setup, statement = CASES[name]
    code = CHILD.format(
        setup=SETUP.format(threads=threads), case_setup=case_setup, statement=statement, inner=INNER, window=WINDOW
    )
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": str(threads)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=src.parent)
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed under {src}:\n{done.stderr[-2000:]}")
    return float(done.stdout.split("SECONDS")[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", help="git revision of the earlier version")
    parser.add_argument("after", nargs="?", help="git revision of the later version (default: the work tree)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cases", nargs="*", help="substrings of case names to run (default: all)")
    parser.add_argument("--json", type=Path, help="also write the per-round seconds here")
    args = parser.parse_args()
    names = [n for n in CASES if not args.cases or any(c in n for c in args.cases)]
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"before": export(args.before, Path(tmp))}
        trees["after"] = export(args.after, Path(tmp)) if args.after else ROOT / "src"
        seconds = {n: {"before": [], "after": []} for n in names}
        for r in range(args.rounds):
            for name in names:
                order = ("before", "after") if r % 2 == 0 else ("after", "before")
                for version in order:
                    seconds[name][version].append(time_case(trees[version], name, args.threads))
            print(f"round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    print(
        f"before = {args.before}, after = {args.after or 'work tree'}; {args.threads} thread(s), "
        f"median over {args.rounds} rounds of each child's fastest run"
    )
    print("| case | before s | after s | after/before |\n|---|---:|---:|---:|")
    for name in names:
        b, a = statistics.median(seconds[name]["before"]), statistics.median(seconds[name]["after"])
        print(f"| {name} | {b:.3f} | {a:.3f} | {a / b:.2f} |")
    if args.json:
        args.json.write_text(json.dumps(seconds, indent=1))


if __name__ == "__main__":
    main()
