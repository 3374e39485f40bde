"""`nf-runs runs` and `nf-runs simulate` as a script would use them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tui.simulator import Simulator

ROOT = Path(__file__).resolve().parent.parent


def _nf_runs(*args: str, token: str | None = None, home: Path | None = None
             ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("NORTHFLANK_API_TOKEN", "NF_API_TOKEN", "NORTHFLANK_API_URL")}
    if token:
        env["NORTHFLANK_API_TOKEN"] = token
    if home:
        env["HOME"] = str(home)
        env["XDG_CONFIG_HOME"] = str(home / ".config")
    return subprocess.run([sys.executable, "-m", "tui", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=60, check=False)


def _job_with_runs(sim: Simulator, count: int) -> None:
    sim.world.add_project("cli-project", "CLI")
    sim.world.add_job("cli-project", "cli-job", "[bold]cli[/] job")
    sim.world.add_runs("cli-project", "cli-job", count)


def test_runs_table_and_api_url_after_the_arguments(small_sim: Simulator) -> None:
    _job_with_runs(small_sim, 130)
    result = _nf_runs("runs", "cli-project", "cli-job", "--limit", "120",
                      "--api-url", small_sim.url, token=small_sim.token)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("STATUS")
    assert len(lines) == 121
    assert small_sim.token not in result.stdout + result.stderr


def test_runs_json_all_and_api_url_before_the_command(small_sim: Simulator) -> None:
    _job_with_runs(small_sim, 130)
    result = _nf_runs("--api-url", small_sim.url, "runs", "cli-project", "cli-job", "--all",
                      "--json", token=small_sim.token)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 130 and len({row["id"] for row in rows}) == 130
    assert {"id", "runName", "status", "startedAt", "concludedAt", "durationSeconds"} <= set(
        rows[0]
    )


def test_runs_errors_go_to_stderr_with_nonzero_exit(small_sim: Simulator, tmp_path: Path
                                                    ) -> None:
    missing = _nf_runs("runs", "nope", "nope", "--api-url", small_sim.url,
                       token=small_sim.token)
    assert missing.returncode == 1 and "404" in missing.stderr and not missing.stdout
    refused = _nf_runs("runs", "p", "j", "--api-url", small_sim.url, token="nf-bad-secret-123")
    assert refused.returncode == 1 and "401" in refused.stderr
    assert "nf-bad-secret-123" not in refused.stderr
    no_token = _nf_runs("runs", "p", "j", "--api-url", small_sim.url, home=tmp_path)
    assert no_token.returncode == 2 and "--demo" in no_token.stderr
    assert "Traceback" not in missing.stderr + refused.stderr + no_token.stderr


def test_token_file_after_the_arguments(small_sim: Simulator, tmp_path: Path) -> None:
    _job_with_runs(small_sim, 3)
    token_file = tmp_path / "token"
    token_file.write_text(small_sim.token)
    result = _nf_runs("runs", "cli-project", "cli-job", "--token-file", str(token_file),
                      "--api-url", small_sim.url, home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 4
