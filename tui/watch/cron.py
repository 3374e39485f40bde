"""Cron schedules of Northflank jobs: parse safely, next and previous fire times, the schedule
in words, and the missed-run rule (the board's dead-man's switch). No Textual.

The expression comes from the API (`settings.cron.schedule`), so it is hostile until checked:
nothing here raises on any input or runs for long. A bad expression is a `CronError` value.
Evaluation is by cronsim (pure Python, maintained by healthchecks.io, whose product is cron
monitoring); its own search gives up after 50 years, so no expression can spin forever.

Time zone: **assumed UTC** (`ASSUMED_TIME_ZONE`). Northflank documents none (jobs-logs-metrics.md
§1: "Time zone of cron schedules: Unknown"); its jobs run on Kubernetes, whose CronJob
controller usually works in UTC. Descriptions with a time of day say "UTC" for that reason.

Known difference: when both day fields are restricted cron fires on either (OR); cronsim
takes a day field starting with "*" (like "*/2") as unrestricted (AND), as Debian cron does,
where Kubernetes' parser would OR a stepped "*/2". Such schedules are rare.
"""

from __future__ import annotations

import enum
import functools
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from cronsim import CronSim, CronSimError

from ..sanitize import printable

ASSUMED_TIME_ZONE = timezone.utc
ZONE_LABEL = "UTC"
# Real schedules are a few dozen characters; anything longer is refused before parsing.
MAX_EXPRESSION_LENGTH = 200
# How much of a refused expression a message quotes.
MAX_SHOWN_EXPRESSION = 60
# A fire time further than this from the asking time counts as none (a leap-day schedule).
MAX_LOOKAHEAD = timedelta(days=400)
MAX_FIRES = 100  # at most this many fire times from one `next_fires` call
# Grace before a due run counts as missed: 10 % of the schedule's interval, within these.
GRACE_SHARE = 0.10
MIN_GRACE = timedelta(minutes=2)
MAX_GRACE = timedelta(minutes=15)
MAX_GRACE_SETTING = timedelta(days=1)  # a configured grace is clamped to [0, this]
MAX_COUNTED_MISSES = 100  # missed fires counted at most (a dead job would count forever)
_GAP_SAMPLE = 16  # fire times looked at to find a schedule's shortest interval

# The macros Northflank's docs allow (jobs-logs-metrics.md §1), as 5-field expressions.
MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_ALLOWED = frozenset(
    "0123456789*/,-#?@ abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\t"
)
# A fixed point to check that an expression fires at all (cronsim searches 50 years on).
_REFERENCE = datetime(2024, 1, 1, tzinfo=timezone.utc)
_DAY_NAMES = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                "Dec")


@dataclass(frozen=True, slots=True)
class CronError:
    """Why a schedule cannot be used; `message` is one printable sentence."""

    expression: str  # printable, cut to MAX_SHOWN_EXPRESSION
    message: str

    def __str__(self) -> str:
        return self.message


def _shown(text: str) -> str:
    if len(text) > MAX_SHOWN_EXPRESSION:
        text = text[:MAX_SHOWN_EXPRESSION] + "…"
    return printable(text)


def _utc(value: datetime) -> datetime:
    """Aware UTC, whole seconds; a naive datetime is taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).replace(microsecond=0)


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """A checked 5-field cron expression, evaluated in UTC. Every method is total: bad
    times (year 1, year 9999) give None or nothing, never an exception."""

    expression: str  # as given, stripped (may be a macro like "@daily")
    fields: str  # the 5 fields cronsim evaluates, single-spaced

    def _walk(self, start: datetime, reverse: bool) -> Iterator[datetime]:
        """Fire times strictly after (or, reverse, strictly before) `start` (whole seconds),
        within MAX_LOOKAHEAD of it."""
        try:
            limit = start - MAX_LOOKAHEAD if reverse else start + MAX_LOOKAHEAD
        except OverflowError:  # near year 1 or 9999: the calendar's end is the limit
            limit = (datetime.min if reverse else datetime.max).replace(tzinfo=timezone.utc)
        try:
            for fire in CronSim(self.fields, start, reverse=reverse):
                if (fire < limit) if reverse else (fire > limit):
                    return
                yield fire.astimezone(timezone.utc)
        except Exception:  # a third-party walk on outside text: stop, never raise
            return

    def next_fire(self, after: datetime) -> datetime | None:
        """The first fire time strictly after `after`, or None (none within MAX_LOOKAHEAD)."""
        return next(iter(self.next_fires(after, 1)), None)

    def next_fires(self, after: datetime, count: int) -> tuple[datetime, ...]:
        """Up to `count` (at most MAX_FIRES) fire times strictly after `after`, in order."""
        count = max(0, min(count, MAX_FIRES))
        if count == 0:
            return ()
        try:
            start = _utc(after)
        except (OverflowError, ValueError):
            return ()
        # Fires fall on whole minutes: strictly after `after` is strictly after its minute's
        # start, so the walk is shared by every moment of that minute (the board asks each
        # cron job's next fire and grace every 15 s).
        return _next_fires(self, start.replace(second=0), count)

    def _next_fires_from(self, start: datetime, count: int) -> tuple[datetime, ...]:
        fires: list[datetime] = []
        for fire in self._walk(start, reverse=False):
            fires.append(fire)
            if len(fires) >= count:
                break
        return tuple(fires)

    def previous_fire(self, at: datetime) -> datetime | None:
        """The last fire time at or before `at`, or None (none within MAX_LOOKAHEAD)."""
        try:
            # At or before `at` is at or before its minute's start (fires fall on whole
            # minutes): one second on from there, then strictly before.
            moment = _utc(at)
            if moment.replace(tzinfo=None) == datetime.max.replace(microsecond=0):
                return None  # the calendar's last second: nothing to walk back from
            start = moment.replace(second=0) + timedelta(seconds=1)
        except (OverflowError, ValueError):
            return None
        return _previous_fire(self, start)

    def shortest_interval(self, at: datetime) -> timedelta | None:
        """The shortest gap between consecutive fire times among the first few after `at`
        (None when it fires less than twice within MAX_LOOKAHEAD)."""
        fires = self.next_fires(at, _GAP_SAMPLE)
        gaps = [later - earlier for earlier, later in itertools.pairwise(fires)]
        return min(gaps) if gaps else None

    def describe(self) -> str:
        """The schedule in a few words for the board, or the expression itself."""
        return _describe(self.fields) or printable(self.expression)


@functools.lru_cache(maxsize=1024)
def _next_fires(schedule: CronSchedule, start: datetime, count: int) -> tuple[datetime, ...]:
    return schedule._next_fires_from(start, count)


@functools.lru_cache(maxsize=1024)
def _previous_fire(schedule: CronSchedule, start: datetime) -> datetime | None:
    return next(schedule._walk(start, reverse=True), None)


@functools.lru_cache(maxsize=256)
def _parse_text(text: str) -> CronSchedule | CronError:
    shown = _shown(text)
    if not text:
        return CronError(shown, "The cron schedule is empty.")
    if not set(text) <= _ALLOWED:
        return CronError(shown, f"The cron schedule '{shown}' has characters cron does not use.")
    if text.startswith("@"):
        fields = MACROS.get(text.lower())
        if fields is None:
            return CronError(shown, f"The cron schedule '{shown}' is not a known @macro.")
    else:
        parts = text.split()
        if len(parts) != 5:
            return CronError(
                shown, f"The cron schedule '{shown}' does not have 5 fields ({len(parts)})."
            )
        # "?" (no specific day) is "*" in the day fields of Kubernetes' cron parser.
        parts = [("*" if part == "?" and index in (2, 4) else part)
                 for index, part in enumerate(parts)]
        fields = " ".join(parts)
    try:
        first = next(CronSim(fields, _REFERENCE), None)
    except CronSimError as error:
        reason = str(error).lower() or "not valid"
        return CronError(shown, f"The cron schedule '{shown}' is not valid ({reason}).")
    except Exception:  # whatever else a parser may raise on outside text
        return CronError(shown, f"The cron schedule '{shown}' is not valid.")
    if first is None:
        return CronError(shown, f"The cron schedule '{shown}' never fires.")
    return CronSchedule(expression=text, fields=fields)


def parse_schedule(expression: object) -> CronSchedule | CronError:
    """A schedule from `settings.cron.schedule`, or the reason it cannot be one. Never raises;
    at most a few tens of milliseconds for the worst expression (and cached)."""
    if not isinstance(expression, str):
        return CronError(type(expression).__name__, "The cron schedule is not a string.")
    text = expression.strip()
    if len(text) > MAX_EXPRESSION_LENGTH:  # before the cache: it keeps what it is given
        return CronError(
            _shown(text), f"The cron schedule is longer than {MAX_EXPRESSION_LENGTH} characters."
        )
    return _parse_text(text)


def describe_schedule(expression: object) -> str:
    """The schedule in words ("every 5 min", "daily at 08:30 UTC"), or the expression itself,
    made printable; for a bad one, the expression (cut) as it came."""
    parsed = parse_schedule(expression)
    if isinstance(parsed, CronSchedule):
        return parsed.describe()
    return parsed.expression


# ----- the schedule in words ---------------------------------------------------------------


def _even_step(values: list[int], period: int) -> int | None:
    """The step of values evenly spaced around a period (0,15,30,45 in 60 -> 15), or None."""
    if len(values) < 2:
        return None
    step = values[1] - values[0]
    if any(b - a != step for a, b in itertools.pairwise(values)) or step * len(values) != period:
        return None
    return step


def _day_list(days: set[int]) -> str:
    ordered = sorted(days, key=lambda day: (day - 1) % 7)  # Monday first
    if ordered == [1, 2, 3, 4, 5]:
        return "Mon-Fri"
    if len(ordered) == 1:
        return f"weekly on {_DAY_NAMES[ordered[0]]}"
    return ", ".join(_DAY_NAMES[day] for day in ordered)


@functools.lru_cache(maxsize=256)
def _describe(fields: str) -> str | None:
    try:
        sim = CronSim(fields, _REFERENCE)
    except Exception:  # checked at parse; never let words break the board
        return None
    minutes, hours = sorted(sim.minutes), sorted(sim.hours)
    if any(not isinstance(day, int) or day < 1 for day in sim.days) or any(
        not isinstance(day, int) for day in sim.weekdays
    ):
        return None  # L, LW, #: said as written
    days, months = set(sim.days), set(sim.months)
    weekdays = {day % 7 for day in sim.weekdays if isinstance(day, int)}
    all_days, all_weekdays = days == set(range(1, 32)), weekdays == set(range(7))
    if months != set(range(1, 13)) and not (len(months) == 1 and len(days) == 1 and all_weekdays):
        return None
    every_day = all_days and all_weekdays
    if every_day and len(hours) == 24:
        if len(minutes) == 60:
            return "every minute"
        step = _even_step(minutes, 60)
        if step is not None:
            return f"every {step} min" + (f" from :{minutes[0]:02d}" if minutes[0] else "")
        if len(minutes) == 1:
            return f"hourly at :{minutes[0]:02d}"
        return None
    if len(minutes) != 1:
        return None
    minute = minutes[0]
    step = _even_step(hours, 24)
    if every_day and step is not None and len(hours) >= 3:
        start = f" from {hours[0]:02d}:{minute:02d} {ZONE_LABEL}" if hours[0] else ""
        return f"every {step} h at :{minute:02d}{start}"
    if not 1 <= len(hours) <= 2:
        return None
    times = ", ".join(f"{hour:02d}:{minute:02d}" for hour in hours) + f" {ZONE_LABEL}"
    if every_day:
        return f"daily at {times}"
    if all_days and sim.day_and:
        return f"{_day_list(weekdays)} at {times}"
    if all_weekdays and len(days) == 1:
        (day,) = days
        if len(months) == 1:
            (month,) = months
            return f"yearly on {_MONTH_NAMES[month - 1]} {day} at {times}"
        return f"monthly on day {day} at {times}"
    return None


# ----- missed runs -------------------------------------------------------------------------


def default_grace(schedule: CronSchedule, at: datetime) -> timedelta:
    """How late a cron run may start before it counts as missed: 10 % of the schedule's
    shortest interval, at least 2 min (runs take a moment to appear), at most 15 min (a daily
    job's silence shows within a quarter of an hour)."""
    interval = schedule.shortest_interval(at)
    if interval is None:
        return MAX_GRACE
    return max(MIN_GRACE, min(MAX_GRACE, interval * GRACE_SHARE))


class CronState(str, enum.Enum):
    """What a cron job's latest fire times say about its runs."""

    OK = "ok"  # every fire past its grace has a run (or none has come due)
    DUE = "due"  # a fire has passed without a run, still within the grace: look now
    MISSED = "missed"  # a fire's grace has passed without a run: overdue


@dataclass(frozen=True, slots=True)
class MissedCheck:
    """The verdict of `check_missed`."""

    state: CronState
    grace: timedelta
    latest_fire: datetime | None  # the last fire at or before now (None: none in reach)
    first_missed: datetime | None = None  # DUE/MISSED: the oldest fire with no run after it
    overdue_since: datetime | None = None  # MISSED: first_missed + grace
    missed_count: int = 0  # MISSED: fires past their grace with no run (<= MAX_COUNTED_MISSES)


def check_missed(
    schedule: CronSchedule,
    *,
    last_run_start: datetime | None,
    now: datetime,
    grace: timedelta | None = None,
    not_before: datetime | None = None,
    busy_until: datetime | None = None,
) -> MissedCheck:
    """Whether the latest due run of a cron job is missing, and since when.

    A run counts for every fire at or before its start (the API does not say which fire
    started a run, so a late run covers the fires it came after). Fires at or before
    `not_before` (the job's `createdAt`) need no run, nor, for a job whose concurrencyPolicy
    is Forbid, fires at or before `busy_until` (the end of its latest run; now while that
    runs): those start no run by design. `now` should be when the run list was
    last read, so that a job not looked at lately is not called missed for that. `grace`
    None is `default_grace`; a given one is clamped to [0, 1 day]. A suspended job has no
    schedule to keep: the caller does not ask.
    """
    try:
        now = _utc(now)
        covered = max(
            (_utc(moment) for moment in (last_run_start, not_before, busy_until)
             if moment is not None),
            default=None,
        )
        if grace is None:
            grace = default_grace(schedule, now)
        grace = max(timedelta(0), min(grace, MAX_GRACE_SETTING))
        return _check(schedule, covered, now, grace)
    except (OverflowError, ValueError):  # times at the ends of the calendar
        return MissedCheck(CronState.OK, grace if grace is not None else MIN_GRACE, None)


def _check(
    schedule: CronSchedule, covered: datetime | None, now: datetime, grace: timedelta
) -> MissedCheck:
    latest = schedule.previous_fire(now)
    if latest is None or (covered is not None and latest <= covered):
        return MissedCheck(CronState.OK, grace, latest)
    first = latest if covered is None else schedule.next_fire(covered)
    if first is None or first > latest:
        first = latest
    if first + grace > now:
        return MissedCheck(CronState.DUE, grace, latest, first_missed=first)
    count = 1
    for fire in schedule.next_fires(first, MAX_COUNTED_MISSES - 1):
        if fire + grace > now:
            break
        count += 1
    return MissedCheck(
        CronState.MISSED, grace, latest, first_missed=first, overdue_since=first + grace,
        missed_count=count,
    )
