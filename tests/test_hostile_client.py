"""The API client against every behaviour of the hostile server (tests/hostile.py).

Each behaviour has its expected outcome here (`EXPECTED`: one line each, and a check). Every
check also holds that only documented NorthflankError subclasses come out, with a one-line
printable message without the token, and that each call returns (a generous 20 s bound; the
slow behaviours meet an injected deadline of a fraction of a second). Memory is bounded by
the body cap, checked through its error, not by measuring RSS.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import math
import re
import zlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TypeVar

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui.api.client import NorthflankClient, walk_pages
from tui.api.errors import (
    ApiTimeoutError,
    BadResponseError,
    BudgetExhaustedError,
    ForbiddenError,
    InconsistentPagesError,
    InvalidIdError,
    NetworkError,
    NorthflankError,
    RateLimitedError,
    RequestError,
    ServerError,
    UnauthorizedError,
)
from tui.api.models import JobRun, Page, RunStatus
from tui.api.ratelimit import RateLimitBudget

from .hostile import (
    BAD_RUN_IDS,
    BEHAVIOURS,
    ESCAPES,
    JOB,
    PROJECT,
    RUN_IDS,
    TOKEN,
    VICTIM,
    HostileServer,
)

T = TypeVar("T")
FAST_DEADLINE = 0.5  # seconds: the slow behaviours end here, not after 30 s
DEADLINE = 10.0  # the others: ample on a loaded machine
CALL_BOUND = 20.0  # a very generous bound on any one call, never a speed assertion
DOCUMENTED = (ApiTimeoutError, BadResponseError, BudgetExhaustedError, ForbiddenError,
              InconsistentPagesError, InvalidIdError, NetworkError, RateLimitedError,
              RequestError, ServerError, UnauthorizedError, NorthflankError)


@pytest.fixture(scope="module")
def server() -> Iterator[HostileServer]:
    with HostileServer() as hostile:
        yield hostile


@dataclass
class Ctx:
    """One behaviour's test: the server, a fake clock and sleep, and clients on them."""

    server: HostileServer
    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def client(self, **options: Any) -> NorthflankClient:
        options.setdefault("max_retries", 2)
        options.setdefault("deadline", DEADLINE)
        options.setdefault("budget", RateLimitBudget(clock=lambda: self.now))
        return NorthflankClient(TOKEN, self.server.url, sleep=self.sleep, **options)

    def sent(self, endpoint_part: str = "") -> list[tuple[str, str]]:
        return [request for request in self.server.requests if endpoint_part in request[1]]


def check_error(error: BaseException) -> None:
    assert isinstance(error, DOCUMENTED), repr(error)
    text = str(error)
    assert text.isprintable() and "\n" not in text, repr(text)
    assert TOKEN not in text and TOKEN not in repr(error)
    assert len(text) < 1000


async def bounded(call: Awaitable[T]) -> T:
    return await asyncio.wait_for(call, CALL_BOUND)


async def raises(call: Awaitable[object], kind: type[NorthflankError], match: str = ""
                 ) -> NorthflankError:
    """The exact error class `kind` (its message matching `match`), checked as above."""
    try:
        await bounded(call)
    except NorthflankError as error:
        check_error(error)
        assert type(error) is kind, f"{type(error).__name__}: {error}"
        assert re.search(match, str(error)), str(error)
        return error
    raise AssertionError(f"no {kind.__name__}")


async def walk(client: NorthflankClient, per_page: int = 50) -> list[JobRun]:
    async def fetch(cursor: str | None) -> Page[JobRun]:
        return await client.get_job_runs(PROJECT, JOB, per_page=per_page, cursor=cursor)

    return [run async for run in walk_pages(fetch)]


Check = Callable[[Ctx], Awaitable[None]]
EXPECTED: dict[str, tuple[str, Check]] = {}


def expect(*names: str, outcome: str) -> Callable[[Check], Check]:
    def register(check: Check) -> Check:
        for name in names:
            assert name not in EXPECTED
            EXPECTED[name] = (outcome, check)
        return check
    return register


# ----- the control ----------------------------------------------------------------------------


@expect("normal", "gzip_ok", "wrong_content_type", outcome="every call succeeds")
async def _every_call_succeeds(ctx: Ctx) -> None:
    async with ctx.client() as client:
        assert [p.id for p in (await bounded(client.list_projects())).items] == [PROJECT]
        assert [j.id for j in (await bounded(client.list_jobs(PROJECT))).items] == [JOB]
        assert [r.id for r in await bounded(walk(client, per_page=2))] == list(RUN_IDS)
        assert (await bounded(client.get_job_run(PROJECT, JOB, VICTIM))).id == VICTIM
        assert (await bounded(client.start_job_run(PROJECT, JOB)))[0] == RUN_IDS[0]
        await bounded(client.abort_job_run(PROJECT, JOB, VICTIM))
        assert [line.log for line in await bounded(client.get_run_logs(PROJECT, JOB, VICTIM))]


# ----- 4. bodies --------------------------------------------------------------------------------


@expect("gzip_bomb", "deflate_bomb", "endless_chunked", "endless_content_length",
        "per_page_ignored_100k",
        outcome='BadResponseError "answer too large" (4 MiB decoded cap), 1 request')
async def _too_large(ctx: Ctx) -> None:
    async with ctx.client() as client:
        await raises(client.get_job_runs(PROJECT, JOB), BadResponseError, "answer too large")
    assert len(ctx.sent()) == 1


@expect("gzip_bomb_stacked", outcome='BadResponseError "compressed more than once"')
async def _stacked(ctx: Ctx) -> None:
    async with ctx.client() as client:
        await raises(client.list_projects(), BadResponseError, "compressed more than once")


@expect("one_byte_a_second", "slow_headers",
        outcome="ApiTimeoutError at the overall deadline (injected 0.5 s; 30 s by default)")
async def _deadline(ctx: Ctx) -> None:
    async with ctx.client(max_retries=0, deadline=FAST_DEADLINE) as client:
        await raises(client.list_projects(), ApiTimeoutError, "in time")
    assert len(ctx.sent()) == 1


@expect("broken_gzip", "truncated_gzip", "unknown_encoding",
        outcome='BadResponseError ("broken gzip" / "truncated gzip" / "did not ask for")')
async def _bad_encoding(ctx: Ctx) -> None:
    async with ctx.client() as client:
        await raises(client.list_projects(), BadResponseError,
                     "broken gzip|truncated gzip|did not ask for")


# ----- the connection -----------------------------------------------------------------------------


@expect("connection_reset", "close_without_answer", "short_body", "not_http", "huge_headers",
        "many_headers", outcome="NetworkError after 1 + 2 retries with jittered back-off")
async def _network(ctx: Ctx) -> None:
    async with ctx.client() as client:
        await raises(client.list_projects(), NetworkError, "connection|connect")
    assert len(ctx.sent()) == 3 and len(ctx.sleeps) == 2


@expect("redirect_other_host", "redirect_same_host",
        outcome='BadResponseError "a redirect ... not followed", 1 request')
async def _redirect(ctx: Ctx) -> None:
    async with ctx.client() as client:
        await raises(client.list_projects(), BadResponseError, "redirect.*not followed")
        await raises(client.abort_job_run(PROJECT, JOB, VICTIM), BadResponseError, "redirect")
    assert len(ctx.sent()) == 2


@expect("status_204", "status_600", outcome='BadResponseError "status 204/600, not 200"')
async def _odd_status(ctx: Ctx) -> None:
    async with ctx.client() as client:
        await raises(client.list_projects(), BadResponseError, r"status \d+, not 200")
        await raises(client.abort_job_run(PROJECT, JOB, VICTIM), BadResponseError, "not 200")


# ----- 5. numbers in headers ----------------------------------------------------------------------


@expect("retry_after_inf", "retry_after_1e400", "retry_after_nan", "retry_after_garbage",
        outcome="Retry-After ignored: RateLimitedError(retry_after=None) after 2 finite back-offs")
async def _retry_after_ignored(ctx: Ctx) -> None:
    async with ctx.client() as client:
        error = await raises(client.list_projects(), RateLimitedError)
    assert isinstance(error, RateLimitedError) and error.retry_after is None
    assert len(ctx.sleeps) == 2 and all(0 <= s <= 20 for s in ctx.sleeps)


@expect("retry_after_0", "retry_after_negative", "retry_after_past_date",
        outcome="Retry-After clamped to the 1 s floor: retries after 1-1.25 s, then 429 error")
async def _retry_after_floor(ctx: Ctx) -> None:
    async with ctx.client() as client:
        error = await raises(client.list_projects(), RateLimitedError)
    assert isinstance(error, RateLimitedError) and error.retry_after == 1.0
    assert len(ctx.sleeps) == 2 and all(1.0 <= s <= 1.25 for s in ctx.sleeps)


@expect("retry_after_99999999", "retry_after_year_9999",
        outcome='Retry-After clamped to 3600 s: RateLimitedError "retry in 60 min", no sleep')
async def _retry_after_ceiling(ctx: Ctx) -> None:
    async with ctx.client() as client:
        error = await raises(client.list_projects(), RateLimitedError, "retry in 60 min")
    assert isinstance(error, RateLimitedError) and error.retry_after == 3600.0
    assert not ctx.sleeps and len(ctx.sent()) == 1


@expect("retry_after_2", outcome="retries after 2-2.25 s (twice), then RateLimitedError")
async def _retry_after_two(ctx: Ctx) -> None:
    async with ctx.client() as client:
        await raises(client.list_projects(), RateLimitedError, "retry in 2 s")
    assert len(ctx.sleeps) == 2 and all(2.0 <= s <= 2.25 for s in ctx.sleeps)


@expect("ratelimit_reset_on_429", outcome="RateLimitedError(retry_after=120) from the reset")
async def _reset_on_429(ctx: Ctx) -> None:
    async with ctx.client() as client:
        error = await raises(client.list_projects(), RateLimitedError)
    assert isinstance(error, RateLimitedError) and error.retry_after == 120.0 and not ctx.sleeps


@expect("ratelimit_inf", "ratelimit_nan_negative", "ratelimit_absurd",
        outcome="answers read; the absurd x-ratelimit-* ignored (budget keeps 1000/h)")
async def _rate_limit_ignored(ctx: Ctx) -> None:
    async with ctx.client() as client:
        assert (await bounded(client.list_projects())).items
        snapshot = client.budget.snapshot()
    assert (snapshot.limit, snapshot.remaining, snapshot.observed) == (1000, 1000, False)
    assert client.budget.available() == 499


@expect("date_year_9999", "date_1970",
        outcome="answers read; Date ignored, clock_warning \"the API's clock looks wrong (...)\"")
async def _wrong_clock(ctx: Ctx) -> None:
    async with ctx.client() as client:
        assert (await bounded(client.list_projects())).items
        await bounded(client.list_projects())
        warning = client.clock_warning
        assert warning is not None and warning.startswith("the API's clock looks wrong (")
        assert warning.isprintable()
        drift = (client.server_now() - datetime.now(timezone.utc)).total_seconds()
    assert abs(drift) < 60 and client.skew.seconds == 0.0


@expect("date_garbage", outcome="answers read; the Date ignored, no warning")
async def _garbage_date(ctx: Ctx) -> None:
    async with ctx.client() as client:
        assert (await bounded(client.list_projects())).items
    assert client.clock_warning is None and client.skew.seconds == 0.0


@expect("date_two_hours_ahead", outcome="answers read; a skew of +7200 s is used, no warning")
async def _real_skew(ctx: Ctx) -> None:
    async with ctx.client() as client:
        assert (await bounded(client.list_projects())).items
    assert client.clock_warning is None and abs(client.skew.seconds - 7200) < 10


# ----- 7. pagination ----------------------------------------------------------------------------


@expect("empty_pages_fresh_cursors", outcome="InconsistentPagesError after 3 empty pages")
async def _empty_pages(ctx: Ctx) -> None:
    async with ctx.client() as client:
        await raises(walk(client), InconsistentPagesError, "inconsistent page list")
    assert len(ctx.sent("/runs")) == 3


@expect("cursors_a_b_a", "cursor_repeats",
        outcome="InconsistentPagesError when a cursor comes back (3rd / 2nd request)")
async def _cursor_loop(ctx: Ctx) -> None:
    async with ctx.client() as client:
        await raises(walk(client), InconsistentPagesError, "inconsistent page list")
    assert len(ctx.sent("/runs")) == (3 if ctx.server.behaviour == "cursors_a_b_a" else 2)


@expect("endless_full_pages",
        outcome="BudgetExhaustedError at the burst cap: 41 requests (of a 500/h share)")
async def _endless_pages(ctx: Ctx) -> None:
    async with ctx.client() as client:
        error = await raises(walk(client), BudgetExhaustedError, "burst cap")
    assert isinstance(error, BudgetExhaustedError) and 0 < error.retry_in <= 60
    assert len(ctx.sent("/runs")) == 41


@expect("next_without_cursor", outcome="the walk ends after the one page (5 runs)")
async def _no_cursor(ctx: Ctx) -> None:
    async with ctx.client() as client:
        assert len(await bounded(walk(client))) == 5
    assert len(ctx.sent()) == 1


@expect("huge_cursor", "cursor_escapes", outcome='BadResponseError "not a usable cursor"')
async def _bad_cursor(ctx: Ctx) -> None:
    async with ctx.client() as client:
        await raises(walk(client), BadResponseError, "not a usable cursor")
    assert len(ctx.sent()) == 1


# ----- 8. one bad run -------------------------------------------------------------------------


@expect("forbidden_one_run", "error_500_one_run",
        outcome="that run: ForbiddenError / ServerError (after retries); the rest read")
async def _one_bad_run(ctx: Ctx) -> None:
    kind = ForbiddenError if ctx.server.behaviour == "forbidden_one_run" else ServerError
    async with ctx.client() as client:
        assert len((await bounded(client.get_job_runs(PROJECT, JOB))).items) == 5
        await raises(client.get_job_run(PROJECT, JOB, VICTIM), kind)
        for run_id in RUN_IDS:
            if run_id != VICTIM:
                assert (await bounded(client.get_job_run(PROJECT, JOB, run_id))).id == run_id


@expect("malformed_run_in_page", "run_without_id", "huge_numbers",
        outcome="the page reads: that run is an \"unreadable run\" in its place, with the reason")
async def _unreadable(ctx: Ctx) -> None:
    async with ctx.client() as client:
        runs = (await bounded(client.get_job_runs(PROJECT, JOB))).items
        assert [run.unreadable is None for run in runs] == [True, True, False, True, True]
        bad = runs[2]
        assert bad.raw_status == "UNREADABLE" and bad.status is RunStatus.UNKNOWN
        assert bad.run_name == "unreadable run" and not bad.is_active
        assert bad.unreadable and bad.unreadable.isprintable()
        if ctx.server.behaviour == "run_without_id":
            assert bad.id.startswith("?")
            await raises(client.get_job_run(PROJECT, JOB, bad.id), InvalidIdError)
        else:
            assert bad.id == VICTIM
    assert len(ctx.sent()) == 1


# ----- 2. ids -----------------------------------------------------------------------------------


@expect(*BAD_RUN_IDS, outcome="the page reads; get/abort/logs of that run: InvalidIdError, "
                             "nothing sent")
async def _bad_run_id(ctx: Ctx) -> None:
    async with ctx.client() as client:
        runs = (await bounded(client.get_job_runs(PROJECT, JOB))).items
        bad = runs[2]
        assert bad.id == BAD_RUN_IDS[ctx.server.behaviour]
        for call in (client.get_job_run, client.abort_job_run, client.get_run_logs):
            await raises(call(PROJECT, JOB, bad.id), InvalidIdError, "Refusing .* run id")
    assert len(ctx.sent()) == 1


@expect("project_id_dotdot", "job_id_slash",
        outcome="listed; any request with that id: InvalidIdError, nothing sent")
async def _bad_listed_ids(ctx: Ctx) -> None:
    async with ctx.client() as client:
        if ctx.server.behaviour == "project_id_dotdot":
            (project,) = (await bounded(client.list_projects())).items
            await raises(client.list_jobs(project.id), InvalidIdError, "project id '..'")
        else:
            (job,) = (await bounded(client.list_jobs(PROJECT))).items
            await raises(client.get_job_runs(PROJECT, job.id), InvalidIdError, "job id")
            await raises(client.start_job_run(PROJECT, job.id), InvalidIdError, "job id")
    assert len(ctx.sent()) == 1


# ----- 9. cost from content -----------------------------------------------------------------------


@expect("per_page_ignored_5000", outcome="the page is cut to per_page (50 runs)")
async def _cut(ctx: Ctx) -> None:
    async with ctx.client() as client:
        page = await bounded(client.get_job_runs(PROJECT, JOB, per_page=50))
    assert len(page.items) == 50 and page.count == 50


@expect("deep_json", "deep_json_in_run", outcome='BadResponseError "JSON nested too deeply"')
async def _deep(ctx: Ctx) -> None:
    async with ctx.client() as client:
        await raises(client.get_job_runs(PROJECT, JOB), BadResponseError, "nested too deeply")


@expect("long_names", outcome="read; names kept whole (100,000 characters)")
async def _long_names(ctx: Ctx) -> None:
    async with ctx.client() as client:
        runs = (await bounded(client.get_job_runs(PROJECT, JOB))).items
    assert all(len(run.run_name) == 100_000 for run in runs)


@expect("escapes_everywhere", outcome="read; strings kept raw for the one sanitiser; status "
                                      "UNKNOWN")
async def _escapes(ctx: Ctx) -> None:
    async with ctx.client() as client:
        (project,) = (await bounded(client.list_projects())).items
        (job,) = (await bounded(client.list_jobs(PROJECT))).items
        runs = (await bounded(client.get_job_runs(PROJECT, JOB))).items
    assert project.name == job.name == job.job_type == ESCAPES
    assert all(run.raw_status == ESCAPES and run.status is RunStatus.UNKNOWN for run in runs)


# ----- 1. error messages ------------------------------------------------------------------------


@expect("error_with_escapes", "unauthorized_with_escapes",
        outcome="ForbiddenError / UnauthorizedError; escapes shown as placeholders (\u241b)")
async def _escaped_errors(ctx: Ctx) -> None:
    forbidden = ctx.server.behaviour == "error_with_escapes"
    async with ctx.client() as client:
        error = await raises(client.list_projects(),
                             ForbiddenError if forbidden else UnauthorizedError)
    assert "\u241b" in str(error) and "\x1b" not in str(error) and "\x9b" not in str(error)


@expect("huge_error_message", "error_html_502",
        outcome="ServerError after retries; server message cut to 300 characters")
async def _server_errors(ctx: Ctx) -> None:
    async with ctx.client() as client:
        error = await raises(client.list_projects(), ServerError)
    assert isinstance(error, ServerError)
    assert error.server_message is None or len(error.server_message) <= 300
    assert len(ctx.sent()) == 3


@expect("error_message_not_text", outcome="RequestError (400) without a server message")
async def _message_not_text(ctx: Ctx) -> None:
    async with ctx.client() as client:
        error = await raises(client.list_projects(), RequestError, r"\(400\)")
    assert isinstance(error, RequestError) and error.server_message is None


# ----- other broken answers ---------------------------------------------------------------------


@expect("html_body", "truncated_json", "invalid_utf8",
        outcome='BadResponseError "not JSON", not retried')
async def _not_json(ctx: Ctx) -> None:
    async with ctx.client() as client:
        await raises(client.list_projects(), BadResponseError, "not JSON")
    assert len(ctx.sent()) == 1


@expect("empty_200", "json_array_top", "null_data",
        outcome='BadResponseError ("empty body" / "not an object")')
async def _wrong_shape(ctx: Ctx) -> None:
    async with ctx.client() as client:
        await raises(client.list_projects(), BadResponseError, "empty body|not an object")


# ----- the tests --------------------------------------------------------------------------------


def test_every_behaviour_has_an_expected_outcome() -> None:
    assert len(BEHAVIOURS) >= 40
    assert sorted(EXPECTED) == sorted(BEHAVIOURS)
    for behaviour in BEHAVIOURS.values():
        assert behaviour.description and "\n" not in behaviour.description


@pytest.mark.parametrize("name", sorted(BEHAVIOURS))
async def test_behaviour(server: HostileServer, name: str) -> None:
    server.reset(name)
    _, check = EXPECTED[name]
    await asyncio.wait_for(check(Ctx(server)), CALL_BOUND * 3)


@pytest.mark.parametrize("name", sorted(BEHAVIOURS))
async def test_every_call_returns_or_raises_a_documented_error(
    server: HostileServer, name: str
) -> None:
    """Whatever the behaviour, each call the client can make returns or raises a
    NorthflankError subclass, within its deadline."""
    server.reset(name)
    ctx = Ctx(server)
    async with ctx.client(max_retries=1, deadline=0.3) as client:
        calls: list[Callable[[], Awaitable[object]]] = [
            client.list_projects, lambda: client.list_jobs(PROJECT),
            lambda: walk(client), lambda: client.get_job_run(PROJECT, JOB, VICTIM),
            lambda: client.start_job_run(PROJECT, JOB),
            lambda: client.abort_job_run(PROJECT, JOB, VICTIM),
            lambda: client.get_run_logs(PROJECT, JOB, VICTIM),
        ]
        for call in calls:
            try:
                await bounded(call())
            except NorthflankError as error:
                check_error(error)


# ----- any status, headers and body ---------------------------------------------------------------

HEADER_NAMES = ("retry-after", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset",
                "date", "content-encoding", "content-type", "location", "content-length")
ODD_VALUES = ("inf", "-inf", "nan", "1e400", "0", "-5", "99999999", "1.5", "", " 7 ", "1_000",
              "Fri, 31 Dec 9999 23:59:59 GMT", "Mon, 01 Jan 0001 00:00:00 GMT",
              "Thu, 01 Jan 1970 00:00:00 GMT", "Tue, 32 Foo 2026 99:99:99 +9999", "gzip",
              "deflate", "gzip, gzip", "br", "identity", "x-gzip", "application/json",
              "http://evil.example/", "\u0661\u0662")
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
run_fields = st.fixed_dictionaries({}, optional={
    key: json_values | st.sampled_from(["RUNNING", "2026-01-01T00:00:00Z", "9999-12-31T23:59Z",
                                         "..", "a/b", "", 1, 0])
    for key in ("id", "runName", "status", "active", "concluded", "completions", "startedAt",
                "concludedAt")
})
pages = st.builds(
    lambda runs, pagination: {"data": {"runs": runs, "projects": runs, "jobs": runs},
                              "pagination": pagination},
    st.lists(run_fields, max_size=6),
    st.fixed_dictionaries({}, optional={"hasNextPage": json_values,
                                        "cursor": json_values | st.text(max_size=8),
                                        "count": json_values}),
)
json_bodies = st.one_of(pages, json_values, st.builds(
    lambda message: {"error": {"status": 400, "message": message}}, json_values,
)).map(lambda value: json.dumps(value).encode())
bodies = st.one_of(
    json_bodies, st.binary(max_size=200),
    st.integers(1, 3000).map(lambda n: b"[" * n + b"]" * n),
    st.one_of(json_bodies, st.binary(max_size=100)).map(gzip.compress),
    st.one_of(json_bodies, st.binary(max_size=100)).map(zlib.compress),
)
headers = st.lists(st.tuples(
    st.sampled_from(HEADER_NAMES),
    st.sampled_from(ODD_VALUES).map(str.encode) | st.binary(max_size=30),
), max_size=5)
statuses = st.sampled_from([200, 200, 200, 204, 301, 302, 400, 401, 403, 404, 429, 500, 503,
                            600]) | st.integers(100, 999)
answers = st.lists(st.tuples(statuses, headers, bodies), min_size=1, max_size=4)


def _mock_client(answers: list[tuple[int, list[tuple[str, bytes]], bytes]], ctx: Ctx
                 ) -> NorthflankClient:
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        status, header_list, body = queue.pop(0) if len(queue) > 1 else queue[0]
        return httpx.Response(status, headers=[(name.encode(), value)
                                               for name, value in header_list],
                              stream=httpx.ByteStream(body))

    return NorthflankClient(
        TOKEN, "https://api.example.test", transport=httpx.MockTransport(handler),
        sleep=ctx.sleep, budget=RateLimitBudget(clock=lambda: ctx.now), max_retries=3,
        wall_clock=lambda: datetime(2026, 6, 1, tzinfo=timezone.utc),
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answers, st.integers(0, 6))
def test_any_answer_gives_a_result_or_a_documented_error(
    answer_list: list[tuple[int, list[tuple[str, bytes]], bytes]], which: int
) -> None:
    async def scenario() -> None:
        ctx = Ctx(server=None)  # type: ignore[arg-type]
        async with _mock_client(answer_list, ctx) as client:
            calls: list[Callable[[], Awaitable[object]]] = [
                client.list_projects, lambda: client.list_jobs(PROJECT),
                lambda: walk(client), lambda: client.get_job_run(PROJECT, JOB, VICTIM),
                lambda: client.start_job_run(PROJECT, JOB),
                lambda: client.abort_job_run(PROJECT, JOB, VICTIM),
                lambda: client.get_run_logs(PROJECT, JOB, VICTIM),
            ]
            try:
                await bounded(calls[which]())
            except NorthflankError as error:
                check_error(error)
            assert math.isfinite(client.budget.interval_for(1, 5.0))
            assert client.server_now().year >= 2026
            assert all(0 <= seconds <= 30.25 for seconds in ctx.sleeps), ctx.sleeps

    asyncio.run(scenario())
