"""The main screen: job picker, run list, status line, and the keys that act on them.

What is watched, and when it is asked for, is the engine's (`tui/watch`); `JobScreen`
(job_screen.py) opens jobs and shows what the engine says; this screen lays out the widgets
and binds the keys.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Footer, Header, Input

from ..api.models import RunStatus
from ..formatting import TimeMode, printable
from ..options import AppOptions
from ..watch.scheduler import Scheduler
from ..widgets.job_picker import JobPicker
from ..widgets.run_list import RunList
from ..widgets.run_rows import wanted_width
from ..widgets.safe_input import SafeInput
from ..widgets.status_line import StatusLine
from .job_screen import JobScreen

NARROW_WIDTH = 100
# The picker is as wide as its labels, at least this (on a narrow screen the second), and
# at most PICKER_SHARE of the screen and (on a wide one) what leaves the runs every column
# with room for a name (run_rows.wanted_width): the labels are cut before the runs are.
PICKER_WIDTH = 34
PICKER_WIDTH_NARROW = 28
PICKER_SHARE = 0.4

STATUS_FILTERS: dict[str, frozenset[RunStatus] | None] = {
    "all": None,
    "running": frozenset({RunStatus.RUNNING}),
    "failed": frozenset({RunStatus.FAILED}),
    "succeeded": frozenset({RunStatus.SUCCESS}),
}


class MainScreen(JobScreen):
    """Picker on the left, runs on the right, status line and key bar below."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "refresh", "Refresh", id="refresh"),
        Binding("slash", "filter", "Filter", id="filter"),
        Binding("t", "time_mode", "Time", id="time_mode"),
        Binding("1", "status_filter('all')", "All", show=False, id="filter_all"),
        Binding("2", "status_filter('running')", "Running", show=False, id="filter_running"),
        Binding("3", "status_filter('failed')", "Failed", show=False, id="filter_failed"),
        Binding("4", "status_filter('succeeded')", "Succeeded", show=False,
                id="filter_succeeded"),
        Binding("p", "toggle_picker", "Jobs", id="toggle_picker"),
        Binding("b", "app.board", "Board", id="board"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("s", "start_run", "Start run", show=False, id="start_run"),
        Binding("x", "abort_run", "Abort run", show=False, id="abort_run"),
    ]

    def __init__(
        self, scheduler: Scheduler, options: AppOptions, *, now: Callable[[], datetime]
    ) -> None:
        super().__init__(scheduler, options, now=now)
        self._status_filter = "all"
        self._text_filter = ""

    # ----- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header(icon="▤")
        with Horizontal(id="body"):
            yield JobPicker(id="picker")
            with Vertical(id="runs-pane"):
                yield SafeInput(placeholder="filter runs by name…  (Esc clears)",
                                id="run-filter")
                yield RunList(now=self.now, id="run-list")
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = printable(self.options.host_label)
        self.query_one("#run-filter").display = False
        self.run_list.time_mode = TimeMode(self.options.time_mode)
        self.set_class(self.app.size.width < NARROW_WIDTH, "-narrow")
        self._fit_picker()
        self.scheduler.load_projects()
        if self.options.project and self.options.job:
            self.open_job(self.options.project, self.options.job)
            self.run_list.focus()
        else:
            self.picker.job_tree.focus()
        self.set_interval(self.options.tick, self._tick, name="tick")

    def _fit_picker(self) -> None:
        width = self.app.size.width
        most = int(width * PICKER_SHARE)
        if self.has_class("-narrow"):
            # Shown to choose a job, then hidden: the runs have no columns to keep here.
            self.picker.fit_width(PICKER_WIDTH_NARROW, most)
            return
        runs = wanted_width() + self.run_list.styles.scrollbar_size_vertical
        self.picker.fit_width(PICKER_WIDTH, min(most, width - runs))

    def on_resize(self) -> None:
        narrow = self.app.size.width < NARROW_WIDTH
        if narrow != self.has_class("-narrow"):
            self.set_class(narrow, "-narrow")
            # Narrow terminals give the runs the whole width once a job is open; `p` shows
            # the picker again.
            self.picker.display = not (narrow and self.key is not None)
            if not self.picker.display and self.picker.has_focus_within:
                self.run_list.focus()  # a hidden picker must not keep the keys
        self._fit_picker()

    def _update_title(self) -> None:
        super()._update_title()
        key = self.key
        if key is not None:
            # The ids the command line takes (`nf-runs runs PROJECT JOB`), there to copy.
            self.query_one("#runs-pane").border_title = Content(
                f" project {printable(key.project_id)} · job {printable(key.job_id)} ")

    # ----- what the user chooses ------------------------------------------------------------

    @on(JobPicker.JobChosen)
    def _job_chosen(self, message: JobPicker.JobChosen) -> None:
        job = message.job
        self.open_job(job.project_id, job.id)
        if self.has_class("-narrow"):
            self.picker.display = False
        self.run_list.focus()

    # ----- actions --------------------------------------------------------------------------

    def action_refresh(self) -> None:
        if self.key is None:
            self.scheduler.load_projects()
            return
        self.poll_now()

    def action_time_mode(self) -> None:
        run_list = self.run_list
        run_list.time_mode = run_list.time_mode.next()
        self.notify(f"Times: {run_list.time_mode.value}", timeout=2)
        remember = getattr(self.app, "time_mode_changed", None)
        if callable(remember):
            remember(run_list.time_mode.value)  # kept in settings.toml

    def action_filter(self) -> None:
        """`/`: filter what has the keys: the jobs in the picker, else the runs."""
        if self.picker.display and self.picker.has_focus_within:
            self.picker.query_one("#job-filter", Input).focus()
            return
        run_filter = self.query_one("#run-filter", Input)
        run_filter.display = True
        run_filter.focus()

    def action_clear_filter(self) -> None:
        """Esc: stop the walk to the oldest run; else clear the run filter; with none, back
        to the board (if it was opened)."""
        if self.stop_walk():
            return
        run_filter = self.query_one("#run-filter", Input)
        back_to_board = getattr(self.app, "action_board", None)
        if not run_filter.display and not run_filter.value and callable(back_to_board) \
                and getattr(self.app, "board_open", False):
            back_to_board()
            return
        if run_filter.value:
            run_filter.value = ""
        run_filter.display = False
        self.run_list.focus()

    def action_status_filter(self, which: str) -> None:
        self._status_filter = which
        self._apply_filter()

    def action_toggle_picker(self) -> None:
        """`p`: go to the job picker (showing it if hidden); from the picker, hide it."""
        picker = self.picker
        if picker.display and not picker.has_focus_within:
            picker.job_tree.focus()  # on a wide screen it is already shown: go there
            return
        picker.display = not picker.display
        if picker.display:
            picker.job_tree.focus()
        else:
            self.run_list.focus()

    def action_start_run(self) -> None:
        self.run_actions.start(self.key, self.job)

    def action_abort_run(self) -> None:
        self.run_actions.abort(self.key, self.run_list.highlighted_run)

    @on(Input.Changed, "#run-filter")
    def _run_filter_changed(self, event: Input.Changed) -> None:
        self._text_filter = event.value
        self._apply_filter()

    @on(Input.Submitted, "#run-filter")
    def _run_filter_submitted(self) -> None:
        self.run_list.focus()

    def _apply_filter(self) -> None:
        self.run_list.set_filter(self._text_filter, STATUS_FILTERS[self._status_filter])
        label = self._text_filter
        if self._status_filter != "all":
            label = f"{self._status_filter} {label}".strip()
        self.status.update_state(filter_text=label)
        self._refresh_status()

    @on(RunList.RunSelected)
    def _run_selected(self, message: RunList.RunSelected) -> None:
        if self.key is None:
            return
        from .detail import RunDetailScreen

        self.app.push_screen(
            RunDetailScreen(self.scheduler.client, self.key, message.run, now=self.now,
                            time_mode=self.run_list.time_mode)
        )


__all__ = ["STATUS_FILTERS", "MainScreen", "TimeMode"]
