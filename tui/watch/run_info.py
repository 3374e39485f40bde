"""When the run detail asks for a run's containers and metrics (no Textual, no I/O).

A concluded run's containers and metrics do not change: they are asked for once. A running
run's are asked for again on a slow cadence (a minute, stretched when the budget is short),
and once more when it concludes, so the detail ends on the final picture. A failure that may
pass by itself (network, 5xx, 429, the budget's own hold) is tried again on the same cadence;
one that will not (403: the token lacks the permission; 404; an answer of the wrong shape) is
not, so a hostile or refusing server costs one request per kind and no more.

Time is the caller's (the app's server clock, frozen or moved by tests): nothing here sleeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ..api.errors import NetworkError, NorthflankError, RateLimitedError, ServerError

# The running run's cadence: its metrics move at the server's resolution (10 s and up), and a
# minute keeps two requests a minute for an open detail well inside any budget share.
RUNNING_INTERVAL = 60.0


def may_pass(error: NorthflankError) -> bool:
    """True for a failure worth asking again later (it may go away by itself)."""
    return isinstance(error, (NetworkError, ServerError, RateLimitedError))


def retry_wait(error: NorthflankError, interval: float) -> float:
    """Seconds to wait before asking again after `error`: the cadence, or longer when the
    server (Retry-After) or the budget says when."""
    if isinstance(error, RateLimitedError) and error.retry_after is not None:
        return max(interval, error.retry_after)
    return interval


@dataclass
class Cadence:
    """One kind of request (a run's containers, or its metrics) for one open detail."""

    interval: float = RUNNING_INTERVAL
    due_at: datetime | None = None  # the next request of a running run
    asked: bool = False  # a request was started at least once
    in_flight: bool = False
    final: bool = False  # nothing more to ask: a concluded run's answer, or a lasting refusal
    wanted_now: bool = False  # the run concluded since the last request: ask once more

    def due(self, now: datetime) -> bool:
        """True when a request should start now."""
        if self.in_flight or self.final:
            return False
        if not self.asked or self.wanted_now:
            return True
        return self.due_at is not None and now >= self.due_at

    def started(self) -> None:
        self.asked = True
        self.in_flight = True
        self.wanted_now = False
        self.due_at = None

    def succeeded(self, now: datetime, *, concluded: bool, interval: float | None = None) -> None:
        """An answer arrived. `concluded`: the run had concluded when it was asked for."""
        self.in_flight = False
        if concluded:
            self.final = True
            self.wanted_now = False
        else:
            self.due_at = now + timedelta(seconds=interval or self.interval)

    def failed(self, now: datetime, error: NorthflankError, interval: float | None = None
               ) -> float | None:
        """The request failed: the seconds until it is tried again, or None for never."""
        self.in_flight = False
        self.wanted_now = False
        if not may_pass(error):
            self.final = True
            return None
        wait = retry_wait(error, interval or self.interval)
        self.due_at = now + timedelta(seconds=wait)
        return wait

    def concluded(self) -> None:
        """The run concluded while the detail was open: one more request (its final
        picture), as soon as none is in flight."""
        if not self.final and self.asked:
            self.wanted_now = True


__all__ = ["RUNNING_INTERVAL", "Cadence", "may_pass", "retry_wait"]
