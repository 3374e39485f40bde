"""The rate-limit budget: how many requests this process may still spend now.

Northflank allows about 1000 requests an hour per account, shared with everything else the
user runs on the token. nf-runs takes only a share of it (default 50 %) and paces its polls so
that the share lasts until the window resets.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

DEFAULT_LIMIT = 1000
WINDOW_SECONDS = 3600.0
# A new window shows as the reset moving much later (resets only count down) or as the old
# reset having come (give or take the latency of the answer that tells it).
NEW_WINDOW_JUMP = 600.0
NEW_WINDOW_SLACK = 60.0


@dataclass(frozen=True, slots=True)
class RateLimitSnapshot:
    """The latest `x-ratelimit-*` values, as seen (or assumed before any answer)."""

    limit: int
    remaining: int
    reset_in: float
    observed: bool


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(float(value.strip()))
    except ValueError:
        return None


class RateLimitBudget:
    """Tracks the server's rate-limit headers and this process's own spending."""

    def __init__(
        self,
        share: float = 0.5,
        default_limit: int = DEFAULT_LIMIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < share <= 1:
            raise ValueError("the budget share must be in (0, 1]")
        self.share = share
        self._clock = clock
        self._limit = default_limit
        self._remaining = default_limit
        self._reset_at = clock() + WINDOW_SECONDS
        self._observed = False
        self._spent: deque[float] = deque()
        # Requests sent before this moment belong to an earlier window (-inf: unknown yet).
        self._window_start = float("-inf")

    def note_request(self) -> None:
        """Count one request this process sends."""
        self._spent.append(self._clock())

    def observe(self, headers: Mapping[str, str]) -> None:
        """Take the `x-ratelimit-*` headers of an answer into account.

        Answers to concurrent requests arrive in any order, so within one window the lowest
        `remaining` wins; a new window is one where the quota grew back after its reset.
        """
        limit = _header_int(headers, "x-ratelimit-limit")
        remaining = _header_int(headers, "x-ratelimit-remaining")
        reset = _header_int(headers, "x-ratelimit-reset")
        if limit is None and remaining is None and reset is None:
            return
        now = self._clock()
        reset_at = now + max(0, reset) if reset is not None else self._reset_at
        grew = remaining is not None and remaining > self._remaining
        # The quota grows back only in a new window, and a window ends at its reset: both must
        # hold, so latency jitter in `reset` or answers out of order never restart the count.
        new_window = self._observed and (
            (grew or remaining is None)
            and (self._reset_at <= now + NEW_WINDOW_SLACK
                 or reset_at > self._reset_at + NEW_WINDOW_JUMP)
        )
        if new_window:
            # The request just answered is the first of the new window that we know of.
            self._window_start = self._spent[-1] if self._spent else now
        if limit is not None and limit > 0:
            self._limit = limit
        if remaining is not None:
            fresh = new_window or not self._observed
            self._remaining = max(0, remaining if fresh else min(remaining, self._remaining))
        self._reset_at = reset_at
        self._observed = True

    def snapshot(self) -> RateLimitSnapshot:
        """The latest known limit, remaining and seconds to the reset."""
        now = self._clock()
        reset_in = self._reset_at - now
        if reset_in <= 0:
            # The window has rolled over since the last answer: the quota is whole again.
            return RateLimitSnapshot(self._limit, self._limit, WINDOW_SECONDS, self._observed)
        return RateLimitSnapshot(self._limit, self._remaining, reset_in, self._observed)

    def spent_in_window(self) -> int:
        """Requests this process sent in the current window."""
        now = self._clock()
        window_start = self._window_start
        if self._reset_at <= now:
            window_start = max(window_start, self._reset_at)
        while self._spent and self._spent[0] < now - WINDOW_SECONDS:
            self._spent.popleft()
        return sum(1 for sent in self._spent if sent >= window_start)

    def available(self) -> int:
        """How many requests this process may still spend before the reset."""
        snap = self.snapshot()
        own_share = math.floor(snap.limit * self.share)
        return max(0, min(own_share - self.spent_in_window(), snap.remaining))

    def interval_for(self, requests_per_poll: int, wish: float) -> float:
        """The poll interval that fits the budget: `wish`, stretched when it would overspend."""
        per_poll = max(1, requests_per_poll)
        snap = self.snapshot()
        available = self.available()
        if available < per_poll:
            return max(wish, snap.reset_in)
        polls_left = available / per_poll
        return max(wish, snap.reset_in / polls_left)
