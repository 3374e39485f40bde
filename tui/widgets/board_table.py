"""BoardTable: one row per job, on Textual's line API.

Line 0 is the column header, pinned; row ``i`` of the shown jobs is line ``i + 1``; a message
line ("no job matches") may stand where the first row would. A row's Strip is cached under
every text it shows, so the per-second tick repaints only the rows whose text moved (a
running job's duration) and a look repaints only the job it was about.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.watch.board import JobSummary
from tui.watch.events import JobKey
from tui.widgets.board_cells import (
    GAP,
    MARGIN,
    RIGHT_ALIGNED,
    STATE_WIDTH,
    BoardLayout,
    Column,
    board_layout,
    column_title,
    fit,
    name_text,
    row_cells,
    state_cell,
    strip_glyph,
)

__all__ = ["CLOCK_COLUMNS", "BoardTable"]

UNREAD_MARK = "\u2022"  # "•": news the user has not looked at
ROW_CACHE = 500
# The columns whose text moves with the clock alone ("12m ago", "in 3m", "seen 2m"); the
# others change only with the JobSummary (a look, or the tick's renewal of a running job).
CLOCK_COLUMNS = frozenset({Column.STARTED, Column.LAST_OK, Column.NEXT, Column.SEEN})
CLASSES = frozenset({
    "board--header", "board--cursor", "board--message", "board--failing", "board--missed",
    "board--running", "board--fine", "board--unknown", "board--suspended", "board--success",
    "board--failed", "board--unread", "board--slow",
})


# What a row's template leaves open: the clock columns and a running run's duration.
MOVING_COLUMNS = CLOCK_COLUMNS | {Column.DURATION}


@dataclass(frozen=True, slots=True)
class _Slot:
    """A moving cell in a row's template: painted with the row's text of the moment."""

    column: Column
    width: int
    right: bool
    style: Style
    late_style: Style | None = None  # "late 5m" in the Next column


@dataclass(frozen=True, slots=True)
class _Template:
    """A row's line but for its moving cells."""

    parts: tuple[tuple[Segment, ...] | _Slot, ...]
    exact: bool  # the parts fill the width exactly (no crop needed)
    base: Style


@dataclass(eq=False)
class _BoardMessage(Message):
    table: BoardTable
    key: JobKey

    @property
    def control(self) -> BoardTable:
        return self.table


@lru_cache(maxsize=16)
def _split_layout(width: int) -> tuple[BoardLayout, BoardLayout]:
    """The layout at `width` cut in two: its columns that do not move with the clock, and
    those that do (CLOCK_COLUMNS)."""
    layout = board_layout(width)
    fixed = tuple(column for column in layout.columns if column[0] not in CLOCK_COLUMNS)
    clock = tuple(column for column in layout.columns if column[0] in CLOCK_COLUMNS)
    return dataclasses.replace(layout, columns=fixed), dataclasses.replace(layout, columns=clock)


def changed_regions(old: tuple[object, ...] | None, new: tuple[object, ...], width: int,
                    line: int) -> list[Region]:
    """What to repaint of a line that showed the row key `old` and now shows `new`: only the
    cells whose text moved when nothing else did (a duration's digits, "12m ago"), else the
    whole line. Over SSH, a whole 200-column line costs ~600 bytes; a duration's cell, ~20."""
    whole = [Region(0, line, width, 1)]
    if old is None or old[:2] != new[:2] or old[4:] != new[4:]:
        return whole
    old_fixed, new_fixed = old[2], new[2]
    if not (isinstance(old_fixed, tuple) and isinstance(new_fixed, tuple)) or \
            old_fixed[:2] != new_fixed[:2] or old_fixed[3:] != new_fixed[3:]:
        return whole  # the state, the name, the strip of runs or SLOW moved
    before = dict(old_fixed[2]) | dict(old[3])  # type: ignore[call-overload]
    after = dict(new_fixed[2]) | dict(new[3])  # type: ignore[call-overload]
    if before.keys() != after.keys():
        return whole
    layout = board_layout(width)
    regions = []
    for column, column_width in layout.columns:
        if before[column] != after[column]:
            x = layout.x_of(column)
            if x is None:
                return whole
            regions.append(Region(x, line, column_width, 1))
    return regions or whole


class BoardTable(ScrollView, can_focus=True, inherit_bindings=False):
    """Every job's row, with a cursor that stays on its job when the order changes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Open job", show=False, id="board.select"),
        Binding("up,k", "cursor_up", "Up", show=False, id="board.cursor_up"),
        Binding("down,j", "cursor_down", "Down", show=False, id="board.cursor_down"),
        Binding("pageup", "page_up", "Page up", show=False, id="board.page_up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="board.page_down"),
        Binding("home,g", "cursor_first", "First job", show=False, id="board.first"),
        Binding("end,G", "cursor_last", "Last job", show=False, id="board.last"),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = set(CLASSES)

    class JobHighlighted(_BoardMessage):
        """The cursor is on another job."""

    class JobChosen(_BoardMessage):
        """Enter (or a click on the highlighted row) chose a job."""

    def __init__(self, *, now: Callable[[], datetime], id: str | None = None) -> None:
        super().__init__(id=id)
        self._now = now
        self._rows: list[JobSummary] = []
        self._index: dict[JobKey, int] = {}
        self._cursor = -1
        self._cursor_key: JobKey | None = None
        self._placed = False  # the user (or select_key) put the cursor on a job
        self._unread: frozenset[JobKey] = frozenset()
        self.message = "Listing jobs\u2026"
        self._cache: LRUCache[tuple[object, ...], Strip] = LRUCache(ROW_CACHE)
        self._templates: LRUCache[tuple[object, ...], _Template] = LRUCache(ROW_CACHE)
        self._content_known: tuple[tuple[Size, bool, bool], Size] | None = None
        self._painted: dict[int, tuple[object, ...]] = {}  # screen line -> its row's key
        self._styles: dict[tuple[str, bool], Style] = {}
        # Per job: (its JobSummary, width, the parts of its key that only a new one changes).
        self._fixed: dict[JobKey, tuple[JobSummary, int, tuple[object, ...]]] = {}

    # ----- state ---------------------------------------------------------------------------

    @property
    def rows(self) -> Sequence[JobSummary]:
        return self._rows

    @property
    def highlighted(self) -> JobSummary | None:
        return self._rows[self._cursor] if 0 <= self._cursor < len(self._rows) else None

    def show(self, rows: Sequence[JobSummary], unread: Iterable[JobKey] = ()) -> None:
        """Show these rows in this order; the cursor stays on its job if it is still shown."""
        rows, unread = list(rows), frozenset(unread)
        if unread == self._unread and [row.key for row in rows] == \
                [row.key for row in self._rows]:
            # The same jobs in the same order: repaint only the rows whose text moved.
            self._rows = rows
            self.tick()
            return
        self._rows = rows
        self._index = {row.key: index for index, row in enumerate(self._rows)}
        self._unread = unread
        # Until the user moves it, the cursor stays on the top row (what needs attention
        # most); after, it stays on its job when the order changes.
        keep = self._cursor_key if self._placed else None
        index = self._index.get(keep, -1) if keep is not None else -1
        if keep is None and self._rows:
            index = 0
        if index < 0 and self._rows:
            index = min(max(self._cursor, 0), len(self._rows) - 1)
        self._cursor = index
        size = Size(0, 1 + max(len(self._rows), 1))
        if size != self.virtual_size:
            self.virtual_size = size
            self._fixed = {key: known for key, known in self._fixed.items()
                           if key in self._index}
            self.refresh()
        else:
            # As many rows as before (a job moved in the attention order, a mark came or
            # went): repaint only the lines that now show another row or another text.
            self.tick()
        self._scroll_to_cursor()
        row = self.highlighted
        if row is not None and row.key != self._cursor_key:
            self._cursor_key = row.key
            self.post_message(self.JobHighlighted(self, row.key))

    def set_message(self, text: str) -> None:
        """The line shown where rows would be when there are none ("" for none)."""
        if text != self.message:
            self.message = text
            self.refresh()

    def select_key(self, key: JobKey) -> None:
        """Put the cursor on a job (kept for when it is shown, if it is not yet)."""
        self._cursor_key = key
        self._placed = True
        index = self._index.get(key)
        if index is not None:
            self._set_cursor(index)

    def replace_rows(self, moved: Mapping[JobKey, JobSummary]) -> None:
        """The same jobs in the same order, some with new live parts (the per-second tick: a
        running duration, SLOW): only their lines are looked at, and only cells that moved
        are repainted. The clock texts of the others move with the next `show`."""
        if not self.is_mounted:
            return
        now, width = self._now(), self._width()
        first, visible = self.scroll_offset.y, self._visible()
        regions: list[Region] = []
        for key, row in moved.items():
            index = self._index.get(key)
            if index is None or index >= len(self._rows):
                continue
            self._rows[index] = row
            line = index - first + 1
            if 1 <= line <= visible:
                old, new = self._painted.get(line), self._row_key(index, width, now)
                if old != new:
                    regions += changed_regions(old, new, width, line)
        if regions:
            self.refresh(*regions)

    def tick(self) -> None:
        """Repaint the rows on screen whose text moved (durations, "ago", "in 3m")."""
        if not self.is_mounted or not self._rows:
            return
        now, width = self._now(), self._width()
        first = self.scroll_offset.y
        regions = []
        for line in range(1, self._visible() + 1):
            index = first + line - 1
            if index >= len(self._rows):
                break
            old, key = self._painted.get(line), self._row_key(index, width, now)
            if old != key:
                regions += changed_regions(old, key, width, line)
        if regions:
            self.refresh(*regions)

    def visible_text(self) -> list[str]:
        """The rows on screen as plain text (for tests)."""
        now, width = self._now(), self._width()
        first = self.scroll_offset.y
        last = min(len(self._rows), first + self._visible())
        return [self._row_strip(index, width, now).text.rstrip() for index in range(first, last)]

    # ----- actions -------------------------------------------------------------------------

    def action_cursor_up(self) -> None:
        self._set_cursor(self._cursor - 1)

    def action_cursor_down(self) -> None:
        self._set_cursor(self._cursor + 1)

    def action_page_up(self) -> None:
        self._set_cursor(self._cursor - self._visible())

    def action_page_down(self) -> None:
        self._set_cursor(self._cursor + self._visible())

    def action_cursor_first(self) -> None:
        self._set_cursor(0)

    def action_cursor_last(self) -> None:
        self._set_cursor(len(self._rows) - 1)

    def action_select_cursor(self) -> None:
        row = self.highlighted
        if row is not None:
            self.post_message(self.JobChosen(self, row.key))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:
            return
        index = self.scroll_offset.y + offset.y - 1
        if 0 <= index < len(self._rows):
            chosen = index == self._cursor or event.chain > 1
            self._set_cursor(index)
            if chosen:
                self.action_select_cursor()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def on_resize(self) -> None:
        self._scroll_to_cursor()

    def notify_style_update(self) -> None:
        self._cache.clear()
        self._templates.clear()
        self._styles.clear()
        self._content_known = None  # (padding, border or scrollbar sizes may have changed)
        super().notify_style_update()

    # ----- rendering -----------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self._width()
        if y == 0:
            return self._header(width)
        index = self.scroll_offset.y + y - 1
        if index < len(self._rows):
            now = self._now()
            key = self._row_key(index, width, now)
            self._painted[y] = key
            return self._row_strip(index, width, now, key)
        self._painted.pop(y, None)
        if index == 0 and self.message:
            style = self._style("board--message")
            return Strip([Segment(fit(" " + self.message, width), style)]).adjust_cell_length(
                width, style)
        return Strip.blank(width, self.rich_style)

    def _row_key(self, index: int, width: int, now: datetime) -> tuple[object, ...]:
        """Everything the row's line shows (the key of its cached Strip). What does not move
        with the clock is worked out once per JobSummary (the tick asks every second)."""
        row = self._rows[index]
        fixed_layout, clock_layout = _split_layout(width)
        known = self._fixed.get(row.key)
        if known is None or known[0] is not row or known[1] != width:
            cells = row_cells(row, now, fixed_layout)
            known = (row, width, (state_cell(row), name_text(row), tuple(cells.items()),
                                  row.strip[-20:], row.slow))
            self._fixed[row.key] = known
        cursor = index == self._cursor
        return (width, row.key, known[2], tuple(row_cells(row, now, clock_layout).items()),
                cursor, cursor and self.has_focus, row.key in self._unread)

    def _row_strip(self, index: int, width: int, now: datetime,
                   key: tuple[object, ...] | None = None) -> Strip:
        key = key if key is not None else self._row_key(index, width, now)
        strip = self._cache.get(key)
        if strip is None:
            strip = self._paint(self._rows[index], key, width, now)
            self._cache.set(key, strip)
        return strip

    def _paint(self, row: JobSummary, key: tuple[object, ...], width: int,
               now: datetime) -> Strip:
        """The row's line from its template (built once for all but the moving cells: each
        second a running row's duration, each minute its clock texts)."""
        fixed = key[2]
        assert isinstance(fixed, tuple)
        cells = dict(fixed[2]) | dict(key[3])  # type: ignore[call-overload]
        template_key = ("template", key[0], key[1], fixed[0], fixed[1], tuple(
            item for item in fixed[2] if item[0] not in MOVING_COLUMNS), *fixed[3:], *key[4:])
        template = self._templates.get(template_key)
        if template is None:
            template = self._template(row, width, now, cursor=bool(key[4]))
            self._templates.set(template_key, template)
        segments: list[Segment] = []
        for part in template.parts:
            if isinstance(part, _Slot):
                text = cells[part.column]
                style = part.late_style if part.late_style is not None \
                    and text.startswith("late") else part.style
                segments.append(Segment(fit(text, part.width, right=part.right), style))
            else:
                segments += part
        if template.exact:
            return Strip(segments, width)
        return Strip(segments).adjust_cell_length(width, template.base)

    def _template(self, row: JobSummary, width: int, now: datetime, *,
                  cursor: bool) -> _Template:
        """A row's line with its moving cells left as slots: runs of ready segments (merged
        where styles match) between them."""
        layout = board_layout(width)
        base = self._style("board--cursor") if cursor else self._style("")

        def styled(name: str) -> Style:
            return base if cursor else self._style(name)

        gap = Segment(" " * GAP, base)
        word, word_class = state_cell(row)
        run: list[Segment] = [
            Segment(fit(UNREAD_MARK if row.key in self._unread else "", MARGIN),
                    styled("board--unread")),
            Segment(fit(word, STATE_WIDTH), styled(word_class)),
            gap,
            Segment(fit(name_text(row), layout.name), base),
        ]
        parts: list[tuple[Segment, ...] | _Slot] = []
        cells = row_cells(row, now, layout)
        total = MARGIN + STATE_WIDTH + GAP + layout.name
        for column, column_width in layout.columns:
            run.append(gap)
            total += GAP + column_width
            right = column in RIGHT_ALIGNED
            if column in MOVING_COLUMNS:
                parts.append(tuple(Strip(run).simplify()))
                run = []
                style = styled("board--slow") if column is Column.DURATION and row.slow \
                    else base
                late = styled("board--missed") if column is Column.NEXT else None
                parts.append(_Slot(column, column_width, right, style, late))
            elif column is Column.STRIP:
                glyphs = row.strip[-column_width:]
                run.append(Segment(" " * (column_width - len(glyphs)), base))
                run += [Segment(glyph, styled(glyph_class))
                        for glyph, glyph_class in map(strip_glyph, glyphs)]
            else:
                text = cells[column]
                style = styled("board--failing") if column is Column.STREAK and text else base
                run.append(Segment(fit(text, column_width, right=right), style))
        if total < width:
            run.append(Segment(" " * (width - total), base))
        parts.append(tuple(Strip(run).simplify()))
        return _Template(tuple(part for part in parts if part), total <= width, base)

    def _header(self, width: int) -> Strip:
        key = ("header", width)
        strip = self._cache.get(key)
        if strip is None:
            layout = board_layout(width)
            text = " " * MARGIN + fit("State", STATE_WIDTH) + " " * GAP + fit("Job", layout.name)
            for column, column_width in layout.columns:
                text += " " * GAP + fit(column_title(column, column_width), column_width,
                                        right=column in RIGHT_ALIGNED)
            style = self._style("board--header")
            strip = Strip([Segment(text, style)]).adjust_cell_length(width, style)
            self._cache.set(key, strip)
        return strip

    def _style(self, name: str) -> Style:
        key = (name, self.has_focus)
        style = self._styles.get(key)
        if style is None:
            style = self.get_component_rich_style(name) if name else self.rich_style
            self._styles[key] = style
        return style

    # ----- cursor and scrolling ------------------------------------------------------------

    def _content_size(self) -> Size:
        """The scrollable content's size. Textual works it out from the styles each time
        (~0.1 ms); the table asks for every line it paints."""
        key = (self.outer_size, self.show_vertical_scrollbar, self.show_horizontal_scrollbar)
        known = self._content_known
        if known is None or known[0] != key:
            known = self._content_known = (key, self.scrollable_content_region.size)
        return known[1]

    def _width(self) -> int:
        return self._content_size().width

    def _visible(self) -> int:
        return max(self._content_size().height - 1, 1)

    def _set_cursor(self, index: int) -> None:
        if not self._rows:
            return
        index = min(max(index, 0), len(self._rows) - 1)
        self._placed = True
        if index != self._cursor:
            self._cursor = index
            self._cursor_key = self._rows[index].key
            self.refresh()
            self.post_message(self.JobHighlighted(self, self._rows[index].key))
        self._scroll_to_cursor()

    def _scroll_to_cursor(self) -> None:
        if self._cursor < 0 or not self.is_mounted:
            return
        top, rows = self.scroll_offset.y, self._visible()
        if self._cursor < top:
            top = self._cursor
        elif self._cursor >= top + rows:
            top = self._cursor - rows + 1
        else:
            return
        self.scroll_to(y=top, animate=False, force=True)
