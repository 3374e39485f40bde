"""The API client against the simulator over real loopback HTTP."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui.api.client import NorthflankClient, check_base_url, walk_pages
from tui.api.errors import (
    BadResponseError,
    ConfigError,
    ForbiddenError,
    NetworkError,
    NorthflankError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    UnauthorizedError,
)
from tui.api.models import JobRun, Page, RunStatus, parse_timestamp
from tui.api.ratelimit import RateLimitBudget
from tui.simulator import Simulator, run_simulator

from .conftest import make_client

PROJECT = "walk-project"
JOB = "walk-job"


def _add_walk_job(sim: Simulator, runs: int) -> None:
    sim.world.add_project(PROJECT, "Walk project")
    sim.world.add_job(PROJECT, JOB, "walk job", job_type="manual")
    sim.world.add_runs(PROJECT, JOB, runs)


class SleepRecorder:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


# ----- models --------------------------------------------------------------------------------


def test_timestamps_with_and_without_fraction_and_offsets() -> None:
    utc = timezone.utc
    assert parse_timestamp("2020-12-08T11:47:08Z") == datetime(2020, 12, 8, 11, 47, 8, tzinfo=utc)
    assert parse_timestamp("2020-12-08T11:47:08.123456789Z").microsecond == 123456
    assert parse_timestamp("2020-12-08T13:47:08+02:00") == datetime(
        2020, 12, 8, 11, 47, 8, tzinfo=utc
    )
    assert parse_timestamp("2020-12-08T11:47:08.5-0130").hour == 13
    assert parse_timestamp("2020-12-08T11:47:08").tzinfo == utc


def _run_json(**changes: object) -> dict[str, object]:
    run: dict[str, object] = {
        "id": "d34582a4-35bd-4c71-8e7c-e36999b88723", "active": 0, "backoffLimit": 0,
        "completions": 1, "concluded": True, "failed": 0,
        "runName": "example-job-5fcf67bc56e1913e21d49504", "status": "SUCCESS",
        "succeeded": 0, "startedAt": "2020-12-08T11:47:08Z",
        "concludedAt": "2020-12-08T11:52:08Z",
    }
    run.update(changes)
    return run


def test_run_from_the_doc_example() -> None:
    run = JobRun.from_json(_run_json(extra={"unknown": True}))
    assert run.status is RunStatus.SUCCESS
    assert run.duration(datetime.now(timezone.utc)) == timedelta(minutes=5)
    assert not run.is_active


@pytest.mark.parametrize("concluded_at", ["", None, "missing"])
def test_running_run_without_conclusion(concluded_at: object) -> None:
    data = _run_json(status="RUNNING", active=1, concluded=False, completions=0)
    if concluded_at == "missing":
        del data["concludedAt"]
    else:
        data["concludedAt"] = concluded_at
    run = JobRun.from_json(data)
    assert run.concluded_at is None and run.is_active
    started = run.started_at
    assert started is not None
    assert run.duration(started + timedelta(seconds=90)) == timedelta(seconds=90)
    # A clock behind the server never gives a negative duration.
    assert run.duration(started - timedelta(seconds=5)) == timedelta(0)


def test_unknown_status_is_unknown_not_an_error() -> None:
    run = JobRun.from_json(_run_json(status="ABORTED"))
    assert run.status is RunStatus.UNKNOWN and run.raw_status == "ABORTED"


@pytest.mark.parametrize(
    "changes",
    [{"id": 5}, {"runName": None}, {"status": ["x"]}, {"startedAt": "yesterday"},
     {"completions": "one"}, {"concluded": "no"}],
)
def test_wrong_field_types_are_bad_responses(changes: dict[str, object]) -> None:
    with pytest.raises(BadResponseError):
        JobRun.from_json(_run_json(**changes))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)
run_like = st.fixed_dictionaries(
    {},
    optional={
        key: json_values | st.text() | st.integers(0, 1)
        for key in ("id", "runName", "status", "active", "concluded", "failed", "succeeded",
                    "completions", "backoffLimit", "startedAt", "concludedAt")
    },
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(json_values, run_like))
def test_any_json_gives_a_run_or_a_bad_response(data: object) -> None:
    with contextlib.suppress(BadResponseError):
        JobRun.from_json(data)


@settings(max_examples=200)
@given(json_values)
def test_any_json_page_gives_a_page_or_a_bad_response(data: object) -> None:
    with contextlib.suppress(BadResponseError):
        Page.from_json({"data": {"runs": data}, "pagination": data}, "runs", JobRun.from_json)


# ----- listing and pagination ----------------------------------------------------------------


async def test_projects_and_jobs_from_the_simulator(client: NorthflankClient) -> None:
    projects = await client.list_projects()
    assert projects.items and all(p.id and p.name for p in projects.items)
    jobs = await client.list_jobs(projects.items[0].id)
    assert jobs.items
    assert {job.job_type for job in jobs.items} <= {"cron", "manual"}
    assert all(job.project_id == projects.items[0].id for job in jobs.items)


async def test_walking_2500_runs_while_new_runs_arrive(sim: Simulator) -> None:
    _add_walk_job(sim, 2500)
    expected = [run["id"] for run in sim.world.runs(PROJECT, JOB)]
    assert len(expected) == 2500
    seen: list[str] = []
    started: list[str] = []
    async with make_client(sim) as client:
        async def fetch(cursor: str | None) -> Page[JobRun]:
            page = await client.get_job_runs(PROJECT, JOB, per_page=100, cursor=cursor)
            # A new run arrives at the head after every page.
            started.append(sim.world.start_run(PROJECT, JOB)["id"])
            return page

        previous: datetime | None = None
        async for run in walk_pages(fetch):
            seen.append(run.id)
            assert run.started_at is not None
            assert previous is None or run.started_at <= previous
            previous = run.started_at
    assert seen == expected
    assert len(set(seen)) == 2500
    assert not set(started) & set(seen)


async def test_page_numbers_and_per_page_bounds(sim: Simulator) -> None:
    _add_walk_job(sim, 120)
    async with make_client(sim) as client:
        first = await client.get_job_runs(PROJECT, JOB, per_page=50)
        second = await client.get_job_runs(PROJECT, JOB, per_page=50, page=2)
        assert first.count == 50 and first.has_next_page and first.cursor
        assert not {r.id for r in first.items} & {r.id for r in second.items}
        last = await client.get_job_runs(PROJECT, JOB, per_page=50, page=3)
        assert last.count == 20 and not last.has_next_page and last.cursor is None
        with pytest.raises(ValueError):
            await client.get_job_runs(PROJECT, JOB, per_page=101)


async def test_get_one_run_start_and_abort(sim: Simulator) -> None:
    _add_walk_job(sim, 3)
    async with make_client(sim) as client:
        run_id, run_name = await client.start_job_run(PROJECT, JOB)
        run = await client.get_job_run(PROJECT, JOB, run_id)
        assert run.run_name == run_name and run.status is RunStatus.RUNNING and run.is_active
        await client.abort_job_run(PROJECT, JOB, run_id)
        aborted = await client.get_job_run(PROJECT, JOB, run_id)
        assert aborted.status is RunStatus.FAILED and not aborted.is_active
        logs = await client.get_run_logs(PROJECT, JOB, run_id)
        assert logs and all(isinstance(line.log, str) for line in logs)


async def test_team_scoped_paths(sim: Simulator) -> None:
    async with make_client(sim, team="my-team") as client:
        projects = await client.list_projects()
        assert projects.items
    assert any(path.startswith("/v1/teams/my-team/projects") for _, path, _ in sim.requests)


# ----- errors --------------------------------------------------------------------------------


async def test_401_with_a_wrong_token(sim: Simulator) -> None:
    secret = "nf-wrong-token-abcdefghijklmnopqrstuvwxyz"
    async with NorthflankClient(secret, sim.url) as client:
        with pytest.raises(UnauthorizedError) as caught:
            await client.list_projects()
    assert "401" in str(caught.value)
    assert secret not in str(caught.value) and secret not in repr(caught.value)


async def test_404_for_a_missing_job(client: NorthflankClient) -> None:
    with pytest.raises(NotFoundError) as caught:
        await client.get_job_runs("no-such-project", "no-such-job")
    assert "404" in str(caught.value)


@pytest.mark.parametrize(
    ("fault", "error_type"),
    [("500", ServerError), ("503", ServerError), ("drop", NetworkError),
     ("malformed", BadResponseError), ("html", BadResponseError),
     ("empty", BadResponseError), ("429", RateLimitedError)],
)
async def test_each_fault_surfaces_as_its_error(
    sim: Simulator, fault: str, error_type: type[NorthflankError]
) -> None:
    sim.faults.queue(fault, count=10, retry_after=1)
    async with make_client(sim, max_retries=2) as client:
        with pytest.raises(error_type) as caught:
            await client.list_projects()
    assert sim.token not in str(caught.value) and sim.token not in repr(caught.value)
    assert "\n" not in str(caught.value)


async def test_network_errors_refused_and_timeout(sim: Simulator) -> None:
    port = sim.port
    sim.stop()
    async with NorthflankClient("tok", f"http://127.0.0.1:{port}", max_retries=1,
                                sleep=SleepRecorder()) as client:
        with pytest.raises(NetworkError, match="Cannot connect"):
            await client.list_projects()
    sim.start()
    sim.faults.latency = 1.0
    async with NorthflankClient(sim.token, sim.url, max_retries=0,
                                timeout=httpx.Timeout(0.2)) as client:
        with pytest.raises(NetworkError, match="in time"):
            await client.list_projects()


async def test_403_and_dns_errors_via_a_mock_transport() -> None:
    # The simulator's token has every permission and it has no DNS: mock just these two.
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/runs/r1"):
            raise httpx.ConnectError("[Errno -2] Name or service not known", request=request)
        return httpx.Response(403, json={"error": {"status": 403, "message": "Forbidden"}})

    secret = "nf-secret-token-0123456789abcdefghij"
    async with NorthflankClient(secret, "https://api.example.test", max_retries=0,
                                transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(ForbiddenError) as forbidden:
            await client.abort_job_run("p", "j", "r0")
        with pytest.raises(NetworkError) as network:
            await client.get_job_run("p", "j", "r1")
    for error in (forbidden.value, network.value):
        assert secret not in str(error) and secret not in repr(error)
        assert error.__cause__ is None or secret not in str(error.__cause__)


async def test_token_never_sent_over_plain_http_to_a_remote_host() -> None:
    with pytest.raises(ConfigError):
        NorthflankClient("tok", "http://api.northflank.com")
    assert check_base_url("http://127.0.0.1:8080/") == "http://127.0.0.1:8080"
    assert check_base_url("http://localhost:1") == "http://localhost:1"
    assert check_base_url("https://api.northflank.com") == "https://api.northflank.com"


async def test_user_agent_and_auth_header(sim: Simulator) -> None:
    seen: dict[str, str] = {}

    async def hook(request: httpx.Request) -> None:
        seen.update(request.headers)

    async with make_client(sim) as client:
        client._http.event_hooks["request"].append(hook)
        await client.list_projects()
    assert seen["user-agent"].startswith("nf-runs/")
    assert seen["authorization"] == f"Bearer {sim.token}"
    assert sim.token not in repr(client)


# ----- retries -------------------------------------------------------------------------------


async def test_retries_honour_retry_after(sim: Simulator) -> None:
    sim.faults.queue("429", count=2, retry_after=3)
    sleeps = SleepRecorder()
    async with make_client(sim, sleep=sleeps) as client:
        page = await client.list_projects()
    assert page.items
    assert len(sleeps.calls) == 2 and all(3 <= delay < 3.5 for delay in sleeps.calls)


async def test_retries_really_wait_for_retry_after(sim: Simulator) -> None:
    sim.faults.queue("429", count=1, retry_after=1)
    import asyncio

    async with make_client(sim, sleep=asyncio.sleep) as client:
        began = time.monotonic()
        await client.list_projects()
        assert time.monotonic() - began >= 1.0


async def test_5xx_and_drops_are_retried_with_jittered_backoff(sim: Simulator) -> None:
    sim.faults.queue("503", count=1)
    sim.faults.queue("drop", count=1)
    sleeps = SleepRecorder()
    async with make_client(sim, sleep=sleeps, backoff_base=0.5) as client:
        assert (await client.list_projects()).items
    assert len(sleeps.calls) == 2
    assert 0 <= sleeps.calls[0] <= 0.5 and 0 <= sleeps.calls[1] <= 1.0


async def test_retries_are_bounded(sim: Simulator) -> None:
    sim.faults.queue("500", count=50)
    sleeps = SleepRecorder()
    async with make_client(sim, sleep=sleeps, max_retries=3) as client:
        with pytest.raises(ServerError):
            await client.list_projects()
        assert client.request_count == 4
    assert len(sleeps.calls) == 3


async def test_post_and_delete_are_never_retried(sim: Simulator) -> None:
    _add_walk_job(sim, 1)
    sim.faults.queue("503", count=1)
    async with make_client(sim) as client:
        with pytest.raises(ServerError):
            await client.start_job_run(PROJECT, JOB)
        assert client.request_count == 1
        run_id, _ = await client.start_job_run(PROJECT, JOB)
        sim.faults.queue("drop", count=1)
        with pytest.raises(NetworkError):
            await client.abort_job_run(PROJECT, JOB, run_id)
        assert client.request_count == 3


async def test_a_long_retry_after_surfaces_instead_of_hanging(sim: Simulator) -> None:
    sim.faults.queue("429", count=1, retry_after=600)
    sleeps = SleepRecorder()
    async with make_client(sim, sleep=sleeps) as client:
        with pytest.raises(RateLimitedError) as caught:
            await client.list_projects()
    assert caught.value.retry_after == 600 and not sleeps.calls


# ----- budget and skew -----------------------------------------------------------------------


async def test_budget_follows_the_rate_limit_headers(sim: Simulator) -> None:
    sim.set_rate_limit(40)
    budget = RateLimitBudget(share=0.5)
    assert budget.snapshot().limit == 1000 and not budget.snapshot().observed
    async with make_client(sim, budget=budget) as client:
        for _ in range(6):
            await client.list_projects()
        snap = budget.snapshot()
        assert snap.observed and snap.limit == 40 and snap.remaining == 34
        assert 0 < snap.reset_in <= 3600
        assert budget.available() == 20 - 6
        # Others spend the same quota: the budget never exceeds what remains.
        with httpx.Client() as other:
            for _ in range(30):
                other.get(f"{sim.url}/v1/projects",
                          headers={"Authorization": f"Bearer {sim.token}"})
        await client.list_projects()
        assert budget.snapshot().remaining == 3
        assert budget.available() == 3
        await client.list_projects()
        await client.list_projects()
        await client.list_projects()
        assert budget.available() == 0
        with pytest.raises(RateLimitedError) as caught:
            await client.list_projects()
        assert caught.value.retry_after is not None and caught.value.retry_after > 30
    assert budget.available() == 0
    assert budget.interval_for(1, 5.0) >= caught.value.retry_after - 5


def test_budget_stretches_the_interval_to_fit() -> None:
    clock = [0.0]
    budget = RateLimitBudget(share=0.5, clock=lambda: clock[0])
    budget.observe({"x-ratelimit-limit": "1000", "x-ratelimit-remaining": "1000",
                    "x-ratelimit-reset": "3600"})
    # 500 requests over 3600 s: one request a poll fits every 7.2 s, not every 5 s.
    assert budget.interval_for(1, 5.0) == pytest.approx(7.2)
    assert budget.interval_for(1, 30.0) == 30.0
    assert budget.interval_for(2, 5.0) == pytest.approx(14.4)
    for _ in range(500):
        budget.note_request()
    assert budget.available() == 0
    assert budget.interval_for(1, 5.0) == pytest.approx(3600)
    clock[0] = 3601.0  # the window rolled over
    assert budget.available() == 500


async def test_clock_skew_from_the_date_header() -> None:
    # The simulated clock starts at this machine's time: a server more than a day off (the
    # frozen START of the `sim` fixture, days ago) is a wrong clock, ignored (issue 8 class 5).
    with run_simulator(seed=7, speed=1.0, history=False,
                       start=datetime.now(timezone.utc)) as sim:
        sim.faults.clock_offset = 120.0
        async with make_client(sim) as client:
            await client.list_projects()
            server_now = client.server_now()
        expected = sim.world.now() + timedelta(seconds=120)
    assert abs((server_now - expected).total_seconds()) < 2.5


async def test_concurrent_requests_share_one_connection_pool(sim: Simulator) -> None:
    import asyncio

    async with make_client(sim) as client:
        pages = await asyncio.gather(*(client.list_projects() for _ in range(10)))
    assert all(page.items for page in pages)
    assert threading.active_count() < 50


def test_error_messages_are_one_line_json_bodies() -> None:
    body = json.dumps({"error": {"status": 404, "message": "job not found"}})
    from tui.api.client import error_for_status

    error = error_for_status(404, json.loads(body), {}, "job p/j")
    assert str(error) == "Not found: job p/j (404): job not found."


def test_budget_is_not_fooled_by_jitter_in_the_reset() -> None:
    clock = [0.0]
    budget = RateLimitBudget(share=0.5, clock=lambda: clock[0])

    def answer(remaining: int, reset: int) -> None:
        budget.note_request()
        budget.observe({"x-ratelimit-limit": "1000", "x-ratelimit-remaining": str(remaining),
                        "x-ratelimit-reset": str(reset)})

    for n in range(100):
        clock[0] = n * 10.0
        # A slow answer makes the reset look minutes later; an early answer arrives late.
        answer(999 - n, 3600 - n * 10 + (300 if n % 7 == 0 else 0))
    assert budget.spent_in_window() == 100 and budget.available() == 400
    answer(950, 3000)  # out of order: a higher remaining within the same window
    assert budget.snapshot().remaining == 900 and budget.available() == 399
    clock[0] = 3700.0  # the reset came: the quota grew back
    answer(999, 3600)
    assert budget.spent_in_window() == 1 and budget.available() == 499
