"""The walk to the oldest run (G in the run list): every older page of a job, one after
another, until the last, within the walk's own part of the budget.

There is no way to ask for the last page (pages are walked by cursor, newest first), so
reaching the oldest of 100k runs takes 2,000 requests. The walk may spend only part of the
budget share in any rolling hour, and part of the burst cap in any minute: the polls of the
job on screen keep the rest, and the scheduler's gate has the last word on every request.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from ..api.ratelimit import BURST_WINDOW, WINDOW_SECONDS, RateLimitBudget

# The walk's part of the share in any rolling hour, and of the burst cap in any minute. At
# the default share (500/h, 41 a minute) it sends 20 pages a minute, 250 an hour: the
# oldest of 2,500 runs (50 pages) in about 2.5 min; past 12,500 runs it waits for the hour.
WALK_SHARE = 0.5
WALK_BURST = 0.5
# The first pages go at once; then one every minute / (its part of the burst), so the list
# grows steadily instead of in a burst a minute.
WALK_RUSH = 5

__all__ = ["WALK_BURST", "WALK_RUSH", "WALK_SHARE", "OldestWalk"]


@dataclass
class OldestWalk:
    """Whether a job's feed walks to its oldest run, and when its pages were sent."""

    active: bool = False
    sent: deque[float] = field(default_factory=deque)  # monotonic times, the last hour

    def start(self) -> None:
        self.active = True

    def stop(self) -> None:
        self.active = False

    def page_sent(self, now: float) -> None:
        """An older page was asked for at `now`: counted if the walk asked for it."""
        if self.active:
            self.sent.append(now)

    def wait(self, budget: RateLimitBudget, now: float) -> float:
        """Seconds until the walk may ask for its next page within its part of `budget`."""
        sent = self.sent
        while sent and sent[0] <= now - WINDOW_SECONDS:
            sent.popleft()
        per_hour = max(1, math.floor(budget.share_limit() * WALK_SHARE))
        per_minute = max(1, math.floor(budget.burst_limit() * WALK_BURST))
        wait = 0.0
        if len(sent) >= per_hour:
            wait = sent[len(sent) - per_hour] + WINDOW_SECONDS - now
        recent = [at for at in sent if at > now - BURST_WINDOW]
        if len(recent) >= per_minute:
            wait = max(wait, recent[len(recent) - per_minute] + BURST_WINDOW - now)
        if len(recent) >= WALK_RUSH:
            wait = max(wait, recent[-1] + BURST_WINDOW / per_minute - now)
        return max(0.0, wait)
