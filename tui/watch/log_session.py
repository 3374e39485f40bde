"""One run's log for the log viewer: the lines loaded so far (`LogLoader`) and, while the run
is active, its live tail (`LogTail`). No Textual here.

The screen drives it: `start()` (the newest page), `load_older()` (as the user scrolls up),
`follow()` in a worker (the tail's events), `note_run()` (what the poll saw), `stop()`.
Each returns or yields `LogUpdate`s that are self-contained (the lines themselves, not
indices into the loader), so a view applies them to its own copy in the order they come and
never reads the loader, which may have moved on by the time a message is handled.

Requests go through the client the screen was given (so its budget); the tail's socket costs
none.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from ..api.errors import NorthflankError
from ..api.log_tail import Connect, LogTail, TailEnded, TailLines, TailState, default_connect
from ..api.logs import LogChange, LogLoader
from ..api.models import JobRun, LogLine

if TYPE_CHECKING:
    from ..api.client import NorthflankClient

__all__ = ["LogSession", "LogUpdate", "SessionEvent", "TailStatus", "tail_sleep"]

TailPhase = Literal["off", "connecting", "live", "reconnecting", "ended", "unavailable"]


async def tail_sleep(seconds: float) -> None:
    """The tail's back-off wait (a module function, so tests can stand in for it)."""
    await asyncio.sleep(seconds)


@dataclass(frozen=True, slots=True)
class LogUpdate:
    """What one load or tail batch did to the loaded lines. `reset` replaces them all (the
    first page); otherwise lines come at the top (`prepended`, older) or the bottom
    (`appended`), and some may go at either end to stay within the loader's bounds."""

    reset: tuple[LogLine, ...] | None = None
    prepended: tuple[LogLine, ...] = ()
    appended: tuple[LogLine, ...] = ()
    dropped_oldest: int = 0
    dropped_newest: int = 0
    has_older: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.reset is not None or self.prepended or self.appended
                    or self.dropped_oldest or self.dropped_newest)


@dataclass(frozen=True, slots=True)
class TailStatus:
    """Where the live tail is. `retry_at` (monotonic seconds) while waiting to reconnect;
    `reason` says why it reconnects or ended; `run_status` is the run's status once it
    concluded (the tail ended because of it)."""

    phase: TailPhase
    attempt: int = 0
    retry_at: float | None = None
    reason: str | None = None
    run_status: str | None = None
    error: bool = False


SessionEvent = LogUpdate | TailStatus


class _SerialLoader(LogLoader):
    """A loader whose multi-page gap fill holds the session's lock: the tail's pages and the
    user's older page never interleave, so what each did can be told from the lines."""

    lock: asyncio.Lock

    async def load_all_newer(self, max_pages: int = 20) -> LogChange:
        async with self.lock:
            return await super().load_all_newer(max_pages)


class LogSession:
    """A run's log as a viewer shows it. `known` is how many lines the updates handed out so
    far add up to: it always equals `len(loader.lines)` between events."""

    def __init__(
        self,
        client: NorthflankClient,
        project_id: str,
        job_id: str,
        run: JobRun,
        *,
        now: Callable[[], datetime] | None = None,
        connect: Connect = default_connect,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_lines: int | None = None,
    ) -> None:
        extra = {} if max_lines is None else {"max_lines": max_lines}
        self.loader = _SerialLoader(client, project_id, job_id, run, now=now, **extra)
        self._lock = asyncio.Lock()
        self.loader.lock = self._lock
        self._connect = connect
        self._sleep = sleep
        self.clock = clock
        self._tail: LogTail | None = None
        self._stopped = False
        self.known = 0
        self.loading_older = False
        self.tail_status = TailStatus("off")

    # ----- what it holds --------------------------------------------------------------------

    @property
    def run(self) -> JobRun:
        return self.loader.run

    @property
    def lines(self) -> int:
        return len(self.loader.lines)

    @property
    def has_older(self) -> bool:
        return self.loader.has_older

    @property
    def wants_tail(self) -> bool:
        """The run is active and nothing stopped the session: `follow()` has work to do."""
        return self.run.is_active and not self._stopped

    @property
    def tailing(self) -> bool:
        return self._tail is not None

    # ----- loading --------------------------------------------------------------------------

    async def start(self) -> LogUpdate:
        """The newest page of the run's window (where a failed run's error is)."""
        async with self._lock:
            await self.loader.load_latest()
            return self._reset()

    async def load_older(self) -> LogUpdate | None:
        """The page before the oldest loaded line; None when none is due (one is already on
        its way, or the start of the log is loaded)."""
        if self.loading_older or not self.loader.has_older or not self.loader.loaded:
            return None
        self.loading_older = True
        try:
            async with self._lock:
                change = await self.loader.load_older()
                return self._account(change.prepended, (), change.dropped_newest)
        finally:
            self.loading_older = False

    def _reset(self) -> LogUpdate:
        lines = self.loader.lines
        self.known = len(lines)
        return LogUpdate(reset=tuple(lines), has_older=self.loader.has_older)

    def _account(
        self, prepended: int, appended: tuple[LogLine, ...], dropped_newest: int
    ) -> LogUpdate:
        """The update for lines just added: what fell off the oldest end is what the count
        says is missing. Should the counts ever disagree, the view starts over (a reset)
        rather than show a line twice."""
        lines = self.loader.lines
        dropped_oldest = self.known + prepended + len(appended) - dropped_newest - len(lines)
        if dropped_oldest < 0 or prepended > len(lines) or (
            appended and tuple(lines[len(lines) - len(appended):]) != appended
        ):
            return self._reset()
        self.known = len(lines)
        return LogUpdate(prepended=tuple(lines[:prepended]), appended=appended,
                         dropped_oldest=dropped_oldest, dropped_newest=dropped_newest,
                         has_older=self.loader.has_older)

    # ----- the live tail --------------------------------------------------------------------

    async def follow(self) -> AsyncIterator[SessionEvent]:
        """The live tail while the run is active: new lines and the tail's state, until the
        run concludes, the tail gives up, or `stop()`. Nothing for a concluded run."""
        if not self.wants_tail:
            return
        try:
            tail = LogTail(self.loader, connect=self._connect, clock=self.clock,
                           sleep=self._sleep or tail_sleep)
        except NorthflankError as error:  # plain ws:// to a remote host, an unusable run id
            yield self._set_status(TailStatus("unavailable", reason=str(error), error=True))
            return
        self._tail = tail
        try:
            async for event in tail.events():
                if isinstance(event, TailLines):
                    if event.lines:
                        yield self._account(0, event.lines, 0)
                elif isinstance(event, TailState):
                    yield self._set_status(self._state(event))
                else:
                    yield self._set_status(self._ended(event))
                    return
        except NorthflankError as error:  # (the tail handles its own; never a dead worker)
            yield self._set_status(TailStatus("ended", reason=str(error), error=True))
        finally:
            self._tail = None

    def _state(self, event: TailState) -> TailStatus:
        if event.state == "reconnecting" and event.retry_in is not None:
            return TailStatus("reconnecting", event.attempt, self.clock() + event.retry_in,
                              event.reason)
        if event.state == "live":
            return TailStatus("live")
        phase: TailPhase = "reconnecting" if event.state == "reconnecting" else "connecting"
        return TailStatus(phase, event.attempt, reason=event.reason)

    def _ended(self, event: TailEnded) -> TailStatus:
        status = self.run.raw_status if event.concluded else None
        return TailStatus("ended", reason=event.reason, run_status=status, error=event.error)

    def _set_status(self, status: TailStatus) -> TailStatus:
        self.tail_status = status
        return status

    def note_run(self, run: JobRun) -> None:
        """The poll saw the run: once it concluded, the tail loads its last lines and ends."""
        if run.id != self.run.id:
            return
        self.loader.update_run(run)
        if self._tail is not None:
            self._tail.note_run(run)

    def stop(self) -> None:
        """End the tail (the viewer closes); `follow()` ends after one last event."""
        self._stopped = True
        if self._tail is not None:
            self._tail.stop()
