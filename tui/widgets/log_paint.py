"""How the log viewer's lines look: the prefix (time, container), the text made safe, the
search matches marked, cut to the width or wrapped under the text; a cache of painted lines.

`LinePainter` paints one line into its rows (one Strip each) for one widget's styles; the
`LogLines` widget decides which lines are on screen. A line's rows are cached under its
absolute number and everything else they depend on, so scrolling back and forth costs
lookups, and only lines that come on screen are ever painted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.cache import LRUCache
from textual.strip import Strip
from textual.widget import Widget

from tui.api.models import LogLine
from tui.sanitize import printable
from tui.widgets.fit import ELLIPSIS

__all__ = ["LinePainter", "PaintOptions", "line_text", "time_text"]

# Enough for several screens of lines (and of wrapped rows), so scrolling is mostly hits.
CACHE_SIZE = 2000
TIME_WIDTH = len("12:05:02.125Z")
CONTAINER_WIDTH = 32  # a pod name ("<job>-<hash>-<id>") mostly fits; longer: cut on the left
GAP = "  "
TAB_SIZE = 4
# Below this many cells for the text, wrapped rows start at the left edge, not under it.
MIN_INDENTED_ROOM = 20
_LEVELS = (("[ERROR]", "error"), ("ERROR", "error"), ("Error:", "error"), ("FATAL", "error"),
           ("[WARN", "warning"), ("WARN", "warning"))


def time_text(ts: datetime | None) -> str:
    """A line's time of day in UTC with milliseconds, marked as the run list marks UTC:
    "12:05:02.125Z"."""
    if ts is None:
        return "--:--:--.--- "
    try:
        utc = ts.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        return "??:??:??.??? "
    return (f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}."
            f"{utc.microsecond // 1000:03d}Z")


def line_text(line: LogLine) -> str:
    """A line's text as shown: tabs to spaces, control characters made visible (never
    markup, never an escape sequence for the terminal)."""
    text = line.log
    if "\t" in text:
        text = text.expandtabs(TAB_SIZE)
    return printable(text)


def container_text(container_id: str) -> str:
    """The container's name, cut on the left past CONTAINER_WIDTH (pod names differ at the
    end), padded to it."""
    name = printable(container_id) or "-"
    if cell_len(name) > CONTAINER_WIDTH:
        name = ELLIPSIS + name[-(CONTAINER_WIDTH - 1):]
        while cell_len(name) > CONTAINER_WIDTH:
            name = ELLIPSIS + name[2:]
    return name + " " * (CONTAINER_WIDTH - cell_len(name))


def level_of(text: str) -> str | None:
    """"error" or "warning" for a line that says so at its start; None otherwise."""
    head = text.lstrip()[:12]
    for marker, level in _LEVELS:
        if head.startswith(marker):
            return level
    return None


@dataclass(frozen=True, slots=True)
class PaintOptions:
    """Everything about a line's rows that is the same for all lines."""

    width: int
    timestamps: bool
    containers: bool
    wrap: bool
    x: int = 0  # columns of text scrolled off to the left (not when wrapping)
    needle: str = ""  # the search, lower case ("" for none)

    @property
    def prefix_width(self) -> int:
        return ((TIME_WIDTH + len(GAP)) if self.timestamps else 0) + (
            (CONTAINER_WIDTH + len(GAP)) if self.containers else 0)

    @property
    def room(self) -> int:
        """Cells for the text on a row (at least 1)."""
        return max(1, self.width - self.prefix_width)

    @property
    def indent(self) -> int:
        """Where wrapped rows start: under the text, unless that leaves too little room."""
        return self.prefix_width if self.width - self.prefix_width >= MIN_INDENTED_ROOM else 0


class LinePainter:
    """Paints log lines with `widget`'s styles; painted rows and row counts are cached."""

    def __init__(self, widget: Widget) -> None:
        self._widget = widget
        self.cache: LRUCache[tuple[object, ...], list[Strip]] = LRUCache(CACHE_SIZE)
        self._heights: LRUCache[tuple[object, ...], int] = LRUCache(CACHE_SIZE * 4)
        self._styles: dict[tuple[str, bool], Style] = {}
        self.painted = 0  # lines painted (cache misses): tests check it follows the screen

    def clear(self) -> None:
        """Forget every painted line (new lines, colours or options)."""
        self.cache.clear()
        self._heights.clear()
        self._styles.clear()

    def _style(self, name: str, partial: bool = True) -> Style:
        widget = self._widget
        key = (name, partial)
        style = self._styles.get(key)
        if style is None:
            style = widget.get_component_rich_style(name, partial=partial) if name \
                else widget.rich_style
            self._styles[key] = style
        return style

    def height(self, number: int, line: LogLine, options: PaintOptions) -> int:
        """How many rows the line takes (1 unless wrapping)."""
        if not options.wrap:
            return 1
        key = (number, options.width, options.timestamps, options.containers)
        rows = self._heights.get(key)
        if rows is None:
            text = line_text(line)
            cells = len(text) if text.isascii() else cell_len(text)
            first = options.room
            rest = max(1, options.width - options.indent)
            rows = 1 if cells <= first else 1 + math.ceil((cells - first) / rest)
            self._heights.set(key, rows)
        return rows

    def rows(
        self, number: int, line: LogLine, options: PaintOptions, *, cursor: bool,
        current: bool, focused: bool,
    ) -> list[Strip]:
        """The line's rows (exactly `height()` of them), each `options.width` cells wide."""
        key = (number, options, cursor, cursor and focused, current)
        strips = self.cache.get(key)
        if strips is None:
            strips = self._paint(line, options, cursor, cursor and focused, current)
            self.cache.set(key, strips)
        return strips

    def _paint(
        self, line: LogLine, options: PaintOptions, cursor: bool, focused: bool,
        current: bool,
    ) -> list[Strip]:
        self.painted += 1
        if cursor:
            base = self._style("log-lines--cursor-focused" if focused else "log-lines--cursor",
                               partial=False)
        else:
            base = self._style("", partial=False)
        prefix: list[Segment] = []
        if options.timestamps:
            prefix += [Segment(time_text(line.ts), base + self._style("log-lines--time")),
                       Segment(GAP, base)]
        if options.containers:
            prefix += [Segment(container_text(line.container_id),
                               base + self._style("log-lines--container")),
                       Segment(GAP, base)]
        text = line_text(line)
        level = level_of(text)
        body_style = base + self._style(f"log-lines--{level}") if level and not cursor else base
        body = Strip(self._marked(text, body_style, options.needle, current))
        width = options.width
        if not options.wrap:
            room = options.room
            if options.x:
                body = body.crop(options.x, options.x + room)
            row = Strip([*prefix, *body.crop(0, room)])
            return [row.adjust_cell_length(width, base).simplify()]
        first = options.room
        rest = max(1, width - options.indent)
        length = body.cell_length
        cuts = [first] if length > first else [length]
        while cuts[-1] < length:
            cuts.append(min(length, cuts[-1] + rest))
        pieces = body.divide(cuts) if length else [body]
        indent = [Segment(" " * options.indent, base)] if options.indent else []
        strips = [Strip([*prefix, *pieces[0]])]
        strips += [Strip([*indent, *piece]) for piece in pieces[1:]]
        return [strip.adjust_cell_length(width, base).simplify() for strip in strips]

    def _marked(self, text: str, style: Style, needle: str, current: bool) -> list[Segment]:
        """The text as Segments, the search's matches in the match style."""
        if not needle or not text:
            return [Segment(text, style)]
        lowered = text.lower()
        if len(lowered) != len(text):  # (a few letters change length in lower case)
            return [Segment(text, style)]
        mark = style + self._style("log-lines--match-current" if current
                                   else "log-lines--match")
        segments: list[Segment] = []
        start = 0
        found = lowered.find(needle)
        while found >= 0:
            if found > start:
                segments.append(Segment(text[start:found], style))
            end = found + len(needle)
            segments.append(Segment(text[found:end], mark))
            start = end
            found = lowered.find(needle, start)
        if start < len(text):
            segments.append(Segment(text[start:], style))
        return segments
