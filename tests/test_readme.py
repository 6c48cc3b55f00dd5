"""The README's Python examples run as written, in order, on a small model (its names defined here)."""

import re
from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_examples_run(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 5
    monkeypatch.chdir(tmp_path)  # the examples write runs/...
    torch.manual_seed(0)
    namespace = {
        "model": nn.Sequential(OrderedDict(fc1=nn.Linear(20, 32), relu=nn.ReLU(), fc2=nn.Linear(32, 3))),
        "X": torch.randn(256, 20),
        "y": torch.randint(0, 3, (256,)),
    }
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    assert namespace["res"].noise["fc1.weight"].shape == (1000, 16)
    assert namespace["fit"].alpha.shape == (namespace["samples"].shape[0],)
    assert (tmp_path / "runs" / "mlp" / "model.pt").is_file()
