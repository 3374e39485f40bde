"""Fault injection for the simulated API: latency, errors, dropped connections, bad bodies.

Everything is off by default. Rates draw from a seeded RNG (so a test run is repeatable);
`queue()` makes the next requests fail in a chosen way, deterministically.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from dataclasses import dataclass

# Kinds `queue()` accepts. "malformed" is truncated JSON; "html", "empty" and "wrong_shape"
# are the other broken 200s; "slow" answers normally after `slow_delay` seconds.
FAULT_KINDS: frozenset[str] = frozenset(
    {
        "500",
        "502",
        "503",
        "429",
        "403",
        "401",
        "drop",
        "malformed",
        "truncated",
        "html",
        "empty",
        "wrong_shape",
        "slow",
    }
)


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault to apply to one request."""

    kind: str
    retry_after: float | None = None
    message: str | None = None  # the error body's message, instead of the usual one


def _rate(value: float, name: str) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, not {value}")
    return value


class Faults:
    """Fault settings shared with a running `Simulator`; every setter is thread-safe."""

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self._rng = random.Random(seed)
        self._queue: deque[Fault] = deque()
        self._latency = 0.0
        self._error_rate = 0.0
        self._drop_rate = 0.0
        self._malformed_rate = 0.0
        self._clock_offset = 0.0
        self._offline = False
        self._slow_delay = 3.0

    # -- settings -------------------------------------------------------------------------

    @property
    def latency(self) -> float:
        """Seconds (real time) added before every answer."""
        return self._latency

    @latency.setter
    def latency(self, value: float) -> None:
        if value < 0:
            raise ValueError("latency must be >= 0")
        with self._lock:
            self._latency = float(value)

    @property
    def error_rate(self) -> float:
        """Fraction of requests answered 500, 502 or 503 with the documented error body."""
        return self._error_rate

    @error_rate.setter
    def error_rate(self, value: float) -> None:
        with self._lock:
            self._error_rate = _rate(value, "error_rate")

    @property
    def drop_rate(self) -> float:
        """Fraction of requests whose connection is closed without any answer."""
        return self._drop_rate

    @drop_rate.setter
    def drop_rate(self, value: float) -> None:
        with self._lock:
            self._drop_rate = _rate(value, "drop_rate")

    @property
    def malformed_rate(self) -> float:
        """Fraction answered 200 with truncated JSON, HTML or JSON of the wrong shape."""
        return self._malformed_rate

    @malformed_rate.setter
    def malformed_rate(self, value: float) -> None:
        with self._lock:
            self._malformed_rate = _rate(value, "malformed_rate")

    @property
    def clock_offset(self) -> float:
        """Seconds added to the `Date` header relative to the simulated clock."""
        return self._clock_offset

    @clock_offset.setter
    def clock_offset(self, value: float) -> None:
        with self._lock:
            self._clock_offset = float(value)

    @property
    def offline(self) -> bool:
        """Every connection is closed at once, without reading or answering."""
        return self._offline

    @offline.setter
    def offline(self, value: bool) -> None:
        with self._lock:
            self._offline = bool(value)

    @property
    def slow_delay(self) -> float:
        """Seconds (real time) a queued "slow" fault waits before answering normally."""
        return self._slow_delay

    @slow_delay.setter
    def slow_delay(self, value: float) -> None:
        if value < 0:
            raise ValueError("slow_delay must be >= 0")
        with self._lock:
            self._slow_delay = float(value)

    # -- queue ----------------------------------------------------------------------------

    def queue(
        self, kind: str, count: int = 1, retry_after: float | None = None,
        message: str | None = None,
    ) -> None:
        """Make the next `count` requests get fault `kind` (see FAULT_KINDS), in order;
        `message` replaces the error body's usual message (hostile text, for example)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {sorted(FAULT_KINDS)}")
        if count < 0:
            raise ValueError("count must be >= 0")
        with self._lock:
            self._queue.extend(Fault(kind, retry_after, message) for _ in range(count))

    @property
    def pending(self) -> int:
        """How many queued faults are still waiting for a request."""
        with self._lock:
            return len(self._queue)

    def clear(self) -> None:
        """Turn every fault off, empty the queue and reseed the RNG."""
        with self._lock:
            self._queue.clear()
            self._rng = random.Random(self._seed)
            self._latency = 0.0
            self._error_rate = 0.0
            self._drop_rate = 0.0
            self._malformed_rate = 0.0
            self._clock_offset = 0.0
            self._offline = False
            self._slow_delay = 3.0

    def next_fault(self) -> Fault | None:
        """The fault for the request being served now: the queue first, then the rates."""
        with self._lock:
            if self._queue:
                return self._queue.popleft()
            # Draw only for rates that are on, so turning one on does not shift the others.
            if self._drop_rate and self._rng.random() < self._drop_rate:
                return Fault("drop")
            if self._error_rate and self._rng.random() < self._error_rate:
                return Fault(self._rng.choice(("500", "502", "503")))
            if self._malformed_rate and self._rng.random() < self._malformed_rate:
                return Fault(self._rng.choice(("truncated", "html", "wrong_shape")))
            return None
