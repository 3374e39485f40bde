"""Resilience: the board against the simulator over real loopback, while the API misbehaves.

Outages, bursts of 429/5xx, latency, dropped connections, broken bodies, a suspended process,
a long random fault schedule, a stale board, a revoked token and a deleted job. In each case
the app must not crash, must keep the rows it has, must say on the status line what is going
on, and must come back by itself once the API does.

The simulator's clock is frozen (speed 0) unless a test moves it with `world.advance()`, so
what the server holds is exact at every assertion. The client retries once, quickly, inside a
call (`max_retries=1`, `backoff_base=0.05`) so that the app's own back-off is what is tested.
The API budget is made generous (the quota and the share): the budget has its own tests, and
here it would only stretch the poll interval to minutes.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest
from rich.style import Style

from tui.api.client import NorthflankClient
from tui.api.models import JobRun
from tui.api.ratelimit import RateLimitBudget
from tui.app import NfRunsApp
from tui.options import AppOptions
from tui.polling import MAX_BACKOFF
from tui.screens.main import MAX_GAP_PAGES, MainScreen
from tui.simulator import Simulator, World

from . import harness

START = datetime(2026, 11, 29, 12, 0, 0, tzinfo=timezone.utc)
PROJECT, JOB = "payments", "settle-ledger"  # cron every minute, a run RUNNING at START
SIZE = (120, 40)


# ----- harness ----------------------------------------------------------------------------------


@dataclass(kw_only=True)
class Board(harness.Board):
    """The board, with its client and the time of each request the simulator saw."""

    client: NorthflankClient
    request_times: list[tuple[float, str, str]] = field(default_factory=list)

    async def quiet(self, calm: float = 0.3, timeout: float = 10.0) -> None:
        """Wait until no poll or page load is in flight and no request went out for `calm` s
        (a page that wants the next one posts for it a moment after it is shown)."""
        screen = self.screen

        def calm_now() -> bool:
            last = self.request_times[-1][0] if self.request_times else 0.0
            return (
                not screen._polling and not screen.run_list.loading_more
                and time.monotonic() - last >= calm
            )

        await self.wait(calm_now, "a quiet moment", timeout)

    async def settle(self, seconds: float) -> None:
        """Let the app run for a while (real time)."""
        await self.pilot.pause(seconds)

    def requests_since(self, mark: float) -> list[tuple[float, str, str]]:
        return [entry for entry in self.request_times if entry[0] >= mark]

    def poll_requests_since(self, mark: float) -> list[tuple[float, str, str]]:
        """Requests for the first page of the job's runs (what a poll starts with)."""
        return [
            entry for entry in self.requests_since(mark)
            if entry[1] == "GET" and "/runs?" in entry[2] and "cursor=" not in entry[2]
        ]

    def assert_rows_shown(self, ids: list[str]) -> None:
        """The rows are still there: same runs loaded, and the screen shows rows."""
        assert self.ids[: len(ids)] == ids
        assert self.screen.run_list.visible_text(), "the run list is blank"


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
    kwargs.setdefault("max_retries", 1)
    kwargs.setdefault("backoff_base", 0.05)
    kwargs.setdefault("budget", RateLimitBudget(share=1.0))
    return NorthflankClient(kwargs.pop("token", sim.token), sim.url, **kwargs)


@contextlib.asynccontextmanager
async def board(
    sim: Simulator,
    *,
    client: NorthflankClient | None = None,
    project: str = PROJECT,
    job: str = JOB,
    first_page: bool = True,
    **options: Any,
) -> AsyncIterator[Board]:
    """The app on `job`, polling the simulator; yields once the first page is shown (unless
    `first_page` is False). Notifications are on, so tests can read them."""
    options.setdefault("refresh", 0.5)
    options.setdefault("tick", 0.2)
    options.setdefault("idle_interval", 1.0)
    options.setdefault("tty_check", 0)
    client = client or make_client(sim)
    app = NfRunsApp(
        client, AppOptions(project=project, job=job, **options), now=sim.world.now
    )
    times: list[tuple[float, str, str]] = []
    record = sim._record

    def timed_record(method: str, path: str) -> None:
        times.append((time.monotonic(), method, path))
        record(method, path)

    sim._record = timed_record  # type: ignore[method-assign]
    try:
        async with harness.run_board(
            app, SIZE,
            lambda pilot, errors: Board(app, pilot, sim, errors, client=client,
                                        request_times=times),
            wait_first_page=first_page,
        ) as state:
            yield state
    finally:
        del sim._record


def expected_runs(sim: Simulator, count: int, project: str = PROJECT, job: str = JOB
                  ) -> list[JobRun]:
    """What the server holds for the first `count` runs, as the app parses them."""
    return [JobRun.from_json(item) for item in sim.world.runs(project, job, count)]


def delays_of(screen: MainScreen, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record every delay the screen schedules its next poll at."""
    delays: list[float] = []
    schedule = screen._schedule_poll

    def spy(delay: float) -> None:
        delays.append(delay)
        schedule(delay)

    monkeypatch.setattr(screen, "_schedule_poll", spy)
    return delays


# ----- 1. outage --------------------------------------------------------------------------------


async def test_outage_backs_off_with_jitter_and_recovers_by_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The API goes away (the issue's 2 minutes, scaled to several failed polls) and comes back."""
    with running(make_sim()) as sim:
        async with board(sim) as b:
            screen = b.screen
            delays = delays_of(screen, monkeypatch)
            await b.quiet()
            before = b.ids
            sim.stop()
            await b.wait(lambda: screen.policy.failures >= 3, "three failed polls", 20)
            # While down: the rows stay, the status line says so and counts down.
            b.assert_rows_shown(before)
            assert b.ids == before
            await b.wait(lambda: "offline, retrying in" in b.status, "the offline notice")
            assert screen.status.state.problem_kind == "warning"
            failed = delays[-screen.policy.failures :]
            # Exponential back-off with full jitter: growing ceilings, never in lock step,
            # never past the cap.
            refresh = screen.options.refresh
            for n, delay in enumerate(failed, start=1):
                ceiling = min(MAX_BACKOFF, refresh * 2 ** min(n, 8))
                assert max(refresh, ceiling / 2) <= delay <= ceiling, (n, delay, failed)
            assert len(set(failed)) == len(failed), f"delays in lock step: {failed}"
            assert failed[-1] > failed[0]

            # The API comes back with news; nobody presses a key.
            new = sim.world.start_run(PROJECT, JOB, duration=3600)
            sim.start()
            await b.wait(lambda: b.ids and b.ids[0] == new["id"], "the new run", 30)
            await b.wait(lambda: not screen.status.state.problem, "the problem cleared")
            assert "offline" not in b.status
            assert "stale" not in b.status
            assert screen.policy.failures == 0
            assert b.ids[1 : len(before) + 1] == before
            assert list(screen.run_list.runs) == expected_runs(sim, len(b.ids))


# ----- 2. bursts of faults ----------------------------------------------------------------------


# kind -> (how many in a row, so the client's own retry fails too; what the status line says)
FAULTS: dict[str, tuple[int, str]] = {
    "500": (2, "The API failed (500)"),
    "502": (2, "The API failed (502)"),
    "503": (2, "The API failed (503)"),
    "drop": (2, "offline"),
    "malformed": (1, "Unexpected API answer"),
    "html": (1, "Unexpected API answer"),
    "empty": (1, "Unexpected API answer"),
    "wrong_shape": (1, "Unexpected API answer"),
}


@pytest.mark.parametrize("kind", list(FAULTS))
async def test_fault_burst_keeps_rows_and_says_what_happens(kind: str) -> None:
    count, said = FAULTS[kind]
    with running(make_sim()) as sim:
        async with board(sim) as b:
            screen = b.screen
            await b.quiet()
            before = b.ids
            sim.faults.queue(kind, count)
            screen.poll_now()
            await b.wait(lambda: screen.status.state.problem != "", "the problem shown")
            assert said in screen.status.state.problem, screen.status.state.problem
            assert said in b.status and ", retrying in " in b.status, b.status
            assert screen.status.state.problem_kind == "warning"
            assert sim.faults.pending == 0
            b.assert_rows_shown(before)
            assert b.ids == before
            # The next poll is on time and clears the problem by itself.
            await b.wait(lambda: not screen.status.state.problem, "recovery", 10)
            assert said not in b.status
            assert list(screen.run_list.runs) == expected_runs(sim, len(before))


async def test_latency_spike_keeps_rows_and_shows_refreshing() -> None:
    with running(make_sim()) as sim:
        async with board(sim) as b:
            screen = b.screen
            await b.quiet()
            before = b.ids
            sim.faults.latency = 1.5
            screen.poll_now()
            await b.settle(0.5)
            assert screen._polling
            assert "refreshing…" in b.status
            assert not screen.status.state.problem
            b.assert_rows_shown(before)
            sim.faults.latency = 0
            await b.wait(lambda: not screen._polling, "the slow poll", 5)
            assert "refreshing…" not in b.status
            assert not screen.status.state.problem
            assert b.ids == before


async def test_answer_slower_than_the_timeout_is_a_network_fault() -> None:
    with running(make_sim()) as sim:
        client = make_client(sim, timeout=httpx.Timeout(0.5))
        async with board(sim, client=client) as b:
            screen = b.screen
            await b.quiet()
            before = b.ids
            sim.faults.slow_delay = 1.0
            sim.faults.queue("slow", 2)
            screen.poll_now()
            await b.wait(lambda: screen.status.state.problem != "", "the problem shown")
            # The API is reachable but hangs: that is not "offline".
            assert "the API is not answering, retrying in" in b.status, b.status
            b.assert_rows_shown(before)
            await b.wait(lambda: not screen.status.state.problem, "recovery", 10)
            assert b.ids == before


async def test_rate_limit_burst_honours_retry_after() -> None:
    """Two 429s with Retry-After: 2: the client waits 2 s before its own retry, then the
    board waits at least 2 s before its next poll; the status line says why."""
    with running(make_sim()) as sim:
        async with board(sim) as b:
            screen = b.screen
            await b.quiet()
            before = b.ids
            mark = time.monotonic()
            sim.faults.queue("429", 2, retry_after=2)
            screen.poll_now()
            await b.wait(lambda: screen.status.state.problem != "", "the problem shown", 10)
            assert "rate limited" in b.status and "retrying in" in b.status, b.status
            b.assert_rows_shown(before)
            await b.wait(lambda: not screen.status.state.problem, "recovery", 10)
            polls = b.poll_requests_since(mark)
            assert len(polls) >= 3, polls
            first, second, third = (entry[0] for entry in polls[:3])
            assert second - first >= 2.0, "the client retried before Retry-After"
            assert third - second >= 2.0, "the board polled before Retry-After"
            # Nothing else went out in between either.
            assert [entry[0] for entry in b.requests_since(mark)][:3] == [first, second, third]
            assert b.ids == before


async def test_long_retry_after_holds_every_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Retry-After too long to sleep inside a call: the board schedules its next poll past
    it, and loading older pages waits too."""
    with running(make_sim()) as sim:
        async with board(sim, page_size=20) as b:
            screen = b.screen
            delays = delays_of(screen, monkeypatch)
            await b.quiet()
            sim.faults.queue("429", 1, retry_after=45)
            mark = time.monotonic()
            screen.poll_now()
            await b.wait(lambda: screen.status.state.problem != "", "the problem shown")
            assert delays[-1] >= 45
            assert "rate limited by the API, retrying in 4" in b.status, b.status
            assert screen.run_list.has_more
            await b.pilot.press("end")
            await b.settle(1.5)
            assert len(b.requests_since(mark)) == 1, b.requests_since(mark)


async def test_older_page_refused_by_rate_limit_holds_the_poll(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with running(make_sim()) as sim:
        # Polls 20 s apart: the only request during the test is the older page's.
        async with board(sim, page_size=20, refresh=20.0, idle_interval=20.0) as b:
            screen = b.screen
            delays = delays_of(screen, monkeypatch)
            await b.quiet()
            loaded = len(b.ids)
            sim.faults.queue("429", 1, retry_after=40)
            mark = time.monotonic()
            await b.pilot.press("end")
            await b.wait(lambda: "Cannot load more runs" in b.status, "the problem shown")
            assert "Rate limited" in b.status
            assert delays and delays[-1] >= 40
            await b.settle(1.5)
            assert len(b.requests_since(mark)) == 1, b.requests_since(mark)
            assert len(b.ids) == loaded
            b.assert_rows_shown(b.ids)


async def test_older_pages_wanted_during_retry_after_load_once_it_ends() -> None:
    with running(make_sim()) as sim:
        client = make_client(sim, max_retries=0)
        async with board(sim, client=client, page_size=20) as b:
            screen = b.screen
            await b.quiet()
            loaded = len(b.ids)
            sim.faults.queue("429", 1, retry_after=3)
            mark = time.monotonic()
            screen.poll_now()
            await b.wait(lambda: "rate limited" in b.status, "the problem shown")
            await b.pilot.press("end")
            # Nobody presses anything else: the page loads once the hold is over.
            await b.wait(lambda: len(b.ids) > loaded, "the older page", 10)
            requests = b.requests_since(mark)
            refused = requests[0][0]
            assert all(at - refused >= 3.0 for at, _, _ in requests[1:]), requests
            assert list(screen.run_list.runs) == expected_runs(sim, len(b.ids))


# ----- 3. a suspended process -------------------------------------------------------------------

STOP_SECONDS = 3.2  # longer than the tick's gap threshold (3 ticks + 2 s) and the refresh


def suspend_me(seconds: float) -> subprocess.Popen[bytes]:
    """SIGSTOP this process now and SIGCONT it `seconds` later, from a helper process."""
    code = (
        "import os, signal, sys, time\n"
        "pid = int(sys.argv[1])\n"
        "os.kill(pid, signal.SIGSTOP)\n"
        "time.sleep(float(sys.argv[2]))\n"
        "os.kill(pid, signal.SIGCONT)\n"
    )
    return subprocess.Popen([sys.executable, "-c", code, str(os.getpid()), str(seconds)])


async def catch_up_after(b: Board, pause: Callable[[], Any]) -> None:
    """Half an hour passes on the server while the board is not running; then it must catch up
    with one poll (its first page, the gap pages, the active runs) and no burst."""
    screen = b.screen
    await b.quiet()
    await b.wait(lambda: (screen._poll_due or 0) - time.monotonic() > 1.5, "a quiet moment")
    before = list(screen.run_list.runs)
    active_before = [run.id for run in screen.run_list.active_runs]
    assert active_before, "the cron job has a RUNNING run at START"
    b.sim.world.advance(1800)  # 30 cron runs, every run RUNNING before has concluded
    mark = time.monotonic()
    await pause()
    fresh = expected_runs(b.sim, 1)[0]
    await b.wait(lambda: bool(b.ids) and b.ids[0] == fresh.id, "the catch-up poll", 10)
    await b.quiet()
    catch_up = b.requests_since(mark)
    budget = 1 + MAX_GAP_PAGES + len(active_before)
    assert len(catch_up) <= budget, [path for _, _, path in catch_up]
    assert len(b.poll_requests_since(mark)) == 1, "more than one poll on resume"
    # Everything on screen is current at once: new runs on top, the old ones concluded.
    runs = list(screen.run_list.runs)
    assert runs == expected_runs(b.sim, len(runs))
    assert [run.id for run in runs[-len(before):]] == [run.id for run in before]
    assert not screen.run_list.active_runs or screen.run_list.active_runs[0].id == fresh.id
    assert fresh.run_name[-12:] in screen.run_list.visible_text()[0]  # the end tells runs apart
    assert not screen.status.state.problem
    # And then back to the normal pace: no burst after the catch-up.
    settled = time.monotonic()
    await b.settle(1.0)
    assert len(b.requests_since(settled)) <= 1


@pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="needs SIGSTOP/SIGCONT")
async def test_sigstop_then_resume_catches_up_with_one_poll() -> None:
    with running(make_sim()) as sim:
        async with board(sim, page_size=10, refresh=3.0) as b:

            async def sigstop() -> None:
                helper = suspend_me(STOP_SECONDS)
                started = time.monotonic()
                while helper.poll() is None:
                    await b.pilot.pause(0.02)
                assert time.monotonic() - started >= STOP_SECONDS

            await catch_up_after(b, sigstop)


async def test_wall_clock_jump_catches_up_with_one_poll() -> None:
    """A laptop lid: the monotonic clock stood still while the wall clock moved on."""
    with running(make_sim()) as sim:
        async with board(sim, page_size=10, refresh=3.0) as b:

            async def lid_closed() -> None:
                b.screen._last_tick_wall -= 1800
                await b.pilot.pause(0.3)

            await catch_up_after(b, lid_closed)


# ----- 4. nothing lost under a random fault schedule --------------------------------------------


async def random_step(b: Board, rng: random.Random, log: list[str]) -> None:
    sim, world = b.sim, b.sim.world
    action = rng.choice(
        ["fault", "fault", "fault", "outage", "run", "advance", "advance", "end", "pagedown",
         "wait"]
    )
    if action == "fault":
        kind = rng.choice(["500", "503", "429", "drop", "malformed", "wrong_shape"])
        count = rng.randint(1, 3)
        sim.faults.queue(kind, count, retry_after=1 if kind == "429" else None)
        log.append(f"queue {kind} x{count}")
    elif action == "outage":
        if sim.running:
            sim.stop()
            log.append("stop")
        else:
            sim.start()
            log.append("start")
    elif action == "run":
        duration = rng.choice([5, 60, 600, 3600])
        world.start_run(PROJECT, JOB, duration=duration, outcome=rng.choice(["SUCCESS", "FAILED"]))
        log.append(f"start_run {duration}")
    elif action == "advance":
        # Up to 2 h: 120 cron runs, more than the board walks to close a gap (it restarts).
        seconds = rng.choice([5, 30, 61, 300, 900, 1800, 7200])
        world.advance(seconds)
        log.append(f"advance {seconds}")
    elif action in ("end", "pagedown"):
        await b.pilot.press(action)
        log.append(action)
    else:
        log.append("wait")
        await b.settle(0.8)
    await b.settle(rng.uniform(0.05, 0.3))


# More seeds for a longer run: NF_RESILIENCE_SEEDS=50 pytest tests/test_resilience.py -k random
SEEDS = int(os.environ.get("NF_RESILIENCE_SEEDS", "2"))
STEPS = 30


@pytest.mark.parametrize("seed", range(1, SEEDS + 1))
async def test_random_fault_schedule_loses_nothing(seed: int) -> None:
    """Faults, outages, new runs, time passing and paging, in a seeded random order; once the
    API is healthy again the board must show exactly what the server holds for the range it
    loaded: same runs, same order, each once, current statuses."""
    rng = random.Random(seed)
    with running(make_sim()) as sim:
        # A short refresh keeps the back-off (which scales with it) short after the storm.
        async with board(sim, page_size=20, refresh=0.2) as b:
            screen = b.screen
            log: list[str] = []
            for _ in range(STEPS):
                await random_step(b, rng, log)
                b.assert_healthy()
                assert screen.run_list.loaded_count > 0, log
                assert screen.run_list.visible_text(), log
            sim.faults.clear()
            sim.start()
            log.append("clear, start")

            def converged() -> bool:
                runs = list(screen.run_list.runs)
                return (
                    not screen.status.state.problem
                    and not screen.run_list.loading_more
                    and runs == expected_runs(sim, len(runs))
                )

            try:
                await b.wait(converged, "the board to match the server", 30)
            except AssertionError:
                runs = list(screen.run_list.runs)
                server = expected_runs(sim, len(runs))
                ids = [run.id for run in runs]
                first_diff = next(
                    (i for i, (a, c) in enumerate(zip(runs, server, strict=True)) if a != c), None
                )
                raise AssertionError(
                    f"seed {seed}: {len(runs)} loaded, {len(set(ids))} distinct, first "
                    f"difference at {first_diff}; steps: {log}; status: {b.status!r}"
                ) from None


# ----- 5. stale ---------------------------------------------------------------------------------


def stale_span_style(screen: MainScreen) -> Style:
    """The style of the "stale: …" part of the status line."""
    status = screen.status
    text = status.render_text(status.state)
    start = text.plain.index("stale: last update")
    styles = [span.style for span in text.spans if span.start <= start < span.end]
    assert styles, f"the stale notice is not styled: {text.plain!r}"
    style = styles[-1]
    return style if isinstance(style, Style) else Style.parse(style)


def threshold(screen: MainScreen, interval: float) -> float:
    """When data refreshed every `interval` seconds counts as stale: twice that (+1 s)."""
    return 2 * max(interval, screen.options.refresh) + 1


async def test_stale_when_the_last_good_refresh_is_older_than_twice_the_interval() -> None:
    with running(make_sim()) as sim:
        async with board(sim, refresh=0.5) as b:
            screen = b.screen
            await b.quiet()
            assert not screen.status.state.stale
            assert "stale" not in b.status
            sim.stop()
            await b.wait(lambda: screen.policy.failures >= 1, "a failed poll")
            last_good = screen._last_good
            assert last_good is not None
            await b.wait(lambda: screen.status.state.stale, "the stale flag", 10)
            age = time.monotonic() - last_good
            assert age >= threshold(screen, 0.5) - 0.3  # a tick's rounding
            await b.wait(lambda: "stale: last update" in b.status, "the stale notice")
            # Styled as a warning (a component class, so themes and NO_COLOR apply) ...
            warning = screen.status.get_component_rich_style("status-line--warning", partial=True)
            assert stale_span_style(screen) == warning
            assert warning != Style()
            # ... and never "stale: last update just now".
            assert "just now" not in b.status, b.status
            assert "s ago" in b.status, b.status
            b.assert_rows_shown(b.ids)
            sim.start()
            await b.wait(lambda: not screen.status.state.stale, "fresh data", 15)
            assert "stale" not in b.status


async def test_a_hung_request_turns_the_board_stale() -> None:
    """A poll that takes forever (the API hangs, no error): "refreshing…" alone would look
    current; the board must still say the data is stale."""
    with running(make_sim()) as sim:
        async with board(sim, refresh=1.0) as b:
            screen = b.screen
            await b.quiet()
            sim.faults.latency = 8.0
            await b.wait(lambda: screen._polling, "a poll in flight", 5)
            await b.wait(lambda: screen.status.state.stale, "the stale flag", 8)
            await b.wait(lambda: "stale: last update" in b.status, "the stale notice", 2)
            assert screen._polling
            sim.faults.latency = 0.0


async def test_stale_waits_for_twice_the_interval_the_budget_set() -> None:
    """Polling every few seconds to fit the API budget, one failed poll does not make the
    data stale yet: only twice that interval does."""
    with running(make_sim(rate_limit=3600)) as sim:  # 3600/h: one request a second
        async with board(sim, refresh=0.5) as b:
            screen = b.screen
            await b.wait(lambda: screen.status.state.interval_reason == "budget", "budget pace")
            await b.quiet()
            interval = screen.status.state.interval
            assert interval is not None and interval >= 0.9
            sim.stop()
            await b.wait(lambda: screen.policy.failures >= 1, "a failed poll", 10)
            last_good = screen._last_good
            assert last_good is not None
            while time.monotonic() - last_good < threshold(screen, interval) - 0.5:
                assert not screen.status.state.stale, (time.monotonic() - last_good, b.status)
                await b.pilot.pause(0.1)
            await b.wait(lambda: screen.status.state.stale, "the stale flag", 3)


# ----- 6. the token refused, the job gone -------------------------------------------------------


def notifications(b: Board) -> list[str]:
    return [notification.message for notification in b.app._notifications]


async def test_token_refused_mid_session_keeps_rows_and_says_what_to_do() -> None:
    with running(make_sim()) as sim:
        async with board(sim) as b:
            screen = b.screen
            await b.quiet()
            before = b.ids
            sim.token = "revoked"
            await b.wait(lambda: screen.status.state.problem != "", "the problem shown", 5)
            problem = screen.status.state.problem
            assert "401" in problem and "token" in problem
            assert "NORTHFLANK_API_TOKEN" in problem or "--token-file" in problem
            assert screen.status.state.problem_kind == "error"
            assert any("401" in text for text in notifications(b))
            b.assert_rows_shown(before)
            assert b.ids == before
            # No hammering with a refused token, not even for older pages.
            mark = time.monotonic()
            await b.pilot.press("end")
            await b.settle(1.5)
            assert b.requests_since(mark) == []
            assert b.ids == before
            # The token is good again: `r` (the footer's Refresh) brings the board back, and
            # older pages load again when asked.
            sim.token = b.client._http.headers["Authorization"].split()[-1]
            await b.pilot.press("r")
            await b.wait(lambda: not screen.status.state.problem, "recovery", 5)
            await b.pilot.press("home", "end")
            await b.wait(lambda: len(b.ids) > len(before), "an older page", 5)
            await b.quiet()
            assert list(screen.run_list.runs) == expected_runs(sim, len(b.ids))


def remove_job(world: World, project: str, job: str) -> None:
    """The world has no API to delete a job: reach in (test only)."""
    with world._lock:
        del world._jobs[project][job]


async def test_job_gone_mid_session_keeps_rows_and_says_what_to_do() -> None:
    with running(make_sim()) as sim:
        async with board(sim) as b:
            screen = b.screen
            await b.quiet()
            before = b.ids
            remove_job(sim.world, PROJECT, JOB)
            await b.wait(lambda: screen.status.state.problem != "", "the problem shown", 5)
            problem = screen.status.state.problem
            assert "404" in problem and "Pick another job" in problem
            assert screen.status.state.problem_kind == "error"
            b.assert_rows_shown(before)
            mark = time.monotonic()
            await b.settle(1.5)
            assert b.requests_since(mark) == []
            assert b.ids == before


async def test_unknown_job_says_what_to_do() -> None:
    with running(make_sim()) as sim:
        async with board(sim, job="no-such-job", first_page=False) as b:
            screen = b.screen
            await b.wait(lambda: screen.status.state.problem != "", "the problem shown", 5)
            assert "404" in screen.status.state.problem
            assert "Pick another job" in b.status
            assert list(screen.run_list.runs) == []
            assert screen.status.state.problem_kind == "error"


async def test_page_in_flight_when_the_list_restarts_is_not_appended() -> None:
    """An older page is on its way when a poll finds so many new runs that the list restarts
    from the head: that page belongs to the old list and must not be glued under the new one."""
    with running(make_sim()) as sim:
        # Polls 20 s apart: the slow request is the older page's; the test polls itself.
        async with board(sim, page_size=20, refresh=20.0, idle_interval=20.0) as b:
            screen = b.screen
            await b.quiet()
            sim.faults.slow_delay = 1.5
            sim.faults.queue("slow", 1)
            await b.pilot.press("end")
            await b.wait(lambda: screen.run_list.loading_more, "the older page requested")
            await b.wait(lambda: sim.faults.pending == 0, "the slow request received")
            sim.world.advance(7200)  # 120 new runs: more than the gap walk covers
            screen.poll_now()
            fresh = expected_runs(sim, 1)[0]
            await b.wait(lambda: b.ids[0] == fresh.id, "the restarted list", 5)
            await b.settle(sim.faults.slow_delay)  # the old page's answer arrives meanwhile
            await b.quiet()
            runs = list(screen.run_list.runs)
            assert runs == expected_runs(sim, len(runs))
