"""JobFeed: everything about watching one job's runs, with its state public and typed.

First-page polls, the active runs off the first page, the gap walk after a long sleep, older
pages on demand, back-off and holds. The feed decides *what* to ask and what an answer means;
the scheduler decides *when* it may ask (it owns the budget). No Textual, no real time: the
clock is injected.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from dataclasses import dataclass, field

from ..api.client import MAX_EMPTY_PAGES, NorthflankClient
from ..api.errors import (
    ApiTimeoutError,
    BudgetExhaustedError,
    ForbiddenError,
    InvalidIdError,
    NetworkError,
    NorthflankError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    UnauthorizedError,
)
from ..api.models import JobRun, RunStatus
from ..api.ratelimit import RateLimitBudget
from ..options import DEFAULT_PAGE_SIZE, DEFAULT_REFRESH, IDLE_INTERVAL
from .clock import Clock
from .events import (
    AccessLost,
    Event,
    FeedChanged,
    FeedState,
    JobKey,
    PlanReason,
    ProblemKind,
    RunsFailed,
)
from .store import RunStore, StoreChange
from .walk import OldestWalk

# After a long outage the feed still tries about once a minute: back within a minute of the
# API, at a cost (60/h) well inside the budget.
MAX_BACKOFF = 60.0
# A page of runs is fetched this many times at most while looking for where a fresh head meets
# the loaded list (after a long sleep); past that the list restarts from the head.
MAX_GAP_PAGES = 4
# An older page that failed is asked again after this long at least.
MORE_HOLD = 5.0
# A run that cannot be fetched by id is asked again after a back-off up to this long.
MAX_RUN_BACKOFF = 600.0
# Run ids already notified as failed; bounded so days of runs do not grow it.
NOTIFIED_MEMORY = 2000

FATAL = (UnauthorizedError, ForbiddenError, NotFoundError)
# Asking again cannot help: polling stops until the user asks (`r`) or picks another job.
PERMANENT = (*FATAL, InvalidIdError)


@dataclass(frozen=True, slots=True)
class PollPlan:
    """The delay before the next poll, and why it is not the plain wish."""

    delay: float
    reason: PlanReason = PlanReason.NONE


@dataclass
class PollPolicy:
    """Decides the delay before each poll of one feed."""

    refresh: float = DEFAULT_REFRESH
    idle_interval: float = IDLE_INTERVAL
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0

    def wish(self, active_runs: int) -> float:
        return self.refresh if active_runs else max(self.refresh, self.idle_interval)

    def after_failure(self, error: NorthflankError) -> PollPlan:
        """What the server asks, else exponential back-off with full jitter (so many boards
        coming back together do not retry in step)."""
        self.failures += 1
        retry_after = getattr(error, "retry_after", None) or getattr(error, "retry_in", None)
        if isinstance(retry_after, (int, float)) and retry_after > 0:
            return PollPlan(float(retry_after) + self.rng.uniform(0, 2), PlanReason.RATE_LIMITED)
        ceiling = min(MAX_BACKOFF, self.refresh * 2 ** min(self.failures, 8))
        delay = max(self.refresh, self.rng.uniform(ceiling / 2, ceiling))
        if isinstance(error, RateLimitedError):
            return PollPlan(delay, PlanReason.RATE_LIMITED)
        if isinstance(error, ServerError):
            return PollPlan(delay, PlanReason.SERVER_ERROR)
        if isinstance(error, NetworkError):
            return PollPlan(delay, PlanReason.OFFLINE)
        return PollPlan(delay, PlanReason.ERROR)


@dataclass
class _RunRetry:
    failures: int
    next_at: float


def _problem_text(error: NorthflankError, reason: PlanReason) -> str:
    if isinstance(error, BudgetExhaustedError):
        return "holding back to stay within the API budget"  # nothing was sent
    if isinstance(error, ApiTimeoutError):
        return "the API is not answering"  # reachable, so not "offline"
    if reason is PlanReason.OFFLINE:
        return "offline"
    if isinstance(error, RateLimitedError):
        return "rate limited by the API"
    return str(error).rstrip(".")


def _run_problem(error: NorthflankError) -> str:
    status = getattr(error, "status", None)
    if isinstance(error, NetworkError):
        return "cannot refresh: no answer"
    if isinstance(status, int):
        return f"cannot refresh ({status})"
    return "cannot refresh: " + str(error).rstrip(".")[:80]


class JobFeed:
    """One job's runs: a store, and the polls and page loads that keep it current."""

    def __init__(
        self,
        key: JobKey,
        *,
        clock: Clock,
        refresh: float = DEFAULT_REFRESH,
        idle_interval: float = IDLE_INTERVAL,
        page_size: int = DEFAULT_PAGE_SIZE,
        rng: random.Random | None = None,
    ) -> None:
        self.key = key
        self.store = RunStore()
        self.policy = PollPolicy(refresh, idle_interval, rng or random.Random())
        self.page_size = page_size
        self._clock = clock
        self.next_cursor: str | None = None
        self.has_more = False
        self.more_wanted = False
        self.more_in_flight: str | None = None  # the cursor of the older page on its way
        self.more_held_until = 0.0
        self.polling_since: float | None = None
        self.poll_again = False
        # Requests the next poll needs at once: 1, or more after a gap walk was cut short.
        self.requests_wanted = 1
        self.next_poll_at: float | None = clock.monotonic()  # the first poll: now
        self.last_good: float | None = None
        self.good_interval = refresh
        self.interval: float | None = None
        self.interval_reason = PlanReason.NONE
        self.problem = ""
        self.problem_kind = ProblemKind.NONE
        self.stopped = False
        self.run_problems: dict[str, str] = {}
        self._run_retry: dict[str, _RunRetry] = {}
        self._requested_cursors: set[str] = set()
        self._notified: OrderedDict[str, None] = OrderedDict()
        self._generation = 0  # bumped when the list restarts: late pages are dropped
        self._empty_pages = 0  # older pages in a row that held no run
        self.walk = OldestWalk()  # G: every older page, to the oldest run

    # ----- state -----------------------------------------------------------------------------

    def state(self) -> FeedState:
        store = self.store
        return FeedState(
            key=self.key,
            loaded=len(store),
            shown=len(store.shown),
            active=store.active_count,
            has_more=self.has_more,
            loading_more=self.more_in_flight is not None,
            polling_since=self.polling_since,
            last_good=self.last_good,
            interval=self.interval,
            interval_reason=self.interval_reason,
            next_poll_at=self.next_poll_at,
            problem=self.problem,
            problem_kind=self.problem_kind,
            stopped=self.stopped,
            run_problems=dict(self.run_problems),
            walking=self.walk.active,
        )

    def is_stale(self, now: float) -> bool:
        """Older than twice the interval the data was meant to refresh at."""
        if self.last_good is None:
            return False
        return now - self.last_good > 2 * max(self.good_interval, self.policy.refresh) + 1

    def requests_per_poll(self) -> int:
        """What one poll costs: the first page plus each active run off it."""
        head = {run.id for run in self.store.runs[: self.page_size]}
        return 1 + sum(1 for run in self.store.active_runs if run.id not in head)

    def poll_due(self, now: float) -> bool:
        return (
            not self.stopped and self.polling_since is None and self.next_poll_at is not None
            and self.next_poll_at <= now
        )

    def more_due(self, now: float) -> bool:
        cursor = self.next_cursor
        return (
            self.more_wanted and not self.stopped and self.more_in_flight is None
            and self.has_more and cursor is not None and cursor not in self._requested_cursors
            and self.more_held_until <= now
        )

    def next_due(self) -> float | None:
        """The engine-clock moment this feed next wants to send something, if any."""
        times: list[float] = []
        if not self.stopped and self.polling_since is None and self.next_poll_at is not None:
            times.append(self.next_poll_at)
        if self.more_wanted and self.more_in_flight is None and self.has_more \
                and not self.stopped:
            times.append(self.more_held_until)
        return min(times) if times else None

    # ----- what the user asks ----------------------------------------------------------------

    def poll_now(self) -> None:
        """Poll as soon as the scheduler can (a poll in flight is followed by another)."""
        if self.stopped:
            self.stopped = False
            self.problem, self.problem_kind = "", ProblemKind.NONE
            self.policy.failures = 0
        if self.polling_since is not None:
            self.poll_again = True
        else:
            self.next_poll_at = self._clock.monotonic()

    def want_more(self) -> None:
        """The view came near the end of what is loaded: load the next older page.

        Past the end there is nothing to want: a late ask (the view saw the rows of the last
        page before its state) must not stay pending for a list rebuilt later."""
        self.more_wanted = self.has_more and not self.stopped

    def walk_to_end(self, budget: RateLimitBudget) -> None:
        """G: load every older page, one after another, to the oldest run, within the walk's
        part of `budget` (tui/watch/walk.py). Nothing to walk past the end."""
        if self.stopped or not self.has_more:
            return
        self.walk.start()
        self.more_wanted = True
        now = self._clock.monotonic()
        self.more_held_until = max(self.more_held_until, now + self.walk.wait(budget, now))

    def stop_walk(self) -> None:
        """Esc: no older page is asked for after this (one on its way still lands)."""
        self.walk.stop()
        self.more_wanted = False

    # ----- polls -----------------------------------------------------------------------------

    def begin_poll(self) -> None:
        self.polling_since = self._clock.monotonic()
        self.next_poll_at = None

    async def poll(self, client: NorthflankClient, max_extra: int) -> list[Event]:
        """One poll: the first page (and the gap after a long sleep), then the active runs off
        it, at most `max_extra` of them (each costs a request)."""
        generation = self._generation
        key, per_page = self.key, self.page_size
        store = self.store
        have_runs = len(store) > 0
        known = {run.id for run in store.runs[: per_page * 2]}
        try:
            page = await client.get_job_runs(key.project_id, key.job_id, per_page=per_page)
            head = list(page.items)
            cursor, has_more, replace = page.cursor, page.has_next_page, not have_runs
            if have_runs and head and not any(run.id in known for run in head):
                # Many runs arrived since the last poll: walk on to where the list meets what
                # is loaded, so nothing between them goes missing.
                replace = True
                seen = {cursor}
                for _ in range(MAX_GAP_PAGES):
                    if not has_more or not cursor:
                        break
                    # A walk cut short would leave a hole: when the gate would refuse the
                    # next page, the whole poll waits for the budget (nothing is sent), as if
                    # refused, and walks again later. Its pages come out of the extra ones.
                    refusal = client.budget.refusal()
                    if refusal is not None:
                        self.requests_wanted = 1 + MAX_GAP_PAGES
                        raise refusal
                    max_extra = max(0, max_extra - 1)
                    more = await client.get_job_runs(
                        key.project_id, key.job_id, per_page=per_page, cursor=cursor
                    )
                    head.extend(more.items)
                    cursor, has_more = more.cursor, more.has_next_page
                    if cursor in seen:  # a cursor seen before: the walk would go round
                        has_more = False
                    seen.add(cursor)
                    if any(run.id in known for run in more.items):
                        replace = False
                        break
        except NorthflankError as error:
            return self._poll_failed(error)
        if generation != self._generation:
            self.polling_since = None
            return []
        changes: list[StoreChange] = []
        if replace:
            changes.append(store.clear())
            self._generation += 1
            self.walk.stop()  # the list starts again from the head
            self.more_in_flight = None
            self._requested_cursors.clear()
            changes += store.append_page(head)
            self.next_cursor, self.has_more = cursor, has_more
        else:
            changes += store.merge_head(head)
        updated, gone = await self._refresh_off_head(client, {run.id for run in head}, max_extra)
        if updated:
            changes.append(store.update(updated))
        if gone:
            removed = store.remove(gone)
            if removed is not None:
                changes.append(removed)
        return self._poll_succeeded(changes, [*head, *updated])

    async def _refresh_off_head(
        self, client: NorthflankClient, head_ids: set[str], max_extra: int
    ) -> tuple[list[JobRun], list[str]]:
        """Fetch active runs that are not on the first page, one request each; a run that
        cannot be fetched is marked and the rest go on."""
        now = self._clock.monotonic()
        key = self.key
        updated: list[JobRun] = []
        gone: list[str] = []
        for run in self.store.active_runs:
            if run.id in head_ids:
                self._run_ok(run.id)
                continue
            retry = self._run_retry.get(run.id)
            if retry is not None and retry.next_at > now:
                continue
            if len(updated) + len(gone) >= max_extra:
                break
            try:
                fresh = await client.get_job_run(key.project_id, key.job_id, run.id)
            except NotFoundError:
                gone.append(run.id)
                self._run_ok(run.id)
                continue
            except RateLimitedError:
                break  # the whole poll will hear of it next time; no row is to blame
            except NorthflankError as error:
                if getattr(error, "retry_in", None) is not None:
                    break  # the budget gate: not this run's fault
                self._run_failed(run.id, error, now)
                continue
            self._run_ok(run.id)
            updated.append(fresh)
        return updated, gone

    def _run_ok(self, run_id: str) -> None:
        self._run_retry.pop(run_id, None)
        self.run_problems.pop(run_id, None)

    def _run_failed(self, run_id: str, error: NorthflankError, now: float) -> None:
        retry = self._run_retry.get(run_id)
        failures = 1 if retry is None else retry.failures + 1
        delay = min(MAX_RUN_BACKOFF, self.policy.refresh * 2**failures)
        self._run_retry[run_id] = _RunRetry(failures, now + delay)
        self.run_problems[run_id] = _run_problem(error)

    def _poll_succeeded(self, changes: list[StoreChange], seen: list[JobRun]) -> list[Event]:
        now = self._clock.monotonic()
        self.polling_since = None
        self.requests_wanted = 1
        self.last_good = now
        self.policy.failures = 0
        self.problem, self.problem_kind = "", ProblemKind.NONE
        # Problems of runs no longer loaded or no longer active are over.
        for run_id in list(self.run_problems):
            if not self.store.is_active(run_id):
                self._run_ok(run_id)
        failed = self._newly_failed(changes)
        events: list[Event] = [FeedChanged(self.key, self.state(), tuple(changes), tuple(seen))]
        if failed:
            events.append(RunsFailed(self.key, tuple(failed)))
        return events

    def hold_for_budget(self, delay: float) -> None:
        """The client's gate would refuse a request now: poll again in `delay` s, as paced
        by the budget (nothing was asked, nothing failed)."""
        self.next_poll_at = self._clock.monotonic() + delay
        self.interval_reason = PlanReason.BUDGET

    def plan_next(self, delay: float, reason: PlanReason) -> None:
        """The scheduler's answer after a good poll: when the next one is."""
        now = self._clock.monotonic()
        self.interval, self.interval_reason = delay, reason
        self.good_interval = delay
        self.next_poll_at = now if self.poll_again else now + delay
        self.poll_again = False

    def _newly_failed(self, changes: list[StoreChange]) -> list[JobRun]:
        failed: list[JobRun] = []
        for change in changes:
            for old, new in change.status_changes:
                if old.is_active and new.status is RunStatus.FAILED and \
                        new.id not in self._notified:
                    self._notified[new.id] = None
                    failed.append(new)
        while len(self._notified) > NOTIFIED_MEMORY:
            self._notified.popitem(last=False)
        return failed

    def _poll_failed(self, error: NorthflankError) -> list[Event]:
        self.polling_since = None
        self.poll_again = False
        if isinstance(error, BudgetExhaustedError):
            # Our own gate held the request back (nothing was sent): a pace, not a fault.
            now = self._clock.monotonic()
            wait = max(error.retry_in, self.policy.refresh)
            self.next_poll_at = now + wait + self.policy.rng.uniform(0, 1)
            self.interval, self.interval_reason = wait, PlanReason.BUDGET
            return [FeedChanged(self.key, self.state())]
        if isinstance(error, PERMANENT):
            return self._stop(error)
        plan = self.policy.after_failure(error)
        now = self._clock.monotonic()
        self.next_poll_at = now + plan.delay
        self.interval = None
        if plan.reason is PlanReason.RATE_LIMITED:
            # Older pages wait for the Retry-After too.
            self.more_held_until = max(self.more_held_until, self.next_poll_at)
        self.problem = _problem_text(error, plan.reason)
        self.problem_kind = ProblemKind.WARNING
        return [FeedChanged(self.key, self.state())]

    def _stop(self, error: NorthflankError) -> list[Event]:
        """Refused for good: no request until the user asks (`poll_now`)."""
        if isinstance(error, NotFoundError):
            text = "This job or project is gone (404). Pick another job."
        else:
            text = str(error)
        self.stopped = True
        self.more_wanted = False
        self.walk.stop()
        self.problem, self.problem_kind = text, ProblemKind.ERROR
        self.interval = None
        self.next_poll_at = None
        events: list[Event] = [FeedChanged(self.key, self.state())]
        if isinstance(error, FATAL):
            events.append(AccessLost(self.key, error))
        return events

    def poll_crashed(self) -> None:
        """The poll task died of a bug: try again later, keep everything."""
        self.polling_since = None
        self.next_poll_at = self._clock.monotonic() + max(self.policy.refresh,
                                                           self.policy.idle_interval)

    # ----- older pages -----------------------------------------------------------------------

    def begin_more(self) -> str:
        cursor = self.next_cursor
        assert cursor is not None
        self.more_wanted = False
        self.more_in_flight = cursor
        self._requested_cursors.add(cursor)
        self.walk.page_sent(self._clock.monotonic())
        return cursor

    async def load_more(self, client: NorthflankClient, cursor: str) -> list[Event]:
        generation = self._generation
        key = self.key
        try:
            page = await client.get_job_runs(
                key.project_id, key.job_id, per_page=self.page_size, cursor=cursor
            )
        except NorthflankError as error:
            self._requested_cursors.discard(cursor)
            if generation != self._generation or self.more_in_flight != cursor:
                return []
            return self._more_failed(error)
        if generation != self._generation or self.more_in_flight != cursor:
            return []  # a page of a list that restarted since it was asked
        self.more_in_flight = None
        self.next_cursor = page.cursor
        self._empty_pages = 0 if page.items else self._empty_pages + 1
        self.has_more = (
            page.has_next_page and page.cursor not in self._requested_cursors
            and self._empty_pages < MAX_EMPTY_PAGES
        )
        if page.has_next_page and not self.has_more:
            self.problem = "the API returned an inconsistent page list"
            self.problem_kind = ProblemKind.WARNING
        if self.walk.active and self.has_more:
            # On to the next page, as soon as the walk's part of the budget allows.
            now = self._clock.monotonic()
            self.more_wanted = True
            self.more_held_until = max(self.more_held_until,
                                       now + self.walk.wait(client.budget, now))
        else:
            self.walk.stop()  # at the oldest run
        changes = self.store.append_page(page.items)
        return [FeedChanged(self.key, self.state(), tuple(changes), tuple(page.items))]

    def _more_failed(self, error: NorthflankError) -> list[Event]:
        self.more_in_flight = None
        if isinstance(error, PERMANENT) or self.stopped:
            # Refused for good (or polling already stopped): say that, not "cannot load more".
            self.more_wanted = False
            if not self.stopped:
                return self._stop(error)
            return [FeedChanged(self.key, self.state())]
        self.more_wanted = True  # still wanted: asked again when the hold ends
        now = self._clock.monotonic()
        retry_after = getattr(error, "retry_after", None) or getattr(error, "retry_in", None)
        hold = max(MORE_HOLD, float(retry_after or 0.0))
        self.more_held_until = now + hold
        if isinstance(error, FATAL):
            self.more_wanted = False
            self.walk.stop()
        if retry_after and self.polling_since is None and self.next_poll_at is not None \
                and self.next_poll_at < self.more_held_until:
            # No poll before the Retry-After either.
            self.next_poll_at = self.more_held_until + self.policy.rng.uniform(0, 2)
        self.problem = f"Cannot load more runs: {error}"
        self.problem_kind = ProblemKind.WARNING
        return [FeedChanged(self.key, self.state())]

    def more_crashed(self) -> None:
        self.more_in_flight = None
        self.walk.stop()  # (a bug: the walk would wait for a page that never comes)

