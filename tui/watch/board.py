"""The board's model: one `JobSummary` per job, computed from its recent runs, its details and
the time, and the pure functions the board sorts and counts by. No Textual, no I/O.

A summary is a value: the board recomputes it after each look at the job (and on its tick,
for the live duration, SLOW and "next run in"). Strings from the API are kept as sent (the
widget draws them through `tui.sanitize.printable`); the words made here are printable.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..api.models import ConcurrencyPolicy, Job, JobDetails, JobRun, RunStatus
from .cron import CronError, CronSchedule, CronState, MissedCheck, check_missed, parse_schedule
from .events import JobKey

STRIP_LENGTH = 20  # the last runs shown one glyph each
# The typical duration is the median of this many recent concluded runs, once there are
# MIN_TYPICAL of them; SLOW needs MIN_SLOW of them for a 90th percentile worth the name.
TYPICAL_SAMPLE = 20
MIN_TYPICAL = 3
MIN_SLOW = 5
SLOW_PERCENTILE = 0.90


class BoardState(str, enum.Enum):
    """What a job's row says at a glance, in attention order."""

    FAILING = "failing"  # its latest concluded run failed
    MISSED = "missed"  # a scheduled run has not appeared within the grace period
    RUNNING = "running"  # a run is active
    FINE = "fine"  # none of the above
    # Its schedule starts nothing: what its old runs say is history, not news (a running
    # run, started by hand, still shows RUNNING).
    SUSPENDED = "suspended"
    UNKNOWN = "unknown"  # not looked at yet


ATTENTION = {state: rank for rank, state in enumerate(BoardState)}


@dataclass(frozen=True, slots=True)
class LatestRun:
    """The newest run of a job, as its row shows it."""

    run_id: str
    run_name: str
    status: RunStatus
    raw_status: str
    active: bool
    started_at: datetime | None
    concluded_at: datetime | None
    duration: timedelta | None  # live (to `now`) while active


@dataclass(frozen=True, slots=True)
class JobSummary:
    """One row of the board."""

    key: JobKey
    name: str  # as sent: drawn through printable()
    kind: str  # "cron" or "manual"
    schedule_text: str  # "cron · every 5 min", "manual" (printable)
    suspended: bool
    state: BoardState
    latest: LatestRun | None = None
    last_success_at: datetime | None = None
    failure_streak: int = 0  # concluded runs in a row that failed, newest first
    strip: tuple[RunStatus, ...] = ()  # the last STRIP_LENGTH runs, newest last
    typical_duration: timedelta | None = None
    slow_after: timedelta | None = None  # the 90th percentile a running run is SLOW past
    slow: bool = False
    next_fire: datetime | None = None  # cron, not suspended
    missed: MissedCheck | None = None  # cron, not suspended, looked at
    schedule_problem: str | None = None  # why the schedule cannot be used (printable)
    looked_at: datetime | None = None  # when the runs were last read (server time)
    activity_at: datetime | None = None  # the latest start, end or overdue moment
    problem: str = ""  # why the last look failed, if it did (printable)

    @property
    def is_missed(self) -> bool:
        return self.missed is not None and self.missed.state is CronState.MISSED

    @property
    def streak_text(self) -> str:
        """ "3 failed in a row", "1 failed", or "" (no streak)."""
        if self.failure_streak <= 0:
            return ""
        if self.failure_streak == 1:
            return "1 failed"
        return f"{self.failure_streak} failed in a row"

    def freshness(self, now: datetime) -> timedelta | None:
        """How old what the row shows is (None: never looked at)."""
        if self.looked_at is None:
            return None
        return max(now - self.looked_at, timedelta(0))


def details_of(job: Job) -> JobDetails:
    """The details a list of jobs tells (no schedule): until the job's own are read."""
    return JobDetails(
        id=job.id, name=job.name, project_id=job.project_id, job_type=job.job_type,
        app_id=job.app_id, description=job.description, tags=job.tags,
        suspended=bool(job.suspended), disabled_ci=job.disabled_ci, disabled_cd=job.disabled_cd,
    )


def schedule_of(details: JobDetails) -> CronSchedule | CronError | None:
    """The parsed schedule of a cron job (None: not a cron job, or none given)."""
    if not details.is_cron or not details.cron_schedule:
        return None
    return parse_schedule(details.cron_schedule)


def schedule_words(details: JobDetails, schedule: CronSchedule | CronError | None) -> str:
    if not details.is_cron:
        return "manual"
    if schedule is None:
        return "cron"
    if isinstance(schedule, CronError):
        return f"cron · {schedule.expression}"
    return f"cron · {schedule.describe()}"


def _percentile(sorted_values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile of ascending values (not empty)."""
    rank = max(1, math.ceil(share * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def _concluded_durations(runs: Sequence[JobRun]) -> list[float]:
    durations: list[float] = []
    for run in runs:
        if run.is_active or run.unreadable is not None or run.concluded_at is None \
                or run.started_at is None:
            continue
        durations.append(max(0.0, (run.concluded_at - run.started_at).total_seconds()))
        if len(durations) >= TYPICAL_SAMPLE:
            break
    return durations


def _latest(run: JobRun, now: datetime) -> LatestRun:
    return LatestRun(
        run_id=run.id, run_name=run.run_name, status=run.status, raw_status=run.raw_status,
        active=run.is_active, started_at=run.started_at, concluded_at=run.concluded_at,
        duration=run.duration(now),
    )


def _streak(runs: Sequence[JobRun]) -> int:
    """Concluded runs in a row that failed, from the newest concluded one (active runs on
    top do not break it: a retry running is still after failures)."""
    streak = 0
    for run in runs:
        if run.is_active:
            continue
        if run.status is not RunStatus.FAILED:
            break
        streak += 1
    return streak


def summarize(
    details: JobDetails,
    runs: Sequence[JobRun],
    *,
    now: datetime,
    looked_at: datetime | None,
    grace: timedelta | None = None,
) -> JobSummary:
    """A job's row from its recent runs (newest first: a RunStore's or a first page), its
    details and the time. `looked_at` is when `runs` were read (None: not yet, and `runs` is
    ignored); `now` moves the live parts (duration, SLOW, next fire). `grace` None is the
    schedule's default (`cron.default_grace`)."""
    key = JobKey(details.project_id, details.id)
    schedule = schedule_of(details)
    runs_on_schedule = isinstance(schedule, CronSchedule) and not details.suspended
    base = JobSummary(
        key=key, name=details.name, kind="cron" if details.is_cron else "manual",
        schedule_text=schedule_words(details, schedule), suspended=details.suspended,
        state=BoardState.UNKNOWN,
        schedule_problem=schedule.message if isinstance(schedule, CronError) else None,
        next_fire=schedule.next_fire(now) if isinstance(schedule, CronSchedule)
        and runs_on_schedule else None,
    )
    if looked_at is None:
        return base
    newest = runs[0] if runs else None
    latest = _latest(newest, now) if newest is not None else None
    last_success = next(
        (run.concluded_at or run.started_at for run in runs
         if run.status is RunStatus.SUCCESS and not run.is_active), None,
    )
    streak = _streak(runs)
    strip = tuple(
        RunStatus.RUNNING if run.is_active else run.status for run in runs[:STRIP_LENGTH]
    )[::-1]
    durations = _concluded_durations(runs)
    typical = timedelta(seconds=statistics.median(durations)) \
        if len(durations) >= MIN_TYPICAL else None
    slow_after = timedelta(seconds=_percentile(sorted(durations), SLOW_PERCENTILE)) \
        if len(durations) >= MIN_SLOW else None
    running = next((run for run in runs if run.is_active), None)
    slow = False
    if running is not None and slow_after is not None:
        elapsed = running.duration(now)
        slow = elapsed is not None and elapsed > slow_after
    missed: MissedCheck | None = None
    if isinstance(schedule, CronSchedule) and runs_on_schedule:
        busy_until = None
        if details.concurrency_policy is ConcurrencyPolicy.FORBID and newest is not None:
            busy_until = looked_at if newest.is_active else newest.concluded_at
        missed = check_missed(
            schedule, last_run_start=newest.started_at if newest is not None else None,
            now=looked_at, grace=grace, not_before=details.created_at, busy_until=busy_until,
        )
    if details.suspended:
        # (A new failure is still told: alerts follow run ids, not states.)
        state = BoardState.RUNNING if running is not None else BoardState.SUSPENDED
    elif streak > 0:
        state = BoardState.FAILING
    elif missed is not None and missed.state is CronState.MISSED:
        state = BoardState.MISSED
    elif running is not None:
        state = BoardState.RUNNING
    else:
        state = BoardState.FINE
    moments = [moment for moment in (
        latest.started_at if latest else None, latest.concluded_at if latest else None,
        missed.overdue_since if missed is not None else None,
    ) if moment is not None]
    return dataclasses.replace(
        base, state=state, latest=latest, last_success_at=last_success,
        failure_streak=streak, strip=strip, typical_duration=typical, slow_after=slow_after,
        slow=slow, missed=missed, looked_at=looked_at,
        activity_at=max(moments) if moments else None,
    )


def with_live_parts(row: JobSummary, now: datetime) -> JobSummary:
    """The row with its running run's duration and SLOW moved to `now`: what the board's
    per-second tick needs, without the cron walk and the statistics of `summarize`."""
    latest = row.latest
    if latest is None or not latest.active or latest.started_at is None \
            or latest.concluded_at is not None:  # (an end: its duration stands)
        return row
    duration = max(now - latest.started_at, timedelta(0))
    slow = row.slow_after is not None and duration > row.slow_after
    if duration == latest.duration and slow == row.slow:
        return row
    return dataclasses.replace(row, latest=dataclasses.replace(latest, duration=duration),
                               slow=slow)


def moved_to(row: JobSummary, now: datetime,
             schedule: CronSchedule | CronError | None) -> JobSummary:
    """`summarize`'s row moved to `now`, its runs not read again (the board's renewal every
    few seconds: the live duration, SLOW and the next fire are all that move with the clock;
    a missed run is judged at each look). Exact when the running run, if any, is the newest
    (`summarize` times SLOW by the newest active run); else summarize again."""
    row = with_live_parts(row, now)
    if isinstance(schedule, CronSchedule) and not row.suspended:
        fire = schedule.next_fire(now)
        if fire != row.next_fire:
            row = dataclasses.replace(row, next_fire=fire)
    return row


# ----- the board as a whole ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BoardCounts:
    """The summary line: how many jobs are in each state."""

    failing: int = 0
    missed: int = 0
    running: int = 0
    fine: int = 0
    unknown: int = 0
    suspended: int = 0

    @property
    def total(self) -> int:
        return self.failing + self.missed + self.running + self.fine + self.unknown \
            + self.suspended


def count_states(summaries: Iterable[JobSummary]) -> BoardCounts:
    counts = dict.fromkeys(BoardState, 0)
    for summary in summaries:
        counts[summary.state] += 1
    return BoardCounts(
        failing=counts[BoardState.FAILING], missed=counts[BoardState.MISSED],
        running=counts[BoardState.RUNNING], fine=counts[BoardState.FINE],
        unknown=counts[BoardState.UNKNOWN], suspended=counts[BoardState.SUSPENDED],
    )


def attention_order(summaries: Iterable[JobSummary]) -> list[JobSummary]:
    """Failing, missed, running, fine, suspended, not looked at yet; within each the most recent
    activity first, then by name (and id) so that the order is stable."""
    def key(summary: JobSummary) -> tuple[int, float, str, str, str]:
        at = summary.activity_at
        recent = -at.timestamp() if at is not None else math.inf
        return (ATTENTION[summary.state], recent, summary.name.casefold(),
                summary.key.project_id, summary.key.job_id)

    return sorted(summaries, key=key)


def name_order(summaries: Iterable[JobSummary]) -> list[JobSummary]:
    """By name (any case), then project and id."""
    return sorted(summaries, key=lambda summary: (
        summary.name.casefold(), summary.key.project_id, summary.key.job_id))
