"""`nf-runs projects`, `jobs` and `watch` against the simulator, and the API URL messages.

The watch runs in this process on an injected clock: each of its sleeps moves the
simulator's (frozen) clock by as much, so a run of hours is watched in milliseconds and no
result depends on the machine's speed.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tui import cli_watch
from tui.simulator import Simulator

from .test_cli import ROOT, SECRET, Cli, _one_line_error, nf_runs  # noqa: F401

HOSTILE = "\x1b[31mred\x1b]52;c;aGk=\x07\u202e"


def _pages_of_projects(sim: Simulator, count: int) -> None:
    for number in range(count):
        sim.world.add_project(f"p-{number:03d}", f"Project {number}")


# ----- projects and jobs --------------------------------------------------------------------


def test_projects_table_walks_every_page_and_is_sanitised(
    nf_runs: Cli, small_sim: Simulator, tmp_path: Path  # noqa: F811
) -> None:
    _pages_of_projects(small_sim, 130)  # more than one page of 100
    small_sim.world.add_project("evil", HOSTILE)
    before = len(small_sim.world.projects)
    result = nf_runs("projects", "--api-url", small_sim.url, token=small_sim.token,
                     home=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "NAME"]
    assert len(lines) == 1 + before
    assert any(line.split()[:3] == ["p-129", "Project", "129"] for line in lines)
    evil = next(line for line in lines if line.startswith("evil"))
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "\u202e" not in result.stdout and "red" in evil
    assert small_sim.token not in result.stdout + result.stderr


def test_projects_json_keeps_the_apis_strings(
    nf_runs: Cli, small_sim: Simulator, tmp_path: Path  # noqa: F811
) -> None:
    small_sim.world.add_project("evil", HOSTILE, description="d")
    result = nf_runs("--api-url", small_sim.url, "projects", "--json", token=small_sim.token,
                     home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout  # escaped as \u001b by JSON
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert {"id": "evil", "name": HOSTILE, "description": "d"} in rows
    assert [row["id"] for row in rows] == [p["id"] for p in small_sim.world.projects]


def _jobs(sim: Simulator) -> None:
    sim.world.add_project("cli-project", "CLI")
    sim.world.add_job("cli-project", "nightly", "Nightly build", job_type="cron",
                      schedule_seconds=3600)
    sim.world.add_job("cli-project", "paused", "Paused one", job_type="cron",
                      schedule_seconds=3600, suspended=True)
    sim.world.add_job("cli-project", "by-hand", HOSTILE)


def test_jobs_table_shows_ids_types_and_names(
    nf_runs: Cli, small_sim: Simulator, tmp_path: Path  # noqa: F811
) -> None:
    _jobs(small_sim)
    result = nf_runs("jobs", "cli-project", "--api-url", small_sim.url, token=small_sim.token,
                     home=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "TYPE", "NAME"]
    assert lines[1].split() == ["nightly", "cron", "Nightly", "build"]
    assert lines[2].split() == ["paused", "cron", "(suspended)", "Paused", "one"]
    assert lines[3].split()[:2] == ["by-hand", "manual"] and "\x1b" not in lines[3]
    # The columns line up: every name starts where the header's NAME does.
    column = lines[0].index("NAME")
    assert lines[1][column:] == "Nightly build" and lines[2][column:] == "Paused one"


def test_jobs_json_and_a_missing_project(
    nf_runs: Cli, small_sim: Simulator, tmp_path: Path  # noqa: F811
) -> None:
    _jobs(small_sim)
    result = nf_runs("jobs", "cli-project", "--json", "--api-url", small_sim.url,
                     token=small_sim.token, home=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows[0] == {"id": "nightly", "name": "Nightly build", "projectId": "cli-project",
                       "jobType": "cron", "suspended": False}
    assert rows[1]["suspended"] is True and rows[2]["suspended"] is None
    assert rows[2]["name"] == HOSTILE
    missing = nf_runs("jobs", "nope", "--api-url", small_sim.url, token=small_sim.token,
                      home=tmp_path)
    assert missing.returncode == 1 and "404" in missing.stderr and not missing.stdout
    assert len(missing.stderr.splitlines()) == 1


# ----- watch --------------------------------------------------------------------------------


class SimTime:
    """The watch's clock and sleep: a sleep moves the simulator's clock by as much, and may
    do something to its world first (start a run on the Nth sleep)."""

    def __init__(self, sim: Simulator, actions: dict[int, Callable[[], object]] | None = None,
                 limit: float = 48 * 3600.0) -> None:
        self.sim = sim
        self.now = 0.0
        self.sleeps = 0
        self.actions = actions or {}
        self.limit = limit

    async def sleep(self, seconds: float) -> None:
        assert math.isfinite(seconds) and seconds >= 0, seconds
        if self.now > self.limit:
            raise KeyboardInterrupt  # the watch never ended: out with 130, no crash report
        self.sleeps += 1
        self.now += seconds
        self.sim.world.advance(seconds)
        action = self.actions.pop(self.sleeps, None)
        if action is not None:
            action()

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def sim_time(small_sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> SimTime:
    clock = SimTime(small_sim)
    monkeypatch.setattr(cli_watch, "SLEEP", clock.sleep)
    monkeypatch.setattr(cli_watch, "MONOTONIC", clock.monotonic)
    monkeypatch.setattr(cli_watch, "WALL_CLOCK", small_sim.world.now)
    small_sim.world.add_project("wp", "Watch")
    small_sim.world.add_job("wp", "wj", "Watched job")
    return clock


def _watch(nf_runs: Cli, sim: Simulator, home: Path, *args: str) -> tuple[int, list[str], str]:  # noqa: F811
    result = nf_runs("watch", "wp", "wj", *args, "--api-url", sim.url, token=sim.token,
                     home=home)
    assert "Traceback" not in result.stderr and sim.token not in result.stdout + result.stderr
    return result.returncode, result.stdout.splitlines(), result.stderr


@pytest.mark.parametrize(("outcome", "code"), [("SUCCESS", 0), ("FAILED", 1)])
def test_watch_follows_the_newest_run_to_its_end(
    nf_runs: Cli, small_sim: Simulator, sim_time: SimTime, tmp_path: Path,  # noqa: F811
    outcome: str, code: int,
) -> None:
    small_sim.world.start_run("wp", "wj", run_name="older", duration=5, outcome="FAILED")
    small_sim.world.advance(10)
    run = small_sim.world.start_run("wp", "wj", run_name="the-run", duration=95,
                                    outcome=outcome)
    returncode, lines, err = _watch(nf_runs, small_sim, tmp_path)
    assert returncode == code, err
    # Not a terminal: one line per change, no carriage returns.
    assert [line.split()[:2] for line in lines] == [["RUNNING", "the-run"], [outcome, "the-run"]]
    assert lines[-1].endswith("1m 35s") and "\r" not in "".join(lines)
    assert sim_time.now >= 95
    checks = [path for _, path, _ in small_sim.requests if f"/runs/{run['id']}" in path]
    assert 95 / 10 <= len(checks) <= 95 / 5 + 2  # every 5 s, stretched by the budget


def test_watch_a_given_run_and_an_already_concluded_one(
    nf_runs: Cli, small_sim: Simulator, sim_time: SimTime, tmp_path: Path,  # noqa: F811
) -> None:
    old = small_sim.world.start_run("wp", "wj", run_name="old", duration=5, outcome="FAILED")
    small_sim.world.advance(10)
    small_sim.world.start_run("wp", "wj", run_name="new", duration=600)
    code, lines, err = _watch(nf_runs, small_sim, tmp_path, old["id"])
    assert code == 1, err
    assert len(lines) == 1 and lines[0].split()[:3] == ["FAILED", "old", "5s"]
    assert sim_time.sleeps == 0


def test_watch_errors_exit_2_with_one_line(
    nf_runs: Cli, small_sim: Simulator, sim_time: SimTime, tmp_path: Path,  # noqa: F811
) -> None:
    code, lines, err = _watch(nf_runs, small_sim, tmp_path)
    assert code == 2 and not lines and "--wait-for-start" in err  # no runs yet
    code, lines, err = _watch(nf_runs, small_sim, tmp_path, "no-such-run")
    assert code == 2 and not lines and "404" in err and len(err.splitlines()) == 1
    missing_job = nf_runs("watch", "wp", "nope", "--api-url", small_sim.url,
                          token=small_sim.token, home=tmp_path)
    assert missing_job.returncode == 2 and "404" in missing_job.stderr
    refused = nf_runs("watch", "wp", "wj", "--api-url", small_sim.url, token=SECRET,
                      home=tmp_path)
    assert refused.returncode == 2 and "401" in refused.stderr
    assert SECRET not in refused.stdout + refused.stderr
    both = nf_runs("watch", "wp", "wj", "r", "--wait-for-start", "--api-url", small_sim.url,
                   token=small_sim.token, home=tmp_path)
    assert both.returncode == 2 and "not both" in both.stderr
    bad_interval = nf_runs("watch", "wp", "wj", "--interval", "0", token=SECRET, home=tmp_path)
    assert bad_interval.returncode == 2 and "--interval" in bad_interval.stderr


def test_watch_gives_up_on_an_unreachable_api_after_retries(
    nf_runs: Cli, sim_time: SimTime, tmp_path: Path,  # noqa: F811
) -> None:
    result = nf_runs("watch", "wp", "wj", "--api-url", "http://127.0.0.1:9", token=SECRET,
                     home=tmp_path)
    assert result.returncode == 2 and not result.stdout
    *retries, line = result.stderr.splitlines()
    assert line == "nf-runs: Cannot connect to 127.0.0.1:9."
    assert retries and all("Trying again" in retry for retry in retries)
    # The client retried each check, the watch retried the checks, with pauses between.
    assert sim_time.sleeps >= cli_watch.MAX_FAILED_CHECKS * 2 and sim_time.now > 10


def test_watch_waits_out_server_errors(
    nf_runs: Cli, small_sim: Simulator, sim_time: SimTime, tmp_path: Path,  # noqa: F811
) -> None:
    small_sim.world.start_run("wp", "wj", run_name="flaky", duration=60)
    for _ in range(6):  # more than the client retries alone
        small_sim.faults.queue("503")
    code, lines, err = _watch(nf_runs, small_sim, tmp_path)
    assert code == 0, err
    assert [line.split()[:2] for line in lines] == [["RUNNING", "flaky"], ["SUCCESS", "flaky"]]
    assert "(503)" in err and "Trying again" in err


def test_watch_wait_for_start_follows_the_next_run(
    nf_runs: Cli, small_sim: Simulator, sim_time: SimTime, tmp_path: Path,  # noqa: F811
) -> None:
    small_sim.world.start_run("wp", "wj", run_name="before", duration=5, outcome="SUCCESS")
    small_sim.world.advance(10)
    sim_time.actions[3] = lambda: small_sim.world.start_run(
        "wp", "wj", run_name="next", duration=40, outcome="FAILED")
    code, lines, err = _watch(nf_runs, small_sim, tmp_path, "--wait-for-start")
    assert code == 1, err
    assert lines[0].startswith("Waiting for the next run of wj")
    assert [line.split()[:2] for line in lines[1:]] == [["RUNNING", "next"], ["FAILED", "next"]]
    assert "before" not in "".join(lines)


def test_watch_on_a_terminal_rewrites_one_line(
    nf_runs: Cli, small_sim: Simulator, sim_time: SimTime, tmp_path: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cli_watch, "is_terminal", lambda _stream: True)
    monkeypatch.setenv("COLUMNS", "60")
    small_sim.world.start_run("wp", "wj", run_name="live-" + "x" * 80, duration=30)
    result = nf_runs("watch", "wp", "wj", "--api-url", small_sim.url, token=small_sim.token,
                     home=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.count("\n") == 1 and out.endswith("\n") and "\x1b" not in out
    frames = out.rstrip("\n").split("\r")[1:]
    assert len(frames) > 5  # redrawn between checks too
    assert all(len(frame.rstrip()) <= 59 for frame in frames)  # never wraps
    assert frames[0].startswith("RUNNING") and frames[-1].startswith("SUCCESS")
    seconds = [int(frame.split()[-1].rstrip("s")) for frame in frames[:-1]]
    assert seconds == sorted(seconds) and seconds[0] < 5 and seconds[-1] >= 25
    assert frames[-1].split()[-1] == "30s"


def test_a_long_watch_stays_within_its_share(
    nf_runs: Cli, small_sim: Simulator, sim_time: SimTime, tmp_path: Path,  # noqa: F811
) -> None:
    """Three hours at --interval 1 and --budget 5: at most 50 requests in any hour."""
    small_sim.world.start_run("wp", "wj", run_name="long", duration=3 * 3600)
    code, _lines, err = _watch(nf_runs, small_sim, tmp_path, "--interval", "1",
                              "--budget", "5")
    assert code == 0, err
    times = sorted(at.timestamp() for _, _, at in small_sim.requests)
    share = 1000 * 5 // 100
    assert len(times) > 2 * share  # it kept checking all along
    for index, start in enumerate(times):
        in_hour = [t for t in times[index:] if t < start + 3600]
        assert len(in_hour) <= share


def test_watch_ctrl_c_exits_130_and_ends_the_line(
    small_sim: Simulator, tmp_path: Path,
) -> None:
    small_sim.world.add_project("wp", "Watch")
    small_sim.world.add_job("wp", "wj", "Watched job")
    small_sim.world.start_run("wp", "wj", run_name="forever", duration=math.inf)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NORTHFLANK", "NF_"))}
    env.update(NORTHFLANK_API_TOKEN=small_sim.token, HOME=str(tmp_path))
    with subprocess.Popen(
        [sys.executable, "-m", "tui", "watch", "wp", "wj", "--api-url", small_sim.url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        first = process.stdout.readline()  # it is watching
        process.send_signal(signal.SIGINT)
        rest = process.stdout.read()
        err = process.stderr.read()
        code = process.wait(timeout=60)
    assert first.split()[:2] == [b"RUNNING", b"forever"]
    assert code == 130 and rest == b"" and err == b"", err


# ----- the API URL --------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "words"), [
    ("127.0.0.1:8080", "has no scheme: write http://127.0.0.1:8080 (or https://127.0.0.1:8080)"),
    ("localhost:8080", "has no scheme: write http://localhost:8080"),
    ("http://127.0.0.1:8080/v1", "ends in /v1: write http://127.0.0.1:8080 (nf-runs adds"),
    ("https://api.example.com/v1/", "ends in /v1: write https://api.example.com ("),
    ("api.example.com/v1", "ends in /v1: write https://api.example.com ("),
    ("https://api.example.com/api", "has a path (/api): write https://api.example.com,"),
])
def test_an_api_url_mistake_says_what_to_write(
    nf_runs: Cli, tmp_path: Path, url: str, words: str  # noqa: F811
) -> None:
    for command in (("runs", "p", "j"), ("projects",), ("watch", "p", "j")):
        line = _one_line_error(nf_runs(*command, "--api-url", url, token=SECRET,
                                       home=tmp_path))
        assert line.startswith("nf-runs: The API URL in --api-url ") and words in line


def test_simulate_help_lists_only_its_own_options(nf_runs: Cli) -> None:  # noqa: F811
    result = nf_runs("simulate", "--help")
    assert result.returncode == 0
    assert "--port" in result.stdout and "--world" in result.stdout
    for option in ("--api-url", "--token-file", "--team", "--json", "--demo"):
        assert option not in result.stdout
