"""The status board: every job at a glance, sorted by what needs attention.

The board's looks are the engine's (`Scheduler.watch_board`; the planner spends the board's
share of the budget); this screen shows its rows (`BoardChanged`), filters and sorts them,
and hands a chosen job to the run list (`BoardScreen.JobOpened`, handled by the app).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Input

from ..formatting import printable
from ..messages import EngineMessage
from ..options import AppOptions
from ..textual_patches import hidden_under_opaque_screen
from ..watch.board import (
    BoardState,
    JobSummary,
    attention_order,
    count_states,
    name_order,
    with_live_parts,
)
from ..watch.events import BoardChanged, JobKey
from ..watch.scheduler import Scheduler
from ..widgets.board_cells import compact_age
from ..widgets.board_table import BoardTable
from ..widgets.safe_input import SafeInput
from ..widgets.text_line import TextLine

__all__ = ["STATE_FILTERS", "BoardScreen"]

FULL_RENEW_TICKS = 15  # every row is recomputed this often (ticks); running ones every tick

STATE_FILTERS: dict[str, frozenset[BoardState] | None] = {
    "all": None,
    "failing": frozenset({BoardState.FAILING}),
    "missed": frozenset({BoardState.MISSED}),
    "running": frozenset({BoardState.RUNNING}),
    "ok": frozenset({BoardState.FINE}),  # (the word of help, README and the ✔ OK rows)
}


@dataclass
class JobOpened(Message):
    """The user chose a job on the board: show its runs."""

    key: JobKey


class BoardScreen(Screen[None]):
    """Summary line, the jobs' rows, the board's spending, the keys."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("b", "open_highlighted", "Runs", id="board.runs"),
        Binding("slash", "filter", "Filter", id="board.filter"),
        Binding("o", "sort", "Sort", id="board.sort"),
        Binding("a", "mark_read", "Mark read", id="board.mark_read"),
        Binding("r", "refresh", "Refresh", id="board.refresh"),
        Binding("1", "state_filter('all')", "All", show=False),
        Binding("2", "state_filter('failing')", "Failing", show=False),
        Binding("3", "state_filter('missed')", "Missed", show=False),
        Binding("4", "state_filter('running')", "Running", show=False),
        Binding("5", "state_filter('ok')", "OK", show=False),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    JobOpened = JobOpened

    def __init__(
        self, scheduler: Scheduler, options: AppOptions, *, now: Callable[[], datetime],
        unread: Callable[[], frozenset[JobKey]] = frozenset,
    ) -> None:
        super().__init__()
        self.scheduler = scheduler
        self.options = options
        self.now = now
        self._unread = unread
        self._rows: Sequence[JobSummary] = ()
        self._by_name = False
        self._state_filter = "all"
        self._text_filter = ""
        self.listed = False  # every job the board watches has been listed
        self.index_problem = ""  # why the listing of jobs is not complete, if it is not
        self._ticks = 0

    # ----- layout --------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header(icon="\u25a6")
        yield TextLine(id="board-summary")
        yield SafeInput(placeholder="filter jobs by name or id\u2026  (Esc clears)",
                        id="board-filter")
        yield BoardTable(now=self.now, id="board-table")
        yield TextLine(id="board-status")
        yield Footer()

    @property
    def table(self) -> BoardTable:
        return self.query_one(BoardTable)

    def on_mount(self) -> None:
        # (The title is the app's: it carries the unread counter on every screen.)
        self.sub_title = f"board \u00b7 {printable(self.options.host_label)}"
        self.query_one("#board-filter").display = False
        self.table.focus()
        self.set_interval(self.options.tick, self._tick, name="board-tick")
        self.pull()

    def on_screen_resume(self) -> None:
        self.pull()

    def pull(self) -> None:
        """Show the board as the engine has it now (after being away, events were missed)."""
        board = self.scheduler.board
        if board is not None:
            self._rows = board.rows()
        self._show()

    # ----- what the engine says ------------------------------------------------------------

    def on_engine_message(self, message: EngineMessage) -> None:
        event = message.event
        if isinstance(event, BoardChanged):
            self._rows = event.summaries
            self._show()

    def _shown(self) -> list[JobSummary]:
        wanted = STATE_FILTERS[self._state_filter]
        needle = self._text_filter.strip().casefold()
        rows = [
            row for row in self._rows
            if (wanted is None or row.state in wanted)
            and (not needle or needle in row.name.casefold()
                 or needle in row.key.job_id.casefold())
        ]
        return name_order(rows) if self._by_name else attention_order(rows)

    def _show(self) -> None:
        if not self.is_mounted:
            return
        table = self.table
        shown = self._shown()
        if shown:
            table.set_message("")
        elif self._rows:
            table.set_message("No job matches the filter (Esc or 1 shows all).")
        else:
            table.set_message("No jobs to watch." if self.listed else "Listing jobs\u2026")
        table.show(shown, self._unread())
        self._show_summary(len(shown))
        self._show_status()

    def _show_summary(self, shown: int) -> None:
        counts = count_states(self._rows)
        text = Text(" ")
        parts = [
            (f"\u2718 {counts.failing} failing", "bold red" if counts.failing else ""),
            (f"\u25f7 {counts.missed} missed", "bold yellow" if counts.missed else ""),
            (f"\u25cf {counts.running} running", ""),
            (f"\u2714 {counts.fine} ok", ""),
        ]
        if counts.suspended:
            parts.append((f"\u2016 {counts.suspended} suspended", ""))
        if counts.unknown:
            parts.append((f"\u25cc {counts.unknown} waiting", ""))
        for index, (part, style) in enumerate(parts):
            if index:
                text.append("  ")
            text.append(part, style)
        extra = ["by name" if self._by_name else "by attention"]
        if self._state_filter != "all":
            extra.append(f"only {self._state_filter}")
        if self._text_filter:
            extra.append(f"filter \u201c{printable(self._text_filter)[:40]}\u201d")
        if shown != len(self._rows):
            extra.append(f"{shown} of {len(self._rows)} shown")
        text.append("  \u00b7 " + " \u00b7 ".join(extra), "dim")
        self.query_one("#board-summary", TextLine).set_text(text)

    def _show_status(self) -> None:
        board = self.scheduler.board
        parts = [f"{len(self._rows)} jobs"]
        if self.index_problem:
            parts.append(f"\u26a0 {printable(self.index_problem)[:80]}")
        if board is not None:
            planner = board.planner
            parts.append(f"board: {planner.spent_last_hour()} of {planner.per_hour} "
                         "looks this hour")
        row = self.table.highlighted
        if row is not None:
            seen = "not seen yet" if row.looked_at is None \
                else f"seen {compact_age(row.looked_at, self.now())}"
            parts.append(f"{printable(row.name)[:40]}: {seen}")
            if row.problem:
                parts.append(f"\u26a0 {row.problem}")
        self.query_one("#board-status", TextLine).set_text(Text(" " + " \u00b7 ".join(parts)))

    # ----- keys ----------------------------------------------------------------------------

    @on(BoardTable.JobChosen)
    def _job_chosen(self, message: BoardTable.JobChosen) -> None:
        self.post_message(JobOpened(message.key))

    @on(BoardTable.JobHighlighted)
    def _job_highlighted(self) -> None:
        self._show_status()

    def action_open_highlighted(self) -> None:
        row = self.table.highlighted
        if row is not None:
            self.post_message(JobOpened(row.key))

    def action_filter(self) -> None:
        box = self.query_one("#board-filter", Input)
        box.display = True
        box.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#board-filter", Input)
        box.value = ""
        box.display = False
        self._state_filter = "all"
        self.table.focus()
        self._show()

    def action_state_filter(self, which: str) -> None:
        self._state_filter = which if which in STATE_FILTERS else "all"
        self._show()

    def action_sort(self) -> None:
        self._by_name = not self._by_name
        self._show()

    def action_mark_read(self) -> None:
        self.post_message(MarkRead())

    def action_refresh(self) -> None:
        row = self.table.highlighted
        if row is not None:
            self.scheduler.look_now(row.key)

    @on(Input.Changed, "#board-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._text_filter = event.value
        self._show()

    @on(Input.Submitted, "#board-filter")
    def _filter_submitted(self) -> None:
        self.table.focus()

    def _tick(self) -> None:
        self.scheduler.notice_time()
        board = self.scheduler.board
        if board is None or not self.is_current or hidden_under_opaque_screen(self):
            return
        self._ticks += 1
        now = self.now()
        if self._ticks % FULL_RENEW_TICKS == 0:
            # "in 3m", "12m ago", MISSED once a grace ends: they move by the minute.
            self._rows = board.summaries(now)
        else:
            # Each second only running jobs move: their duration and SLOW, nothing else.
            moved = tuple(with_live_parts(row, now) for row in self._rows)
            changed = {new.key: new for new, old in zip(moved, self._rows, strict=True)
                       if new is not old}
            self._rows = moved
            # Neither the order (state, latest activity) nor the counts move with a duration.
            self.table.replace_rows(changed)
            return
        self.table.show(self._shown(), self._unread())
        self._show_summary(len(self.table.rows))
        self._show_status()


@dataclass
class MarkRead(Message):
    """The user has seen the board's news."""
