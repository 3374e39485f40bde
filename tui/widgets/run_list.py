"""RunList: a virtual list of job runs on Textual's line API.

Only the rows on screen are rendered (`RowPainter` keeps each row's Strip in an LRU cache), so
the cost of a frame, a key press or a tick follows the viewport, not the runs loaded (100k is fine).

Lines of the ScrollView (virtual y): 0 is the column header, pinned at the top of the viewport;
row ``i`` of the shown runs is line ``i + 1``; one footer/message line may follow the last row.
So ``scroll_offset.y`` is the index of the first row on screen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.api.models import JobRun, RunStatus
from tui.formatting import TimeMode, format_started
from tui.watch.events import JobKey
from tui.watch.store import Rows, RunStore, StoreChange
from tui.widgets.older_runs import OlderRuns
from tui.widgets.run_cursor import RunCursor
from tui.widgets.run_rows import RowKey, RowPainter, row_key
from tui.widgets.status_badge import BADGE_CLASSES

__all__ = ["RunList", "RunListMessage"]


@dataclass(eq=False)
class RunListMessage(Message):
    """What a run list tells its screen (`control` is the list)."""

    run_list: RunList

    @property
    def control(self) -> RunList:
        return self.run_list


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
        "run-list--header", "run-list--cursor", "run-list--footer", *BADGE_CLASSES,
    }
    """Styled in styles/run_list.tcss: header row, cursor row, footer/message row, badges."""

    time_mode: reactive[TimeMode] = reactive(TimeMode.RELATIVE)
    """How the "started" column shows times; the app's `t` key cycles it."""

    class NeedMore(RunListMessage):
        """The cursor or the scroll came within a screen of the end: load the next page."""

    class WalkToEnd(RunListMessage):
        """G: load every older page, to the oldest run (answer with `walk_answered`)."""

    @dataclass(eq=False)
    class RunSelected(RunListMessage):
        """Enter (or a click on the highlighted row) chose a run."""

        run: JobRun

    @dataclass(eq=False)
    class RunHighlighted(RunListMessage):
        """The cursor is now on another run."""

        run: JobRun

    def __init__(
        self, *, now: Callable[[], datetime], name: str | None = None, id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._now = now
        self.store = RunStore()
        self._cursor = RunCursor(self.store)
        self._older = OlderRuns()
        self._problems: Mapping[str, str] = {}
        self.painter = RowPainter(self)
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
        return self._cursor.run

    @property
    def has_more(self) -> bool:
        """The API has older runs than those loaded."""
        return self._older.has_more

    @property
    def loading_more(self) -> bool:
        """A next page is being fetched (the footer says so)."""
        return self._older.loading

    @property
    def problems(self) -> Mapping[str, str]:
        """Why some runs cannot be refreshed, by run id (shown in their rows)."""
        return self._problems

    # ----------------------------------------------------------------- showing a store

    def show_store(self, store: RunStore, job: JobKey | None = None) -> None:
        """Show another job's runs (its feed's store); the filter in force carries over.
        `job`: whose runs they are (each run's name starts with its id: not shown in rows)."""
        text, statuses = self.store.filter_text, self.store.filter_statuses
        self.store = store
        self.painter.name_prefix = f"{job.job_id}-" if job is not None else ""
        store.set_filter(text, statuses)
        self._cursor = RunCursor(store, 0 if store.shown else -1)
        self._older = OlderRuns(answered=bool(store.runs))
        self._problems = {}
        self._restart()
        self._check_need_more()

    def apply(self, changes: Iterable[StoreChange]) -> None:
        """Show what the store's changes did: move the cursor with its run, repaint only the
        rows that changed."""
        for change in changes:
            self._apply_one(change)

    def set_feed_state(
        self, *, has_more: bool, loading_more: bool, problems: Mapping[str, str],
        walking: bool = False, answered: bool = True,
    ) -> None:
        """What the feed says beside the runs: more to load, a page on its way, run problems,
        whether it walks to the oldest run, and whether the API has answered yet."""
        if self._older.walk_state(walking):
            self._footer_changed()
        if answered != self._older.answered:
            self._older.answered = answered
            self._footer_changed()
        if problems != self._problems:
            dirty = set(problems) ^ set(self._problems)
            dirty |= {i for i in problems if problems[i] != self._problems.get(i)}
            self._problems = dict(problems)
            self._refresh_rows(p for i in dirty if (p := self._view.position(i)) is not None)
        if has_more != self._older.has_more:
            self._older.has_more = has_more
            self._older.asked = False
            self._footer_changed()
        self._set_loading_more(loading_more)

    def walk_answered(self, walking: bool) -> None:
        """The screen's answer to `WalkToEnd`: whether the feed walks (not past the end)."""
        if self._older.walk_state(walking, answer=True):
            self._footer_changed()

    def _apply_one(self, change: StoreChange) -> None:
        kind = change.kind
        if kind == "cleared":
            self._cursor.move(-1)
            self._older.asked = False
            self._older.filtered_pages = 0
            self._restart()
        elif kind == "appended":
            if self.store.filtered:
                self._older.filtered_pages += 1
            self._older.asked = False
            self._sync_virtual_size()
            # New rows and the footer line after them; above them nothing moved.
            self._refresh_rows(range(change.first, change.first + change.count + 1))
            if self._older.follow:
                self._set_cursor(len(self._view) - 1, follow=True)  # G: on to the oldest
            elif self._cursor.index < 0 and len(self._view):
                self._set_cursor(0)
            self._check_need_more()
        elif kind == "prepended":
            self._prepended(change.count)
        elif kind == "updated":
            self._refresh_rows(change.dirty)
        elif kind == "removed":
            previous = self._cursor.remembered_run()
            self._cursor.after_removal(change.removed)
            self._rows_rebuilt(previous)
        else:  # rebuilt
            self._rebuilt_by_filter(self._cursor.remembered_run())

    def _restart(self) -> None:
        """Other rows altogether: forget the painted ones, size, and go back to the top."""
        self.painter.clear()
        self._sync_virtual_size()
        if self.is_mounted:
            self.scroll_to(y=0, animate=False, force=True)
        self.refresh()

    def _prepended(self, shift: int) -> None:
        if not shift:
            return
        scroll_y = self.scroll_offset.y
        self._sync_virtual_size()
        if self._cursor.index >= 0:
            self._cursor.move(self._cursor.index + shift)
        if scroll_y > 0:
            self.scroll_to(y=scroll_y + shift, animate=False, force=True)
        else:
            self._scroll_to_cursor()
        self.refresh()  # every row on screen moved down (or new ones are on top)
        if self._cursor.index < 0:
            self._set_cursor(0)

    def _rebuilt_by_filter(self, previous: JobRun | None) -> None:
        self._cursor.after_rebuild(previous)
        self._older.asked = False
        self._rows_rebuilt(previous)

    def _set_loading_more(self, loading: bool) -> None:
        """Show or hide "loading more…" in the footer."""
        self._older.asked = False
        if loading != self._older.loading:
            self._older.loading = loading
            self._footer_changed()
        self._check_need_more()

    # ----------------------------------------------------------------- filter and cursor

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
            self._older.filtered_pages = 0
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
        painter = self.painter
        first = self.scroll_offset.y
        regions: list[Region] = []
        is_active, ago_stale = self.store.is_active, painter.ago_stale
        for index in range(first, min(len(view), first + self._rows_visible())):
            run = view[index]
            if not is_active(run.id) and not (relative and ago_stale(run, now)):
                continue
            # The cache key holds the time texts: a miss means what is painted is stale.
            key = self._row_key(run, index, width, now)
            if key in painter.cache:
                continue
            old = self._row_key(run, index, width, previous) if previous else None
            x, columns = painter.stale_columns(key, old)
            regions.append(Region(x, index - first + 1, columns, 1))
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
        self._set_cursor(self._cursor.index - 1)

    def action_cursor_down(self) -> None:
        self._set_cursor(self._cursor.index + 1)

    def action_page_up(self) -> None:
        self._page(-1)

    def action_page_down(self) -> None:
        self._page(1)

    def action_cursor_first(self) -> None:
        self._set_cursor(0)

    def action_cursor_last(self) -> None:
        """G: the last row, and with older runs to load, the oldest run (the feed walks)."""
        if self._older.ask_walk():
            self.post_message(self.WalkToEnd(self))
        self._set_cursor(len(self._view) - 1, follow=self._older.has_more)

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
        if index == self._cursor.index or event.chain > 1:
            self._set_cursor(index)
            self.action_select_cursor()
        else:
            self._set_cursor(index)

    def on_resize(self, event: events.Resize) -> None:
        self._scroll_to_cursor()
        self._check_need_more()

    def on_focus(self, event: events.Focus) -> None:
        self._refresh_rows([self._cursor.index])  # the cursor is styled differently when focused

    def on_blur(self, event: events.Blur) -> None:
        self._refresh_rows([self._cursor.index])

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._check_need_more()

    def watch_time_mode(self) -> None:
        # Every cached row holds old time text; the reactive repaints after this.
        self.painter.clear()

    def notify_style_update(self) -> None:
        # Theme or CSS changed: cached Strips hold the old colours.
        self.painter.clear()
        super().notify_style_update()

    # ----------------------------------------------------------------- rendering

    def render_line(self, y: int) -> Strip:
        width = self._content_width()
        if y == 0:
            return self.painter.header(width, self.time_mode)
        index = self.scroll_offset.y + y - 1
        view = self._view.items
        if index < len(view):
            return self._row_strip(index, width, self._now())
        if index == len(view):
            footer = self._footer_text()
            if footer:
                return self.painter.footer(footer, width)
        return Strip.blank(width, self.rich_style)

    def _row_key(self, run: JobRun, index: int, width: int, now: datetime) -> RowKey:
        return row_key(run, self._problems.get(run.id), width=width, mode=self.time_mode,
                       cursor=index == self._cursor.index, focused=self.has_focus, now=now)

    def _row_strip(self, index: int, width: int, now: datetime) -> Strip:
        run = self._view.items[index]
        return self.painter.row(self._row_key(run, index, width, now), now)

    def _footer_text(self) -> str:
        """The line after the last row ("" for none)."""
        runs, older = self.store.runs, self._older
        oldest = ""
        if older.walking and runs:
            oldest = format_started(runs[-1].started_at, self._now(), self.time_mode)
        return older.footer(len(self._view), len(runs), self.store.filtered, oldest)

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
        if 0 <= self._cursor.index == len(self._view) - 1:
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

    def _set_cursor(self, index: int, follow: bool = False) -> None:
        """Move the cursor (clamped), keep it on screen, and say which run is highlighted;
        `follow`: it stays on the last row as pages come (G), until moved elsewhere."""
        self._older.follow = follow
        if self._older.filtered_pages and self._older.key_pressed(self.store.filtered):
            self._footer_changed()  # it no longer says the search is held
        count = len(self._view)
        if not count:
            self._check_need_more()
            return
        index = min(max(index, 0), count - 1)
        if index != self._cursor.index:
            previous = self._cursor.index
            self._cursor.move(index)
            self._refresh_rows([previous, index])
            self.post_message(self.RunHighlighted(self, self._view.items[index]))
        self._scroll_to_cursor()
        self._check_need_more()

    def _page(self, direction: int) -> None:
        """Scroll a screen and move the cursor as far, so it keeps its place on screen."""
        rows = self._rows_visible() * direction
        if self.is_mounted:
            self.scroll_to(y=self.scroll_offset.y + rows, animate=False, force=True)
        self._set_cursor(self._cursor.index + rows)

    def _scroll_to_cursor(self) -> None:
        cursor = self._cursor.index
        if cursor < 0 or not self.is_mounted:
            return
        rows = self._rows_visible()
        top = self.scroll_offset.y
        bottom = cursor
        if bottom == len(self._view) - 1 and self._footer_text():
            bottom += 1  # on the last row, show the footer too ("end of runs", "loading more")
        if cursor < top:
            top = cursor
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
        if not self._older.may_ask(self.store.filtered):
            return
        rows = self._rows_visible()
        last_seen = max(self._cursor.index, self.scroll_offset.y + rows - 1)
        if len(self._view) - 1 - last_seen <= rows:
            self._older.asked = True
            self.post_message(self.NeedMore(self))
