"""Pure text formatting for runs: durations, start times, attempts.

No Textual import here: these are used by widgets and tested on their own.
"""

from __future__ import annotations

import enum
import functools
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

import humanize

from tui.sanitize import printable

if TYPE_CHECKING:
    from tui.api.models import JobRun

__all__ = [
    "SKEW_TOLERANCE", "UNKNOWN_TIME", "TimeMode", "as_local", "as_utc", "format_age_words",
    "format_attempts", "format_both_times", "format_clock", "format_duration", "format_local",
    "format_relative", "format_started", "format_utc", "printable", "relative_text_until",
]

# A start up to this far in the future is clock skew, not data: it reads "just now".
SKEW_TOLERANCE = timedelta(minutes=5)

_MINUTE = 60
_HOUR = 60 * _MINUTE
_DAY = 24 * _HOUR


class TimeMode(enum.Enum):
    """How the "started" column shows a timestamp."""

    RELATIVE = "relative"
    LOCAL = "local"
    UTC = "utc"

    def next(self) -> TimeMode:
        """The mode after this one, wrapping around (the `t` key cycles through them)."""
        modes = list(TimeMode)
        return modes[(modes.index(self) + 1) % len(modes)]


def format_duration(td: timedelta | None) -> str:
    """Compact duration: "-", "0s", "45s", "2m 05s", "1h 03m", "2d 4h", "3y 12d"; never negative
    and never wider than 8 characters."""
    if td is None:
        return "-"
    # Floor to whole seconds; skew can make a duration negative: show 0s, not "-3s".
    seconds = max(int(td.total_seconds()), 0)
    if seconds < _MINUTE:
        return f"{seconds}s"
    if seconds < _HOUR:
        minutes, seconds = divmod(seconds, _MINUTE)
        return f"{minutes}m {seconds:02d}s"
    if seconds < _DAY:
        hours, rest = divmod(seconds, _HOUR)
        return f"{hours}h {rest // _MINUTE:02d}m"
    days, rest = divmod(seconds, _DAY)
    if days < 1000:
        return f"{days}d {rest // _HOUR}h"
    # A start near year 1 (or a clock that far off): years, still within the column.
    years, days = divmod(days, 365)
    text = f"{years}y {days}d"
    return text if len(text) <= 8 else f"{years}y"


# Shown where a timestamp cannot be put in words (an offset that leaves the calendar).
UNKNOWN_TIME = "?"


def as_utc(dt: datetime) -> datetime | None:
    """`dt` as an aware UTC datetime; None when that leaves the calendar (year 1 at +05:00).

    The API's timestamps are UTC; a naive one is taken as UTC, as models.parse_timestamp does.
    """
    if dt.tzinfo is None:
        return dt.replace(tzinfo=timezone.utc)
    try:
        return dt.astimezone(timezone.utc)
    except (OverflowError, ValueError, OSError):
        return None


def as_local(dt: datetime) -> datetime | None:
    """`dt` in the local time zone, or None when that is off the calendar: 9999-12-31 23:00Z
    is already year 10000 in Tokyo, 0001-01-01 00:00Z still year 0 in New York."""
    try:
        return dt.astimezone()
    except (OverflowError, ValueError, OSError):
        return None


def _date_time(dt: datetime) -> str:
    # By hand, not strftime: glibc writes year 1 as "1", not "0001".
    return (
        f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d} "
        f"{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}"
    )


def _utc_offset(dt: datetime) -> str:
    """Like strftime's %z: "+0900"; "-045602" for New York's local mean time before 1883."""
    offset = dt.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    seconds = int(abs(offset).total_seconds())
    hours, rest = divmod(seconds, _HOUR)
    minutes, seconds = divmod(rest, _MINUTE)
    return f"{sign}{hours:02d}{minutes:02d}" + (f"{seconds:02d}" if seconds else "")


def format_utc(dt: datetime | None) -> str:
    """"2026-11-29 12:05:02Z"; "-" when unknown, "?" when not representable."""
    if dt is None:
        return "-"
    utc = as_utc(dt)
    return UNKNOWN_TIME if utc is None else _date_time(utc) + "Z"


def format_local(dt: datetime | None) -> str:
    """Local time without the offset; a time the local zone cannot hold shows in UTC ("Z"),
    which is still the value (and fits the same column)."""
    if dt is None:
        return "-"
    utc = as_utc(dt)
    if utc is None:
        return UNKNOWN_TIME
    local = as_local(utc)
    return _date_time(local) if local is not None else _date_time(utc) + "Z"


def format_both_times(dt: datetime | None) -> str:
    """Local time with its offset, then UTC: "2026-11-29 13:05:02 +0100   (… 12:05:02Z)".

    The local part is "?" when the local zone cannot hold the time; the UTC part stays.
    """
    if dt is None:
        return "-"
    utc = as_utc(dt)
    if utc is None:
        return UNKNOWN_TIME
    local = as_local(utc)
    local_text = UNKNOWN_TIME if local is None else f"{_date_time(local)} {_utc_offset(local)}"
    return f"{local_text}   ({_date_time(utc)}Z)"


def format_clock(dt: datetime | None) -> str:
    """The time of day in UTC, for log lines: "12:05:02"; "--:--:--" when unknown."""
    if dt is None:
        return "--:--:--"
    utc = as_utc(dt)
    return "??:??:??" if utc is None else f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}"


def format_relative(delta: timedelta) -> str:
    """How long ago (`delta` > 0) or ahead a start is, in the duration column's style and
    as exact as the column allows: "just now", "12m ago", "3h 12m ago", "2d 4h ago",
    "in 3h 05m".

    Relative texts move once a minute at most: under a minute is "just now", not "14 seconds
    ago", so the per-second tick repaints running durations and nothing else.
    """
    # A slightly future start is clock skew, not data.
    if -SKEW_TOLERANCE < delta < timedelta(minutes=1):
        return "just now"
    seconds = delta.total_seconds()
    words = _relative_words(int(abs(seconds) // _MINUTE))
    return f"in {words}" if seconds < 0 else f"{words} ago"


def _age_unit(seconds: float) -> int:
    """The step in which a relative text of this age moves: minutes under a day, then hours,
    then days."""
    return _MINUTE if seconds < _DAY else _HOUR if seconds < 1000 * _DAY else _DAY


def relative_text_until(dt: datetime | None, now: datetime) -> datetime | None:
    """Until when `format_relative` of a start at `dt` keeps the text it has at `now` (None:
    no promise, look again next time). The text moves in whole minutes, hours or days of
    age, so a screenful of finished runs needs looking at only when one of them rolls over."""
    start, current = as_utc(dt) if dt is not None else None, as_utc(now)
    if start is None or current is None:
        return None
    age = (current - start).total_seconds()
    if age < 0:
        return None  # a future start: "just now" or "in ..." (clock skew, rare)
    unit = _age_unit(age)
    try:
        return start + timedelta(seconds=(age // unit + 1) * unit)
    except OverflowError:
        return None


@functools.lru_cache(maxsize=4096)
def _relative_words(minutes: int) -> str:
    """Whole minutes of age in the duration style: "12m", "3h 12m", "2d 4h", "3y 12d"."""
    if minutes < 60:
        return f"{minutes}m"
    hours, minute = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minute:02d}m"
    days, hour = divmod(hours, 24)
    if days < 1000:
        return f"{days}d {hour}h"
    years, day = divmod(days, 365)
    return f"{years}y {day}d"


def format_started(dt: datetime | None, now: datetime, mode: TimeMode) -> str:
    """A start time as relative ("5 minutes ago"), local or UTC text; "-" when unknown.

    Never raises, whatever the year or the local zone: a time that cannot be shown is "?".
    """
    if dt is None:
        return "-"
    if mode is TimeMode.LOCAL:
        return format_local(dt)
    if mode is TimeMode.UTC:
        return format_utc(dt)
    start, current = as_utc(dt), as_utc(now)
    if start is None or current is None:
        return UNKNOWN_TIME
    return format_relative(current - start)


MAX_TRIES_SHOWN = 999  # a larger count from a server is shown as "999+"


def _count(number: int) -> str:
    return str(number) if number <= MAX_TRIES_SHOWN else f"{MAX_TRIES_SHOWN}+"


def format_age_words(dt: datetime | None, now: datetime) -> str:
    """How long ago, in words, for the detail view: "about 3 hours ago" (humanize); "-"."""
    start, current = (as_utc(dt) if dt is not None else None), as_utc(now)
    if start is None or current is None:
        return "-"
    delta = current - start
    if -SKEW_TOLERANCE < delta < timedelta(minutes=1):
        return "just now"
    if delta < timedelta(0):
        return f"in {_humanized(-delta)}"
    return f"{_humanized(delta)} ago"


def _humanized(delta: timedelta) -> str:
    # Whole minutes: the words move once a minute, not each second. naturaldelta, not
    # naturaltime: naturaltime subtracts the delta from the local clock, which overflows for
    # a start near year 1 or 9999.
    minutes = int(delta.total_seconds() // _MINUTE)
    return str(humanize.naturaldelta(timedelta(minutes=minutes)))


def format_attempts(run: JobRun) -> str:
    """Which try this is, of how many the job allows: "1 of 1", "2 of 7".

    The API's `completions` counts the tries that concluded and `backoffLimit` the retries
    allowed after the first, so a running run is on try completions + 1 of backoffLimit + 1.
    """
    tries = run.completions + 1 if run.is_active else max(run.completions, 1)
    allowed = max(run.backoff_limit, 0) + 1
    return f"{_count(tries)} of {_count(allowed)}"
