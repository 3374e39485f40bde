"""When simulated jobs start runs by themselves: cron fire times, missed fires, hand starts.

A cron job fires by its cron expression, evaluated in UTC by cronsim (the zone nf-runs assumes
for Northflank), or by a fixed interval in seconds (the older `schedule_seconds`, kept for its
callers; an interval a cron expression can say fires at the same instants and shows that
expression). Which fires are missed and when a manual job is next started by hand come from
keyed hashes, so they depend on the seed alone, never on when the world is looked at.

The simulator does not import nf-runs' own cron module: it is the reference the client is
checked against, so it parses on its own.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from datetime import datetime, timezone

from cronsim import CronSim, CronSimError

# The macros Northflank's docs allow (jobs-logs-metrics.md §1).
MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@hourly": "0 * * * *",
}
CONCURRENCY_POLICIES = ("Allow", "Forbid", "Replace")
# Hand-started runs: gaps drawn from an exponential law around the mean, within these bounds.
MIN_HAND_GAP = 60.0
MAX_HAND_GAP_FACTOR = 4.0


def interval_expression(seconds: float) -> str | None:
    """The cron expression firing at the multiples of `seconds` since the epoch, if any."""
    if seconds <= 0 or seconds != int(seconds):
        return None
    whole = int(seconds)
    if whole % 60 == 0 and whole < 3600 and 3600 % whole == 0:
        minutes = whole // 60
        return "* * * * *" if minutes == 1 else f"*/{minutes} * * * *"
    if whole % 3600 == 0 and 86400 % whole == 0:
        hours = whole // 3600
        return {1: "0 * * * *", 24: "0 0 * * *"}.get(hours, f"0 */{hours} * * *")
    return None


def _as_datetime(ts: float) -> datetime:
    return datetime.fromtimestamp(math.floor(ts), tz=timezone.utc)


class Ticks:
    """The fire times of one cron job (POSIX seconds)."""

    def __init__(self, expression: str | None = None, interval: float | None = None) -> None:
        """By a cron expression (ValueError if cronsim refuses it) or by a fixed interval."""
        if (expression is None) == (interval is None):
            raise ValueError("a schedule is a cron expression or an interval, not both")
        self.interval = float(interval) if interval is not None else None
        if expression is not None:
            text = expression.strip()
            fields = MACROS.get(text.lower(), text)
            if len(fields.split()) != 5:
                raise ValueError(f"not a 5-field cron expression: {expression!r}")
            try:
                next(CronSim(fields, _as_datetime(0)))
            except (CronSimError, StopIteration) as error:
                raise ValueError(f"not a usable cron expression: {expression!r}") from error
            self.expression: str | None = text
            self._fields = fields
        else:
            assert self.interval is not None
            if self.interval <= 0:
                raise ValueError("the interval must be > 0")
            self.expression = interval_expression(self.interval)
            self._fields = ""

    def after(self, ts: float) -> float | None:
        """The first fire strictly after `ts`."""
        if self.interval is not None:
            return (math.floor(ts / self.interval) + 1) * self.interval
        return next(self._walk(ts, reverse=False), None)

    def at_or_before(self, ts: float) -> float | None:
        """The last fire at or before `ts`."""
        if self.interval is not None:
            return math.floor(ts / self.interval) * self.interval
        return next(self._walk(math.floor(ts) + 1, reverse=True), None)

    def before(self, ts: float) -> Iterator[float]:
        """Fires strictly before `ts`, newest first (for history)."""
        if self.interval is None:
            yield from self._walk(ts, reverse=True)
            return
        tick = math.ceil(ts / self.interval) * self.interval
        while True:
            tick -= self.interval
            yield tick

    def _walk(self, ts: float, reverse: bool) -> Iterator[float]:
        # Whole seconds; cronsim steps off the starting second before it looks.
        start = math.ceil(ts) if reverse else math.floor(ts)
        try:
            for fire in CronSim(self._fields, _as_datetime(start), reverse=reverse):
                yield fire.timestamp()
        except (StopIteration, OverflowError):
            return


def _unit(key: bytes, value: int, person: bytes) -> float:
    digest = hashlib.blake2b(
        value.to_bytes(8, "big", signed=True), key=key, digest_size=4, person=person
    ).digest()
    return int.from_bytes(digest, "big") / 4294967296.0


def is_missed(key: bytes, fire: float, rate: float) -> bool:
    """Whether the fire at `fire` starts no run, for a job missing about `rate` of them."""
    return rate > 0 and _unit(key, math.floor(fire), b"nf-miss") < rate


def hand_gap(key: bytes, seq: int, mean: float) -> float:
    """Seconds from one hand-started run to the next (run `seq`): exponential around `mean`,
    at least a minute, at most four means."""
    u = _unit(key, seq, b"nf-hand")
    gap = -mean * math.log(1.0 - u)
    return float(round(min(max(gap, MIN_HAND_GAP), mean * MAX_HAND_GAP_FACTOR)))
