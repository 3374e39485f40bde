"""Pure text formatting for runs: durations, start times, attempts.

No Textual import here: these are used by widgets and tested on their own.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

import humanize

from tui.sanitize import printable

if TYPE_CHECKING:
    from tui.api.models import JobRun

__all__ = [
    "SKEW_TOLERANCE", "TimeMode", "format_attempts", "format_duration", "format_started",
    "printable",
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
    """Compact duration: "-", "0s", "45s", "2m 05s", "1h 03m", "2d 4h"; never negative."""
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
    return f"{days}d {rest // _HOUR}h"


def _as_utc(dt: datetime) -> datetime:
    # The API's timestamps are UTC; a naive one is taken as UTC, as models.parse_timestamp does.
    if dt.tzinfo is None:
        return dt.replace(tzinfo=timezone.utc)
    return dt


def format_started(dt: datetime | None, now: datetime, mode: TimeMode) -> str:
    """A start time as relative ("5 minutes ago"), local or UTC text; "-" when unknown.

    Relative texts move once a minute at most: under a minute is "just now", not "14 seconds
    ago", so the per-second tick repaints running durations and nothing else.
    """
    if dt is None:
        return "-"
    dt = _as_utc(dt)
    if mode is TimeMode.RELATIVE:
        delta = _as_utc(now) - dt
        # A slightly future start is clock skew, not data.
        if -SKEW_TOLERANCE < delta < timedelta(minutes=1):
            return "just now"
        # Whole minutes, then whole hours, counted down like the duration column: humanize
        # rounds (a run 1m 30s old would read "2 minutes ago" next to its "1m 30s").
        seconds = delta.total_seconds()
        if 0 < seconds < _HOUR:
            delta = timedelta(minutes=seconds // _MINUTE)
        elif 0 < seconds < _DAY:
            delta = timedelta(hours=seconds // _HOUR)
        return humanize.naturaltime(delta)
    if mode is TimeMode.LOCAL:
        return dt.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def format_attempts(run: JobRun) -> str:
    """Completions over the backoff limit, e.g. "1/6"."""
    return f"{run.completions}/{run.backoff_limit}"
