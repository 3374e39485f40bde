"""The board's planner: which job to look at next, within the board's share of the budget.

There is no endpoint that lists runs across jobs, so each look at a job is a request. The
planner is pure: it holds what it knows of each job (its schedule, its newest run, whether a
run is active) and the times on an injected clock, and answers `next_look()` / `next_due()`.
Whoever does the request tells it the outcome (`looked`, `details_read`, `look_failed`).

What comes first (`LookWhy`, in order): the focused job; a cron job just after a fire time
until the new run is seen (and once more when its grace ends, so a missed run is flagged);
a cron job whose schedule is not known yet; a job never looked at; a job with an active run
(cron every 45 to 50 s, manual every 1 to 3 min, never before its shortest recent run could
have ended); then the slow round (manual jobs every 255 to 285 s, 30 min once they started
nothing for 6 h, and before the active looks once 75 s late; scheduled cron jobs every 2 to 3
h, as a cron job is rarely started by hand; suspended ones every 2 to 4 h; cron details again
every 2 h). The numbers are tuned on the benchmark's day of 40 jobs at the default share
(`python -m tui.bench board`): a manual round under 5 min and a cron run's end seen within a
minute, both at p95, with the share binding in the busy hours. A look that
changes nothing stretches that job's round and active intervals (x1.5, up to their caps); a
change resets them.

The share is spent through a token bucket (`allowance.Allowance`: rate (H - B)/hour, B
tokens at most) with a hard cap of H looks in any rolling hour: at most H in any window of
an hour, whatever the number of jobs. Tokens for the cron fires of the next RESERVE_HORIZON
seconds are kept back from the non-urgent looks, so the fires at the top of the hour find
tokens.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal

from ..api.models import ConcurrencyPolicy, Job, JobDetails, JobRun
from ..api.ratelimit import WINDOW_SECONDS, RateLimitBudget
from .allowance import WINDOW_SLACK, Allowance
from .board import details_of, schedule_of
from .clock import Clock
from .cron import CronSchedule, default_grace
from .events import JobKey

# The board's part of the process's share: the rest is for the catalogue and actions, and
# while a run list is open (a feed polls its job) for that feed too.
BOARD_FRACTION = 0.95
BOARD_FRACTION_WITH_FEEDS = 0.75
# A fire's run is looked for this long after the fire time (runs take a moment to appear),
# then again after FIRE_RETRY doubling up to FIRE_RETRY_MAX, and once just after its grace.
FIRE_DELAY = 2.0
FIRE_RETRY = 10.0
FIRE_RETRY_MAX = 60.0
# While a run is active: every (first, most) s, stretched while nothing changes; not before
# the shortest of its recent runs could have ended; no separate look when a fire look comes
# within ACTIVE_MERGE s anyway. A cron run's end is awaited closely (its next fire depends
# on it), a manual run's end less so: its start is what nobody could foresee.
CRON_ACTIVE = (45.0, 50.0)
MANUAL_ACTIVE = (60.0, 180.0)
ACTIVE_MERGE = 60.0
MIN_DURATIONS = 3  # recent concluded runs needed to trust their shortest duration
# The slow round: (first, most) seconds between looks at a job that changes nothing; a
# manual job that started nothing for MANUAL_QUIET s stretches to MANUAL_QUIET_ROUND.
MANUAL_ROUND = (255.0, 285.0)
MANUAL_QUIET = 6 * 3600.0
MANUAL_QUIET_ROUND = 1800.0
# A manual job's round this late goes before the active runs' looks: its next start is
# what no schedule foresees, so the round must not starve when the share binds.
MANUAL_LATE = 75.0
CRON_ROUND = (7200.0, 10800.0)
SUSPENDED_ROUND = (7200.0, 14400.0)
BACKOFF = 1.5
DETAILS_TTL = 7200.0  # a cron job's schedule and suspension are read again after this
FOCUS_ACTIVE = 5.0  # the focused job: as often as the run list polls it
FOCUS_IDLE = 30.0
RESERVE_HORIZON = 120.0
# After a failed look: FAIL_BASE doubling up to FAIL_MAX (or what the server asked).
FAIL_BASE = 10.0
FAIL_MAX = 300.0

LookWhat = Literal["runs", "details"]


class LookWhy(str, enum.Enum):
    """Why a job is looked at, most urgent first."""

    FOCUSED = "focused"
    FIRE = "fire"
    FIRST = "first"
    DETAILS = "details"
    ACTIVE = "active"
    ROUND = "round"


_PRIORITY = {why: rank for rank, why in enumerate(LookWhy)}
# These may spend the tokens kept back for the coming fires.
_URGENT = frozenset({LookWhy.FOCUSED, LookWhy.FIRE, LookWhy.DETAILS})
# A board just opened knows nothing: its first look at each job (and each cron job's first
# details) may go past an empty bucket, FIRST_FILL a minute at most, within the hour's cap,
# so that 40 jobs show their state in a minute or two rather than in ten.
_FIRST_FILL = frozenset({LookWhy.FIRST, LookWhy.DETAILS})
FIRST_FILL = 33  # with the catalogue's few pages and the refill, under the gate's 41 a minute


class JobKind(str, enum.Enum):
    SCHEDULED = "scheduled"  # cron, not suspended, a usable schedule
    MANUAL = "manual"  # started at any time (or a cron job whose schedule is unusable)
    SUSPENDED = "suspended"


_ROUNDS = {JobKind.SCHEDULED: CRON_ROUND, JobKind.MANUAL: MANUAL_ROUND,
           JobKind.SUSPENDED: SUSPENDED_ROUND}


@dataclass(frozen=True, slots=True)
class Look:
    """One request the planner wants sent now."""

    key: JobKey
    what: LookWhat
    why: LookWhy
    due: float  # the engine-clock moment it was due
    spent_at: float = 0.0  # when its token was spent (for `refund`)


def board_per_hour(budget: RateLimitBudget, feeds: int = 0) -> int:
    """The board's looks per rolling hour: BOARD_FRACTION of the process's share, or
    BOARD_FRACTION_WITH_FEEDS while `feeds` run lists poll their jobs."""
    fraction = BOARD_FRACTION_WITH_FEEDS if feeds else BOARD_FRACTION
    return max(1, math.floor(budget.share_limit() * fraction))


def _fingerprint(runs: Sequence[JobRun]) -> tuple[tuple[str, str, bool], ...]:
    return tuple((run.id, run.raw_status, run.is_active) for run in runs)


@dataclass
class _Plan:
    """What the planner knows of one job (mutable, internal)."""

    key: JobKey
    details: JobDetails
    added_at: float
    details_known: bool = False
    details_at: float | None = None
    schedule: CronSchedule | None = None
    grace: timedelta = timedelta(minutes=2)
    runs_at: float | None = None
    newest_start: datetime | None = None
    active: bool = False
    active_start: datetime | None = None  # the newest active run's start
    shortest: float | None = None  # seconds: the shortest recent concluded run
    fingerprint: tuple[tuple[str, str, bool], ...] | None = None
    round_interval: float = MANUAL_ROUND[0]
    round_at: float = 0.0
    active_interval: float = CRON_ACTIVE[0]
    active_at: float | None = None
    fire_at: float | None = None
    pending_fire: datetime | None = None
    fire_retry: float = FIRE_RETRY
    asked_at: float | None = None  # the user asked for a look now (`r` on the board)
    in_flight: LookWhat | None = None
    hold_until: float = 0.0
    failures: int = 0
    stopped: bool = False
    version: int = 0  # bumped on every change: the due looks are worked out again
    cached: tuple[int, bool, bool, list[tuple[float, LookWhy, LookWhat]]] | None = None

    @property
    def kind(self) -> JobKind:
        if self.details.is_cron and self.details.suspended:
            return JobKind.SUSPENDED
        if self.schedule is not None:
            return JobKind.SCHEDULED
        return JobKind.MANUAL

    @property
    def needs_details(self) -> bool:
        return self.details.is_cron and not self.details_known


def _fills(why: LookWhy, plan: _Plan) -> bool:
    """A look of the first fill: a job's first runs, or a cron job's first details."""
    return why is LookWhy.FIRST or (why is LookWhy.DETAILS and plan.details_at is None)


def _utc_of(clock: Clock) -> Callable[[], datetime]:
    return lambda: datetime.fromtimestamp(clock.wall(), tz=timezone.utc)


class BoardPlanner:
    """Decides which job the board looks at next (see the module's docstring)."""

    def __init__(
        self,
        per_hour: int,
        *,
        clock: Clock,
        wall: Callable[[], datetime] | None = None,
        grace: timedelta | None = None,
    ) -> None:
        self._clock = clock
        self._wall = wall or _utc_of(clock)
        self.grace = grace  # None: each schedule's default
        self._allowance = Allowance(max(1, per_hour), clock.monotonic())
        self._plans: dict[JobKey, _Plan] = {}
        self.focused: JobKey | None = None
        self.fed: frozenset[JobKey] = frozenset()

    # ----- jobs ------------------------------------------------------------------------------

    @property
    def keys(self) -> list[JobKey]:
        return list(self._plans)

    def add(self, job: Job | JobDetails) -> JobKey:
        """Watch a job (again: its details are updated, its times kept)."""
        details = job if isinstance(job, JobDetails) else details_of(job)
        key = JobKey(details.project_id, details.id)
        plan = self._plans.get(key)
        if plan is None:
            now = self._clock.monotonic()
            plan = _Plan(key, details, added_at=now, round_at=now)
            self._plans[key] = plan
            self._set_details(plan, details, known=isinstance(job, JobDetails))
        else:
            plan.stopped = False  # added again: worth a try
            plan.version += 1
            if isinstance(job, JobDetails):
                self._set_details(plan, job, known=True)
        return key

    def remove(self, key: JobKey) -> None:
        self._plans.pop(key, None)
        if self.focused == key:
            self.focused = None

    def focus(self, key: JobKey | None) -> None:
        """Look at this job first, as often as the run list would (None: no focus)."""
        self.focused = key

    def look_now(self, key: JobKey) -> None:
        """Look at this job's runs as soon as a token allows (the user asked)."""
        plan = self._plans.get(key)
        if plan is not None and plan.asked_at is None:
            plan.asked_at = self._clock.monotonic()
            plan.version += 1

    def set_fed(self, keys: Iterable[JobKey]) -> None:
        """Jobs whose runs a feed of their own polls (the run list): their polls come in as
        `looked`, so the planner looks only at their details."""
        self.fed = frozenset(keys)

    def details(self, key: JobKey) -> JobDetails | None:
        plan = self._plans.get(key)
        return None if plan is None else plan.details

    def set_per_hour(self, per_hour: int) -> None:
        """The board's share changed (the server told another limit)."""
        allowance = self._allowance
        allowance.refill(self._clock.monotonic())
        allowance.per_hour = max(1, per_hour)
        allowance.tokens = min(allowance.tokens, float(allowance.burst))

    @property
    def per_hour(self) -> int:
        return self._allowance.per_hour

    def spent_last_hour(self) -> int:
        """Looks started in the last rolling hour (for the status line)."""
        self._allowance.refill(self._clock.monotonic())
        return len(self._allowance.spent)

    # ----- deciding --------------------------------------------------------------------------

    def _candidates(self, plan: _Plan) -> list[tuple[float, LookWhy, LookWhat]]:
        """(due, why, what) of each look the job wants (memoised until it changes)."""
        focused, fed = plan.key == self.focused, plan.key in self.fed
        cached = plan.cached
        if cached is not None and cached[:3] == (plan.version, focused, fed):
            return cached[3]
        found = self._work_out(plan, focused, fed)
        plan.cached = (plan.version, focused, fed, found)
        return found

    def _work_out(
        self, plan: _Plan, focused: bool, fed: bool
    ) -> list[tuple[float, LookWhy, LookWhat]]:
        if plan.in_flight is not None or plan.stopped:
            return []
        found: list[tuple[float, LookWhy, LookWhat]] = []
        if plan.needs_details:
            found.append((plan.added_at, LookWhy.DETAILS, "details"))
        if fed:
            pass  # its feed polls it
        elif plan.runs_at is None:
            first = LookWhy.FOCUSED if focused else LookWhy.FIRST
            found.append((plan.added_at, first, "runs"))
        else:
            if plan.asked_at is not None:
                found.append((plan.asked_at, LookWhy.FOCUSED, "runs"))
            if focused:
                wait = FOCUS_ACTIVE if plan.active else FOCUS_IDLE
                found.append((plan.runs_at + wait, LookWhy.FOCUSED, "runs"))
            if plan.fire_at is not None:
                found.append((plan.fire_at, LookWhy.FIRE, "runs"))
            if plan.active_at is not None:
                found.append((plan.active_at, LookWhy.ACTIVE, "runs"))
            found.append((plan.round_at, LookWhy.ROUND, "runs"))
        if plan.details_known and plan.details.is_cron and plan.details_at is not None:
            found.append((plan.details_at + DETAILS_TTL, LookWhy.ROUND, "details"))
        return [(max(due, plan.hold_until), why, what) for due, why, what in found]

    def _reserve(self, now: float) -> int:
        """Tokens kept for the fire looks due within RESERVE_HORIZON."""
        coming = sum(
            1 for plan in self._plans.values()
            if plan.fire_at is not None and plan.in_flight is None and not plan.stopped
            and plan.key not in self.fed and plan.fire_at <= now + RESERVE_HORIZON
        )
        return min(coming, self._allowance.burst - 1)

    def next_look(self) -> Look | None:
        """The look to send now (its token spent), or None (nothing due, or no token)."""
        now = self._clock.monotonic()
        due: list[tuple[float, float, str, str, LookWhy, LookWhat, _Plan]] = []
        for plan in self._plans.values():
            for at, why, what in self._candidates(plan):
                if at <= now:
                    rank: float = _PRIORITY[why]
                    if why is LookWhy.ROUND and plan.kind is JobKind.MANUAL \
                            and now - at > MANUAL_LATE:
                        rank = _PRIORITY[LookWhy.ACTIVE] - 0.5  # a start nobody foresaw
                    due.append((rank, at, plan.key.project_id, plan.key.job_id,
                                why, what, plan))
        if not due:
            return None
        due.sort(key=lambda item: item[:4])
        urgent_ready = self._allowance.ready_at(now, 0) <= now
        rest_ready: bool | None = None
        for _, at, _, _, why, what, plan in due:
            if _fills(why, plan) and self._may_fill(now):
                pass  # a board just opened (see _FIRST_FILL)
            elif why in _URGENT:
                if not urgent_ready:
                    return None  # nothing less urgent may pass it
            else:
                if rest_ready is None:
                    rest_ready = self._allowance.ready_at(now, self._reserve(now)) <= now
                if not rest_ready:
                    return None
            self._allowance.spend(now)
            plan.in_flight = what
            plan.version += 1
            return Look(plan.key, what, why, at, spent_at=now)
        return None

    def _may_fill(self, now: float) -> bool:
        return self._fill_ready(now) <= now

    def _fill_ready(self, now: float) -> float:
        """When a first-fill look may go: under FIRST_FILL in the last minute, under the cap."""
        allowance = self._allowance
        at = now
        if allowance.spent_within(now, 60.0) >= FIRST_FILL:
            at = allowance.spent[len(allowance.spent) - FIRST_FILL] + 60.0
        if allowance.capped(now):
            at = max(at, allowance.spent[len(allowance.spent) - allowance.per_hour]
                     + WINDOW_SECONDS + 2 * WINDOW_SLACK)
        return at

    def next_due(self) -> float | None:
        """The engine-clock moment a look may next be started (None: nothing to look at)."""
        now = self._clock.monotonic()
        # Tokens only grow while nothing is spent: ready from now is ready later.
        urgent_ready = self._allowance.ready_at(now, 0)
        rest_ready = self._allowance.ready_at(now, self._reserve(now))
        fill_ready: float | None = None
        best: float | None = None
        for plan in self._plans.values():
            for at, why, _ in self._candidates(plan):
                ready = max(at, urgent_ready if why in _URGENT else rest_ready)
                if _fills(why, plan):
                    if fill_ready is None:
                        fill_ready = self._fill_ready(now)
                    ready = min(ready, max(at, fill_ready))
                if best is None or ready < best:
                    best = ready
        return best

    # ----- outcomes --------------------------------------------------------------------------

    def _set_details(self, plan: _Plan, details: JobDetails, *, known: bool) -> None:
        now = self._clock.monotonic()
        plan.version += 1
        kind_before = plan.kind
        plan.details = details
        if known:
            plan.details_known = True
            plan.details_at = now
        parsed = schedule_of(details)
        schedule = parsed if isinstance(parsed, CronSchedule) else None
        plan.schedule = schedule
        if schedule is not None:
            plan.grace = self.grace if self.grace is not None \
                else default_grace(schedule, self._wall())
        if plan.kind is not kind_before or plan.fingerprint is None:
            plan.round_interval = _ROUNDS[plan.kind][0]
        if plan.runs_at is not None:
            self._plan_fires(plan, now, self._wall())

    def details_read(self, details: JobDetails) -> None:
        """A job's details came (its look done)."""
        key = JobKey(details.project_id, details.id)
        plan = self._plans.get(key)
        if plan is None:
            return
        if plan.in_flight == "details":
            plan.in_flight = None
        plan.version += 1
        plan.failures = 0
        self._set_details(plan, details, known=True)

    def looked(self, key: JobKey, runs: Sequence[JobRun]) -> bool:
        """A job's newest runs were read (newest first; a look of ours or a feed's poll).
        Returns whether anything changed since the last look."""
        plan = self._plans.get(key)
        if plan is None:
            return False
        now, wall = self._clock.monotonic(), self._wall()
        if plan.in_flight == "runs":
            plan.in_flight = None
        plan.version += 1
        plan.failures = 0
        plan.stopped = False
        plan.asked_at = None
        fingerprint = _fingerprint(runs)
        changed = fingerprint != plan.fingerprint
        plan.fingerprint = fingerprint
        plan.runs_at = now
        starts = [run.started_at for run in runs if run.started_at is not None]
        plan.newest_start = max(starts) if starts else None
        active = next((run for run in runs if run.is_active), None)
        plan.active = active is not None
        plan.active_start = active.started_at if active is not None else None
        durations = [
            (run.concluded_at - run.started_at).total_seconds() for run in runs
            if not run.is_active and run.started_at is not None and run.concluded_at is not None
        ]
        plan.shortest = max(0.0, min(durations)) if len(durations) >= MIN_DURATIONS else None
        low, high = _ROUNDS[plan.kind]
        if plan.kind is JobKind.MANUAL and (
                plan.newest_start is None
                or (wall - plan.newest_start).total_seconds() > MANUAL_QUIET):
            high = MANUAL_QUIET_ROUND
        plan.round_interval = low if changed else min(high, plan.round_interval * BACKOFF)
        plan.round_at = now + plan.round_interval
        self._plan_fires(plan, now, wall)
        self._plan_active(plan, now, wall, changed)
        return changed

    def _plan_active(self, plan: _Plan, now: float, wall: datetime, changed: bool) -> None:
        """While a run is active: the next look, stretched while nothing changes, not before
        the shortest recent run would have ended, none when a fire look comes soon anyway."""
        low, high = MANUAL_ACTIVE if plan.kind is JobKind.MANUAL else CRON_ACTIVE
        if not plan.active:
            plan.active_interval, plan.active_at = low, None
            return
        plan.active_interval = low if changed else min(high, plan.active_interval * BACKOFF)
        at = now + plan.active_interval
        if plan.shortest is not None and plan.active_start is not None:
            earliest_end = now + (plan.active_start - wall).total_seconds() + plan.shortest
            at = max(at, earliest_end)
        merged = plan.fire_at is not None and plan.fire_at <= now + ACTIVE_MERGE
        plan.active_at = None if merged else at

    def _plan_fires(self, plan: _Plan, now: float, wall: datetime) -> None:
        """The next fire look: retries for the latest fire whose run is not seen (until its
        grace ends), else just after the next fire time."""
        schedule = plan.schedule
        if schedule is None or plan.kind is not JobKind.SCHEDULED:
            plan.fire_at, plan.pending_fire = None, None
            return

        def mono(moment: datetime) -> float:
            return now + (moment - wall).total_seconds()

        floors = [moment for moment in (plan.newest_start, plan.details.created_at)
                  if moment is not None]
        floor = max(floors) if floors else None
        latest = schedule.previous_fire(wall)
        forbidden = plan.active and plan.details.concurrency_policy is ConcurrencyPolicy.FORBID
        if latest is not None and (floor is None or latest > floor) and not forbidden:
            grace_end = latest + plan.grace
            if wall < grace_end:
                plan.fire_retry = FIRE_RETRY if plan.pending_fire != latest \
                    else min(FIRE_RETRY_MAX, plan.fire_retry * 2)
                plan.pending_fire = latest
                plan.fire_at = min(now + plan.fire_retry, mono(grace_end) + FIRE_DELAY)
                return
        plan.pending_fire = None
        upcoming = schedule.next_fire(wall)
        plan.fire_at = None if upcoming is None else mono(upcoming) + FIRE_DELAY

    def look_failed(self, key: JobKey, what: LookWhat, retry_in: float | None = None,
                    *, permanent: bool = False) -> None:
        """A look failed: this job waits (what the server asked, else a doubling back-off);
        `permanent` (401, 403, 404) stops it until it is added or looked at again."""
        plan = self._plans.get(key)
        if plan is None:
            return
        if plan.in_flight == what:
            plan.in_flight = None
        plan.version += 1
        plan.failures += 1
        now = self._clock.monotonic()
        wait = min(FAIL_MAX, FAIL_BASE * 2 ** min(plan.failures - 1, 8))
        if retry_in is not None and retry_in > 0:
            wait = min(retry_in, WINDOW_SECONDS)  # the server's (or the gate's) word
        plan.hold_until = now + wait
        plan.stopped = permanent

    def refund(self, look: Look) -> None:
        """Nothing was sent for this look (the request gate held it back): it does not
        count against the board's hour."""
        self._allowance.refund(look.spent_at, self._clock.monotonic())

    def cancelled(self, key: JobKey) -> None:
        """A look on its way was dropped (nothing learnt): the job may be looked at again."""
        plan = self._plans.get(key)
        if plan is not None:
            plan.in_flight = None
            plan.version += 1

    # ----- reading ---------------------------------------------------------------------------

    def pending_fire(self, key: JobKey) -> datetime | None:
        """The fire time whose run the planner is still looking for, if any."""
        plan = self._plans.get(key)
        return None if plan is None else plan.pending_fire

    def looked_at(self, key: JobKey) -> float | None:
        plan = self._plans.get(key)
        return None if plan is None else plan.runs_at

    def plans(self) -> Iterable[tuple[JobKey, JobKind]]:
        return ((key, plan.kind) for key, plan in self._plans.items())
