"""RunList: a virtual list of job runs on Textual's line API.

Only the rows on screen are rendered, each into a Strip kept in an LRU cache, so the cost of a
frame, a key press or a tick follows the viewport, not the number of runs loaded (100k is fine).

Lines of the ScrollView (virtual y): 0 is the column header, pinned at the top of the viewport;
row ``i`` of the shown runs is line ``i + 1``; one footer/message line may follow the last row.
So ``scroll_offset.y`` is the index of the first row on screen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.api.models import JobRun, RunStatus
from tui.formatting import (
    TimeMode,
    format_attempts,
    format_duration,
    format_started,
    printable,
)
from tui.watch.store import Rows, RunStore, StoreChange
from tui.widgets.status_badge import BADGE_CLASSES, BADGE_WIDTH, badge_text
from tui.widgets.text_line import changed_span

__all__ = ["RunList"]

ELLIPSIS = "\u2026"
# No terminal shows more of a name than this many characters from each end.
MAX_NAME_SHOWN = 500
# Enough Strips for several screens of rows, so scrolling back and forth is mostly cache hits.
ROW_CACHE_SIZE = 1000
# With a filter on, older pages load by themselves to fill the screen, but at most this many
# after each key press or filter change: a filter matching nothing must not walk every page
# of a 100k-run job (and spend the hourly API quota in seconds).
MAX_FILTERED_PAGES = 4

# Column widths (cells). The run name takes whatever the others leave.
_MARGIN = 1
_GAP = 2
_STARTED_WIDTH = 20  # "2026-11-29 12:05:02Z", "1 year, 2 months ago"
_DURATION_WIDTH = 8  # "999d 23h"
_ATTEMPTS_WIDTH = 8  # the "Attempts" title
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


def _name_cell(run: JobRun, problem: str | None, width: int) -> str:
    """The Run cell: the name cut in the middle, and why the run cannot be refreshed, if so
    (kept whole at the end). Its cost does not depend on the name's length. An unreadable
    run (the API sent something that is not a run) shows its id and the reason."""
    name = run.run_name
    if run.unreadable is not None:
        name = f"{name} {run.id}"
        problem = problem or run.unreadable.removeprefix("Unexpected API answer: ")
    if len(name) > 2 * MAX_NAME_SHOWN:
        # Both ends survive the middle cut below.
        name = name[:MAX_NAME_SHOWN] + ELLIPSIS + name[-MAX_NAME_SHOWN:]
    text = printable(name)
    if not problem:
        return _fit_middle(text, width)
    warning = "\u26a0 " + printable(problem[:MAX_NAME_SHOWN])
    if width - cell_len(warning) - 2 < _MIN_NAME_WIDTH // 2:  # no room for both
        return _fit(warning, width)
    room = width - cell_len(warning) - 2
    return _fit_middle(text, room) + "  " + _fit(warning, width - room - 2)


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


def _fit(text: str, width: int, right: bool = False) -> str:
    """Pad or cut `text` to exactly `width` cells, marking a cut with an ellipsis."""
    length = len(text) if text.isascii() else cell_len(text)
    if length > width:
        return set_cell_size(text, width - 1) + ELLIPSIS if width > 1 else ELLIPSIS[:width]
    pad = " " * (width - length)
    return pad + text if right else text + pad


class RunList(ScrollView, can_focus=True, inherit_bindings=False):
    """The runs of one job, newest first, with a cursor; renders only what is on screen."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Open run", show=False, id="run_list.select"),
        Binding("up,k", "cursor_up", "Up", show=False, id="run_list.cursor_up"),
        Binding("down,j", "cursor_down", "Down", show=False, id="run_list.cursor_down"),
        Binding("pageup", "page_up", "Page up", show=False, id="run_list.page_up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="run_list.page_down"),
        Binding("home,g", "cursor_first", "First run", show=False, id="run_list.first"),
        Binding("end,G", "cursor_last", "Last run", show=False, id="run_list.last"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "run-list--header",
        "run-list--cursor",
        "run-list--footer",
        *BADGE_CLASSES,
    }
    """Styled in styles/run_list.tcss: header row, cursor row, footer/message row, badges."""

    time_mode: reactive[TimeMode] = reactive(TimeMode.RELATIVE)
    """How the "started" column shows times; the app's `t` key cycles it."""

    class NeedMore(Message):
        """The cursor or the scroll came within a screen of the end: load the next page."""

        def __init__(self, run_list: RunList) -> None:
            super().__init__()
            self.run_list = run_list

        @property
        def control(self) -> RunList:
            return self.run_list

    class RunSelected(Message):
        """Enter (or a click on the highlighted row) chose a run."""

        def __init__(self, run_list: RunList, run: JobRun) -> None:
            super().__init__()
            self.run_list = run_list
            self.run = run

        @property
        def control(self) -> RunList:
            return self.run_list

    class RunHighlighted(Message):
        """The cursor is now on another run."""

        def __init__(self, run_list: RunList, run: JobRun) -> None:
            super().__init__()
            self.run_list = run_list
            self.run = run

        @property
        def control(self) -> RunList:
            return self.run_list

    def __init__(
        self,
        *,
        now: Callable[[], datetime],
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._now = now
        self.store = RunStore()
        self._cursor_index = -1
        self._cursor_id: str | None = None
        self._cursor = -1  # index into the shown rows; -1 when there are none
        self._has_more = False
        self._loading_more = False
        self._need_more_sent = False
        self._filtered_pages = 0  # pages appended under a filter since the last key press
        self._problems: Mapping[str, str] = {}
        self._cache: LRUCache[tuple[object, ...], Strip] = LRUCache(ROW_CACHE_SIZE)
        self._last_tick_now: datetime | None = None

    # ----------------------------------------------------------------- public state

    @property
    def runs(self) -> Sequence[JobRun]:
        """Every loaded run, newest first (the list itself: do not mutate)."""
        return self.store.runs

    @property
    def shown_count(self) -> int:
        """Rows shown after the filter."""
        return len(self._view)

    @property
    def loaded_count(self) -> int:
        """Runs loaded, filtered or not."""
        return len(self.store)

    @property
    def active_runs(self) -> list[JobRun]:
        """Loaded runs that can still change, newest first."""
        return self.store.active_runs

    @property
    def highlighted_run(self) -> JobRun | None:
        """The run under the cursor."""
        view = self._view.items
        return view[self._cursor] if 0 <= self._cursor < len(view) else None

    @property
    def has_more(self) -> bool:
        """The API has older runs than those loaded."""
        return self._has_more

    @has_more.setter
    def has_more(self, value: bool) -> None:
        if value != self._has_more:
            self._has_more = value
            self._need_more_sent = False
            self._footer_changed()
            self._check_need_more()

    @property
    def loading_more(self) -> bool:
        """A next page is being fetched (the footer says so)."""
        return self._loading_more

    @loading_more.setter
    def loading_more(self, value: bool) -> None:
        self.set_loading_more(value)

    # ----------------------------------------------------------------- showing a store

    def show_store(self, store: RunStore) -> None:
        """Show another job's runs (its feed's store); the filter in force carries over."""
        text, statuses = self.store.filter_text, self.store.filter_statuses
        self.store = store
        store.set_filter(text, statuses)
        self._cursor = 0 if store.shown else -1
        self._has_more = False
        self._loading_more = False
        self._need_more_sent = False
        self._filtered_pages = 0
        self._problems = {}
        self._cache.clear()
        self._sync_virtual_size()
        if self.is_mounted:
            self.scroll_to(y=0, animate=False, force=True)
        self.refresh()
        self._check_need_more()

    def apply(self, changes: Iterable[StoreChange]) -> None:
        """Show what the store's changes did: move the cursor with its run, repaint only the
        rows that changed."""
        for change in changes:
            self._apply_one(change)

    def set_feed_state(
        self, *, has_more: bool, loading_more: bool, problems: Mapping[str, str]
    ) -> None:
        """What the feed says beside the runs: more to load, a page on its way, run problems."""
        if problems != self._problems:
            dirty = set(problems) ^ set(self._problems)
            dirty |= {i for i in problems if problems[i] != self._problems.get(i)}
            self._problems = dict(problems)
            self._refresh_rows(p for i in dirty if (p := self._view.position(i)) is not None)
        if has_more != self._has_more:
            self._has_more = has_more
            self._need_more_sent = False
            self._footer_changed()
        self.set_loading_more(loading_more)

    def _apply_one(self, change: StoreChange) -> None:
        kind = change.kind
        if kind == "cleared":
            self._cursor = -1
            self._need_more_sent = False
            self._filtered_pages = 0
            self._cache.clear()
            self._sync_virtual_size()
            if self.is_mounted:
                self.scroll_to(y=0, animate=False, force=True)
            self.refresh()
        elif kind == "appended":
            if self.store.filtered:
                self._filtered_pages += 1
            self._need_more_sent = False
            self._sync_virtual_size()
            # New rows and the footer line after them; above them nothing moved.
            self._refresh_rows(range(change.first, change.first + change.count + 1))
            if self._cursor < 0 and len(self._view):
                self._set_cursor(0)
            self._check_need_more()
        elif kind == "prepended":
            self._prepended(change.count)
        elif kind == "updated":
            self._refresh_rows(change.dirty)
        elif kind == "removed":
            self._removed(change.removed)
        else:  # rebuilt
            self._rebuilt_by_filter(self.highlighted_run_before_rebuild())

    def highlighted_run_before_rebuild(self) -> JobRun | None:
        """The run the cursor stood on before the shown rows were rebuilt, if still loaded."""
        return None if self._cursor_id is None else self.store.get(self._cursor_id)

    @property
    def _cursor(self) -> int:
        """Index of the cursor in the shown rows (-1: none); the run under it is remembered,
        so a change that rebuilt the rows can put the cursor back on it."""
        return self._cursor_index

    @_cursor.setter
    def _cursor(self, index: int) -> None:
        self._cursor_index = index
        view = self._view.items
        self._cursor_id = view[index].id if 0 <= index < len(view) else None

    def _prepended(self, shift: int) -> None:
        if not shift:
            return
        scroll_y = self.scroll_offset.y
        self._sync_virtual_size()
        if self._cursor >= 0:
            self._cursor += shift
        if scroll_y > 0:
            self.scroll_to(y=scroll_y + shift, animate=False, force=True)
        else:
            self._scroll_to_cursor()
        self.refresh()  # every row on screen moved down (or new ones are on top)
        if self._cursor < 0:
            self._set_cursor(0)

    def _removed(self, removed: Sequence[int]) -> None:
        """The cursor stays on its run, or takes the next older one shown (else the nearest
        newer one)."""
        previous = self.highlighted_run_before_rebuild()
        cursor = self._cursor
        if cursor >= 0:
            cursor -= sum(1 for index in removed if index < cursor)
            cursor = min(cursor, len(self._view) - 1)
        self._cursor = cursor if self._view else -1
        self._rows_rebuilt(previous)

    def _rebuilt_by_filter(self, previous: JobRun | None) -> None:
        cursor = -1 if previous is None else self.store.nearest_shown(previous.id)
        if cursor < 0 and self._view:
            cursor = 0
        self._cursor = cursor
        self._need_more_sent = False
        self._rows_rebuilt(previous)

    # ----------------------------------------------------------------- data updates
    # Conveniences for a list that is not fed by an engine feed (and for tests): each changes
    # the store and shows what changed.

    def clear_runs(self) -> None:
        """Forget every run (another job was selected); the filter stays."""
        self._has_more = False
        self._loading_more = False
        self.apply([self.store.clear()])

    def append_page(self, runs: Sequence[JobRun], has_more: bool) -> None:
        """Add an older page at the end; runs already loaded are updated in place."""
        footer_before = self._footer_text()
        self._has_more = has_more
        self.apply(self.store.append_page(runs))
        if self._footer_text() != footer_before:
            self._footer_changed()

    def merge_head(self, runs: Sequence[JobRun]) -> int:
        """Merge a refreshed first page: new runs go on top, known ones update in place.
        Returns how many runs were inserted."""
        before = len(self.store)
        self.apply(self.store.merge_head(runs))
        return len(self.store) - before

    def update_runs(self, runs: Iterable[JobRun]) -> list[tuple[JobRun, JobRun]]:
        """Replace loaded runs by id; returns (old, new) for those whose status changed."""
        change = self.store.update(runs)
        self.apply([change])
        return list(change.status_changes)

    def remove_runs(self, run_ids: Iterable[str]) -> int:
        """Drop runs the server no longer has. Returns how many were dropped."""
        before = len(self.store)
        change = self.store.remove(run_ids)
        if change is not None:
            self.apply([change])
        return before - len(self.store)

    def set_loading_more(self, loading: bool) -> None:
        """Show or hide "loading more…" in the footer."""
        self._need_more_sent = False
        if loading != self._loading_more:
            self._loading_more = loading
            self._footer_changed()
        self._check_need_more()

    def set_filter(self, text: str, statuses: frozenset[RunStatus] | None) -> None:
        """Show runs whose name contains `text` (any case) and whose status is in `statuses`.

        `statuses` None means any status; the cursor stays on its run if still shown.
        """
        was_filtered = self.store.filtered
        previous = self.highlighted_run
        change = self.store.set_filter(text, statuses)
        if change is None:
            return
        if not self.store.filtered or not was_filtered:
            # A filter turned on; typing more of it does not search further by itself.
            self._filtered_pages = 0
        self._rebuilt_by_filter(previous)

    def select_run_id(self, run_id: str) -> None:
        """Put the cursor on a run, if it is shown."""
        position = self._view.position(run_id)
        if position is not None:
            self._set_cursor(position)

    def tick(self) -> None:
        """Repaint the rows on screen whose time text changed (running durations, "ago")."""
        view = self._view.items
        if not view or not self.is_mounted:
            return
        relative = self.time_mode is TimeMode.RELATIVE
        if not relative and not self.store.active_count:
            return
        now = self._now()
        previous, self._last_tick_now = self._last_tick_now, now
        width = self._content_width()
        duration_x = _duration_x(_layout(width))
        first = self.scroll_offset.y
        regions: list[Region] = []
        for index in range(first, min(len(view), first + self._rows_visible())):
            run = view[index]
            if not relative and not self.store.is_active(run.id):
                continue
            # The cache key holds the time texts: a miss means what is painted is stale.
            key = self._row_key(run, index, width, now)
            if key in self._cache:
                continue
            y = index - first + 1
            old = self._row_key(run, index, width, previous) if previous else None
            if old is not None and old[:-1] == key[:-1] and old in self._cache:
                # Only the duration changed: repaint the characters of it that changed ("2m 0[6]s"),
                # so a tick writes a few bytes to the terminal instead of the whole row.
                x, changed = _duration_change(str(old[-1]), str(key[-1]))
                regions.append(Region(duration_x + x, y, changed, 1))
            else:
                regions.append(Region(0, y, width, 1))
        if regions:
            self.refresh(*regions)

    def cycle_time_mode(self) -> None:
        """Relative -> local -> UTC -> relative."""
        self.time_mode = self.time_mode.next()

    def visible_text(self) -> list[str]:
        """Plain text of the run rows in the viewport (no header or footer), for tests."""
        if not self.is_mounted:
            return []
        view = self._view.items
        width = self._content_width()
        now = self._now()
        first = self.scroll_offset.y
        last = min(len(view), first + self._rows_visible())
        return [self._row_strip(index, width, now).text.rstrip() for index in range(first, last)]

    # ----------------------------------------------------------------- actions

    def action_cursor_up(self) -> None:
        self._set_cursor(self._cursor - 1)

    def action_cursor_down(self) -> None:
        self._set_cursor(self._cursor + 1)

    def action_page_up(self) -> None:
        self._page(-1)

    def action_page_down(self) -> None:
        self._page(1)

    def action_cursor_first(self) -> None:
        self._set_cursor(0)

    def action_cursor_last(self) -> None:
        self._set_cursor(len(self._view) - 1)

    def action_select_cursor(self) -> None:
        run = self.highlighted_run
        if run is not None:
            self.post_message(self.RunSelected(self, run))

    # ----------------------------------------------------------------- events

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:  # outside, or the header
            return
        index = self.scroll_offset.y + offset.y - 1
        if not 0 <= index < len(self._view):
            return
        # As DataTable: a click highlights; a click on the highlighted row (or a double
        # click) selects.
        if index == self._cursor or event.chain > 1:
            self._set_cursor(index)
            self.action_select_cursor()
        else:
            self._set_cursor(index)

    def on_resize(self, event: events.Resize) -> None:
        self._scroll_to_cursor()
        self._check_need_more()

    def on_focus(self, event: events.Focus) -> None:
        self._refresh_rows([self._cursor])  # the cursor is styled differently when focused

    def on_blur(self, event: events.Blur) -> None:
        self._refresh_rows([self._cursor])

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._check_need_more()

    def watch_time_mode(self) -> None:
        # Every cached row holds old time text; the reactive repaints after this.
        self._cache.clear()

    def notify_style_update(self) -> None:
        # Theme or CSS changed: cached Strips hold the old colours.
        self._cache.clear()
        super().notify_style_update()

    # ----------------------------------------------------------------- rendering

    def render_line(self, y: int) -> Strip:
        width = self._content_width()
        if y == 0:
            return self._header_strip(width)
        index = self.scroll_offset.y + y - 1
        view = self._view.items
        if index < len(view):
            return self._row_strip(index, width, self._now())
        if index == len(view):
            footer = self._footer_text()
            if footer:
                return self._footer_strip(footer, width)
        return Strip.blank(width, self.rich_style)

    def _row_key(self, run: JobRun, index: int, width: int, now: datetime) -> tuple[object, ...]:
        """Everything a row's Strip depends on. The run itself stands for its id+version:
        an updated run compares unequal, an identical re-fetch hits the cache."""
        mode = self.time_mode
        is_cursor = index == self._cursor
        return (
            run,
            self._problems.get(run.id),
            width,
            mode,
            is_cursor,
            is_cursor and self.has_focus,
            format_started(run.started_at, now, mode) if mode is TimeMode.RELATIVE else None,
            format_duration(run.duration(now)) if run.is_active else None,
        )

    def _row_strip(self, index: int, width: int, now: datetime) -> Strip:
        run = self._view.items[index]
        key = self._row_key(run, index, width, now)
        strip = self._cache.get(key)
        if strip is None:
            strip = self._render_row(run, index == self._cursor, width, now)
            self._cache.set(key, strip)
        return strip

    def _render_row(self, run: JobRun, is_cursor: bool, width: int, now: datetime) -> Strip:
        layout = _layout(width)
        badge, badge_class = badge_text(run.status, run.raw_status)
        if is_cursor:
            # The cursor style wins over the badge colour; symbol and word still tell status.
            base = badge_style = self.get_component_rich_style("run-list--cursor")
        else:
            base = self.rich_style
            badge_style = self.get_component_rich_style(badge_class)
        gap = Segment(" " * _GAP, base)
        # API text goes into Segments as is: never parsed as markup, control chars made visible.
        segments = [
            Segment(" " * _MARGIN, base),
            Segment(_fit(badge, BADGE_WIDTH), badge_style),
            gap,
            Segment(_name_cell(run, self._problems.get(run.id), layout.name), base),
        ]
        if layout.started:
            started = format_started(run.started_at, now, self.time_mode)
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

    def _header_strip(self, width: int) -> Strip:
        key = ("header", width, self.time_mode)
        strip = self._cache.get(key)
        if strip is None:
            layout = _layout(width)
            style = self.get_component_rich_style("run-list--header")
            cells = [" " * _MARGIN, _fit("Status", BADGE_WIDTH), _fit("Run", layout.name)]
            if layout.started:
                cells.append(_fit(_STARTED_TITLES[self.time_mode], _STARTED_WIDTH))
            cells.append(_fit("Duration", _DURATION_WIDTH, right=True))
            if layout.attempts:
                cells.append(_fit("Attempts", _ATTEMPTS_WIDTH, right=True))
            text = cells[0] + (" " * _GAP).join(cells[1:])
            strip = Strip([Segment(text, style)]).adjust_cell_length(width, style)
            self._cache.set(key, strip)
        return strip

    def _footer_strip(self, text: str, width: int) -> Strip:
        style = self.get_component_rich_style("run-list--footer")
        line = " " * _MARGIN + _fit(text, max(width - _MARGIN, 0))
        return Strip([Segment(line, style)]).adjust_cell_length(width, style)

    def _footer_text(self) -> str:
        """The line after the last row ("" for none)."""
        held = f" in {len(self.store):,} loaded \u2014 End searches older runs"
        if not self._view:
            if self.store.filtered and len(self.store):
                if self._filter_held():
                    return "No runs match the filter" + held
                return "No runs match the filter" + (" (loading more\u2026)" * self._loading_more)
            return "loading runs\u2026" if self._loading_more else "No runs yet"
        if self._loading_more:
            return "loading more\u2026"
        if not self._has_more:
            return f"end of runs \u2014 {len(self.store):,} loaded"
        if self._filter_held():
            return "no more matches" + held
        return ""

    def _filter_held(self) -> bool:
        """Older pages stopped loading by themselves under a filter (see MAX_FILTERED_PAGES)."""
        return (
            self.store.filtered and self._has_more and not self._loading_more
            and self._filtered_pages >= MAX_FILTERED_PAGES
        )

    # ----------------------------------------------------------------- internals

    @property
    def _view(self) -> Rows:
        return self.store.view

    def _content_width(self) -> int:
        return self.scrollable_content_region.width

    def _rows_visible(self) -> int:
        """Run rows that fit under the header (at least one, so paging always moves)."""
        return max(self.scrollable_content_region.height - 1, 1)

    def _sync_virtual_size(self) -> None:
        lines = 1 + len(self._view) + (1 if self._footer_text() else 0)
        # Width 0: rows are laid out to the widget width, there is never anything to the right.
        self.virtual_size = Size(0, lines)

    def _footer_changed(self) -> None:
        self._sync_virtual_size()
        self._refresh_rows([len(self._view)])  # the footer sits where the next row would
        if self._cursor >= 0 and self._cursor == len(self._view) - 1:
            # On the last row the footer ("loading more…") belongs on screen too.
            self._scroll_to_cursor()

    def _refresh_rows(self, indices: Iterable[int]) -> None:
        """Repaint the given rows that are on screen; rows off screen render when scrolled to."""
        if not self.is_mounted:
            return
        first = self.scroll_offset.y
        last = first + self._rows_visible()
        width = self._content_width()
        regions = [
            Region(0, index - first + 1, width, 1) for index in indices if first <= index < last
        ]
        if regions:
            self.refresh(*regions)

    def _set_cursor(self, index: int) -> None:
        """Move the cursor (clamped), keep it on screen, and say which run is highlighted."""
        if self._filtered_pages:
            held = self._filter_held()
            self._filtered_pages = 0  # a key press: a filter may search older pages again
            if held:
                self._footer_changed()
        count = len(self._view)
        if not count:
            self._check_need_more()
            return
        index = min(max(index, 0), count - 1)
        if index != self._cursor:
            previous = self._cursor
            self._cursor = index
            self._refresh_rows([previous, index])
            self.post_message(self.RunHighlighted(self, self._view.items[index]))
        self._scroll_to_cursor()
        self._check_need_more()

    def _page(self, direction: int) -> None:
        """Scroll a screen and move the cursor as far, so it keeps its place on screen."""
        rows = self._rows_visible() * direction
        if self.is_mounted:
            self.scroll_to(y=self.scroll_offset.y + rows, animate=False, force=True)
        self._set_cursor(self._cursor + rows)

    def _scroll_to_cursor(self) -> None:
        if self._cursor < 0 or not self.is_mounted:
            return
        rows = self._rows_visible()
        top = self.scroll_offset.y
        bottom = self._cursor
        if bottom == len(self._view) - 1 and self._footer_text():
            bottom += 1  # on the last row, show the footer too ("end of runs", "loading more")
        if self._cursor < top:
            top = self._cursor
        elif bottom >= top + rows:
            top = bottom - rows + 1
        else:
            return
        # force: the scrollbar may not be laid out yet for rows added this frame.
        self.scroll_to(y=top, animate=False, force=True)

    def _rows_rebuilt(self, previous: JobRun | None) -> None:
        """After the shown rows were rebuilt (filter, runs dropped): size, scroll and repaint,
        and say so if the cursor now stands on another run than `previous`."""
        self._sync_virtual_size()
        if self.is_mounted:
            top = min(self.scroll_offset.y, max(len(self._view) - self._rows_visible(), 0))
            self.scroll_to(y=top, animate=False, force=True)
            self._scroll_to_cursor()
        self.refresh()
        current = self.highlighted_run
        if current is not None and (previous is None or current.id != previous.id):
            self.post_message(self.RunHighlighted(self, current))
        self._check_need_more()

    def _check_need_more(self) -> None:
        """Post NeedMore once when the cursor or the scroll is within a screen of the end."""
        if self._need_more_sent or not self._has_more or self._loading_more:
            return
        if self.store.filtered and self._filtered_pages >= MAX_FILTERED_PAGES:
            return  # until a key press
        rows = self._rows_visible()
        last_seen = max(self._cursor, self.scroll_offset.y + rows - 1)
        if len(self._view) - 1 - last_seen <= rows:
            self._need_more_sent = True
            self.post_message(self.NeedMore(self))
