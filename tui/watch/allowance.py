"""The board's allowance: a token bucket with a hard cap per rolling hour (no Textual)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from ..api.ratelimit import WINDOW_SECONDS

MAX_BURST = 20  # looks the bucket holds at most (under the budget's burst cap of 41 a minute)
BURST_SHARE = 20  # ... and at most 1/20 of the hour's looks
TOKEN_SLACK = 1e-6  # a token that is due now by float rounding is there
# A look leaves the hour this long after its hour is over: float rounding must never let a
# moment count as out of the window where a plain `t <= now - 3600` keeps it in.
WINDOW_SLACK = 1e-6


@dataclass
class Allowance:
    """A token bucket (rate (H - B) an hour, B tokens at most) with a hard cap of H spent in
    any rolling hour: at most H in any window of an hour."""

    per_hour: int
    now: float
    tokens: float = 0.0
    last: float = 0.0
    spent: deque[float] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self.tokens, self.last = float(self.burst), self.now

    @property
    def burst(self) -> int:
        return max(1, min(MAX_BURST, self.per_hour // BURST_SHARE))

    @property
    def rate(self) -> float:
        """Tokens per second: B + rate * hour <= H in any hour."""
        return max(1, self.per_hour - self.burst) / WINDOW_SECONDS

    def refill(self, now: float) -> None:
        if now > self.last:
            self.tokens = min(float(self.burst), self.tokens + (now - self.last) * self.rate)
        self.last = max(self.last, now)
        while self.spent and self.spent[0] <= now - WINDOW_SECONDS - WINDOW_SLACK:
            self.spent.popleft()

    def ready_at(self, now: float, keep: int) -> float:
        """The first moment a look may be spent leaving `keep` tokens (now or later)."""
        self.refill(now)
        need = min(1 + keep, self.burst)
        at = now
        if self.tokens < need - TOKEN_SLACK:
            at = now + (need - self.tokens) / self.rate
        if len(self.spent) >= self.per_hour:
            at = max(at, self.spent[len(self.spent) - self.per_hour] + WINDOW_SECONDS
                     + 2 * WINDOW_SLACK)
        return at

    def spent_within(self, now: float, seconds: float) -> int:
        """Looks spent in the last `seconds` (up to an hour)."""
        self.refill(now)
        count = 0
        for moment in reversed(self.spent):
            if moment <= now - seconds:
                break
            count += 1
        return count

    def capped(self, now: float) -> bool:
        """The hour's hard cap is reached: nothing may be spent now."""
        self.refill(now)
        return len(self.spent) >= self.per_hour

    def refund(self, spent_at: float, now: float) -> None:
        """Take back a look spent at `spent_at` that was never sent."""
        for index in range(len(self.spent) - 1, -1, -1):
            if self.spent[index] == spent_at:
                del self.spent[index]
                self.refill(now)
                self.tokens = min(float(self.burst), self.tokens + 1)
                return

    def spend(self, now: float) -> None:
        self.refill(now)
        self.tokens = max(0.0, self.tokens - 1)
        self.spent.append(now)
