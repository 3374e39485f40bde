"""Packaging: import hygiene, the wheel ships the stylesheets, the version."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

import tui

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "module", ["tui.api.client", "tui.simulator", "tui.config", "tui.watch.scheduler"]
)
def test_data_layer_imports_no_textual(module: str) -> None:
    # Only Textual here: httpx imports Rich for its command line when click is installed (the
    # import-linter test dependency brings click). That our own modules import neither is
    # the import contract's job (tests/test_lint.py).
    code = f"import sys, {module}; sys.exit(1 if any(m.split('.')[0] == 'textual' "\
           "for m in sys.modules) else 0)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, f"{module} imports Textual: {result.stderr}"


def test_version_flag() -> None:
    result = subprocess.run([sys.executable, "-m", "tui", "--version"], capture_output=True,
                            text=True, check=False, cwd=ROOT)
    assert result.returncode == 0
    assert result.stdout.strip() == f"nf-runs {tui.__version__}"


def test_wheel_ships_every_stylesheet_and_finds_them_installed(tmp_path: Path) -> None:
    """Build the wheel, install it (not editable) into a fresh venv, and load the styles
    from another directory."""
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist),
         str(ROOT)],
        check=True, capture_output=True, cwd=tmp_path,
    )
    wheels = list(dist.glob("nf_runs-*.whl"))
    assert len(wheels) == 1
    names = zipfile.ZipFile(wheels[0]).namelist()
    expected = {f"tui/styles/{path.name}" for path in (ROOT / "styles").glob("*.tcss")}
    assert expected and expected <= set(names)

    target = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(target)
    python = target / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    with zipfile.ZipFile(wheels[0]) as archive:
        archive.extractall(site)
    # The dependencies come from this environment, appended after the wheel's own files (a
    # path line in a .pth file does not run this environment's editable-install hooks).
    deps = [path for path in sys.path if path.endswith("site-packages")]
    (Path(site) / "deps.pth").write_text("\n".join(deps) + "\n")
    check = (
        "import tui, tui.app, pathlib; paths = tui.app.stylesheet_paths();"
        "assert paths, 'no stylesheets';"
        "assert all(pathlib.Path(p).is_file() for p in paths);"
        "assert 'site-packages' in str(paths[0]), paths[0];"
        "print(len(paths))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([str(python), "-I", "-c", check], cwd=tmp_path, env=env,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) == len(expected)
