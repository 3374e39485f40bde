"""`ruff check` and `mypy` (strict on tui/) stay clean: part of the test command."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "command",
    [[sys.executable, "-m", "ruff", "check", "tui", "tests"], [sys.executable, "-m", "mypy"]],
    ids=["ruff", "mypy"],
)
def test_linters_are_clean(command: list[str]) -> None:
    tool = command[2]
    if shutil.which(tool) is None and subprocess.run(
        [sys.executable, "-m", tool, "--version"], capture_output=True, check=False
    ).returncode != 0:
        pytest.skip(f"{tool} is not installed")
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
