"""Numbers and dates from response headers, taken only when finite and sane.

`Retry-After: inf` or `1e400` once crashed the app; `0`, `-5` or `nan` made it send several
requests a second; `99999999` meant "retrying in 3 years"; `Date: ... 9999` crashed at start.
Every header number is parsed here: a strict decimal, finite, inside documented bounds;
anything else is as if the header were absent.
"""

from __future__ import annotations

import email.utils
import math
import re
from collections import deque
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone

# Retry-After (and x-ratelimit-reset standing in for it) is clamped to this range: never a
# storm of retries (the caller adds jitter above the floor), never "retry in 3 years".
RETRY_AFTER_FLOOR = 1.0
RETRY_AFTER_CEILING = 3600.0
# x-ratelimit-* beyond these are not a real quota: ignored.
MAX_RATE_LIMIT = 10_000_000
MAX_RESET_SECONDS = 7200.0
# A server clock further than this from ours is wrong, not skewed: it is ignored.
MAX_CLOCK_SKEW = 86400.0

_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
_MAX_NUMBER_TEXT = 40
_MAX_DATE_TEXT = 64


def finite_number(value: str | None) -> float | None:
    """A plain decimal header value as a finite float; None for anything else."""
    if value is None:
        return None
    text = value.strip()
    if len(text) > _MAX_NUMBER_TEXT or not _DECIMAL.fullmatch(text):
        return None
    number = float(text)
    return number if math.isfinite(number) else None


def http_date(value: str | None) -> datetime | None:
    """An HTTP date (`Date`, `Retry-After`) as an aware UTC datetime; None if unreadable."""
    if not value or len(value) > _MAX_DATE_TEXT:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return when.astimezone(timezone.utc)
    except (TypeError, ValueError, OverflowError, IndexError):
        return None


def clamp_retry(seconds: float) -> float:
    return min(RETRY_AFTER_CEILING, max(RETRY_AFTER_FLOOR, seconds))


def retry_after(headers: Mapping[str, str], now: datetime) -> float | None:
    """Seconds to wait from `Retry-After` (seconds or an HTTP date), else from
    `x-ratelimit-reset`, clamped to [RETRY_AFTER_FLOOR, RETRY_AFTER_CEILING]; None if neither
    holds a finite number or a date.

    A date is measured against the answer's own `Date` when it has a readable one (both are
    on the server's clock), else against `now`; a past date means the floor.
    """
    value = headers.get("retry-after")
    seconds = finite_number(value)
    if seconds is None:
        when = http_date(value)
        if when is not None:
            base = http_date(headers.get("date")) or now
            try:
                seconds = (when - base).total_seconds()
            except OverflowError:
                seconds = None
    if seconds is None:
        seconds = finite_number(headers.get("x-ratelimit-reset"))
    return None if seconds is None else clamp_retry(seconds)


def rate_limit_numbers(
    headers: Mapping[str, str],
) -> tuple[int | None, int | None, float | None]:
    """(limit, remaining, reset seconds) from `x-ratelimit-*`, each None when absent or absurd:
    non-finite, negative, a limit of 0 or above MAX_RATE_LIMIT, a reset beyond 2 hours."""
    limit = finite_number(headers.get("x-ratelimit-limit"))
    remaining = finite_number(headers.get("x-ratelimit-remaining"))
    reset = finite_number(headers.get("x-ratelimit-reset"))
    return (
        int(limit) if limit is not None and 1 <= limit <= MAX_RATE_LIMIT else None,
        int(remaining) if remaining is not None and 0 <= remaining <= MAX_RATE_LIMIT else None,
        reset if reset is not None and 0 <= reset <= MAX_RESET_SECONDS else None,
    )


class ClockSkew:
    """Offset between the server's `Date` header and the local clock, in seconds.

    `Date` has one-second precision and is truncated, so each sample is a lower bound of the
    true offset: the estimate is the largest of the recent samples. A sample more than
    MAX_CLOCK_SKEW away is a wrong clock, not a skew: it is dropped, and `warning` says so
    (set once, for the first such answer).
    """

    def __init__(self, samples: int = 8) -> None:
        self._samples: deque[float] = deque(maxlen=samples)
        self.warning: str | None = None

    def observe(self, date_header: str | None, local: datetime) -> None:
        server = http_date(date_header)
        if server is None:
            return
        try:
            offset = (server - local).total_seconds()
        except OverflowError:
            offset = math.inf
        if abs(offset) > MAX_CLOCK_SKEW:
            if self.warning is None:
                self.warning = (
                    f"the API's clock looks wrong (it says {server:%Y-%m-%d %H:%M} UTC, "
                    f"{_days(offset)} this computer's clock); times use this computer's clock"
                )
            return
        self._samples.append(offset)

    @property
    def seconds(self) -> float:
        return max(self._samples) if self._samples else 0.0

    def server_now(self, local: datetime) -> datetime:
        """`local` moved onto the server's clock; `local` itself if that cannot be done."""
        try:
            return local + timedelta(seconds=self.seconds)
        except OverflowError:
            return local


def _days(offset: float) -> str:
    """"3 days ahead of", "8 years behind"."""
    side = "ahead of" if offset > 0 else "behind"
    days = abs(offset) / 86400
    if not math.isfinite(days):
        return f"far {side}"
    if days >= 730:
        return f"{days / 365.25:.0f} years {side}"
    return f"{days:.0f} days {side}"
