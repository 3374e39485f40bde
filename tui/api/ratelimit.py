"""The rate-limit budget: how many requests this process may still spend now.

Northflank allows about 1000 requests an hour per account, shared with everything else the
user runs on the token. nf-runs takes only a share of it (default 50 %) and paces its polls so
that the share lasts until the window resets (`available`, `interval_for`).

Pacing is the callers' job; `admit` is the backstop every request passes (the client calls it
before each send, retries included): whatever a server answers and whatever a caller asks, no
more than the share goes out in any rolling hour, nor more than the burst cap in any minute.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..options import DEFAULT_BUDGET_PERCENT
from .errors import BudgetExhaustedError
from .headers import rate_limit_numbers

DEFAULT_LIMIT = 1000
WINDOW_SECONDS = 3600.0
# A new window shows as the reset moving much later (resets only count down) or as the old
# reset having come (give or take the latency of the answer that tells it).
NEW_WINDOW_JUMP = 600.0
NEW_WINDOW_SLACK = 60.0
# The burst cap: at most max(MIN_BURST, share limit // BURSTS_PER_HOUR) requests in any
# BURST_WINDOW seconds, so a storm (odd pagination, a retry loop) cannot spend the hour's
# share in a minute. 500/h (the default share) allows 41 a minute; 1000 a minute at the least.
BURST_WINDOW = 60.0
BURSTS_PER_HOUR = 12
MIN_BURST = 10


@dataclass(frozen=True, slots=True)
class RateLimitSnapshot:
    """The latest `x-ratelimit-*` values, as seen (or assumed before any answer)."""

    limit: int
    remaining: int
    reset_in: float
    observed: bool


class RateLimitBudget:
    """Tracks the server's rate-limit headers and this process's own spending."""

    def __init__(
        self,
        share: float = DEFAULT_BUDGET_PERCENT / 100,
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
        limit, remaining, reset = rate_limit_numbers(headers)
        if limit is None and remaining is None and reset is None:
            return
        now = self._clock()
        reset_at = now + reset if reset is not None else self._reset_at
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
        if limit is not None:
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

    # ----- the gate ---------------------------------------------------------------------------

    def share_limit(self) -> int:
        """Requests this process may send in any rolling hour (at least one)."""
        return max(1, math.floor(self.snapshot().limit * self.share))

    def burst_limit(self) -> int:
        """Requests this process may send in any rolling BURST_WINDOW seconds."""
        return max(MIN_BURST, self.share_limit() // BURSTS_PER_HOUR)

    def _sent_in_hour(self, now: float) -> deque[float]:
        spent = self._spent
        while spent and spent[0] <= now - WINDOW_SECONDS:
            spent.popleft()
        return spent

    def admittable(self) -> int:
        """How many requests the gate would admit now, one after another."""
        now = self._clock()
        spent = self._sent_in_hour(now)
        in_burst = sum(1 for sent in spent if sent > now - BURST_WINDOW)
        return max(0, min(self.share_limit() - len(spent), self.burst_limit() - in_burst))

    def admit_wait(self) -> float:
        """Seconds until the gate admits one more request (0: it would now)."""
        now = self._clock()
        spent = self._sent_in_hour(now)
        share, burst = self.share_limit(), self.burst_limit()
        wait = 0.0
        if len(spent) >= share:
            wait = spent[len(spent) - share] + WINDOW_SECONDS - now
        recent = [sent for sent in spent if sent > now - BURST_WINDOW]
        if len(recent) >= burst:
            wait = max(wait, recent[len(recent) - burst] + BURST_WINDOW - now)
        return max(wait, 0.0)

    def refusal(self) -> BudgetExhaustedError | None:
        """What `admit` would raise now (None: it would admit), without counting anything."""
        now = self._clock()
        spent = self._sent_in_hour(now)
        share, burst = self.share_limit(), self.burst_limit()
        if len(spent) >= share:
            # The request `share` back from the newest has to leave the hour first.
            retry_in = spent[len(spent) - share] + WINDOW_SECONDS - now
            return BudgetExhaustedError(
                f"Holding back: nf-runs sent its share of the API quota ({share} of "
                f"{self.snapshot().limit} requests in the last hour); next request in "
                f"{_span(retry_in)}.",
                max(retry_in, 0.0),
            )
        recent = [sent for sent in spent if sent > now - BURST_WINDOW]
        if len(recent) >= burst:
            retry_in = recent[len(recent) - burst] + BURST_WINDOW - now
            return BudgetExhaustedError(
                f"Holding back: {len(recent)} requests in the last {BURST_WINDOW:.0f} s is "
                f"nf-runs's burst cap (its share is {share}/h); next request in "
                f"{_span(retry_in)}.",
                max(retry_in, 0.0),
            )
        return None

    def admit(self) -> None:
        """Count one request about to be sent, or raise BudgetExhaustedError (nothing sent)
        when the hour's share or the burst cap is spent, with the seconds until it is not."""
        refusal = self.refusal()
        if refusal is not None:
            raise refusal
        self._spent.append(self._clock())


def _span(seconds: float) -> str:
    if seconds < 120:
        return f"{max(1, math.ceil(seconds))} s"
    return f"{math.ceil(seconds / 60)} min"
