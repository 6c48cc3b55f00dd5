"""The tree passes the project's linter and formatter (rules in pyproject.toml's [tool.ruff])."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("command", [["check", "."], ["format", "--check", "."]], ids=["check", "format"])
def test_ruff(command):
    done = subprocess.run([sys.executable, "-m", "ruff", *command], cwd=ROOT, capture_output=True, text=True)
    fix = "ruff check --fix . && ruff format ."
    assert done.returncode == 0, f"ruff {' '.join(command)} found problems (fix: {fix}):\n{done.stdout}{done.stderr}"
