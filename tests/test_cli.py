"""`nf-runs runs` and `nf-runs simulate` as a script would use them."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tui.simulator import Simulator

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Result:
    """What a run of the command line left: its exit code and its output."""

    returncode: int
    stdout: str
    stderr: str


Cli = Callable[..., Result]


@pytest.fixture
def nf_runs(capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    """`nf-runs ARGS` in this process (its `main`, with the environment given), so that a
    test pays no interpreter start-up; tests about the process itself (pipes, closed
    descriptors) start one."""

    def run(*args: str, token: str | None = None, home: Path | None = None,
            url: str | None = None) -> Result:
        from tui.__main__ import main

        with monkeypatch.context() as patch:
            for name in ("NORTHFLANK_API_TOKEN", "NF_API_TOKEN", "NORTHFLANK_API_URL"):
                patch.delenv(name, raising=False)
            if token:
                patch.setenv("NORTHFLANK_API_TOKEN", token)
            if url is not None:
                patch.setenv("NORTHFLANK_API_URL", url)
            if home:
                patch.setenv("HOME", str(home))
                patch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
            capfd.readouterr()
            try:
                code = main(list(args))
            except SystemExit as exit_:  # argparse
                code = exit_.code if isinstance(exit_.code, int) else 1
            sys.stdout.flush()
            sys.stderr.flush()
            out, err = capfd.readouterr()
        return Result(code, out, err)

    return run


def _job_with_runs(sim: Simulator, count: int) -> None:
    sim.world.add_project("cli-project", "CLI")
    sim.world.add_job("cli-project", "cli-job", "[bold]cli[/] job")
    sim.world.add_runs("cli-project", "cli-job", count)


def test_runs_table_and_api_url_after_the_arguments(nf_runs: Cli, small_sim: Simulator) -> None:
    _job_with_runs(small_sim, 130)
    result = nf_runs("runs", "cli-project", "cli-job", "--limit", "120",
                      "--api-url", small_sim.url, token=small_sim.token)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("STATUS")
    assert len(lines) == 121
    assert small_sim.token not in result.stdout + result.stderr


def test_runs_json_all_and_api_url_before_the_command(nf_runs: Cli, small_sim: Simulator) -> None:
    _job_with_runs(small_sim, 130)
    result = nf_runs("--api-url", small_sim.url, "runs", "cli-project", "cli-job", "--all",
                      "--json", token=small_sim.token)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 130 and len({row["id"] for row in rows}) == 130
    assert {"id", "runName", "status", "startedAt", "concludedAt", "durationSeconds"} <= set(
        rows[0]
    )


def test_runs_errors_go_to_stderr_with_nonzero_exit(
    nf_runs: Cli, small_sim: Simulator, tmp_path: Path
) -> None:
    missing = nf_runs("runs", "nope", "nope", "--api-url", small_sim.url,
                       token=small_sim.token)
    assert missing.returncode == 1 and "404" in missing.stderr and not missing.stdout
    refused = nf_runs("runs", "p", "j", "--api-url", small_sim.url, token="nf-bad-secret-123")
    assert refused.returncode == 1 and "401" in refused.stderr
    assert "nf-bad-secret-123" not in refused.stderr
    no_token = nf_runs("runs", "p", "j", "--api-url", small_sim.url, home=tmp_path)
    assert no_token.returncode == 2 and "--demo" in no_token.stderr
    assert "Traceback" not in missing.stderr + refused.stderr + no_token.stderr


def test_token_file_after_the_arguments(nf_runs: Cli, small_sim: Simulator, tmp_path: Path) -> None:
    _job_with_runs(small_sim, 3)
    token_file = tmp_path / "token"
    token_file.write_text(small_sim.token)
    result = nf_runs("runs", "cli-project", "cli-job", "--token-file", str(token_file),
                      "--api-url", small_sim.url, home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 4


# ----- hostile local input (issue 8, class 10) ------------------------------------------------

SECRET = "nfsecret-cli-0123456789abcdef"
NOWHERE = "http://127.0.0.1:9"  # never contacted: every case below fails before a request


def _one_line_error(result: Result, code: int = 2) -> str:
    assert result.returncode == code, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and SECRET not in result.stdout + result.stderr
    assert not result.stdout
    return lines[0]


@pytest.mark.parametrize(("content", "words"), [
    (b"\xff\xfe" + SECRET.encode(), "not UTF-8 text"),
    (SECRET.encode() + "\u00e9".encode(), "non-ASCII"),
    (SECRET.encode() + b"\nX-Injected: 1\n", "more than one line"),
    (SECRET.encode() + b"\x1b]52;c;aGk=\x07", "control character"),
    (SECRET.encode() + b" " + SECRET.encode(), "whitespace"),
    (b"\n", "empty"),
    (SECRET.encode() * 3000, "larger than 64 KiB"),
], ids=["not-utf8", "non-ascii", "two-lines", "control", "space", "empty", "huge"])
def test_a_bad_token_file_is_one_line_and_exit_2(
    nf_runs: Cli, tmp_path: Path, content: bytes, words: str
) -> None:
    token_file = tmp_path / "token"
    token_file.write_bytes(content)
    line = _one_line_error(nf_runs("runs", "p", "j", "--token-file", str(token_file),
                                    "--api-url", NOWHERE, home=tmp_path))
    assert line.startswith("nf-runs: ") and words in line and str(token_file) in line


def test_a_token_file_that_is_a_directory_or_unreadable(nf_runs: Cli, tmp_path: Path) -> None:
    line = _one_line_error(nf_runs("runs", "p", "j", "--token-file", str(tmp_path),
                                    "--api-url", NOWHERE, home=tmp_path))
    assert "is a directory" in line
    if os.geteuid() != 0:  # root reads a 0000 file anyway
        token_file = tmp_path / "token"
        token_file.write_text(SECRET)
        token_file.chmod(0)
        line = _one_line_error(nf_runs("runs", "p", "j", "--token-file", str(token_file),
                                        "--api-url", NOWHERE, home=tmp_path))
        assert "permission denied" in line


@pytest.mark.parametrize("token", [f"{SECRET}\nX-Injected: 1", f"{SECRET} x", f"{SECRET}\u00e9"])
def test_a_bad_token_in_the_environment_is_one_line_and_exit_2(
    nf_runs: Cli, tmp_path: Path, token: str
) -> None:
    line = _one_line_error(nf_runs("runs", "p", "j", "--api-url", NOWHERE, token=token,
                                    home=tmp_path))
    assert "$NORTHFLANK_API_TOKEN" in line


@pytest.mark.parametrize(("url", "words"), [
    ("http://127.0.0.1:99999", "port out of range"),
    ("http://127.0.0.1:abc", "not a valid URL"),
    ("http://[::1", "not a valid URL"),
    ("::::", "not a valid URL"),
    ("%%%", "invalid host name"),
    ("https://exa mple.com", "space or a control character"),
    ("https://ex\x01ample.com", "space or a control character"),
    ("https://xn--", "invalid host name"),
    ("gopher://x", "must start with https://"),
])
def test_a_bad_api_url_is_one_line_and_exit_2(
    nf_runs: Cli, tmp_path: Path, url: str, words: str) -> None:
    line = _one_line_error(nf_runs("runs", "p", "j", "--api-url", url, token=SECRET,
                                    home=tmp_path))
    assert "--api-url" in line and words in line and line.isprintable()
    env_line = _one_line_error(nf_runs("runs", "p", "j", token=SECRET, home=tmp_path,
                                        url=url))
    assert "$NORTHFLANK_API_URL" in env_line and words in env_line


@pytest.mark.parametrize(("content", "words"), [
    (b"[" * 200_000, "nested too deeply"),
    (b"{}" + b" " * (1024 * 1024), "larger than 1024 KiB"),
    (b"[]", "not a JSON object"),
    (b'{"token": 42}', '"token" must be a string'),
    (b'{"api_url": "\xff"}', "not UTF-8"),
], ids=["deep", "huge", "list", "wrong-type", "not-utf8"])
def test_a_broken_nf_runs_config_is_one_line_and_exit_2(
    nf_runs: Cli, tmp_path: Path, content: bytes,
    words: str) -> None:
    config = tmp_path / ".config" / "nf-runs" / "config.json"
    config.parent.mkdir(parents=True)
    config.write_bytes(content)
    line = _one_line_error(nf_runs("runs", "p", "j", "--api-url", NOWHERE, token=SECRET,
                                    home=tmp_path))
    assert str(config) in line and words in line


def test_a_broken_northflank_cli_config(nf_runs: Cli, small_sim: Simulator, tmp_path: Path) -> None:
    """Someone else's file: a warning when the token comes from elsewhere, else the error."""
    _job_with_runs(small_sim, 2)
    config = tmp_path / ".northflank" / "config.json"
    config.parent.mkdir(parents=True)
    config.write_bytes(b"[" * 200_000)
    result = nf_runs("runs", "cli-project", "cli-job", "--api-url", small_sim.url,
                      token=small_sim.token, home=tmp_path)
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 3
    assert result.stderr == (f"nf-runs: warning: The Northflank CLI config {config} is not "
                             "valid JSON (nested too deeply); ignored it\n")
    line = _one_line_error(nf_runs("runs", "p", "j", "--api-url", NOWHERE, home=tmp_path))
    assert str(config) in line and "nested too deeply" in line


@pytest.mark.parametrize("args", [
    ("runs", "p", "j", "--limit", "0"),
    ("runs", "p", "j", "--limit", "-5"),
    ("runs", "p", "j", "--limit", "many"),
    ("--refresh", "inf"),
    ("--refresh", "nan"),
    ("--refresh", "1e308"),
    ("--budget", "nan"),
    ("--speed", "-1"),
    ("simulate", "--port", "99999"),
    ("simulate", "--rate-limit", "0"),
])
def test_bad_numbers_are_argparse_errors(
    nf_runs: Cli, tmp_path: Path, args: tuple[str, ...]) -> None:
    result = nf_runs(*args, token=SECRET, home=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1].startswith("nf-runs")
    assert "error: argument" in result.stderr


def test_runs_into_a_closed_pipe_is_quiet(small_sim: Simulator, tmp_path: Path) -> None:
    """`nf-runs runs ... | head -1`: more output than a pipe holds, its reader gone."""
    _job_with_runs(small_sim, 1000)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NORTHFLANK", "NF_"))}
    env.update(NORTHFLANK_API_TOKEN=small_sim.token, HOME=str(tmp_path))
    with subprocess.Popen(
        [sys.executable, "-m", "tui", "runs", "cli-project", "cli-job", "--all", "--json",
         "--api-url", small_sim.url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        first = process.stdout.readline()
        process.stdout.close()  # as `head -1` exits
        err = process.stderr.read()
        code = process.wait(timeout=60)
    assert json.loads(first)["id"]
    assert code == 0 and err == b"", err


def test_runs_with_stdout_closed(small_sim: Simulator, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NORTHFLANK", "NF_"))}
    env.update(NORTHFLANK_API_TOKEN=small_sim.token, HOME=str(tmp_path))
    command = shlex.join([sys.executable, "-m", "tui", "runs", "p", "j",
                          "--api-url", small_sim.url])
    result = subprocess.run(["/bin/sh", "-c", f"exec {command} >&-"], capture_output=True,
                            text=True, env=env, cwd=ROOT, timeout=60, check=False)
    assert result.returncode == 2
    assert result.stderr == "nf-runs: stdout is closed: nowhere to list the runs\n"


def test_runs_with_stdin_closed_works(small_sim: Simulator, tmp_path: Path) -> None:
    _job_with_runs(small_sim, 2)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NORTHFLANK", "NF_"))}
    env.update(NORTHFLANK_API_TOKEN=small_sim.token, HOME=str(tmp_path))
    command = shlex.join([sys.executable, "-m", "tui", "runs", "cli-project", "cli-job",
                          "--api-url", small_sim.url])
    result = subprocess.run(["/bin/sh", "-c", f"exec {command} 0<&-"], capture_output=True,
                            text=True, env=env, cwd=ROOT, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 3
