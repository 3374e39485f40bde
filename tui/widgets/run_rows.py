"""How the run list's lines look: the column layout, cells cut to fit, and a cache of rows.

`RowPainter` paints the header, a run's row and the footer into Strips for one widget's
styles; `RunList` decides which rows are where. A row's Strip is cached under its `RowKey`
(everything it depends on), so repainting a row that did not change costs a lookup.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.cache import LRUCache
from textual.strip import Strip
from textual.widget import Widget

from tui.api.models import JobRun
from tui.formatting import (
    TimeMode,
    format_attempts,
    format_duration,
    format_started,
    printable,
    relative_text_until,
)
from tui.widgets.fit import ELLIPSIS, fit
from tui.widgets.status_badge import BADGE_WIDTH, badge_text
from tui.widgets.text_line import changed_span

__all__ = ["MAX_NAME_SHOWN", "ROW_CACHE_SIZE", "RowKey", "RowPainter", "row_key", "short_name",
           "wanted_width"]

# No terminal shows more of a name than this many characters from each end.
MAX_NAME_SHOWN = 500
# Enough Strips for several screens of rows, so scrolling back and forth is mostly cache hits.
ROW_CACHE_SIZE = 1000

# Column widths (cells). The run name takes whatever the others leave.
_MARGIN = 1
_GAP = 2
_STARTED_WIDTH = 20  # "2026-11-29 12:05:02Z", "1 year, 2 months ago"
_DURATION_WIDTH = 8  # "999d 23h"
_ATTEMPTS_WIDTH = 12  # "999+ of 999+"
_MIN_NAME_WIDTH = 12

_STARTED_TITLES = {
    TimeMode.RELATIVE: "Started",
    TimeMode.LOCAL: "Started (local)",
    TimeMode.UTC: "Started (UTC)",
}


@dataclass(frozen=True)
class _Layout:
    """Which optional columns fit, and the run name's width, for one widget width."""

    name: int
    started: bool
    attempts: bool


@lru_cache(maxsize=16)
def _layout(width: int) -> _Layout:
    fixed = _MARGIN + BADGE_WIDTH + _GAP + _DURATION_WIDTH + _GAP
    started = attempts = True
    full = fixed + _STARTED_WIDTH + _GAP + _ATTEMPTS_WIDTH + _GAP
    # On a narrow terminal drop attempts, then the start time, before squeezing the name.
    if width - full < _MIN_NAME_WIDTH:
        attempts = False
        full -= _ATTEMPTS_WIDTH + _GAP
    if width - full < _MIN_NAME_WIDTH:
        started = False
        full -= _STARTED_WIDTH + _GAP
    return _Layout(name=max(width - full, 1), started=started, attempts=attempts)


def _fit_middle(text: str, width: int) -> str:
    """Like `_fit`, but a cut keeps both ends: run names share their job's prefix and differ
    at the end ("settle-ledger-6b0c…"), so the end is what tells them apart."""
    if (len(text) if text.isascii() else cell_len(text)) <= width or width < 5:
        return _fit(text, width)
    head = (width - 1) // 2
    tail = width - 1 - head
    end = text[-tail:]
    while cell_len(end) > tail:  # wide characters: fewer of them fit
        end = end[1:]
    return _fit(set_cell_size(text, head) + ELLIPSIS + end, width)


def _fit_end(text: str, width: int) -> str:
    """`text` padded or cut to `width` cells, a cut keeping its end ("…abe0d4e285")."""
    if (len(text) if text.isascii() else cell_len(text)) <= width or width < 2:
        return _fit(text, width)
    end = text[-(width - 1):]
    while cell_len(end) > width - 1:  # wide characters: fewer of them fit
        end = end[1:]
    return _fit(ELLIPSIS + end, width)


def short_name(run_name: str, prefix: str) -> str | None:
    """What tells a run apart from the job's others: its name without the job's prefix
    ("settle-ledger-6b10…e285" -> "6b10…e285"), or None when the name is not the job's id
    and a generated hex id (the form Northflank gives every run): another name is shown
    whole, as nothing in it is known to repeat."""
    if not prefix or not run_name.startswith(prefix):
        return None
    rest = run_name[len(prefix):]
    if len(rest) < _MIN_GENERATED or not all(char in _HEX for char in rest):
        return None
    return rest


# A generated run id: hex digits, this many at least (Northflank's are 24).
_HEX = frozenset("0123456789abcdefABCDEF")
_MIN_GENERATED = 6


def _name_cell(run: JobRun, problem: str | None, width: int, prefix: str = "") -> str:
    """The Run cell: the name cut in the middle, and why the run cannot be refreshed, if so
    (kept whole at the end). A name that starts with the job's `prefix` (each run's does)
    shows only what follows it, after a "…", cut from the left if need be: the end is what
    tells runs apart, and the detail view has the whole name. Its cost does not depend on
    the name's length. An unreadable run (the API sent something that is not a run) shows
    its id and the reason."""
    name = run.run_name
    suffix = short_name(name, prefix)
    if run.unreadable is not None:
        name, suffix = f"{name} {run.id}", None
        problem = problem or run.unreadable.removeprefix("Unexpected API answer: ")
    if suffix is not None:
        text = ELLIPSIS + printable(suffix[-2 * MAX_NAME_SHOWN:])
        fit_name = _fit_end
    else:
        if len(name) > 2 * MAX_NAME_SHOWN:
            # Both ends survive the middle cut below.
            name = name[:MAX_NAME_SHOWN] + ELLIPSIS + name[-MAX_NAME_SHOWN:]
        text = printable(name)
        fit_name = _fit_middle
    if not problem:
        return fit_name(text, width)
    warning = "\u26a0 " + printable(problem[:MAX_NAME_SHOWN])
    if width - cell_len(warning) - 2 < _MIN_NAME_WIDTH // 2:  # no room for both
        return _fit(warning, width)
    room = width - cell_len(warning) - 2
    return fit_name(text, room) + "  " + _fit(warning, width - room - 2)


def _duration_x(layout: _Layout) -> int:
    """Where the duration column starts in a row."""
    x = _MARGIN + BADGE_WIDTH + _GAP + layout.name + _GAP
    return x + (_STARTED_WIDTH + _GAP if layout.started else 0)


def _duration_change(old: str, new: str) -> tuple[int, int]:
    """The columns of the duration cell that differ between two durations: (offset, width)."""
    before = _fit(old, _DURATION_WIDTH, right=True)
    after = _fit(new, _DURATION_WIDTH, right=True)
    if not (before.isascii() and after.isascii()):
        return 0, _DURATION_WIDTH
    x, width = changed_span(before, after, " ")
    return (x, width) if width else (0, _DURATION_WIDTH)


_fit = fit  # (the run list's name for it)

# The room a run name wants: "…" and Northflank's 24 hex digits, and a little more.
NAME_WANTED = 28


def wanted_width(name: int = NAME_WANTED) -> int:
    """The width at which a run list shows every column, its names `name` cells wide."""
    fixed = _MARGIN + BADGE_WIDTH + _GAP + _DURATION_WIDTH + _GAP
    return fixed + _STARTED_WIDTH + _GAP + _ATTEMPTS_WIDTH + _GAP + name


class RowKey(NamedTuple):
    """Everything a row's Strip depends on: its cache key. The run itself stands for its
    id+version: an updated run compares unequal, an identical re-fetch hits the cache. The
    duration comes last: a tick compares the rest to see whether only it changed."""

    run: JobRun
    problem: str | None
    width: int
    mode: TimeMode
    cursor: bool
    focused_cursor: bool
    started: str | None  # the relative start time ("3 minutes ago"); None in other modes
    duration: str | None  # None once the run has ended


def row_key(
    run: JobRun, problem: str | None, *, width: int, mode: TimeMode, cursor: bool,
    focused: bool, now: datetime,
) -> RowKey:
    """The key of `run`'s row at `now` (`cursor`: it is under the cursor; `focused`: the
    list has the focus)."""
    return RowKey(
        run,
        problem,
        width,
        mode,
        cursor,
        cursor and focused,
        format_started(run.started_at, now, mode) if mode is TimeMode.RELATIVE else None,
        format_duration(run.duration(now)) if run.is_active else None,
    )


# Runs whose "ago" text the tick remembers; past this the memory starts again.
MAX_AGO_REMEMBERED = 5000


class RowPainter:
    """Paints a run list's lines with `widget`'s styles; run rows and the header are cached."""

    def __init__(self, widget: Widget) -> None:
        self._widget = widget
        self.cache: LRUCache[tuple[object, ...], Strip] = LRUCache(ROW_CACHE_SIZE)
        # Styles looked up once per colour scheme and focus: a lookup walks the DOM, and
        # every running row is painted again each second.
        self._styles: dict[tuple[str, bool], Style] = {}

        self._ago_until: dict[str, datetime | None] = {}  # run id -> its "ago" text holds
        # What every run name of the job starts with ("settle-ledger-"): not shown in rows.
        # The owner clears the cache when it changes (another job: other rows anyway).
        self.name_prefix = ""

    def clear(self) -> None:
        """Forget every painted line and style (new colours, time mode, or runs)."""
        self.cache.clear()
        self._styles.clear()

    def ago_stale(self, run: JobRun, now: datetime) -> bool:
        """Whether a finished run's "ago" text may have changed since the tick last looked:
        it moves once a minute at most, so most rows need no look at all."""
        ago_until = self._ago_until
        until = ago_until.get(run.id)
        if until is not None and now < until:
            return False
        if len(ago_until) >= MAX_AGO_REMEMBERED:
            ago_until.clear()
        ago_until[run.id] = relative_text_until(run.started_at, now)
        return True

    def _style(self, name: str) -> Style:
        """The widget's style ("" ) or one of its component classes', cached."""
        widget = self._widget
        key = (name, widget.has_focus)
        style = self._styles.get(key)
        if style is None:
            style = widget.get_component_rich_style(name) if name else widget.rich_style
            self._styles[key] = style
        return style

    def row(self, key: RowKey, now: datetime) -> Strip:
        """The row of `key`, from the cache or painted now."""
        strip = self.cache.get(key)
        if strip is None:
            strip = self._paint_row(key.run, key.problem, key.cursor, key.width, key.mode, now)
            self.cache.set(key, strip)
        return strip

    def stale_columns(self, key: RowKey, painted: RowKey | None) -> tuple[int, int]:
        """The columns (x, width) to repaint to turn the row painted under `painted` into
        `key`'s: when only the duration changed, just its characters that did ("2m 0[6]s"),
        so a tick writes a few bytes to the terminal instead of the whole row."""
        if painted is not None and painted[:-1] == key[:-1] and painted in self.cache:
            x, width = _duration_change(str(painted.duration), str(key.duration))
            return _duration_x(_layout(key.width)) + x, width
        return 0, key.width

    def header(self, width: int, mode: TimeMode) -> Strip:
        """The column titles."""
        key = ("header", width, mode)
        strip = self.cache.get(key)
        if strip is None:
            layout = _layout(width)
            style = self._widget.get_component_rich_style("run-list--header")
            cells = [" " * _MARGIN, _fit("Status", BADGE_WIDTH), _fit("Run", layout.name)]
            if layout.started:
                cells.append(_fit(_STARTED_TITLES[mode], _STARTED_WIDTH))
            cells.append(_fit("Duration", _DURATION_WIDTH, right=True))
            if layout.attempts:
                cells.append(_fit("Try", _ATTEMPTS_WIDTH, right=True))
            text = cells[0] + (" " * _GAP).join(cells[1:])
            strip = Strip([Segment(text, style)]).adjust_cell_length(width, style)
            self.cache.set(key, strip)
        return strip

    def footer(self, text: str, width: int) -> Strip:
        """The message line after the last row."""
        style = self._widget.get_component_rich_style("run-list--footer")
        line = " " * _MARGIN + _fit(text, max(width - _MARGIN, 0))
        return Strip([Segment(line, style)]).adjust_cell_length(width, style)

    def _paint_row(
        self, run: JobRun, problem: str | None, is_cursor: bool, width: int, mode: TimeMode,
        now: datetime,
    ) -> Strip:
        layout = _layout(width)
        badge, badge_class = badge_text(run.status, run.raw_status)
        if is_cursor:
            # The cursor style wins over the badge colour; symbol and word still tell status.
            base = badge_style = self._style("run-list--cursor")
        else:
            base = self._style("")
            badge_style = self._style(badge_class)
        gap = Segment(" " * _GAP, base)
        # API text goes into Segments as is: never parsed as markup, control chars made visible.
        segments = [
            Segment(" " * _MARGIN, base),
            Segment(_fit(badge, BADGE_WIDTH), badge_style),
            gap,
            Segment(_name_cell(run, problem, layout.name, self.name_prefix), base),
        ]
        if layout.started:
            started = format_started(run.started_at, now, mode)
            segments += [gap, Segment(_fit(started, _STARTED_WIDTH), base)]
        segments.append(gap)
        duration = format_duration(run.duration(now))
        after = [Segment(_fit(duration, _DURATION_WIDTH, right=True), base)]
        if layout.attempts:
            attempts = format_attempts(run)
            after += [gap, Segment(_fit(attempts, _ATTEMPTS_WIDTH, right=True), base)]
        # One segment per style run (each goes to the terminal with its own style sequence),
        # but the duration cell starts a segment of its own: a tick repaints only that cell.
        row = [*Strip(segments).simplify(), *Strip(after).simplify()]
        return Strip(row).adjust_cell_length(width, base)
