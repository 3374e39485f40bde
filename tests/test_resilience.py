"""Resilience as the user sees it: the board in Pilot against the simulator over loopback
while the API misbehaves.

An outage, bursts of faults, a slow answer, a rate limit, stale data, a revoked token and a
deleted job. In each case the app must not crash, must keep the rows it has, must say on the
status line what is going on, and must come back by itself once the API does.

Only what is on screen is asserted here, and only by waiting for it (generous deadlines,
never a guessed delay). How long the engine waits, what it sends and when, is exact in the
engine tests on a fake clock (test_feed.py, test_scheduler.py, test_engine.py).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from rich.style import Style

from tui.api.client import NorthflankClient
from tui.api.models import JobRun
from tui.api.ratelimit import RateLimitBudget
from tui.app import NfRunsApp
from tui.options import AppOptions
from tui.screens.main import MainScreen
from tui.simulator import Simulator, World
from tui.watch.feed import JobFeed

from . import harness
from .engine_harness import ScriptedTransport, first_page

START = datetime(2026, 11, 29, 12, 0, 0, tzinfo=timezone.utc)
PROJECT, JOB = "payments", "settle-ledger"  # cron every minute, a run RUNNING at START
SIZE = (120, 40)
DEADLINE = 30.0  # seconds of real time a condition may take on a loaded machine


# ----- harness ----------------------------------------------------------------------------------


@dataclass(kw_only=True)
class Board(harness.Board):
    """The board, with its client."""

    client: NorthflankClient

    @property
    def feed(self) -> JobFeed:
        feed = self.main.feed
        assert feed is not None, "no job is open"
        return feed

    async def wait_for(self, condition: Any, what: str) -> None:
        await self.wait(condition, what, DEADLINE)

    async def quiet(self) -> None:
        """Wait until nothing is on its way (no poll, no page), so the rows are settled."""
        scheduler = self.main.scheduler
        await self.wait_for(
            lambda: not scheduler.busy and self.feed.last_good is not None, "a quiet moment"
        )

    def assert_rows_kept(self, ids: list[str]) -> None:
        """The rows are still there: the same runs loaded, and the screen shows rows."""
        assert self.ids[: len(ids)] == ids
        assert self.run_list.visible_text(), "the run list is blank"


def make_sim(*, rate_limit: int = 1_000_000) -> Simulator:
    """The seeded world (with its history of thousands of runs), clock frozen at START."""
    world = World(seed=7, speed=0.0, start=START)
    return Simulator(world, rate_limit=rate_limit)


@contextlib.contextmanager
def running(sim: Simulator) -> Iterator[Simulator]:
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


def make_client(sim: Simulator, **kwargs: Any) -> NorthflankClient:
    """The client retries once, quickly, inside a call; the budget is generous (here it
    would only stretch the poll interval)."""
    kwargs.setdefault("max_retries", 1)
    kwargs.setdefault("backoff_base", 0.05)
    kwargs.setdefault("budget", RateLimitBudget(share=1.0))
    return NorthflankClient(kwargs.pop("token", sim.token), sim.url, **kwargs)


@contextlib.asynccontextmanager
async def board(
    sim: Simulator,
    *,
    client: NorthflankClient | None = None,
    job: str = JOB,
    first_page: bool = True,
    **options: Any,
) -> AsyncIterator[Board]:
    """The app on `job`, polling the simulator; yields once the first page is shown (unless
    `first_page` is False). Notifications are on, so tests can read them."""
    # A first page taller than two screens: the list asks for no older page by itself, so
    # what is loaded only changes when a test says so.
    options.setdefault("page_size", 100)
    options.setdefault("refresh", 0.5)
    options.setdefault("tick", 0.2)
    options.setdefault("idle_interval", 1.0)
    options.setdefault("tty_check", 0)
    client = client or make_client(sim)
    app = NfRunsApp(client, AppOptions(project=PROJECT, job=job, **options), now=sim.world.now)
    async with harness.run_board(
        app, SIZE,
        lambda pilot, errors: Board(app, pilot, sim, errors, client=client),
        wait_first_page=first_page,
    ) as state:
        yield state


def expected_runs(sim: Simulator, count: int) -> list[JobRun]:
    """What the server holds for the first `count` runs, as the app parses them."""
    return [JobRun.from_json(item) for item in sim.world.runs(PROJECT, JOB, count)]


def notifications(b: Board) -> list[str]:
    return [notification.message for notification in b.app._notifications]


# ----- an outage --------------------------------------------------------------------------------


async def test_outage_keeps_rows_says_offline_and_recovers_by_itself() -> None:
    with running(make_sim()) as sim:
        async with board(sim) as b:
            await b.quiet()
            before = b.ids
            sim.stop()
            await b.wait_for(lambda: "offline, retrying in" in b.status, "the offline notice")
            assert b.main.status.state.problem_kind == "warning"
            b.assert_rows_kept(before)
            # The API comes back with news; nobody presses a key.
            new = sim.world.start_run(PROJECT, JOB, duration=3600)
            sim.start()
            await b.wait_for(lambda: b.ids[:1] == [new["id"]], "the new run on top")
            await b.wait_for(lambda: not b.main.status.state.problem, "the problem cleared")
            assert "offline" not in b.status and "stale" not in b.status
            assert b.ids[1 : len(before) + 1] == before
            assert list(b.run_list.runs) == expected_runs(sim, len(b.ids))


# ----- bursts of faults -------------------------------------------------------------------------

# Each fault hits the polls' first page only (the app asks for other things meanwhile, such
# as the job list), as many times in a row as the client tries. Every kind's wording is
# checked on the engine (test_feed.py); here, that it reaches the screen and goes again.
FAULTS: dict[str, tuple[dict[str, Any], str]] = {
    "503": ({"status": 503, "count": 2}, "The API failed (503)"),
    "drop": ({"drop": True, "count": 2}, "offline"),
    "malformed": ({"status": 200, "body": b'{"data": {"runs": [{"id', "count": 1},
                  "Unexpected API answer"),
}


async def test_fault_bursts_keep_rows_say_what_happens_and_clear() -> None:
    with running(make_sim()) as sim:
        transport = ScriptedTransport(time.monotonic, lambda _seconds: None)
        async with board(sim, client=make_client(sim, transport=transport)) as b:
            await b.quiet()
            before = b.ids
            for fault, said in FAULTS.values():
                transport.fail(first_page, **fault)
                b.main.poll_now()
                await b.wait_for(lambda said=said: said in b.status and ", retrying in "
                                 in b.status, f"{said!r} on the status line")
                assert b.main.status.state.problem_kind == "warning"
                b.assert_rows_kept(before)
                # The next poll clears the problem by itself.
                await b.wait_for(lambda said=said: said not in b.status, f"{said!r} cleared")
                assert not b.main.status.state.problem
                assert b.ids == before
            assert list(b.run_list.runs) == expected_runs(sim, len(before))


async def test_slow_answer_shows_refreshing_and_keeps_rows() -> None:
    with running(make_sim()) as sim:
        transport = ScriptedTransport(time.monotonic, lambda _seconds: None)
        async with board(sim, client=make_client(sim, transport=transport),
                         refresh=30.0, idle_interval=30.0) as b:
            await b.quiet()
            before = b.ids
            gate = transport.hold(first_page)  # the next poll's answer waits until released
            b.main.poll_now()
            await b.wait_for(lambda: "refreshing…" in b.status, "the refreshing notice")
            assert not b.main.status.state.problem
            b.assert_rows_kept(before)
            gate.release()
            await b.wait_for(lambda: "refreshing…" not in b.status, "the slow poll to end")
            assert not b.main.status.state.problem
            assert b.ids == before


async def test_rate_limit_says_so_and_when_it_retries() -> None:
    with running(make_sim()) as sim:
        transport = ScriptedTransport(time.monotonic, lambda _seconds: None)
        async with board(sim, client=make_client(sim, transport=transport)) as b:
            await b.quiet()
            before = b.ids
            transport.fail(first_page, 429, retry_after=45, count=1)
            b.main.poll_now()
            await b.wait_for(lambda: "rate limited by the API, retrying in 4" in b.status,
                             "the rate limit notice")
            b.assert_rows_kept(before)


# ----- stale ------------------------------------------------------------------------------------


def stale_span_style(screen: MainScreen) -> Style:
    """The style of the "stale: …" part of the status line."""
    status = screen.status
    text = status.render_text(status.state)
    start = text.plain.index("stale: last update")
    styles = [span.style for span in text.spans if span.start <= start < span.end]
    assert styles, f"the stale notice is not styled: {text.plain!r}"
    style = styles[-1]
    return style if isinstance(style, Style) else Style.parse(style)


async def test_stale_data_says_so_as_a_warning_until_fresh_again() -> None:
    with running(make_sim()) as sim:
        async with board(sim, refresh=0.3) as b:  # stale after 2 x 0.3 + 1 s
            await b.quiet()
            screen = b.main
            assert "stale" not in b.status
            sim.stop()
            await b.wait_for(lambda: "stale: last update" in b.status, "the stale notice")
            # Styled as a warning (a component class, so themes and NO_COLOR apply) ...
            warning = screen.status.get_component_rich_style("status-line--warning",
                                                             partial=True)
            assert stale_span_style(screen) == warning
            assert warning != Style()
            # ... and never "stale: last update just now".
            assert "just now" not in b.status and "s ago" in b.status, b.status
            b.assert_rows_kept(b.ids)
            sim.start()
            await b.wait_for(lambda: "stale" not in b.status, "fresh data")


# ----- the token refused, the job gone ----------------------------------------------------------


async def test_refused_token_says_how_to_fix_it_and_keeps_rows() -> None:
    with running(make_sim()) as sim:
        async with board(sim) as b:
            await b.quiet()
            before = b.ids
            token = sim.token
            sim.token = "revoked"
            await b.wait_for(lambda: "401" in b.status, "the refused token on the status line")
            problem = b.main.status.state.problem
            assert "token" in problem
            assert "NORTHFLANK_API_TOKEN" in problem or "--token-file" in problem
            assert b.main.status.state.problem_kind == "error"
            await b.wait_for(lambda: any("401" in text for text in notifications(b)),
                             "the notification")
            b.assert_rows_kept(before)
            # The token is good again: `r` (the footer's Refresh) brings the board back, and
            # older pages load again when asked.
            sim.token = token
            await b.pilot.press("r")
            await b.wait_for(lambda: not b.main.status.state.problem, "recovery")
            await b.pilot.press("home", "end")
            await b.wait_for(lambda: len(b.ids) > len(before), "an older page")
            await b.quiet()
            assert list(b.run_list.runs) == expected_runs(sim, len(b.ids))


def remove_job(world: World, project: str, job: str) -> None:
    """The world has no API to delete a job: reach in (test only)."""
    with world._lock:
        del world._jobs[project][job]


async def test_job_gone_mid_session_says_what_to_do_and_keeps_rows() -> None:
    with running(make_sim()) as sim:
        async with board(sim) as b:
            await b.quiet()
            before = b.ids
            remove_job(sim.world, PROJECT, JOB)
            await b.wait_for(lambda: "Pick another job" in b.status, "the gone job notice")
            assert "404" in b.main.status.state.problem
            assert b.main.status.state.problem_kind == "error"
            b.assert_rows_kept(before)


async def test_unknown_job_says_what_to_do() -> None:
    with running(make_sim()) as sim:
        async with board(sim, job="no-such-job", first_page=False) as b:
            await b.wait_for(lambda: "Pick another job" in b.status, "the unknown job notice")
            assert "404" in b.main.status.state.problem
            assert list(b.run_list.runs) == []
            assert b.main.status.state.problem_kind == "error"
