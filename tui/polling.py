"""When to poll next: the refresh wish, the idle back-off, the rate-limit budget and faults.

Pure logic, no Textual: the main screen asks it after every poll, so a slow API never stacks
requests (the next poll is scheduled only when the previous one finished).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .api.errors import NetworkError, NorthflankError, RateLimitedError, ServerError
from .api.ratelimit import RateLimitBudget

IDLE_INTERVAL = 30.0
# After a long outage the app still tries about once a minute: back within a minute of the
# API, at a cost (60/h) well inside the budget.
MAX_BACKOFF = 60.0


@dataclass(frozen=True, slots=True)
class PollPlan:
    """The delay before the next poll, and why it is not the plain wish."""

    delay: float
    reason: str = ""  # "", "idle", "budget", "offline", "rate limited", "server error"


@dataclass
class PollPolicy:
    """Decides the delay before each poll of the visible job."""

    budget: RateLimitBudget
    refresh: float = 5.0
    idle_interval: float = IDLE_INTERVAL
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0

    def after_success(self, active_runs: int, requests_per_poll: int) -> PollPlan:
        """The plan after a good poll: the wish (or the idle poll), stretched to the budget."""
        self.failures = 0
        wish = self.refresh if active_runs else max(self.refresh, self.idle_interval)
        delay = self.budget.interval_for(requests_per_poll, wish)
        if delay > wish + 0.01:
            return PollPlan(delay, "budget")
        return PollPlan(delay, "" if active_runs else "idle")

    def after_failure(self, error: NorthflankError) -> PollPlan:
        """The plan after a failed poll: what the server asks, else exponential back-off with
        full jitter (so many boards coming back together do not retry in step)."""
        self.failures += 1
        if isinstance(error, RateLimitedError) and error.retry_after is not None:
            return PollPlan(error.retry_after + self.rng.uniform(0, 2), "rate limited")
        ceiling = min(MAX_BACKOFF, self.refresh * 2 ** min(self.failures, 8))
        delay = max(self.refresh, self.rng.uniform(ceiling / 2, ceiling))
        if isinstance(error, RateLimitedError):
            return PollPlan(delay, "rate limited")
        if isinstance(error, ServerError):
            return PollPlan(delay, "server error")
        if isinstance(error, NetworkError):
            return PollPlan(delay, "offline")
        return PollPlan(delay, "error")
