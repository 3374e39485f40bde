"""`ruff check`, `mypy` (strict on tui/) and the import contracts (pyproject.toml
`[tool.importlinter]`) stay clean: part of the test command."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "ruff", "check", "tui", "tests"],
        [sys.executable, "-m", "mypy"],
    ],
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


def test_import_contracts_hold() -> None:
    """The layers of pyproject.toml: no Textual below the screens, widgets never reach the
    client, nothing imports upwards."""
    code = (
        "import sys; from importlinter.cli import lint_imports_command; "
        "sys.argv = ['lint-imports', '--no-cache']; sys.exit(lint_imports_command())"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout or "broken" not in result.stdout, result.stdout
