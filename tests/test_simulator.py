"""Tests of the simulated Northflank API, over real sockets, against API.md."""

from __future__ import annotations

import http.client
import json
import re
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tui.simulator import (
    DEFAULT_START,
    DEFAULT_TOKEN,
    FAULT_KINDS,
    Faults,
    Simulator,
    World,
    run_simulator,
)

AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
LOG_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
RUNS = "/v1/projects/payments/jobs/settle-ledger/runs"
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    """A frozen-clock simulator with the small seeded world."""
    with run_simulator(seed=7, speed=0.0, history=False) as server:
        yield server
        assert server.errors == []


@pytest.fixture
def api(simulator: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=simulator.url, headers=AUTH, timeout=10) as http_client:
        yield http_client


def get_json(api: httpx.Client, path: str, **params: Any) -> Any:
    response = api.get(path, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


def assert_error(response: httpx.Response, status: int) -> None:
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["status"] == status
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


def assert_pagination(body: dict[str, Any], key: str) -> None:
    assert set(body) == {"data", "pagination"}
    assert isinstance(body["data"][key], list)
    pagination = body["pagination"]
    assert isinstance(pagination["hasNextPage"], bool)
    assert type(pagination["count"]) is int
    assert pagination["count"] == len(body["data"][key])
    if pagination["hasNextPage"]:
        assert isinstance(pagination["cursor"], str) and pagination["cursor"]
    else:
        assert "cursor" not in pagination


def assert_run_shape(run: dict[str, Any], succeeded_flag: bool = True) -> None:
    for key in ("active", "backoffLimit", "completions", "failed", "succeeded"):
        assert type(run[key]) is int, key
    for key in ("active", "failed", "succeeded"):
        assert run[key] in (0, 1), key
    assert isinstance(run["concluded"], bool)
    assert isinstance(run["id"], str) and re.match(r"^[0-9a-f-]{36}$", run["id"])
    assert isinstance(run["runName"], str) and run["runName"]
    assert TIMESTAMP.match(run["startedAt"])
    status = run["status"]
    if status == "RUNNING":
        assert (run["active"], run["concluded"], run["completions"]) == (1, False, 0)
        assert (run["failed"], run["succeeded"]) == (0, 0)
        assert run.get("concludedAt") in ("", None)
    else:
        assert (run["active"], run["concluded"], run["completions"]) == (0, True, 1)
        assert TIMESTAMP.match(run["concludedAt"])
        assert run["concludedAt"] >= run["startedAt"]
        assert run["failed"] == (1 if status == "FAILED" else 0)
        expected = 1 if status == "SUCCESS" and succeeded_flag else 0
        assert run["succeeded"] == expected


# -- shapes ----------------------------------------------------------------------------------


def test_projects_shape(api: httpx.Client) -> None:
    body = get_json(api, "/v1/projects")
    assert_pagination(body, "projects")
    projects = body["data"]["projects"]
    ids = [project["id"] for project in projects]
    assert ids[:3] == ["payments", "data-platform", "sandbox"]
    for project in projects:
        assert isinstance(project["id"], str) and isinstance(project["name"], str)
        assert re.match(r"^[a-z0-9-]+$", project["id"])
        assert isinstance(project.get("description", ""), str)
    names = {project["name"] for project in projects}
    assert any("[link=http://x]y[/link]" in name for name in names)


def test_jobs_shape(api: httpx.Client, simulator: Simulator) -> None:
    seen_types = set()
    for project in simulator.world.projects:
        body = get_json(api, f"/v1/projects/{project['id']}/jobs", per_page=100)
        assert_pagination(body, "jobs")
        for job in body["data"]["jobs"]:
            assert re.match(r"^[a-z0-9-]+$", job["id"])
            assert job["projectId"] == project["id"]
            assert job["appId"] == f"/sim-user/{project['id']}/{job['id']}"
            assert isinstance(job["name"], str)
            assert isinstance(job["tags"], list) and all(isinstance(t, str) for t in job["tags"])
            assert isinstance(job.get("description", ""), str)
            assert job["jobType"] in ("manual", "cron")
            assert isinstance(job["disabledCI"], bool) and isinstance(job["disabledCD"], bool)
            if job["jobType"] == "cron":
                assert isinstance(job["suspended"], bool)
            else:
                assert "suspended" not in job
            seen_types.add(job["jobType"])
    assert seen_types == {"manual", "cron"}


def test_runs_shape_every_job(api: httpx.Client, simulator: Simulator) -> None:
    statuses: set[str] = set()
    for project in simulator.world.projects:
        for job in simulator.world.jobs(project["id"]):
            path = f"/v1/projects/{project['id']}/jobs/{job['id']}/runs"
            body = get_json(api, path, per_page=100)
            assert_pagination(body, "runs")
            for run in body["data"]["runs"]:
                assert_run_shape(run, succeeded_flag=job["id"] != "doc-quirks")
                statuses.add(run["status"])
    assert {"SUCCESS", "FAILED", "RUNNING", "ABORTED"} <= statuses


def test_running_runs_vary_concluded_at(api: httpx.Client, simulator: Simulator) -> None:
    for _ in range(3):
        simulator.world.start_run("payments", "refund-batch", duration=600)
    runs = get_json(api, "/v1/projects/payments/jobs/refund-batch/runs", per_page=3)
    forms = {repr(run.get("concludedAt", "absent")) for run in runs["data"]["runs"]}
    assert forms == {"''", "None", "'absent'"}


def test_single_run_and_not_found(api: httpx.Client) -> None:
    first = get_json(api, RUNS, per_page=1)["data"]["runs"][0]
    body = get_json(api, f"{RUNS}/{first['id']}")
    assert body == {"data": first}
    assert_error(api.get(f"{RUNS}/d34582a4-35bd-4c71-8e7c-e36999b88723"), 404)
    assert_error(api.get(f"{RUNS}/not-a-uuid"), 404)
    # A run id of another job is not found under this one.
    other = get_json(api, "/v1/projects/data-platform/jobs/ingest-events/runs", per_page=1)
    assert_error(api.get(f"{RUNS}/{other['data']['runs'][0]['id']}"), 404)
    assert_error(api.get("/v1/projects/nope/jobs"), 404)
    assert_error(api.get("/v1/projects/payments/jobs/nope/runs"), 404)
    assert_error(api.get("/v1/nothing-here"), 404)
    assert_error(api.get("/v2/projects"), 404)
    assert_error(api.put("/v1/projects"), 405)


def test_team_prefix_and_trailing_slash(api: httpx.Client) -> None:
    plain = get_json(api, RUNS, per_page=5)
    assert (
        get_json(api, "/v1/teams/my-team/projects/payments/jobs/settle-ledger/runs", per_page=5)
        == plain
    )
    assert get_json(api, RUNS + "/", per_page=5) == plain


def test_parses_with_client_models(api: httpx.Client) -> None:
    models = pytest.importorskip("tui.api.models")
    for project in models.Page.from_json(
        get_json(api, "/v1/projects"), "projects", models.Project.from_json
    ).items:
        jobs = get_json(api, f"/v1/projects/{project.id}/jobs")
        for job in models.Page.from_json(jobs, "jobs", models.Job.from_json).items:
            runs = get_json(api, f"/v1/projects/{project.id}/jobs/{job.id}/runs")
            page = models.Page.from_json(runs, "runs", models.JobRun.from_json)
            assert len(page.items) == page.count


def test_edge_case_names(simulator: Simulator) -> None:
    names = {job["name"] for job in simulator.world.jobs("sandbox")}
    assert "[bold]nightly[/] report" in names
    assert any("\x1b[31m" in name for name in names)
    run_names = [run["runName"] for run in simulator.world.runs("sandbox", "markup-runs")]
    assert any("[red]x[/]" in name for name in run_names)
    assert any(name.startswith("[/]") for name in run_names)


# -- auth and pagination ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": DEFAULT_TOKEN},
        {"Authorization": f"Basic {DEFAULT_TOKEN}"},
    ],
)
def test_auth_required(simulator: Simulator, headers: dict[str, str]) -> None:
    response = httpx.get(f"{simulator.url}/v1/projects", headers=headers)
    assert_error(response, 401)
    assert response.json()["error"]["message"] == "Unauthorized"
    assert response.headers["x-ratelimit-remaining"] == "1000"
    assert simulator.quota_remaining() == 1000


def test_token_is_configurable() -> None:
    with run_simulator(speed=0, history=False, token="other") as simulator:
        assert simulator.token == "other"
        assert httpx.get(f"{simulator.url}/v1/projects", headers=AUTH).status_code == 401
        ok = httpx.get(f"{simulator.url}/v1/projects", headers={"Authorization": "Bearer other"})
        assert ok.status_code == 200


@pytest.mark.parametrize("value", ["0", "101", "-1", "x", "", "1.5", "1e2", " 5"])
def test_per_page_out_of_bounds(api: httpx.Client, value: str) -> None:
    assert_error(api.get(RUNS, params={"per_page": value}), 400)
    assert_error(api.get("/v1/projects", params={"per_page": value}), 400)


@pytest.mark.parametrize("value", ["0", "-2", "two"])
def test_bad_page(api: httpx.Client, value: str) -> None:
    assert_error(api.get(RUNS, params={"page": value}), 400)


def test_per_page_default_and_bounds(api: httpx.Client, simulator: Simulator) -> None:
    simulator.world.add_runs("payments", "settle-ledger", 200)
    assert get_json(api, RUNS)["pagination"]["count"] == 50
    assert get_json(api, RUNS, per_page=1)["pagination"]["count"] == 1
    assert get_json(api, RUNS, per_page=100)["pagination"]["count"] == 100


def test_page_numbers(api: httpx.Client, simulator: Simulator) -> None:
    everything = simulator.world.runs("payments", "settle-ledger")
    assert len(everything) == 30
    page2 = get_json(api, RUNS, per_page=10, page=2)
    assert page2["data"]["runs"] == everything[10:20]
    assert page2["pagination"]["hasNextPage"] is True
    last = get_json(api, RUNS, per_page=10, page=3)
    assert last["data"]["runs"] == everything[20:30]
    assert last["pagination"]["hasNextPage"] is False
    beyond = get_json(api, RUNS, per_page=10, page=9)
    assert beyond["data"]["runs"] == []
    assert beyond["pagination"] == {"hasNextPage": False, "count": 0}
    # Page numbers shift as runs arrive at the head.
    simulator.world.start_run("payments", "settle-ledger")
    shifted = get_json(api, RUNS, per_page=10, page=2)
    assert shifted["data"]["runs"][0] == everything[9]


def test_cursor_walk_exactly_once_while_runs_arrive(
    api: httpx.Client, simulator: Simulator
) -> None:
    expected = [run["id"] for run in simulator.world.runs("payments", "settle-ledger")]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"per_page": 7}
        if cursor is not None:
            params["cursor"] = cursor
        body = get_json(api, RUNS, **params)
        assert_pagination(body, "runs")
        seen.extend(run["id"] for run in body["data"]["runs"])
        pages += 1
        # New runs (and a cron tick) arrive between pages.
        simulator.world.start_run("payments", "settle-ledger", duration=5)
        simulator.world.advance(60)
        if not body["pagination"]["hasNextPage"]:
            break
        cursor = body["pagination"]["cursor"]
    assert seen == expected
    assert len(set(seen)) == len(seen)
    assert pages == 5
    # The runs that arrived meanwhile are at the head now.
    assert get_json(api, RUNS, per_page=1)["data"]["runs"][0]["id"] not in expected


def test_cursor_for_projects_and_jobs(api: httpx.Client, simulator: Simulator) -> None:
    ids: list[str] = []
    body = get_json(api, "/v1/projects", per_page=2)
    while True:
        ids.extend(project["id"] for project in body["data"]["projects"])
        if not body["pagination"]["hasNextPage"]:
            break
        body = get_json(api, "/v1/projects", per_page=2, cursor=body["pagination"]["cursor"])
    assert ids == [project["id"] for project in simulator.world.projects]
    jobs = get_json(api, "/v1/projects/sandbox/jobs", per_page=2)
    rest = get_json(
        api, "/v1/projects/sandbox/jobs", per_page=50, cursor=jobs["pagination"]["cursor"]
    )
    all_ids = [job["id"] for job in jobs["data"]["jobs"] + rest["data"]["jobs"]]
    assert all_ids == [job["id"] for job in simulator.world.jobs("sandbox")]


def test_invalid_cursor(api: httpx.Client) -> None:
    assert_error(api.get(RUNS, params={"cursor": "not base64 !"}), 400)
    assert_error(api.get(RUNS, params={"cursor": "e30"}), 400)  # "{}"
    other = get_json(api, "/v1/projects/data-platform/jobs/ingest-events/runs", per_page=1)
    assert_error(api.get(RUNS, params={"cursor": other["pagination"]["cursor"]}), 400)
    projects = get_json(api, "/v1/projects", per_page=1)
    assert_error(api.get(RUNS, params={"cursor": projects["pagination"]["cursor"]}), 400)


# -- rate limit, headers ---------------------------------------------------------------------


def test_rate_limit_counts_down_then_429(api: httpx.Client, simulator: Simulator) -> None:
    simulator.set_rate_limit(5)
    remaining = []
    for _ in range(5):
        response = api.get("/v1/projects")
        assert response.status_code == 200
        assert response.headers["x-ratelimit-limit"] == "5"
        assert response.headers["x-ratelimit-reset"] == "3600"
        remaining.append(int(response.headers["x-ratelimit-remaining"]))
    assert remaining == [4, 3, 2, 1, 0]
    simulator.world.advance(600)
    for _ in range(3):  # 429s do not spend anything, so they keep coming
        limited = api.get("/v1/projects")
        assert_error(limited, 429)
        assert limited.json()["error"]["message"] == "Too many requests"
        assert limited.headers["Retry-After"] == "3000"
        assert limited.headers["x-ratelimit-remaining"] == "0"
        assert limited.headers["x-ratelimit-reset"] == "3000"
    assert simulator.quota_remaining() == 0
    # Errors (404, 400) are answered too and carry the headers.
    simulator.world.advance(3000)
    assert simulator.quota_remaining() == 5
    missing = api.get("/v1/projects/nope/jobs")
    assert_error(missing, 404)
    assert missing.headers["x-ratelimit-remaining"] == "4"
    assert missing.headers["x-ratelimit-reset"] == "3600"


def test_date_header_follows_simulated_clock(api: httpx.Client, simulator: Simulator) -> None:
    response = api.get("/v1/projects")
    assert parsedate_to_datetime(response.headers["Date"]) == DEFAULT_START
    assert response.headers["Date"] == "Sun, 29 Nov 2026 12:00:00 GMT"
    simulator.world.advance(90)
    simulator.faults.clock_offset = -30
    later = api.get("/v1/projects")
    assert parsedate_to_datetime(later.headers["Date"]) == DEFAULT_START + timedelta(minutes=1)


def test_keep_alive_and_content_length(simulator: Simulator) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", simulator.port, timeout=5)
    try:
        for path in ("/v1/projects", RUNS + "?per_page=3", "/v1/projects/nope/jobs"):
            connection.request("GET", path, headers=AUTH)
            response = connection.getresponse()
            body = response.read()
            assert int(response.headers["Content-Length"]) == len(body)
            assert response.headers["Connection"] == "keep-alive"
            json.loads(body)
        connection.request("GET", "/v1/projects", headers={**AUTH, "Connection": "close"})
        response = connection.getresponse()
        response.read()
        assert response.headers["Connection"] == "close"
    finally:
        connection.close()


def test_requests_are_recorded(api: httpx.Client, simulator: Simulator) -> None:
    simulator.reset_requests()
    api.get(RUNS, params={"per_page": 3})
    httpx.get(f"{simulator.url}/v1/projects")  # 401: still received
    assert simulator.request_count == 2
    method, path, at = simulator.requests[0]
    assert (method, path, at) == ("GET", RUNS + "?per_page=3", DEFAULT_START)
    simulator.reset_requests()
    assert simulator.requests == []


def test_concurrent_clients(simulator: Simulator) -> None:
    failures: list[str] = []

    def worker() -> None:
        with httpx.Client(base_url=simulator.url, headers=AUTH, timeout=10) as own:
            for _ in range(20):
                response = own.get(RUNS, params={"per_page": 20})
                if response.status_code != 200:
                    failures.append(response.text)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert simulator.quota_remaining() == 1000 - 160
    assert simulator.request_count == 160


# -- the live world --------------------------------------------------------------------------


def test_advance_concludes_running_runs_and_starts_cron_runs(
    api: httpx.Client, simulator: Simulator
) -> None:
    head = get_json(api, RUNS, per_page=1)["data"]["runs"][0]
    assert head["status"] == "RUNNING"
    assert head["startedAt"] == "2026-11-29T12:00:00Z"
    simulator.world.advance(61)
    runs = get_json(api, RUNS, per_page=2)["data"]["runs"]
    assert runs[0]["status"] == "RUNNING" and runs[0]["startedAt"] == "2026-11-29T12:01:00Z"
    assert runs[1]["id"] == head["id"]
    assert runs[1]["status"] in ("SUCCESS", "FAILED")
    assert_run_shape(runs[1])
    count = simulator.world.run_count("payments", "settle-ledger")
    simulator.world.advance(86400)
    assert simulator.world.run_count("payments", "settle-ledger") == count + 1440
    # Every backfill was planned to end within the hour.
    backfills = simulator.world.runs("data-platform", "backfill-partitions")
    assert all(run["status"] != "RUNNING" for run in backfills)
    # The suspended cron job never starts a run.
    assert simulator.world.run_count("data-platform", "vacuum-warehouse") == 14


def test_seeded_running_runs(simulator: Simulator) -> None:
    def running(project: str, job: str) -> int:
        return sum(run["status"] == "RUNNING" for run in simulator.world.runs(project, job))

    assert running("data-platform", "backfill-partitions") == 5
    assert running("data-platform", "model-training") == 1
    assert running("payments", "settle-ledger") == 1
    assert simulator.world.runs("data-platform", "export-reports") == []
    statuses = {run["status"] for run in simulator.world.runs("payments", "reconcile-legacy")}
    assert statuses == {"FAILED"}


def test_full_history_sizes() -> None:
    world = World(seed=7, speed=0)
    assert world.run_count("payments", "settle-ledger") == 3000
    assert world.run_count("data-platform", "ingest-events") == 2500
    runs = world.runs("payments", "settle-ledger")
    starts = [run["startedAt"] for run in runs]
    assert starts == sorted(starts, reverse=True)
    failed = sum(run["status"] == "FAILED" for run in runs)
    assert 0.01 * len(runs) < failed < 0.08 * len(runs)


def test_clock(simulator: Simulator) -> None:
    world = World(seed=1, speed=0, history=False)
    assert world.now() == DEFAULT_START
    world.advance(10)
    assert world.now() == DEFAULT_START + timedelta(seconds=10)
    world.set_speed(1000)
    time.sleep(0.05)
    assert world.now() >= DEFAULT_START + timedelta(seconds=50)
    world.set_speed(0)
    frozen = world.now()
    time.sleep(0.01)
    assert world.now() == frozen
    with pytest.raises(ValueError):
        world.advance(-1)


def test_start_run_over_http(api: httpx.Client, simulator: Simulator) -> None:
    path = "/v1/projects/payments/jobs/refund-batch/runs"
    response = api.post(path, json={})
    assert response.status_code == 200
    data = response.json()["data"]
    assert set(data) == {"id", "runName"}
    head = get_json(api, path, per_page=1)["data"]["runs"][0]
    assert head["id"] == data["id"] and head["status"] == "RUNNING"
    assert api.post(path).status_code == 200  # no body at all is fine too
    assert_error(api.post(path, content=b"not json"), 400)
    assert_error(api.post(path, json=[1, 2]), 400)
    assert_error(api.post("/v1/projects/payments/jobs/nope/runs", json={}), 404)


def test_abort_over_http(api: httpx.Client, simulator: Simulator) -> None:
    run = simulator.world.start_run("payments", "refund-batch", run_name="[red]x[/] manual")
    path = f"/v1/projects/payments/jobs/refund-batch/runs/{run['id']}"
    assert run["status"] == "RUNNING" and run["runName"] == "[red]x[/] manual"
    response = api.delete(path)
    assert response.status_code == 200 and response.json() == {"data": {}}
    aborted = get_json(api, path)["data"]
    assert aborted["status"] == "FAILED"
    assert_run_shape(aborted)
    assert simulator.world.abort_run("payments", "refund-batch", run["id"]) is False
    assert api.delete(path).status_code == 200
    logs = get_json(
        api, "/v1/projects/payments/jobs/refund-batch/logs", queryType="range", runId=run["id"]
    )
    assert any("aborted" in line["log"] for line in logs["data"])
    assert_error(api.delete(f"{RUNS}/d34582a4-35bd-4c71-8e7c-e36999b88723"), 404)


def test_runs_forever_until_aborted(simulator: Simulator) -> None:
    run = simulator.world.start_run("payments", "refund-batch", duration=float("inf"))
    simulator.world.advance(86400 * 30)
    assert simulator.world.run("payments", "refund-batch", run["id"])["status"] == "RUNNING"
    assert simulator.world.abort_run("payments", "refund-batch", run["id"]) is True
    assert simulator.world.run("payments", "refund-batch", run["id"])["status"] == "FAILED"


def test_logs(api: httpx.Client, simulator: Simulator) -> None:
    path = "/v1/projects/payments/jobs/settle-ledger/logs"
    runs = simulator.world.runs("payments", "settle-ledger")
    done = next(run for run in runs if run["status"] == "SUCCESS")
    body = get_json(api, path, queryType="range", runId=done["id"], lineLimit=100)
    assert set(body) == {"data"}
    lines = body["data"]
    assert len(lines) >= 4
    for line in lines:
        assert set(line) == {"containerId", "log", "ts"}
        assert all(isinstance(value, str) for value in line.values())
        assert LOG_TIMESTAMP.match(line["ts"])
    assert lines[-1]["log"] == "[INFO] done"
    assert [line["ts"] for line in lines] == sorted(line["ts"] for line in lines)
    assert get_json(api, path, queryType="range", runId=done["id"]) == body
    limited = get_json(api, path, queryType="range", runId=done["id"], lineLimit=2)
    assert limited["data"] == lines[:2]
    tail = get_json(api, path, queryType="tail", runId=done["id"], lineLimit=2)
    assert tail["data"] == lines[-2:]
    backward = get_json(api, path, runId=done["id"], direction="backward")
    assert backward["data"] == lines[::-1]
    # A running run only has the lines written so far.
    simulator.world.advance(5)
    running = get_json(api, path, queryType="range", runId=runs[0]["id"])["data"]
    assert 0 < len(running) < len(lines)
    assert_error(api.get(path, params={"queryType": "nope"}), 400)
    assert_error(api.get(path, params={"lineLimit": "0"}), 400)
    assert_error(api.get(path, params={"startTime": "yesterday"}), 400)
    assert_error(api.get(path, params={"runId": "d34582a4-35bd-4c71-8e7c-e36999b88723"}), 404)


# -- faults ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["500", "502", "503", "403"])
def test_queued_error_faults(api: httpx.Client, simulator: Simulator, kind: str) -> None:
    simulator.faults.queue(kind, count=2)
    for _ in range(2):
        response = api.get("/v1/projects")
        assert_error(response, int(kind))
        assert "x-ratelimit-remaining" in response.headers
        assert "Date" in response.headers
    assert api.get("/v1/projects").status_code == 200
    assert simulator.faults.pending == 0


def test_queued_429_carries_retry_after(api: httpx.Client, simulator: Simulator) -> None:
    simulator.faults.queue("429", retry_after=2)
    response = api.get(RUNS)
    assert_error(response, 429)
    assert response.headers["Retry-After"] == "2"
    simulator.faults.queue("429")
    assert "Retry-After" not in api.get(RUNS).headers
    assert api.get(RUNS).status_code == 200


def test_drop_fault(api: httpx.Client, simulator: Simulator) -> None:
    simulator.faults.queue("drop")
    with pytest.raises(httpx.TransportError):
        api.get("/v1/projects")
    assert api.get("/v1/projects").status_code == 200
    assert simulator.request_count == 2  # the dropped one was received


@pytest.mark.parametrize("kind", ["malformed", "truncated", "html", "empty", "wrong_shape"])
def test_broken_bodies(api: httpx.Client, simulator: Simulator, kind: str) -> None:
    simulator.faults.queue(kind)
    response = api.get(RUNS)
    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) == len(response.content)
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    if kind == "wrong_shape":
        assert isinstance(body, dict) and not isinstance(body.get("data"), dict)
    else:
        assert body is None
    if kind == "html":
        assert response.headers["content-type"] == "text/html"
    assert api.get(RUNS).status_code == 200  # the connection is still fine


def test_slow_fault_and_latency(api: httpx.Client, simulator: Simulator) -> None:
    simulator.faults.slow_delay = 0.3
    simulator.faults.queue("slow")
    began = time.monotonic()
    assert api.get("/v1/projects").status_code == 200
    assert time.monotonic() - began >= 0.3
    simulator.faults.latency = 0.2
    began = time.monotonic()
    assert api.get("/v1/projects").status_code == 200
    assert time.monotonic() - began >= 0.2
    with pytest.raises(httpx.ReadTimeout):
        api.get("/v1/projects", timeout=0.05)


def test_fault_rates(api: httpx.Client, simulator: Simulator) -> None:
    simulator.faults.error_rate = 1.0
    codes = {api.get("/v1/projects").status_code for _ in range(20)}
    assert codes <= {500, 502, 503} and len(codes) >= 2
    simulator.faults.error_rate = 0.0
    simulator.faults.malformed_rate = 1.0
    for _ in range(5):
        response = api.get(RUNS)
        assert response.status_code == 200
        with pytest.raises((ValueError, TypeError, KeyError)):
            json.loads(response.content)["data"]["runs"]
    simulator.faults.malformed_rate = 0.0
    simulator.faults.drop_rate = 1.0
    with pytest.raises(httpx.TransportError):
        api.get("/v1/projects")
    simulator.faults.clear()
    assert api.get("/v1/projects").status_code == 200
    with pytest.raises(ValueError):
        simulator.faults.error_rate = 2.0


def test_fault_rates_are_seeded() -> None:
    def pattern() -> list[str | None]:
        faults = Faults(seed=3)
        faults.error_rate = 0.3
        faults.drop_rate = 0.2
        return [None if (f := faults.next_fault()) is None else f.kind for _ in range(50)]

    first = pattern()
    assert first == pattern()
    assert None in first and "drop" in first


def test_offline(api: httpx.Client, simulator: Simulator) -> None:
    simulator.faults.offline = True
    with pytest.raises(httpx.TransportError):
        api.get("/v1/projects")
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{simulator.url}/v1/projects", headers=AUTH)
    simulator.faults.offline = False
    assert api.get("/v1/projects").status_code == 200


def test_every_fault_kind_is_served(api: httpx.Client, simulator: Simulator) -> None:
    simulator.faults.slow_delay = 0.0
    for kind in sorted(FAULT_KINDS):
        simulator.faults.queue(kind)
        try:
            api.get("/v1/projects")
        except httpx.TransportError:
            assert kind == "drop"
    assert simulator.faults.pending == 0
    with pytest.raises(ValueError):
        simulator.faults.queue("teapot")


def test_stop_and_start_on_the_same_port(api: httpx.Client, simulator: Simulator) -> None:
    port = simulator.port
    assert api.get("/v1/projects").status_code == 200  # a kept-alive connection
    simulator.stop()
    assert not simulator.running
    with pytest.raises(httpx.TransportError):
        api.get("/v1/projects")
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{simulator.url}/v1/projects", headers=AUTH)
    simulator.start()
    assert simulator.port == port
    assert api.get("/v1/projects").status_code == 200
    simulator.stop()
    simulator.stop()  # twice is harmless
    simulator.start()
    assert api.get("/v1/projects").status_code == 200


# -- determinism and scale -------------------------------------------------------------------


def test_same_seed_same_world() -> None:
    with run_simulator(seed=11, speed=0) as one, run_simulator(seed=11, speed=0) as two:
        first = httpx.get(f"{one.url}{RUNS}", headers=AUTH).json()
        second = httpx.get(f"{two.url}{RUNS}", headers=AUTH).json()
        assert first == second
    other = World(seed=12, speed=0).runs("payments", "settle-ledger", limit=50)
    assert [run["id"] for run in other] != [run["id"] for run in first["data"]["runs"]]
    start = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    shifted = World(seed=11, speed=0, start=start).runs("payments", "settle-ledger", limit=1)
    assert shifted[0]["startedAt"] == "2025-01-02T03:04:00Z"


def test_add_runs_100k(simulator: Simulator, api: httpx.Client) -> None:
    newest = simulator.world.runs("payments", "refund-batch")
    tracemalloc.start()
    simulator.world.add_runs("payments", "refund-batch", 100_000)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # How fast is the benchmark's business (`python -m tui.bench` builds a 100k world);
    # what it holds is the same on any machine.
    assert peak < 60_000_000
    assert simulator.world.run_count("payments", "refund-batch") == 100_000 + len(newest)
    path = "/v1/projects/payments/jobs/refund-batch/runs"
    assert get_json(api, path, per_page=len(newest))["data"]["runs"] == newest
    deep = get_json(api, path, per_page=100, page=1000)["data"]["runs"]
    assert len(deep) == 100
    assert all(run["status"] == "SUCCESS" for run in deep)
    tail = get_json(api, path, per_page=100, page=1001)
    assert tail["pagination"]["count"] == len(newest)
    assert tail["pagination"]["hasNextPage"] is False
    # A run deep in the history can be fetched by id.
    assert get_json(api, f"{path}/{deep[50]['id']}")["data"] == deep[50]
    simulator.world.add_runs("payments", "refund-batch", 10, status="FAILED")
    oldest = simulator.world.runs("payments", "refund-batch")[-10:]
    assert {run["status"] for run in oldest} == {"FAILED"}
    assert oldest[0]["startedAt"] < deep[-1]["startedAt"]


def test_add_project_and_job_for_tests(api: httpx.Client, simulator: Simulator) -> None:
    simulator.world.add_project("tests", "Tests [b]x[/b]")
    simulator.world.add_job("tests", "ticker", "\x1b[31mticker", "cron", 30, (5, 10), history=3)
    assert simulator.world.run_count("tests", "ticker") == 3
    simulator.world.advance(60)
    assert simulator.world.run_count("tests", "ticker") == 5
    jobs = get_json(api, "/v1/projects/tests/jobs")["data"]["jobs"]
    assert jobs[0]["name"] == "\x1b[31mticker"
    assert jobs[0]["suspended"] is False


# -- the CLI entry point ---------------------------------------------------------------------


def test_serve_forever_cli_exits_cleanly_on_ctrl_c() -> None:
    code = (
        # Ctrl-C as at a terminal, even when this test runs in a background job (which
        # starts with SIGINT ignored, and Python then never raises KeyboardInterrupt).
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from tui.simulator.server import serve_forever_cli; "
        "sys.exit(serve_forever_cli(port=0, seed=3, speed=1.0, token='tok', rate_limit=10))"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        match = re.match(r"^nf-runs simulator on (http://127\.0\.0\.1:\d+)$", first.strip())
        assert match, first
        assert process.stdout.readline().strip() == "token: tok"
        url = match.group(1)
        response = httpx.get(f"{url}/v1/projects", headers={"Authorization": "Bearer tok"})
        assert response.status_code == 200
        assert response.headers["x-ratelimit-limit"] == "10"
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert "Traceback" not in stderr
    assert "stopped" in stdout
