"""The loaded part of one run's log: range queries over the run's window, paged older and
newer without repeating a line at a page boundary, bounded in lines and characters.

A page's boundary is a timestamp (jobs-logs-metrics.md §3: the CLI calls the cursor one), and
many lines can share one. So the next page starts a millisecond before the edge (or ends a
millisecond after it): whether the API's bounds are inclusive or not, and at whatever
precision, nothing is skipped. The lines that come twice are dropped by content (time,
container, text; counted, so two identical lines written in one millisecond both stay).

No Textual here: the UI calls `load_latest`, `load_older`, `load_newer` (or lets `LogTail`
call `add_newer`) and redraws from `lines` with the `LogChange` each returns.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .models import JobRun, LogLine
from .run_models import MAX_LINE_LIMIT, LogWindow, run_log_window

if TYPE_CHECKING:
    from .client import NorthflankClient

# A loader keeps at most this many lines and characters of text (the oldest go first when
# newer ones come; the newest when the user pages back): ~100 MB at worst.
MAX_KEPT_LINES = 200_000
MAX_KEPT_CHARS = 50_000_000
# Keys of the newest lines remembered to drop lines that come again (a gap fill after a
# reconnect, a tail's first batch, the next page's overlap).
RECENT_KEYS = 20_000
_OVERLAP = timedelta(milliseconds=1)
_BAND = 2 * _OVERLAP


@dataclass(frozen=True, slots=True)
class LogChange:
    """What one load did to `LogLoader.lines`: lines added at the top (the UI keeps its place
    by this many), at the bottom, and lines dropped at either end to stay within bounds."""

    prepended: int = 0
    appended: int = 0
    dropped_oldest: int = 0
    dropped_newest: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.prepended or self.appended or self.dropped_oldest or self.dropped_newest)


def _floor_ms(value: datetime) -> datetime:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


class LogLoader:
    """One run's log as loaded so far, oldest first (`lines`), with `has_older` and
    `has_newer` saying whether more may be asked for. Every call is one request through the
    client (so its budget); none is sent when nothing more can come."""

    def __init__(
        self,
        client: NorthflankClient,
        project_id: str,
        job_id: str,
        run: JobRun,
        *,
        page_size: int = MAX_LINE_LIMIT,
        max_lines: int = MAX_KEPT_LINES,
        max_chars: int = MAX_KEPT_CHARS,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.client = client
        self.project_id = project_id
        self.job_id = job_id
        self.run = run
        self.page_size = max(1, min(page_size, MAX_LINE_LIMIT))
        self.max_lines = max(1, max_lines)
        self.max_chars = max(1, max_chars)
        self._now = now or client.server_now
        self._lines: list[LogLine] = []
        self._chars = 0
        self._recent: deque[tuple[datetime | None, str, str]] = deque()
        self._recent_count: Counter[tuple[datetime | None, str, str]] = Counter()
        self.has_older = True
        self.has_newer = True  # more lines are known (or, for a running run, may come)
        self.loaded = False
        self.requests = 0
        self._dropped_newest = False  # lines newer than the loaded ones were let go
        self._last_appended: tuple[LogLine, ...] = ()

    # ----- what is loaded -------------------------------------------------------------------

    @property
    def lines(self) -> Sequence[LogLine]:
        """The loaded lines, oldest first (read only: the loader changes it in place)."""
        return self._lines

    @property
    def window(self) -> LogWindow:
        """The run's window now (a running run's grows with the clock)."""
        return run_log_window(self.run, self._now())

    @property
    def run_active(self) -> bool:
        return self.run.is_active

    def update_run(self, run: JobRun) -> None:
        """A newer view of the same run (the poll saw it change, e.g. conclude)."""
        if run.id == self.run.id:
            self.run = run

    def _oldest_ts(self) -> datetime | None:
        return next((line.ts for line in self._lines if line.ts is not None), None)

    def _newest_ts(self) -> datetime | None:
        return next((line.ts for line in reversed(self._lines) if line.ts is not None), None)

    # ----- loading --------------------------------------------------------------------------

    async def load_latest(self) -> LogChange:
        """Start over with the newest page of the run's window (the end of a failed run's
        log is where its error is)."""
        page = await self._page(self.window, "backward")
        dropped = len(self._lines)
        self._lines, self._chars = [], 0
        self._recent.clear()
        self._recent_count.clear()
        self._dropped_newest = False
        change = self._append(page.lines)
        self.has_older = page.has_more
        self.has_newer = self.run_active
        self.loaded = True
        return LogChange(appended=change.appended, dropped_oldest=dropped + change.dropped_oldest)

    async def load_older(self) -> LogChange:
        """The page before the oldest loaded line (nothing is sent once `has_older` is
        False). A page that brings nothing new ends the walk: the API repeated itself."""
        if not self.loaded:
            return await self.load_latest()
        oldest = self._oldest_ts()
        if not self.has_older or oldest is None:
            self.has_older = False
            return LogChange()
        end = _floor_ms(oldest) + _BAND
        page = await self._page(LogWindow(self.window.start, end), "backward")
        change = self._prepend(page.lines, oldest)
        self.has_older = page.has_more and change.prepended > 0
        return change

    async def load_newer(self) -> LogChange:
        """The page after the newest loaded line, to the window's end (for a running run,
        now): the gap fill after a dropped tail, or the next page of a long log."""
        if not self.loaded:
            return await self.load_latest()
        newest = self._newest_ts()
        window = self.window
        start = _floor_ms(newest) - _OVERLAP if newest is not None else window.start
        page = await self._page(LogWindow(start, window.end), "forward")
        change = self._append(page.lines)
        more = page.has_more and change.appended > 0
        if not more:
            self._dropped_newest = False  # caught up: the tail may append again
        self.has_newer = more or self._dropped_newest or self.run_active
        return change

    async def load_all_newer(self, max_pages: int = 20) -> LogChange:
        """`load_newer` until nothing more comes (at most `max_pages` requests)."""
        total = LogChange()
        for _ in range(max_pages):
            change = await self.load_newer()
            total = LogChange(
                total.prepended, total.appended + change.appended,
                total.dropped_oldest + change.dropped_oldest, total.dropped_newest,
            )
            if change.appended == 0 or change.appended < self.page_size // 2:
                break
        return total

    def add_newer(self, lines: Iterable[LogLine]) -> tuple[LogLine, ...]:
        """Lines from the live tail: those not loaded already are appended and returned.
        While the newest lines were dropped (after paging back far), nothing is appended:
        `has_newer` says to load them."""
        if not self.loaded or (self._lines and self._dropped_newest):
            self.has_newer = True
            return ()
        self._append(lines)
        return self._last_appended

    # ----- merging --------------------------------------------------------------------------

    async def _page(self, window: LogWindow, direction: str) -> _Page:
        self.requests += 1
        page = await self.client.get_log_page(
            self.project_id, self.job_id, self.run.id, window, direction=direction,
            line_limit=self.page_size,
        )
        return _Page(page.lines, page.has_more)

    def _remember(self, line: LogLine) -> None:
        key = line.key
        self._recent.append(key)
        self._recent_count[key] += 1
        if len(self._recent) > RECENT_KEYS:
            old = self._recent.popleft()
            self._recent_count[old] -= 1
            if self._recent_count[old] <= 0:
                del self._recent_count[old]

    def _append(self, lines: Iterable[LogLine]) -> LogChange:
        """Append the lines not already loaded: a key among the newest lines (counted) is a
        repeat, and so is a line older than everything those cover (it was loaded, or
        dropped on purpose)."""
        covered_from = next((key[0] for key in self._recent if key[0] is not None), None)
        used: Counter[tuple[datetime | None, str, str]] = Counter()
        added: list[LogLine] = []
        for line in lines:
            key = line.key
            if used[key] < self._recent_count.get(key, 0):
                used[key] += 1
                continue
            if line.ts is not None and covered_from is not None and line.ts < covered_from - _BAND:
                continue
            added.append(line)
        for line in added:
            self._remember(line)
        self._lines.extend(added)
        self._chars += sum(len(line.log) for line in added)
        self._last_appended = tuple(added)
        dropped = self._trim(from_oldest=True)
        return LogChange(appended=len(added), dropped_oldest=dropped)

    def _prepend(self, lines: Sequence[LogLine], oldest: datetime) -> LogChange:
        """Prepend the lines older than the oldest loaded one; those in its millisecond band
        are repeats when the band already holds them (counted)."""
        band: Counter[tuple[datetime | None, str, str]] = Counter()
        for line in self._lines:
            if line.ts is not None and line.ts > oldest + _BAND:
                break
            band[line.key] += 1
        added: list[LogLine] = []
        for line in lines:
            if line.ts is not None and line.ts > oldest + _BAND:
                continue
            if band[line.key] > 0:
                band[line.key] -= 1
                continue
            added.append(line)
        self._lines[:0] = added
        self._chars += sum(len(line.log) for line in added)
        dropped = self._trim(from_oldest=False)
        return LogChange(prepended=len(added), dropped_newest=dropped)

    def _trim(self, from_oldest: bool) -> int:
        """Drop lines at one end until within max_lines and max_chars; returns how many."""
        count = 0
        while len(self._lines) - count > self.max_lines or (
            self._chars > self.max_chars and len(self._lines) - count > 1
        ):
            index = count if from_oldest else len(self._lines) - 1 - count
            self._chars -= len(self._lines[index].log)
            count += 1
        if not count:
            return 0
        if from_oldest:
            del self._lines[:count]
            self.has_older = True
        else:
            del self._lines[len(self._lines) - count:]
            self.has_newer = True
            self._dropped_newest = True
            self._recent.clear()
            self._recent_count.clear()
            for line in self._lines[-RECENT_KEYS:]:
                self._remember(line)
        return count


@dataclass(frozen=True, slots=True)
class _Page:
    lines: tuple[LogLine, ...]
    has_more: bool
