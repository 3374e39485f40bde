"""The watch engine under test, on a fake clock, against the simulator over loopback.

No real time passes: the engine's clock is a `FakeClock`, the client's retry sleep moves it
(and the simulated world) instead of sleeping, and `run_for()` moves both from one due moment
to the next. The simulator answers over real loopback HTTP; a `ScriptedTransport` between the
client and it records each request at its fake-clock time and can fail, hold or cut off
chosen requests, so that every test is exact and never waits for a guessed delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TypeVar

import httpx

from tui.api.client import NorthflankClient
from tui.api.models import JobRun
from tui.api.ratelimit import RateLimitBudget
from tui.simulator import Simulator, World, run_simulator
from tui.watch.clock import FakeClock
from tui.watch.events import EngineCrashed, Event, FeedChanged, JobKey, RunsFailed
from tui.watch.feed import JobFeed
from tui.watch.scheduler import TICK, Scheduler

START = datetime(2026, 11, 29, 12, 0, 0, tzinfo=timezone.utc)
PROJECT, JOB = "payments", "settle-ledger"  # cron every minute, a run RUNNING at START
KEY = JobKey(PROJECT, JOB)
# `step()` answering 0 means something is due now that it did not start; the real loop would
# wake again at once. A few in a row can happen (a task that finished frees a slot), more is
# the engine spinning a core.
MAX_ZERO_DELAYS = 3
# Real seconds a test waits at most for loopback I/O it started (never a delay it guesses).
IO_DEADLINE = 20.0

E = TypeVar("E", bound=Event)


# ----- the transport ----------------------------------------------------------------------------


@dataclass
class Request:
    """One request the client sent, at its fake-clock time, and what became of it."""

    at: float
    method: str
    target: str  # path and query
    outcome: str = "sent"  # the status code, or "offline", "timeout", "held"

    @property
    def path(self) -> str:
        return self.target.partition("?")[0]

    @property
    def is_poll(self) -> bool:
        """The first page of a job's runs: what every poll starts with."""
        return self.method == "GET" and self.path.endswith("/runs") \
            and "cursor=" not in self.target

    @property
    def is_older_page(self) -> bool:
        """A page of a job's runs by cursor (an older page, or a gap page after a sleep)."""
        return self.method == "GET" and self.path.endswith("/runs") and "cursor=" in self.target

    @property
    def is_run(self) -> bool:
        """One run fetched by id (an active run off the first page)."""
        return self.method == "GET" and "/runs/" in self.path


Match = Callable[[httpx.Request], bool]


def target_of(request: httpx.Request) -> str:
    query = request.url.query.decode("ascii")
    return request.url.path + (f"?{query}" if query else "")


@dataclass
class PathFault:
    """Requests that `match` fail this way, `count` times (None: until removed)."""

    match: Match
    status: int | None = None  # an HTTP status answered by the transport itself ...
    timeout: bool = False  # ... or no answer in time (the fake clock moves by `hang`) ...
    drop: bool = False  # ... or the connection closed without an answer
    body: bytes | None = None  # the body answered with `status` (default: an error body)
    hang: float = 15.0
    retry_after: float | None = None
    count: int | None = None
    hits: int = 0


@dataclass
class Gate:
    """Holds the first `count` requests that `match` until released (a hung or a slow
    answer); later ones pass."""

    match: Match
    count: int = 1
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    held: int = 0

    def release(self) -> None:
        self.released.set()


class ScriptedTransport(httpx.AsyncBaseTransport):
    """Loopback HTTP to the simulator, with each request stamped on the fake clock, and
    scripted faults for chosen requests (per path) that the simulator's queue cannot aim."""

    def __init__(self, now: Callable[[], float], advance: Callable[[float], None]) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._now = now
        self._advance = advance
        self.log: list[Request] = []
        self.keep_log = True  # off in the soak: a day of requests would count as memory
        self.on_request: Callable[[Request], None] | None = None
        self.outcomes: Counter[str] = Counter()  # every request's outcome, log or not
        self.offline = False  # every connection refused: an outage as the client sees it
        self.faults: list[PathFault] = []
        self.gates: list[Gate] = []
        self._wire = asyncio.Lock()
        self.serialize = True

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        entry = Request(self._now(), request.method, target_of(request))
        if self.keep_log:
            self.log.append(entry)
        if self.on_request is not None:
            self.on_request(entry)
        if self.offline:
            entry.outcome = "offline"
            self.outcomes[entry.outcome] += 1
            raise httpx.ConnectError("connection refused (test outage)", request=request)
        for fault in self.faults:
            if fault.count is not None and fault.hits >= fault.count:
                continue
            if fault.match(request):
                fault.hits += 1
                try:
                    return self._fail(entry, fault, request)
                finally:
                    self.outcomes[entry.outcome] += 1
        for gate in self.gates:
            if gate.held < gate.count and gate.match(request) and not gate.released.is_set():
                entry.outcome = "held"
                gate.held += 1
                gate.arrived.set()
                await gate.released.wait()
        # One request on the wire at a time: when several are in flight, the order in which
        # loopback answers arrive would otherwise depend on the machine (and so would every
        # budget decision after it). The order they are sent in stays the engine's.
        async with self._wire if self.serialize else contextlib.nullcontext():
            response = await self._inner.handle_async_request(request)
            await response.aread()
        entry.outcome = str(response.status_code)
        self.outcomes[entry.outcome] += 1
        return response

    def _fail(self, entry: Request, fault: PathFault, request: httpx.Request) -> httpx.Response:
        if fault.timeout:
            entry.outcome = "timeout"
            self._advance(fault.hang)
            raise httpx.ReadTimeout("no answer in time (test)", request=request)
        if fault.drop:
            entry.outcome = "drop"
            raise httpx.RemoteProtocolError("Server disconnected (test)", request=request)
        status = fault.status or 500
        entry.outcome = str(status)
        headers = {"content-type": "application/json"}
        if fault.retry_after is not None:
            headers["retry-after"] = str(int(fault.retry_after))
        body = fault.body
        if body is None:
            body = json.dumps({"error": {"status": status, "message": "scripted"}}).encode()
        return httpx.Response(status, headers=headers, content=body, request=request)

    def fail(
        self, match: Match, status: int | None = None, *, timeout: bool = False,
        drop: bool = False, body: bytes | None = None, hang: float = 15.0,
        retry_after: float | None = None, count: int | None = None,
    ) -> PathFault:
        """Answer requests that `match` with `status` (and `body`), or time them out, or
        drop them, `count` times (None: until removed from `faults`)."""
        fault = PathFault(match, status, timeout, drop, body, hang, retry_after, count)
        self.faults.append(fault)
        return fault

    def hold(self, match: Match, count: int = 1) -> Gate:
        gate = Gate(match, count)
        self.gates.append(gate)
        return gate

    async def aclose(self) -> None:
        for gate in self.gates:
            gate.release()
        await self._inner.aclose()


def path_is(path: str) -> Match:
    return lambda request: request.url.path == path


def run_path(run_id: str, project: str = PROJECT, job: str = JOB) -> str:
    return f"/v1/projects/{project}/jobs/{job}/runs/{run_id}"


def older_page(request: httpx.Request) -> bool:
    return request.url.path.endswith("/runs") and b"cursor=" in request.url.query


def first_page(request: httpx.Request) -> bool:
    return request.method == "GET" and request.url.path.endswith("/runs") \
        and b"cursor=" not in request.url.query


# ----- the engine -------------------------------------------------------------------------------


@dataclass(repr=False)
class Engine:
    """A scheduler on a fake clock, its client, the simulator and everything they said."""

    sim: Simulator
    clock: FakeClock
    transport: ScriptedTransport
    client: NorthflankClient
    scheduler: Scheduler
    events: list[tuple[float, Event]] = field(default_factory=list)
    record_events: bool = True  # off in the soak (crashes are kept whatever)
    crashes: list[EngineCrashed] = field(default_factory=list)

    def hear(self, event: Event) -> None:
        if isinstance(event, EngineCrashed):
            self.crashes.append(event)
        if self.record_events:
            self.events.append((self.clock.monotonic(), event))

    @property
    def world(self) -> World:
        return self.sim.world

    @property
    def now(self) -> float:
        return self.clock.monotonic()

    @property
    def requests(self) -> list[Request]:
        return self.transport.log

    # ----- time ----------------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Time passes for everyone: the engine's clocks and the server's world."""
        if seconds > 0:
            self.clock.advance(seconds)
            self.sim.world.advance(seconds)

    def sigstop(self, seconds: float) -> None:
        """The process is stopped for `seconds` (both clocks move on) and nothing runs."""
        self.advance(seconds)

    def lid_closed(self, seconds: float) -> None:
        """The machine sleeps: the monotonic clock stands still, the wall clock and the
        server's world move on."""
        self.clock.jump_wall(seconds)
        self.sim.world.advance(seconds)

    async def run_for(self, seconds: float, *, tick: bool = False) -> None:
        """Let `seconds` of fake time pass, starting whatever falls due on the way.

        Each `step()` starts what is due and awaits it (loopback I/O; no time passes but for
        client retries); then the clocks jump to the next due moment. `tick` also calls
        `notice_time()` at least once a TICK, as the app's clock tick does.
        """
        await self._drive(seconds, None, tick)

    async def run_until(
        self, condition: Callable[[], object], within: float, what: str, *, tick: bool = False
    ) -> float:
        """Run until `condition()` holds right after a step (before time moves on, so the
        world is as the last requests saw it); returns the fake seconds it took."""
        begin = self.clock.now
        if not await self._drive(within, condition, tick):
            raise AssertionError(f"{what}: not within {within:g} s of fake time")
        return self.clock.now - begin

    async def _drive(
        self, seconds: float, condition: Callable[[], object] | None, tick: bool
    ) -> bool:
        end = self.clock.now + seconds
        zeros = 0
        for _ in range(10_000_000):
            delay = await self.scheduler.step()
            if condition is not None and condition():
                return True
            remaining = end - self.clock.now
            if remaining <= 0:
                return False
            if delay is None:
                delay = remaining
            if tick:
                delay = min(delay, TICK)
            if delay <= 0:
                zeros += 1
                assert zeros <= MAX_ZERO_DELAYS, (
                    f"the engine spins: step() keeps answering 0 at {self.clock.now}"
                )
                continue
            zeros = 0
            self.advance(min(delay, remaining))
            if tick:
                self.scheduler.notice_time()
        raise AssertionError("the engine never let time pass")

    async def settle(self) -> None:
        """Start what is due now and await all of it (no time passes)."""
        await self.scheduler.step()

    async def until_io(self, event: asyncio.Event, what: str) -> None:
        """Wait (a real deadline, only as a safety net) for loopback I/O to reach a gate."""
        try:
            await asyncio.wait_for(event.wait(), IO_DEADLINE)
        except asyncio.TimeoutError:
            raise AssertionError(f"timed out waiting for {what}") from None

    async def until_event(self, condition: Callable[[Event], bool], what: str) -> Event:
        """Wait (a real deadline, only as a safety net) for an event the engine emits."""
        seen = asyncio.get_running_loop().create_future()

        def hear(event: Event) -> None:
            if not seen.done() and condition(event):
                seen.set_result(event)

        stop = self.scheduler.subscribe(hear)
        try:
            result: Event = await asyncio.wait_for(seen, IO_DEADLINE)
            return result
        except asyncio.TimeoutError:
            raise AssertionError(f"timed out waiting for {what}") from None
        finally:
            stop()

    # ----- watching ------------------------------------------------------------------------

    def watch(self, key: JobKey = KEY) -> JobFeed:
        return self.scheduler.watch(key)

    async def watch_loaded(self, key: JobKey = KEY) -> JobFeed:
        """Watch a job and let its first poll land."""
        feed = self.watch(key)
        await self.settle()
        assert feed.last_good is not None, feed.problem
        return feed

    # ----- what happened -------------------------------------------------------------------

    def mark(self) -> int:
        """A bookmark in the request log."""
        return len(self.transport.log)

    def requests_since(self, mark: int) -> list[Request]:
        return self.transport.log[mark:]

    def polls_since(self, mark: int) -> list[Request]:
        return [entry for entry in self.requests_since(mark) if entry.is_poll]

    def events_of(self, kind: type[E], since: float = float("-inf")) -> list[E]:
        return [event for at, event in self.events if isinstance(event, kind) and at >= since]

    def feed_events(self, key: JobKey = KEY) -> Iterator[tuple[float, FeedChanged]]:
        for at, event in self.events:
            if isinstance(event, FeedChanged) and event.key == key:
                yield at, event

    def failed_run_ids(self) -> list[str]:
        return [run.id for event in self.events_of(RunsFailed) for run in event.runs]

    def expected_runs(self, count: int, key: JobKey = KEY) -> list[JobRun]:
        """What the server holds now for the first `count` runs, as the client parses them."""
        return [JobRun.from_json(item)
                for item in self.sim.world.runs(key.project_id, key.job_id, count)]

    def matches_server(self, feed: JobFeed) -> bool:
        runs = list(feed.store.runs)
        return bool(runs) and runs == self.expected_runs(len(runs), feed.key)

    def assert_healthy(self) -> None:
        crashes = self.crashes
        assert not crashes, f"engine crashed: {crashes[0].what}: {crashes[0].error!r}"
        assert not self.sim.errors, "simulator errors:\n" + "\n".join(self.sim.errors)


@contextlib.asynccontextmanager
async def engine(
    *,
    seed: int = 7,
    rate_limit: int = 1_000_000,
    share: float = 1.0,
    refresh: float = 5.0,
    idle_interval: float = 30.0,
    page_size: int = 20,
    max_retries: int = 1,
    backoff_base: float = 0.05,
    history: bool = False,
) -> AsyncIterator[Engine]:
    """The engine under test. The client retries once, briefly, inside a call (so that the
    feed's own back-off is what is tested); the quota and the share are generous unless a
    test is about the budget (it would only stretch the interval). The world is the seeded
    one without its history of thousands of runs (`history=True` for it): a few pages of
    each job are enough for paging, gaps and restarts, and building it is faster."""
    with run_simulator(seed=7, speed=0.0, start=START, rate_limit=rate_limit,
                       history=history) as sim:
        clock = FakeClock()
        holder: list[Engine] = []

        def advance(seconds: float) -> None:
            holder[0].advance(seconds)

        async def sleep(seconds: float) -> None:
            advance(seconds)

        transport = ScriptedTransport(clock.monotonic, advance)
        client = NorthflankClient(
            sim.token, sim.url, transport=transport, sleep=sleep,
            budget=RateLimitBudget(share=share, clock=clock.monotonic),
            max_retries=max_retries, backoff_base=backoff_base, rng=random.Random(seed),
        )
        scheduler = Scheduler(
            client, clock=clock, refresh=refresh, idle_interval=idle_interval,
            page_size=page_size, rng=random.Random(seed),
        )
        state = Engine(sim, clock, transport, client, scheduler)
        holder.append(state)
        scheduler.subscribe(state.hear)
        try:
            yield state
            state.assert_healthy()
        finally:
            await scheduler.aclose()
            await client.aclose()  # closes the transport too (and opens every gate)
