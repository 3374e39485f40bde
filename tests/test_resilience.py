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
from textual.message import Message
from textual.pilot import Pilot
from textual.worker import Worker, WorkerState

from tui.api.client import NorthflankClient
from tui.api.models import JobRun
from tui.api.ratelimit import RateLimitBudget
from tui.app import NfRunsApp
from tui.options import AppOptions
from tui.polling import MAX_BACKOFF
from tui.screens.main import MAX_GAP_PAGES, MainScreen
from tui.simulator import Simulator, World

START = datetime(2026, 11, 29, 12, 0, 0, tzinfo=timezone.utc)
PROJECT, JOB = "payments", "settle-ledger"  # cron every minute, a run RUNNING at START
SIZE = (120, 40)


# ----- harness ----------------------------------------------------------------------------------


@dataclass
class Board:
    """The app under test, its screen, the simulator and what the test observed."""

    app: NfRunsApp
    pilot: Pilot[int]
    sim: Simulator
    client: NorthflankClient
    worker_errors: list[BaseException | None] = field(default_factory=list)
    request_times: list[tuple[float, str, str]] = field(default_factory=list)

    @property
    def screen(self) -> MainScreen:
        screen = self.app.screen
        assert isinstance(screen, MainScreen), f"unexpected screen {screen!r}"
        return screen

    @property
    def ids(self) -> list[str]:
        return [run.id for run in self.screen.run_list.runs]

    @property
    def status(self) -> str:
        return self.screen.status.plain

    async def wait(self, condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
        """Let the app run until `condition()` holds (checked every 50 ms)."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout} s waiting for {what}; status: {self.status!r}"
                )
            await self.pilot.pause(0.05)

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

    def assert_healthy(self) -> None:
        assert self.app.is_running, "the app exited"
        assert self.app._exception is None, repr(self.app._exception)
        assert not self.worker_errors, f"worker errors: {self.worker_errors!r}"
        assert not self.sim.errors, "simulator errors:\n" + "\n".join(self.sim.errors)

    def assert_rows_shown(self, ids: list[str]) -> None:
        """The rows are still there: same runs loaded, and the screen shows rows."""
        assert self.ids[: len(ids)] == ids
        assert self.screen.run_list.visible_text(), "the run list is blank"


def make_sim(*, history: bool = True, rate_limit: int = 1_000_000) -> Simulator:
    world = World(seed=7, speed=0.0, start=START, history=history)
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
    **options: Any,
) -> AsyncIterator[Board]:
    """The app on `job`, polling the simulator; yields once the first page is shown."""
    options.setdefault("refresh", 0.5)
    options.setdefault("tick", 0.2)
    options.setdefault("idle_interval", 1.0)
    options.setdefault("tty_check", 0)
    client = client or make_client(sim)
    app = NfRunsApp(
        client, AppOptions(project=project, job=job, **options), now=sim.world.now
    )
    errors: list[BaseException | None] = []
    times: list[tuple[float, str, str]] = []
    record = sim._record

    def timed_record(method: str, path: str) -> None:
        times.append((time.monotonic(), method, path))
        record(method, path)

    def hook(message: Message) -> None:
        if isinstance(message, Worker.StateChanged) and message.state is WorkerState.ERROR:
            errors.append(message.worker.error)

    sim._record = timed_record  # type: ignore[method-assign]
    try:
        async with app.run_test(size=SIZE, message_hook=hook) as pilot:
            state = Board(app, pilot, sim, client, errors, times)
            await state.wait(lambda: bool(state.screen.run_list.runs), "the first page", 15)
            yield state
            state.assert_healthy()
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
            await b.wait(lambda: screen.policy.failures == 0 and not screen._polling, "idle")
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


def idle(b: Board) -> Callable[[], bool]:
    screen = b.screen
    return lambda: not screen._polling and not screen.run_list.loading_more


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
            await b.wait(idle(b), "idle")
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
            await b.wait(idle(b), "idle")
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
            await b.wait(idle(b), "idle")
            before = b.ids
            sim.faults.slow_delay = 1.0
            sim.faults.queue("slow", 2)
            screen.poll_now()
            await b.wait(lambda: screen.status.state.problem != "", "the problem shown")
            assert "retrying in" in b.status
            b.assert_rows_shown(before)
            await b.wait(lambda: not screen.status.state.problem, "recovery", 10)
            assert b.ids == before


async def test_rate_limit_burst_honours_retry_after() -> None:
    """Two 429s with Retry-After: 2: the client waits 2 s before its own retry, then the
    board waits at least 2 s before its next poll; the status line says why."""
    with running(make_sim()) as sim:
        async with board(sim) as b:
            screen = b.screen
            await b.wait(idle(b), "idle")
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
            await b.wait(idle(b), "idle")
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
        async with board(sim, page_size=20) as b:
            screen = b.screen
            delays = delays_of(screen, monkeypatch)
            await b.wait(idle(b), "idle")
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
            await b.wait(idle(b), "idle")
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
