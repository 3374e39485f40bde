"""The engine's sense of time, injected: the real clocks in the app, a fake one in tests."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol


class Clock(Protocol):
    """Monotonic seconds for intervals and deadlines; wall seconds to notice a suspend."""

    def monotonic(self) -> float: ...

    def wall(self) -> float: ...


class SystemClock:
    """The process's real clocks."""

    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()


@dataclass
class FakeClock:
    """A clock that moves only when told: engine tests run a simulated day in milliseconds."""

    now: float = 1000.0
    wall_offset: float = 1_800_000_000.0

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.now + self.wall_offset

    def advance(self, seconds: float) -> None:
        """Both clocks move on (a normal passage of time)."""
        self.now += max(0.0, seconds)

    def jump_wall(self, seconds: float) -> None:
        """Only the wall clock moves (a suspend seen from a process that was frozen, or NTP)."""
        self.wall_offset += seconds
