"""The API client against the simulator over real loopback HTTP."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui.api.client import NorthflankClient, check_base_url, is_loopback, walk_pages
from tui.api.errors import (
    ApiTimeoutError,
    BadResponseError,
    BudgetExhaustedError,
    ConfigError,
    ForbiddenError,
    InconsistentPagesError,
    InvalidIdError,
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


# ----- hardening (issue 8) -------------------------------------------------------------------

RUN = "d34582a4-35bd-4c71-8e7c-e36999b88723"
OK_BODIES = {
    "list": {"data": {"projects": [], "jobs": [], "runs": []},
             "pagination": {"hasNextPage": False, "count": 0}},
    "run": {"data": _run_json()},
    "start": {"data": {"id": RUN, "runName": "r"}},
    "logs": {"data": []},
}


def _recording_client(
    sent: list[str], *, team: str | None = None, **options: object
) -> NorthflankClient:
    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(f"{request.method} {request.url.raw_path.decode()}")
        path = request.url.path
        if path.endswith("/logs"):
            body = OK_BODIES["logs"]
        elif request.method == "POST":
            body = OK_BODIES["start"]
        elif path.endswith(f"/runs/{RUN}") or path.endswith("/runs/r%2Fx"):
            body = OK_BODIES["run"]
        else:
            body = OK_BODIES["list"]
        return httpx.Response(200, json=body)

    return NorthflankClient(
        "tok", "https://api.example.test", team=team, sleep=SleepRecorder(),
        transport=httpx.MockTransport(handler), **options,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("team", [None, "my-team"])
async def test_the_exact_url_of_every_request(team: str | None) -> None:
    sent: list[str] = []
    prefix = f"/v1/teams/{team}" if team else "/v1"
    jobs = f"{prefix}/projects/p/jobs"
    async with _recording_client(sent, team=team) as client:
        await client.list_projects()
        await client.list_projects(per_page=10, cursor="c/1=")
        await client.list_projects(per_page=10, page=2)
        await client.list_jobs("p")
        await client.get_job_runs("p", "j", per_page=100, cursor="abc")
        await client.get_job_run("p", "j", RUN)
        await client.start_job_run("p", "j")
        await client.abort_job_run("p", "j", RUN)
        await client.get_run_logs("p", "j", RUN, line_limit=50)
    assert sent == [
        f"GET {prefix}/projects?per_page=50",
        f"GET {prefix}/projects?per_page=10&cursor=c%2F1%3D",
        f"GET {prefix}/projects?per_page=10&page=2",
        f"GET {jobs}?per_page=50",
        f"GET {jobs}/j/runs?per_page=100&cursor=abc",
        f"GET {jobs}/j/runs/{RUN}",
        f"POST {jobs}/j/runs",
        f"DELETE {jobs}/j/runs/{RUN}",
        f"GET {jobs}/j/logs?queryType=range&runId={RUN}&lineLimit=50&direction=backward",
    ]


BAD_IDS = ["", ".", "..", "a/b", "../x", "a?b", "a#b", "%2e%2e", "a%2Fb", "a b", "a\tb",
           "\x1b]52;c;aGk=\x07", "a\x00", "a\x7f", "a\x9b", "\u202ex", "\ud800", "a\\b",
           "x" * 257]


@pytest.mark.parametrize("bad", BAD_IDS)
async def test_a_bad_id_in_any_place_sends_nothing(bad: str) -> None:
    sent: list[str] = []
    async with _recording_client(sent) as client:
        calls: list[Callable[[], Awaitable[object]]] = [
            lambda: client.list_jobs(bad),
            lambda: client.get_job_runs(bad, "j"), lambda: client.get_job_runs("p", bad),
            lambda: client.get_job_run("p", "j", bad), lambda: client.get_job_run(bad, "j", RUN),
            lambda: client.start_job_run("p", bad), lambda: client.abort_job_run("p", "j", bad),
            lambda: client.abort_job_run("p", bad, RUN),
            lambda: client.get_run_logs("p", "j", bad), lambda: client.get_run_logs(bad, "j", RUN),
        ]
        for call in calls:
            with pytest.raises(InvalidIdError) as caught:
                await call()
            message = str(caught.value)
            assert message.startswith("Refusing to send a request for ")
            assert message.isprintable() and len(message) < 200
    if bad:  # an empty team is no team
        async with _recording_client(sent, team=bad) as team_client:
            with pytest.raises(InvalidIdError, match="team id"):
                await team_client.list_projects()
    assert sent == []
    assert client.request_count == 0 and client.budget.spent_in_window() == 0


async def test_odd_but_valid_ids_are_one_encoded_segment() -> None:
    sent: list[str] = []
    async with _recording_client(sent) as client:
        await client.get_job_runs("ünï", "a:b@c;d")
    assert sent == ["GET /v1/projects/%C3%BCn%C3%AF/jobs/a%3Ab%40c%3Bd/runs?per_page=50"]


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1.2.3", "localhost", "LOCALHOST", "[::1]"])
def test_loopback_over_plain_http(host: str) -> None:
    assert check_base_url(f"http://{host}:8080") == f"http://{host}:8080"
    assert is_loopback(host)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1.evil.example", "http://127.evil.example", "http://localhost.evil.example",
    "http://127.1", "http://[::ffff:127.0.0.1]", "http://0.0.0.0", "http://[::2]",
    "http://10.0.0.1", "http://localhost2",
])
def test_plain_http_to_anything_else_is_refused(url: str) -> None:
    with pytest.raises(ConfigError, match=r"plain http|Not a valid host"):
        check_base_url(url)


@pytest.mark.parametrize("url", [
    "https://user:hunter2secret@api.example.com", "http://user:hunter2secret@127.0.0.1:80",
    "https://hunter2secret@api.example.com", "ftp://x:hunter2secret@host",
    "http://127.0.0.1\\@hunter2secret.example",
])
def test_a_url_with_a_password_is_refused_without_showing_it(url: str) -> None:
    with pytest.raises(ConfigError, match="user name or password") as caught:
        check_base_url(url)
    assert "hunter2secret" not in str(caught.value) + repr(caught.value)


@pytest.mark.parametrize(("url", "match"), [
    ("https://api.example.com/v1", "leave out /v1"),
    ("https://api.example.com/v1/", "leave out /v1"),
    ("https://api.example.com/api", "must have no path"),
    ("https://api.example.com?x=1", "query"),
    ("https://api.example.com/#frag", "fragment"),
    ("https://api.example.com:99999", "port out of range"),
    ("https://api.exa\x1bmple.com", "control characters"),
    ("https://api.example.com:0", "port out of range"),
    ("https://exa mple.com", "Not a valid host"),
    ("mailto:x@y", "user name|Not an http"),
])
def test_base_url_shapes_refused(url: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as caught:
        check_base_url(url)
    assert "\n" not in str(caught.value) and str(caught.value).isprintable()


def test_header_numbers_are_finite_and_clamped() -> None:
    from tui.api.headers import finite_number, rate_limit_numbers, retry_after

    now = datetime(2026, 6, 1, tzinfo=timezone.utc)
    for text in ("inf", "-inf", "nan", "1e400", "Infinity", "0x10", "", "1 2", "\u0661"):
        assert finite_number(text) is None, text
    cases = {"0": 1.0, "-5": 1.0, "0.2": 1.0, "2": 2.0, "99999999": 3600.0,
             "Mon, 01 Jan 2001 00:00:00 GMT": 1.0, "Fri, 31 Dec 9999 23:59:59 GMT": 3600.0,
             "Mon, 01 Jun 2026 00:01:00 GMT": 60.0}
    for value, seconds in cases.items():
        assert retry_after({"retry-after": value}, now) == seconds, value
    for value in ("inf", "1e400", "nan", "soon"):
        assert retry_after({"retry-after": value}, now) is None
    # A date is measured against the answer's own Date: both are the server's clock.
    assert retry_after({"retry-after": "Mon, 01 Jan 2001 00:02:00 GMT",
                        "date": "Mon, 01 Jan 2001 00:00:00 GMT"}, now) == 120.0
    assert retry_after({"x-ratelimit-reset": "1e400"}, now) is None
    assert rate_limit_numbers({"x-ratelimit-limit": "inf", "x-ratelimit-remaining": "-1",
                               "x-ratelimit-reset": "7201"}) == (None, None, None)
    assert rate_limit_numbers({"x-ratelimit-limit": "1e7", "x-ratelimit-remaining": "0",
                               "x-ratelimit-reset": "7200"}) == (10_000_000, 0, 7200.0)
    assert rate_limit_numbers({"x-ratelimit-limit": "0"}) == (None, None, None)


def test_an_absurd_server_clock_is_ignored_and_said_once() -> None:
    from tui.api.headers import ClockSkew

    local = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
    skew = ClockSkew()
    skew.observe("Mon, 01 Jun 2026 13:00:00 GMT", local)
    assert skew.seconds == 3600.0 and skew.warning is None
    skew.observe("Fri, 31 Dec 9999 23:59:59 GMT", local)
    first = skew.warning
    assert first is not None and first.startswith("the API's clock looks wrong (")
    assert "7973 years ahead" in first
    skew.observe("Thu, 01 Jan 1970 00:00:00 GMT", local)
    assert skew.warning == first and skew.seconds == 3600.0
    for garbage in ("", "tomorrow", "Tue, 32 Foo 2026 99:99:99 +9999", "x" * 10_000):
        skew.observe(garbage, local)
    assert skew.seconds == 3600.0
    assert skew.server_now(datetime.max.replace(tzinfo=timezone.utc)).year == 9999


async def test_server_now_never_raises() -> None:
    async with NorthflankClient(
        "tok", "https://api.example.test",
        wall_clock=lambda: datetime.max.replace(tzinfo=timezone.utc),
    ) as client:
        client.skew.observe("Fri, 31 Dec 9999 23:00:00 GMT", datetime(9999, 12, 31, 22,
                                                                        tzinfo=timezone.utc))
        assert client.skew.seconds == 3600.0
        assert client.server_now().year == 9999


@settings(max_examples=300)
@given(st.text(max_size=60), st.text(max_size=60))
def test_any_header_text_parses_or_is_ignored(retry: str, date: str) -> None:
    from tui.api.headers import ClockSkew, rate_limit_numbers, retry_after

    now = datetime(2026, 6, 1, tzinfo=timezone.utc)
    seconds = retry_after({"retry-after": retry, "date": date, "x-ratelimit-reset": retry}, now)
    assert seconds is None or 1.0 <= seconds <= 3600.0
    limit, _, reset = rate_limit_numbers({"x-ratelimit-limit": retry,
                                                  "x-ratelimit-remaining": date,
                                                  "x-ratelimit-reset": retry})
    assert limit is None or 1 <= limit <= 10_000_000
    assert reset is None or 0 <= reset <= 7200
    skew = ClockSkew()
    skew.observe(date, now)
    assert abs(skew.seconds) <= 86400


def test_the_gate_holds_the_share_per_rolling_hour() -> None:
    clock = [0.0]
    budget = RateLimitBudget(share=0.5, default_limit=100, clock=lambda: clock[0])
    assert budget.share_limit() == 50 and budget.burst_limit() == 10
    sent = 0
    for minute in range(60):
        clock[0] = minute * 60.0
        for _ in range(10):
            with contextlib.suppress(BudgetExhaustedError):
                budget.admit()
                sent += 1
    assert sent == 50
    clock[0] = 3599.0
    with pytest.raises(BudgetExhaustedError, match=r"share .*50 of 100") as caught:
        budget.admit()
    assert caught.value.retry_in == pytest.approx(1.0)
    assert isinstance(caught.value, RateLimitedError) and caught.value.retry_after == 1.0
    clock[0] = 3600.0  # the first burst leaves the rolling hour
    for _ in range(10):
        budget.admit()
    with pytest.raises(BudgetExhaustedError):
        budget.admit()


def test_the_burst_cap_follows_the_share() -> None:
    clock = [0.0]
    budget = RateLimitBudget(share=0.5, clock=lambda: clock[0])
    assert budget.burst_limit() == 41  # 500/h // 12
    for _ in range(41):
        budget.admit()
    clock[0] = 30.0
    with pytest.raises(BudgetExhaustedError, match="41 requests in the last 60 s") as caught:
        budget.admit()
    assert caught.value.retry_in == pytest.approx(30.0)
    clock[0] = 60.0
    budget.admit()
    # A hostile limit of 1 still lets one request an hour through: never locked out for good.
    tiny = RateLimitBudget(share=0.5, clock=lambda: clock[0])
    tiny.observe({"x-ratelimit-limit": "1", "x-ratelimit-remaining": "1",
                  "x-ratelimit-reset": "3600"})
    assert tiny.share_limit() == 1
    tiny.admit()
    with pytest.raises(BudgetExhaustedError):
        tiny.admit()


def test_the_gate_says_ahead_what_it_would_admit() -> None:
    """The scheduler asks before it starts anything: how many now, how long until one more,
    and the refusal admit() would raise, all without counting a request."""
    clock = [0.0]
    budget = RateLimitBudget(share=0.5, default_limit=100, clock=lambda: clock[0])
    assert budget.admittable() == 10 and budget.admit_wait() == 0 and budget.refusal() is None
    for _ in range(10):
        budget.admit()
    assert budget.admittable() == 0
    assert budget.admit_wait() == pytest.approx(60.0)  # the burst window
    refusal = budget.refusal()
    assert refusal is not None and refusal.retry_in == pytest.approx(60.0)
    assert budget.admittable() == 0  # asking counted nothing
    clock[0] = 60.0
    assert budget.admittable() == 10 and budget.refusal() is None
    for minute in range(1, 5):
        clock[0] = minute * 60.0
        for _ in range(10):
            budget.admit()
    assert budget.admittable() == 0  # 50 in the hour: the share
    assert budget.admit_wait() == pytest.approx(3600.0 - 240.0)
    with pytest.raises(BudgetExhaustedError):
        budget.admit()


async def test_retries_pass_the_gate_too() -> None:
    clock = [0.0]
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(503, json={"error": {"status": 503, "message": "down"}})

    budget = RateLimitBudget(share=0.5, clock=lambda: clock[0])
    async with NorthflankClient("tok", "https://api.example.test", budget=budget,
                                max_retries=1000, sleep=SleepRecorder(),
                                transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(BudgetExhaustedError, match="burst cap"):
            await client.list_projects()
    assert len(calls) == 41 and client.request_count == 41


def _page(runs: Sequence[object], cursor: str | None, more: bool) -> dict[str, object]:
    pagination: dict[str, object] = {"hasNextPage": more, "count": len(runs)}
    if cursor is not None:
        pagination["cursor"] = cursor
    return {"data": {"runs": list(runs)}, "pagination": pagination}


async def _walk(bodies: list[dict[str, object]]) -> tuple[list[str], int]:
    fetched = 0
    seen: list[str] = []

    async def fetch(cursor: str | None) -> Page[JobRun]:
        nonlocal fetched
        body = bodies[min(fetched, len(bodies) - 1)]
        fetched += 1
        return Page.from_json(body, "runs", JobRun.from_json_or_unreadable, 50)

    async for run in walk_pages(fetch):
        seen.append(run.id)
    return seen, fetched


async def test_walks_that_cannot_end_are_inconsistent() -> None:
    one = [_run_json(id="r1")]
    for cursors, requests in ((["A", "B", "A"], 3), (["A", "A"], 2), (["A", "B", "C", "B"], 4)):
        bodies = [_page(one, cursor, True) for cursor in cursors]
        with pytest.raises(InconsistentPagesError, match="inconsistent page list"):
            await _walk(bodies)
        fetched = 0
        with contextlib.suppress(InconsistentPagesError):
            _, fetched = await _walk(bodies)
        assert fetched in (0, requests)
    empties = [_page([], f"c{n}", True) for n in range(10)]
    with pytest.raises(InconsistentPagesError, match="3 empty pages"):
        await _walk(empties)
    # Two empty pages, then runs: a legitimate (if odd) list walks on.
    mixed = [_page([], "c1", True), _page([], "c2", True), _page(one, None, False)]
    assert await _walk(mixed) == (["r1"], 3)


def test_a_page_keeps_order_and_marks_unreadable_runs() -> None:
    items: list[object] = [
        _run_json(id="r0"), _run_json(id="r1", status=["x"]), "not an object",
        _run_json(id="..", startedAt="yesterday"), {"runName": "no id"}, _run_json(id="r5"),
    ]
    page = Page.from_json(_page(items, None, False), "runs", JobRun.from_json_or_unreadable)
    ids = [run.id for run in page.items]
    assert ids[0] == "r0" and ids[1] == "r1" and ids[5] == "r5"
    assert all(ids[n].startswith("?") for n in (2, 3, 4))
    assert len(set(ids)) == 6
    assert [run.unreadable is not None for run in page.items] == [False, True, True, True,
                                                                   True, False]
    bad = page.items[1]
    assert bad.unreadable == "Unexpected API answer: run.status is not a string"
    assert (bad.status, bad.raw_status, bad.run_name, bad.is_active) == (
        RunStatus.UNKNOWN, "UNREADABLE", "unreadable run", False)
    # The same object gives the same synthetic id on the next poll.
    again = Page.from_json(_page(items, None, False), "runs", JobRun.from_json_or_unreadable)
    assert [run.id for run in again.items] == ids


def test_a_page_larger_than_asked_is_cut_to_per_page() -> None:
    items = [_run_json(id=f"r{n}") for n in range(500)]
    page = Page.from_json(_page(items, "next", True), "runs", JobRun.from_json, per_page=20)
    assert [run.id for run in page.items] == [f"r{n}" for n in range(20)]
    assert page.count == 20 and page.has_next_page and page.cursor == "next"


@pytest.mark.parametrize("cursor", ["c" * 4097, "a\x1bb", "\ud800", "a\nb"])
def test_an_unusable_cursor_is_a_bad_response(cursor: str) -> None:
    with pytest.raises(BadResponseError, match="not a usable cursor"):
        Page.from_json(_page([], cursor, True), "runs", JobRun.from_json)


async def test_deep_json_and_escapes_in_errors() -> None:
    bodies = [b"[" * 200_000 + b"]" * 200_000,
              json.dumps({"error": {"message": "\x1b]52;c;aGk=\x07" + "y" * 5000}}).encode()]

    def handler(request: httpx.Request) -> httpx.Response:
        status = 200 if request.url.path.endswith("projects") else 403
        return httpx.Response(status, content=bodies[0 if status == 200 else 1])

    async with NorthflankClient("nf-secret-token-xyz", "https://api.example.test",
                                transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(BadResponseError, match="nested too deeply"):
            await client.list_projects()
        with pytest.raises(ForbiddenError) as caught:
            await client.list_jobs("p")
    error = caught.value
    assert error.server_message is not None and len(error.server_message) == 300
    assert error.server_message.startswith("\u241b]52;c;aGk=\u2407")
    assert str(error).isprintable() and "nf-secret-token-xyz" not in str(error) + repr(error)


def test_every_error_message_is_sanitised() -> None:
    from tui.api.errors import ApiStatusError, NorthflankError

    assert str(NorthflankError("a\x1b[2Jb\nc")) == "a\u241b[2Jb\u240ac"
    assert ApiStatusError("m", 400, "x\x07" * 400).server_message == "x\u2407" * 150


@pytest.mark.parametrize("token", ["nf-secret\nX-Evil: 1", "nf secret", "nf-sécret", "nf-\x00s"])
def test_an_unsendable_token_is_refused_without_showing_it(token: str) -> None:
    with pytest.raises(ConfigError, match="API token has characters") as caught:
        NorthflankClient(token, "https://api.example.test")
    assert "secret" not in str(caught.value) + repr(caught.value)


class EndlessStream(httpx.AsyncByteStream):
    """An endless body (fast, or a chunk per `pause` seconds) that records being closed."""

    def __init__(self, pause: float = 0.0) -> None:
        self.pause = pause
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        import asyncio

        while True:
            if self.pause:
                await asyncio.sleep(self.pause)
            yield b" " * 65536

    async def aclose(self) -> None:
        self.closed = True


@pytest.mark.parametrize("pause", [0.0, 0.05])
async def test_a_capped_or_late_body_is_closed(pause: float) -> None:
    streams: list[EndlessStream] = []

    def handler(request: httpx.Request) -> httpx.Response:
        streams.append(EndlessStream(pause))
        return httpx.Response(200, stream=streams[-1])

    async with NorthflankClient("tok", "https://api.example.test", max_retries=0,
                                deadline=0.3, transport=httpx.MockTransport(handler)) as client:
        if pause:
            with pytest.raises(ApiTimeoutError, match="in time"):
                await client.list_projects()
        else:
            with pytest.raises(BadResponseError, match="answer too large"):
                await client.list_projects()
    assert len(streams) == 1 and streams[0].closed


async def test_server_time_never_goes_back_when_the_skew_estimate_moves() -> None:
    """A slower answer lowers the skew estimate; the duration of a running run on screen must
    not count down for it (it holds until the clock catches up). A large step back (the local
    clock was set back) is taken as it is."""
    local = [datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)]
    async with NorthflankClient("t", "http://127.0.0.1:9", wall_clock=lambda: local[0]) as api:
        api.skew.observe("Mon, 01 Jun 2026 12:00:03 GMT", local[0])
        ahead = api.server_now()
        api.skew._samples.clear()  # the estimate moves back by 3 s
        api.skew.observe("Mon, 01 Jun 2026 12:00:00 GMT", local[0])
        assert api.server_now() == ahead  # held, not 3 s back
        local[0] += timedelta(seconds=5)
        assert api.server_now() == local[0]  # the clock caught up: moving again
        local[0] -= timedelta(hours=1)
        assert api.server_now() == local[0]  # a big step back is not held for an hour
