"""Pure text formatting for runs: durations, start times, attempts.

No Textual import here: these are used by widgets and tested on their own.
"""

from __future__ import annotations

import enum
import unicodedata
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

import humanize

if TYPE_CHECKING:
    from tui.api.models import JobRun

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


def _control_pictures() -> dict[int, str]:
    table = {code: chr(0x2400 + code) for code in range(0x20)}  # ESC -> "␛", TAB -> "␉"
    table[0x7F] = "\u2421"  # DEL -> "␡"
    for code in range(0x80, 0xA0):  # C1 controls (0x9B is a one-byte CSI on some terminals)
        table[code] = "\ufffd"
    # Bidi overrides and isolates can reorder the rest of the terminal line.
    for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)):
        table[code] = "\ufffd"
    return table


_CONTROL_PICTURES = _control_pictures()


def printable(text: str) -> str:
    """API text made safe to paint: control characters become visible placeholders.

    Nothing here is markup: callers put the result in Segments/Text, never parse it.
    """
    if text.isprintable():  # fast path: most names have nothing to replace
        return text
    return "".join(char if char.isprintable() else _placeholder(char) for char in text)


def _placeholder(char: str) -> str:
    picture = _CONTROL_PICTURES.get(ord(char))
    if picture is not None:
        return picture
    # Other separators (no-break space, U+2028) are spaces to the reader; the rest
    # (format characters, unassigned code points) could move the cursor or have no width.
    return " " if unicodedata.category(char).startswith("Z") else "\ufffd"
