"""LogLines: a run's log lines as a virtual list on Textual's line API.

Only the lines on screen are painted (`LinePainter` caches their rows), and what a frame
costs follows the viewport, not the lines loaded: 100k lines cost what 100 do.

The scroll offset is a line number: `scroll_offset.y` is the first line on screen. Without
wrap a line is a row; with wrap a line takes as many rows as its text needs, and only the
lines near the viewport are ever measured (the last screenful, for where the end is). The
virtual height is that "end" line plus a screen, so the scrollbar counts lines.

A cursor marks the current line (`y` copies it, `n` goes to the next match from it). The
list follows the end while the cursor is on the last line: new lines move it down; else
they are counted (`unseen`) until End comes back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.cells import cell_len
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.api.models import LogLine
from tui.widgets.log_paint import LinePainter, PaintOptions, line_text
from tui.widgets.log_search import LogMatches

__all__ = ["LogLines"]

PAN_STEP = 8  # columns Left and Right move the text without wrap


@dataclass(frozen=True, slots=True)
class ViewState:
    """What the status line says of the view."""

    lines: int
    cursor: int  # 1-based line number of the cursor (0: no lines)
    following: bool
    unseen: int
    matches: str  # the match label ("3/17"), "" without a search


class LogLines(ScrollView, can_focus=True, inherit_bindings=False):
    """Log lines, oldest first, with a cursor, search marks and wrap; renders what is shown."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown,space", "page_down", "Page down", show=False),
        Binding("home,g", "first", "Top", show=False),
        Binding("end,G", "last", "End", show=False),
        Binding("left", "pan(-1)", "Left", show=False),
        Binding("right", "pan(1)", "Right", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "log-lines--time", "log-lines--container", "log-lines--cursor",
        "log-lines--cursor-focused", "log-lines--match", "log-lines--match-current",
        "log-lines--error", "log-lines--warning",
    }

    class NearTop(Message):
        """The view came within a screen of the first loaded line: older ones are wanted."""

    class Changed(Message):
        """The cursor, the follow state, the unseen count or the matches changed."""

        def __init__(self, state: ViewState) -> None:
            super().__init__()
            self.state = state

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._lines: list[LogLine] = []
        self._first = 0  # the absolute number of _lines[0] (cache keys, search matches)
        self._cursor = -1
        self.unseen = 0
        self.timestamps = True
        self.containers = False
        self.wrap = False
        self._x = 0
        self.matches = LogMatches()
        self.painter = LinePainter(self)
        self.has_older = False
        self._older_asked = False
        self._layout = 0  # bumped whenever which line lands on which row may change
        self._rows_key: tuple[int, ...] = ()
        self._rows: list[tuple[int, int]] = []
        self._posted: ViewState | None = None
        self.render_calls = 0

    # ----- what it shows --------------------------------------------------------------------

    @property
    def lines(self) -> Sequence[LogLine]:
        return self._lines

    @property
    def cursor(self) -> int:
        """The cursor's line index (-1 without lines)."""
        return self._cursor

    @property
    def cursor_line(self) -> LogLine | None:
        return self._lines[self._cursor] if 0 <= self._cursor < len(self._lines) else None

    @property
    def following(self) -> bool:
        """New lines move the view down (the cursor is on the last line)."""
        return self._cursor >= len(self._lines) - 1

    @property
    def top(self) -> int:
        return self.scroll_offset.y

    def state(self) -> ViewState:
        return ViewState(len(self._lines), self._cursor + 1, self.following, self.unseen,
                         self.matches.label() if self.matches.needle else "")

    def visible_text(self) -> list[str]:
        """The rows on screen as plain text (tests)."""
        return [self.render_line(y).text for y in range(self._height())]

    # ----- lines coming and going -----------------------------------------------------------

    def set_lines(self, lines: Sequence[LogLine], *, has_older: bool) -> None:
        """Show these lines instead (the first page): the cursor on the last, following."""
        self._lines = list(lines)
        self._first = 0
        self.painter.clear()
        self.matches.set_query(self.matches.query, self._lines, 0)
        self.unseen = 0
        self._cursor = len(self._lines) - 1
        self.has_older, self._older_asked = has_older, False
        self._changed_layout()
        self._scroll_end()
        self.refresh()
        self._check_near_top()
        self._post_state()

    def add_older(self, lines: Sequence[LogLine], *, dropped_newest: int = 0,
                  has_older: bool) -> None:
        """Older lines at the top; what is on screen stays where it is."""
        if dropped_newest:
            self._drop_newest(dropped_newest)
        count = len(lines)
        top = self.top
        if count:
            self._lines[:0] = lines
            self._first -= count
            self.matches.added_oldest(lines, self._first)
            if self._cursor >= 0:
                self._cursor += count
            else:
                self._cursor = len(self._lines) - 1
            self._changed_layout()
            if self.is_mounted:
                self.scroll_to(y=top + count, animate=False, force=True)
            self.refresh()
        self.set_older(has_older)
        self._post_state()

    def add_newer(self, lines: Sequence[LogLine], *, dropped_oldest: int = 0) -> None:
        """Newer lines at the bottom (the tail): followed, or counted as unseen."""
        if not lines and not dropped_oldest:
            return
        following = self.following
        before = len(self._lines)
        self._lines += lines
        self.matches.added_newest(lines, self._first + before)
        top = self.top
        if dropped_oldest:
            dropped = min(dropped_oldest, len(self._lines))
            del self._lines[:dropped]
            self._first += dropped
            self._cursor = max(self._cursor - dropped, 0 if self._lines else -1)
            self.matches.keep(self._first, self._first + len(self._lines))
            top = max(top - dropped, 0)
        self._changed_layout()
        if following:
            self._cursor = len(self._lines) - 1
            self.unseen = 0
            self._scroll_end()
        else:
            self.unseen += len(lines)
            if self.is_mounted:
                self.scroll_to(y=top, animate=False, force=True)
        if before < top + self._height() or dropped_oldest:
            self.refresh()  # the new lines are on screen (or every line moved)
        self._post_state()

    def _drop_newest(self, count: int) -> None:
        count = min(count, len(self._lines))
        del self._lines[len(self._lines) - count:]
        self.matches.keep(self._first, self._first + len(self._lines))
        self._cursor = min(self._cursor, len(self._lines) - 1)
        self._changed_layout()
        self.refresh()

    def set_older(self, has_older: bool) -> None:
        """Whether older lines can still come; a load finished, so NearTop may come again."""
        self.has_older = has_older
        self._older_asked = False
        self._check_near_top()

    # ----- options --------------------------------------------------------------------------

    def set_options(self, *, timestamps: bool | None = None, containers: bool | None = None,
                    wrap: bool | None = None) -> None:
        """Show or hide the times and container names, wrap long lines or not; the cursor's
        line stays on screen."""
        if timestamps is not None:
            self.timestamps = timestamps
        if containers is not None:
            self.containers = containers
        if wrap is not None:
            self.wrap = wrap
            self._x = 0
        self.painter.clear()
        self._changed_layout()
        self._scroll_to_cursor()
        self.refresh()

    def search(self, query: str) -> int:
        """Mark the lines holding `query` (any case) and go to the first from the cursor."""
        count = self.matches.set_query(query, self._lines, self._first)
        self.painter.clear()
        if count:
            found = self.matches.first_from(self._first + max(self._cursor, 0))
            if found is not None:
                self._move_cursor(found - self._first, center=True)
        self.refresh()
        self._post_state()
        return count

    def next_match(self, forward: bool = True) -> bool:
        """The next (or previous) match from the cursor; False when there is none."""
        found = self.matches.step(self._first + max(self._cursor, 0), forward)
        if found is None:
            return False
        self._move_cursor(found - self._first, center=True)
        self.refresh()
        self._post_state()
        return True

    # ----- actions --------------------------------------------------------------------------

    def action_cursor_up(self) -> None:
        self._move_cursor(self._cursor - 1)

    def action_cursor_down(self) -> None:
        self._move_cursor(self._cursor + 1)

    def action_page_up(self) -> None:
        self._move_cursor(self._cursor - max(self._height() - 1, 1))

    def action_page_down(self) -> None:
        self._move_cursor(self._cursor + max(self._height() - 1, 1))

    def action_first(self) -> None:
        self._move_cursor(0)

    def action_last(self) -> None:
        self._move_cursor(len(self._lines) - 1)

    def action_pan(self, direction: int) -> None:
        if self.wrap:
            return
        # No further right than the longest line on screen needs.
        room = self._options().room
        widest = max((cell_len(line_text(self._lines[index])) for index, _ in self._viewport()),
                     default=0)
        x = min(max(0, self._x + direction * PAN_STEP), max(0, widest - room))
        if x != self._x:
            self._x = x
            self.refresh()

    def _move_cursor(self, index: int, *, center: bool = False) -> None:
        """Put the cursor on a line and keep it on screen; a jump (`center`) to a line off
        screen puts it in the middle, with what comes before and after it in view."""
        if not self._lines:
            return
        index = min(max(index, 0), len(self._lines) - 1)
        previous = self._cursor
        self._cursor = index
        if self.following:
            self.unseen = 0
        if previous != index:
            self._refresh_lines(previous, index)
        if center and self.is_mounted and not any(i == index for i, _ in self._viewport()):
            self.scroll_to(y=max(0, index - self._height() // 2), animate=False, force=True)
        self._scroll_to_cursor()
        self._check_near_top()
        self._post_state()

    # ----- events ---------------------------------------------------------------------------

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        rows = self._viewport()
        if 0 <= offset.y < len(rows):
            self._move_cursor(rows[offset.y][0])

    def on_resize(self, event: events.Resize) -> None:
        self._changed_layout()
        if self.following:
            self._scroll_end()
        else:
            self._scroll_to_cursor()

    def on_focus(self, event: events.Focus) -> None:
        self._refresh_lines(self._cursor)

    def on_blur(self, event: events.Blur) -> None:
        self._refresh_lines(self._cursor)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if round(old_value) == round(new_value) or not self._lines:
            return
        # Scrolled by the wheel or the scrollbar: the cursor stays on screen.
        rows = self._viewport()
        if rows:
            first, last = rows[0][0], self._last_whole_line(rows)
            if not first <= self._cursor <= last:
                previous = self._cursor
                self._cursor = min(max(self._cursor, first), last)
                self._refresh_lines(previous, self._cursor)
                if self.following:
                    self.unseen = 0
                self._post_state()
        self._check_near_top()

    def notify_style_update(self) -> None:
        self.painter.clear()  # a theme change: painted rows hold the old colours
        super().notify_style_update()

    # ----- rendering ------------------------------------------------------------------------

    def _options(self) -> PaintOptions:
        return PaintOptions(self._width(), self.timestamps, self.containers, self.wrap,
                            0 if self.wrap else self._x, self.matches.needle)

    def render_line(self, y: int) -> Strip:
        self.render_calls += 1
        width = self._width()
        rows = self._viewport()
        if y >= len(rows):
            return Strip.blank(width, self.rich_style)
        index, row = rows[y]
        strips = self._paint(index)
        return strips[row] if row < len(strips) else Strip.blank(width, self.rich_style)

    def _paint(self, index: int) -> list[Strip]:
        number = self._first + index
        return self.painter.rows(number, self._lines[index], self._options(),
                                 cursor=index == self._cursor,
                                 current=number == self.matches.current,
                                 focused=self.has_focus)

    def _line_height(self, index: int, options: PaintOptions) -> int:
        return self.painter.height(self._first + index, self._lines[index], options)

    def _viewport(self) -> list[tuple[int, int]]:
        """(line index, row of that line) for each row on screen, from the top line."""
        top, height, width = self.top, self._height(), self._width()
        key = (self._layout, top, height, width, int(self.wrap))
        if key == self._rows_key:
            return self._rows
        count = len(self._lines)
        if not self.wrap:
            rows = [(index, 0) for index in range(top, min(count, top + height))]
        else:
            options = self._options()
            rows = []
            index = top
            while len(rows) < height and index < count:
                lines = self._line_height(index, options)
                rows += [(index, row) for row in range(min(lines, height - len(rows)))]
                index += 1
        self._rows_key, self._rows = key, rows
        return rows

    def _last_whole_line(self, rows: list[tuple[int, int]]) -> int:
        """The last line on screen with all its rows shown (the top one if none is)."""
        last = rows[-1][0]
        if self.wrap and last != rows[0][0]:
            shown = sum(1 for index, _ in rows if index == last)
            if shown < self._line_height(last, self._options()):
                return last - 1
        return last

    # ----- scrolling ------------------------------------------------------------------------

    def _width(self) -> int:
        return max(self.scrollable_content_region.width, 1)

    def _height(self) -> int:
        return max(self.scrollable_content_region.height, 1)

    def _end_top(self) -> int:
        """The top line when the last line is at the bottom of the screen."""
        count, height = len(self._lines), self._height()
        if not self.wrap:
            return max(0, count - height)
        options = self._options()
        rows, index = 0, count - 1
        while index >= 0:
            rows += self._line_height(index, options)
            if rows > height:
                return min(index + 1, count - 1)
            index -= 1
        return 0

    def _changed_layout(self) -> None:
        self._layout += 1
        # Width 0: rows are cut or wrapped to the widget's width, nothing lies to the right.
        self.virtual_size = Size(0, self._end_top() + self._height())

    def _scroll_end(self) -> None:
        if self.is_mounted:
            self.scroll_to(y=self._end_top(), animate=False, force=True)

    def _scroll_to_cursor(self) -> None:
        cursor = self._cursor
        if cursor < 0 or not self.is_mounted:
            return
        top, height = self.top, self._height()
        if cursor < top:
            self.scroll_to(y=cursor, animate=False, force=True)
            return
        if not self.wrap:
            if cursor >= top + height:
                self.scroll_to(y=cursor - height + 1, animate=False, force=True)
            return
        options = self._options()
        if cursor - top < height:
            rows = sum(self._line_height(index, options) for index in range(top, cursor + 1))
            if rows <= height:
                return
        # The highest top that still shows the cursor's line whole (or from its start).
        rows, index = 0, cursor
        while index >= 0:
            rows += self._line_height(index, options)
            if rows > height:
                break
            index -= 1
        self.scroll_to(y=min(index + 1, cursor), animate=False, force=True)

    def _refresh_lines(self, *indices: int) -> None:
        """Repaint the rows of these lines that are on screen."""
        if not self.is_mounted:
            return
        rows = self._viewport()
        width = self._width()
        wanted = set(indices)
        regions = [Region(0, y, width, 1) for y, (index, _) in enumerate(rows) if index in wanted]
        if regions:
            self.refresh(*regions)

    def _check_near_top(self) -> None:
        if self.has_older and not self._older_asked and self._lines \
                and self.top <= self._height():
            self._older_asked = True
            self.post_message(self.NearTop())

    def _post_state(self) -> None:
        state = self.state()
        if state != self._posted:
            self._posted = state
            self.post_message(self.Changed(state))
