"""The one scheduler of the app: it owns the request budget and decides who may ask next.

Feeds say what they want (a poll, an older page) and when; one-shot calls (projects, jobs,
start, abort) queue here too. The scheduler starts what is due, at most a few requests at a
time, paces each feed's polls to the budget share, and tells its subscribers what happened.
Time comes from an injected clock: the app runs `run()` on Textual's event loop, tests call
`step()` on a fake clock and no real time passes.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

from ..api.client import NorthflankClient
from ..api.errors import BudgetExhaustedError, NorthflankError, UnauthorizedError
from ..api.models import Job, JobDetails
from ..api.ratelimit import RateLimitBudget
from ..options import DEFAULT_PAGE_SIZE, DEFAULT_REFRESH, IDLE_INTERVAL
from .board_watch import BOARD_PAGE, BoardWatch
from .clock import Clock, SystemClock
from .events import (
    AccessLost,
    ActionDone,
    CatalogFailed,
    EngineCrashed,
    Event,
    FeedChanged,
    JobKey,
    JobsLoaded,
    PlanReason,
    ProjectsLoaded,
    TaskKind,
)
from .feed import FATAL, PERMANENT, JobFeed
from .job_index import INDEX_SHARE, INDEX_TTL, JobIndex
from .planner import BoardPlanner, Look, board_per_hour

Subscriber = Callable[[Event], None]
# Requests in flight at once: a slow poll never blocks the page the user asked for.
MAX_IN_FLIGHT = 3
# A poll held back for the budget waits at least this long (s), so holding never spins.
MIN_HOLD = 1.0
# The app's clock tick; a gap much longer than it, or wall and monotonic time drifting apart,
# means the process was stopped or the machine slept: every feed polls once now.
TICK = 1.0
SUSPEND_DRIFT = 5.0
# A step of the job index walk waits for this many requests to be free besides its own (the
# page the user asks for goes first), re-checking every INDEX_HOLD seconds at the most.
INDEX_RESERVE = 2
INDEX_HOLD = 5.0


@dataclass(frozen=True, slots=True)
class _TaskKey:
    kind: TaskKind
    target: object


class Scheduler:
    """Starts the engine's requests within the budget; subscribers hear every outcome."""

    def __init__(
        self,
        client: NorthflankClient,
        *,
        clock: Clock | None = None,
        refresh: float = DEFAULT_REFRESH,
        idle_interval: float = IDLE_INTERVAL,
        page_size: int = DEFAULT_PAGE_SIZE,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.clock: Clock = clock or SystemClock()
        self.refresh = refresh
        self.idle_interval = idle_interval
        self.page_size = page_size
        self._rng = rng or random.Random()
        self.feeds: dict[JobKey, JobFeed] = {}
        self._subscribers: list[Subscriber] = []
        self._tasks: dict[_TaskKey, asyncio.Task[None]] = {}
        self._reserved: dict[_TaskKey, int] = {}  # requests a poll in flight may still send
        self._queued: list[tuple[_TaskKey, Callable[[], Awaitable[list[Event]]]]] = []
        self._wake: asyncio.Event | None = None
        self._last_mono = self.clock.monotonic()
        self._last_wall = self.clock.wall()
        self._closed = False
        self.board: BoardWatch | None = None
        self.index: JobIndex | None = None

    @property
    def budget(self) -> RateLimitBudget:
        return self.client.budget

    @property
    def busy(self) -> bool:
        """A request is on its way or queued."""
        return bool(self._tasks or self._queued)

    @property
    def in_flight(self) -> list[str]:
        """What is on its way now ("poll", "more", "projects", …), for the status and tests."""
        return [key.kind for key in self._tasks]

    # ----- subscribers -----------------------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Hear every event; returns the call that stops it."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers \
            else None

    def _emit(self, events: list[Event]) -> None:
        for event in events:
            for callback in list(self._subscribers):
                callback(event)

    # ----- feeds -----------------------------------------------------------------------------

    def watch(self, key: JobKey) -> JobFeed:
        """The feed of a job, created (and polled at once) if it is not watched yet."""
        feed = self.feeds.get(key)
        if feed is None:
            feed = JobFeed(
                key, clock=self.clock, refresh=self.refresh, idle_interval=self.idle_interval,
                page_size=self.page_size, rng=self._rng,
            )
            self.feeds[key] = feed
            self.wake()
        return feed

    def unwatch(self, key: JobKey) -> None:
        """Stop watching a job: its requests in flight are cancelled."""
        self.feeds.pop(key, None)
        for task_key in [k for k in self._tasks if k.target == key]:
            self._tasks.pop(task_key).cancel()

    def poll_now(self, key: JobKey | None = None) -> None:
        """Poll one feed (or every feed) as soon as possible."""
        for feed in self.feeds.values():
            if key is None or feed.key == key:
                feed.poll_now()
        self.wake()

    def want_more(self, key: JobKey) -> None:
        feed = self.feeds.get(key)
        if feed is not None:
            feed.want_more()
            self.wake()

    # ----- the board -------------------------------------------------------------------------

    def watch_board(
        self, jobs: Iterable[Job | JobDetails], *, grace: timedelta | None = None,
        wall: Callable[[], datetime] | None = None,
    ) -> BoardWatch:
        """Put jobs on the board (created on the first call): the planner looks at them within
        the board's share of the budget, and each look is told as a `BoardChanged`. `wall` is
        the server's time (default: the client's skew-corrected clock); `grace` None is each
        schedule's default."""
        board = self.board
        if board is None:
            moment = wall or self.client.server_now
            planner = BoardPlanner(board_per_hour(self.budget), clock=self.clock, wall=moment,
                                   grace=grace)
            board = self.board = BoardWatch(planner, wall=moment, grace=grace)
        for job in jobs:
            board.add(job)
        self.wake()
        return board

    def unwatch_board(self) -> None:
        """Close the board: its looks in flight are cancelled."""
        self.board = None
        for task_key in [k for k in self._tasks if k.kind == "board"]:
            self._tasks.pop(task_key).cancel()

    def focus_board(self, key: JobKey | None) -> None:
        """The board looks at this job first (the one the user has open)."""
        if self.board is not None:
            self.board.planner.focus(key)
            self.wake()

    def look_now(self, key: JobKey) -> None:
        """The board looks at this job's runs as soon as its share allows (`r`)."""
        if self.board is not None:
            self.board.planner.look_now(key)
            self.wake()

    async def _board_look(self, board: BoardWatch, look: Look) -> list[Event]:
        key, planner = look.key, board.planner
        events: list[Event] = []
        try:
            if look.what == "details":
                details = await self.client.get_job(key.project_id, key.job_id)
                if not board.apply_details(key, details):
                    planner.look_failed(key, "details")
            else:
                page = await self.client.get_job_runs(key.project_id, key.job_id,
                                                      per_page=BOARD_PAGE)
                board.apply_runs(key, page.items)
        except NorthflankError as error:
            if isinstance(error, BudgetExhaustedError):
                planner.refund(look)  # the gate sent nothing: the board spent nothing
            board.failed(key, look.what, error, permanent=isinstance(error, PERMANENT))
            if isinstance(error, UnauthorizedError):
                events.append(AccessLost(None, error))  # the token: every look would fail
        except BaseException:
            planner.cancelled(key)  # a bug or a cancel: never leave the job "in flight"
            raise
        if self.board is not board:
            return []  # closed meanwhile
        return [board.changed((key,)), *events]

    def _start_board(self, now: float, dues: list[float]) -> None:
        board = self.board
        if board is None:
            return
        planner = board.planner
        fed = [key for key, feed in self.feeds.items() if not feed.stopped]
        planner.set_per_hour(board_per_hour(self.budget, len(fed)))
        planner.set_fed(fed)
        while len(self._tasks) < MAX_IN_FLIGHT:
            look = planner.next_look()
            if look is None:
                break
            self._launch(_TaskKey("board", (look.key, look.what)),
                         partial(self._board_look, board, look), None)
        due = planner.next_due()
        if due is not None:
            dues.append(max(due, now))

    # ----- the job index ---------------------------------------------------------------------

    def open_index(
        self, *, cache_dir: Path | None = None, ttl: float = INDEX_TTL, persist: bool = True,
        page_size: int | None = None,
    ) -> JobIndex:
        """Open the global job index (once): the cache is read and told at once as an
        `IndexChanged`; a walk starts in the background when it is stale or missing. `cache_dir`
        None is the user's cache directory; `persist` False keeps it in memory only."""
        if self.index is None:
            options = {} if page_size is None else {"page_size": page_size}
            index = self.index = JobIndex.for_client(
                self.client, cache_dir, persist=persist, ttl=ttl, **options)
            index.load()
            self._emit([index.changed(self.clock.wall())])
            self.wake()
        return self.index

    def refresh_index(self, *, force: bool = False) -> bool:
        """Walk the index now if it is stale (or `force`); False if a walk is under way or
        there is nothing to do."""
        index = self.index
        if index is None or index.walking:
            return False
        if force:
            index.force()
        self.wake()
        return index.due_in(self.clock.wall()) == 0

    def close_index(self) -> None:
        self.index = None
        task = self._tasks.pop(_TaskKey("index", None), None)
        if task is not None:
            task.cancel()

    def _start_index(self, now: float, dues: list[float]) -> None:
        index, key = self.index, _TaskKey("index", None)
        if index is None or key in self._tasks:
            return  # one step at a time: its end wakes the loop
        wall = self.clock.wall()
        if not index.walking:
            wait = index.due_in(wall) or 0.0
            if wait > 0:
                dues.append(now + wait)
                return
            self._emit([index.begin_walk(wall)])
        # Within its own part of the share, and only with room left for the user's requests.
        budget = self.budget
        share = budget.share_limit()
        reserve = INDEX_RESERVE if share > 10 * INDEX_RESERVE else 0
        free = budget.admittable() - sum(self._reserved.values())
        wait = max(index.held_for(now), index.spend_wait(
            now, max(1, math.floor(share * INDEX_SHARE)), max(1, budget.burst_limit() // 2)))
        if wait <= 0 and free < 1 + reserve:
            wait = max(budget.admit_wait(), INDEX_HOLD)
        if wait > 0:
            dues.append(now + wait)
        elif len(self._tasks) < MAX_IN_FLIGHT:
            self._launch(key, partial(self._index_step, index), None)

    async def _index_step(self, index: JobIndex) -> list[Event]:
        try:
            events: list[Event] = list(await index.step(self.client, self.clock))
        except BaseException:
            index.abandon(self.clock.wall())  # a bug or a cancel: never "walking" forever
            raise
        return events if self.index is index else []

    # ----- one-shot calls --------------------------------------------------------------------

    def load_projects(self, cursor: str | None = None) -> None:
        async def call() -> list[Event]:
            try:
                page = await self.client.list_projects(cursor=cursor)
            except NorthflankError as error:
                return self._catalog_failed(CatalogFailed("projects", None, error))
            return [ProjectsLoaded(page, first=cursor is None)]

        self._enqueue(_TaskKey("projects", cursor), call)

    def load_jobs(self, project_id: str, cursor: str | None = None) -> None:
        async def call() -> list[Event]:
            try:
                page = await self.client.list_jobs(project_id, cursor=cursor)
            except NorthflankError as error:
                return self._catalog_failed(CatalogFailed("jobs", project_id, error))
            return [JobsLoaded(project_id, page, first=cursor is None)]

        self._enqueue(_TaskKey("jobs", (project_id, cursor)), call)

    @staticmethod
    def _catalog_failed(event: CatalogFailed) -> list[Event]:
        events: list[Event] = [event]
        if isinstance(event.error, FATAL):
            events.append(AccessLost(None, event.error))
        return events

    def start_run(self, key: JobKey) -> None:
        async def call() -> list[Event]:
            try:
                run_id, run_name = await self.client.start_job_run(key.project_id, key.job_id)
            except NorthflankError as error:
                return [ActionDone("start", key, None, None, error)]
            self.poll_now(key)
            return [ActionDone("start", key, run_id, run_name)]

        self._enqueue(_TaskKey("start", (key, self.clock.monotonic())), call)

    def abort_run(self, key: JobKey, run_id: str) -> None:
        async def call() -> list[Event]:
            try:
                await self.client.abort_job_run(key.project_id, key.job_id, run_id)
            except NorthflankError as error:
                return [ActionDone("abort", key, run_id, None, error)]
            self.poll_now(key)
            return [ActionDone("abort", key, run_id, None)]

        self._enqueue(_TaskKey("abort", (key, run_id)), call)

    def _enqueue(self, key: _TaskKey, call: Callable[[], Awaitable[list[Event]]]) -> None:
        if key in self._tasks or any(queued == key for queued, _ in self._queued):
            return  # the same call is on its way
        self._queued.append((key, call))
        self.wake()

    # ----- time ------------------------------------------------------------------------------

    def notice_time(self) -> None:
        """Called about once a `TICK`: after a suspend, every feed catches up with one poll."""
        mono, wall = self.clock.monotonic(), self.clock.wall()
        gap = mono - self._last_mono
        drift = abs((wall - self._last_wall) - gap)
        self._last_mono, self._last_wall = mono, wall
        if gap > 3 * TICK + 2 or drift > SUSPEND_DRIFT:
            for feed in self.feeds.values():
                if feed.polling_since is None and not feed.stopped:
                    feed.poll_now()
            self.wake()

    def wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    # ----- running ---------------------------------------------------------------------------

    def start_due(self) -> float | None:
        """Start everything that is due (within MAX_IN_FLIGHT); seconds until the next due."""
        now = self.clock.monotonic()
        while self._queued and len(self._tasks) < MAX_IN_FLIGHT:
            key, call = self._queued.pop(0)
            self._launch(key, call, None)
        # The feed the user looks at was watched last: serve the newest first.
        waiting = 0
        for feed in reversed(list(self.feeds.values())):
            if len(self._tasks) >= MAX_IN_FLIGHT:
                break
            # The client's gate (a rolling hour and a burst cap) has the last word on what
            # may be sent: what it would refuse is not started but waits, as for a pace.
            budget = self.budget
            if feed.more_due(now) and budget.admittable() < 1:
                feed.more_held_until = now + budget.admit_wait()
            elif feed.more_due(now):
                cursor = feed.begin_more()
                self._launch(_TaskKey("more", feed.key),
                             partial(feed.load_more, self.client, cursor), feed)
                self._emit([FeedChanged(feed.key, feed.state())])  # "loading more…"
            if len(self._tasks) < MAX_IN_FLIGHT and feed.poll_due(now):
                # What the polls in flight may still spend is theirs, and a feed served
                # before this one that is waiting for several requests at once (a gap walk)
                # keeps them: the others must not eat its slots one by one.
                free = budget.admittable() - sum(self._reserved.values()) - waiting
                # Never more at once than the gate can ever admit, or it would wait forever.
                wanted = min(feed.requests_wanted, budget.share_limit(), budget.burst_limit())
                if free < wanted:
                    feed.hold_for_budget(max(budget.admit_wait(), MIN_HOLD))
                    if wanted > 1:
                        waiting += wanted
                    continue
                feed.begin_poll()
                extra = max(0, min(budget.available(), free) - 1)
                key = _TaskKey("poll", feed.key)
                self._reserved[key] = extra + 1
                self._launch(key, partial(feed.poll, self.client, extra), feed)
        dues = [due for feed in self.feeds.values() if (due := feed.next_due()) is not None]
        self._start_board(now, dues)
        self._start_index(now, dues)
        if self._queued:
            dues.append(now)
        return None if not dues else max(0.0, min(dues) - now)

    def _launch(
        self, key: _TaskKey, call: Callable[[], Awaitable[list[Event]]], feed: JobFeed | None
    ) -> None:
        async def runner() -> None:
            try:
                events = await call()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # a bug, not an API error: say so and go on
                if feed is not None:
                    (feed.poll_crashed if key.kind == "poll" else feed.more_crashed)()
                events = [EngineCrashed(key.kind, error)]
            finally:
                self._tasks.pop(key, None)
                self._reserved.pop(key, None)
                self.wake()
            if feed is not None and key.kind == "poll" and self.feeds.get(feed.key) is feed:
                self._plan(feed, events)
            self._emit(events)

        self._tasks[key] = asyncio.ensure_future(runner())

    def _plan(self, feed: JobFeed, events: list[Event]) -> None:
        """After a good poll: the next one at the wish, stretched to fit the budget share."""
        if feed.polling_since is not None or feed.stopped or feed.problem_kind.value:
            return  # failed: the feed planned its own back-off
        active = feed.store.active_count
        wish = feed.policy.wish(active)
        cost = sum(f.requests_per_poll() for f in self.feeds.values())
        delay = self.budget.interval_for(cost, wish)
        if delay > wish + 0.01:
            reason = PlanReason.BUDGET
        else:
            reason = PlanReason.NONE if active else PlanReason.IDLE
        feed.plan_next(delay, reason)
        board = self.board
        if board is not None and feed.key in board:
            # The run list's poll is a look for the board too: it need not ask again.
            board.apply_runs(feed.key, feed.store.runs)
            events.append(board.changed((feed.key,)))
        for index, event in enumerate(events):
            if isinstance(event, FeedChanged) and event.key == feed.key:
                events[index] = FeedChanged(feed.key, feed.state(), event.changes,
                                            event.updated_runs)

    async def step(self) -> float | None:
        """Start what is due and wait for all of it to finish (tests on a fake clock)."""
        delay = self.start_due()
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)
            delay = self.start_due()
        return delay

    async def run(self) -> None:
        """Serve the feeds until closed (the app runs this on its event loop)."""
        self._wake = asyncio.Event()
        while not self._closed:
            self._wake.clear()
            delay = self.start_due()
            timeout = None if delay is None else max(delay, 0.01)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def aclose(self) -> None:
        self._closed = True
        self.wake()
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
