"""Run detail: every field of one run, its containers (why it failed), its CPU and memory
(what it used), and its last log lines (shown literally).

Layout: compact fields, then the containers and two one-line charts, then the log; at 80x24
the log keeps at least 8 lines. From 140 columns the fields and the charts stand side by
side, and from 36 lines the charts grow taller (`-wide`, `-tall` on the screen).

Containers and metrics come through the same client (and so the same request gate and
budget) as the logs: once for a concluded run, every minute or so for a running one
(`watch.run_info.Cadence`, on the app's clock), once more when it concludes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import ClassVar, Literal

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Log, Static

from ..api.client import NorthflankClient
from ..api.errors import ForbiddenError, NorthflankError
from ..api.models import JobRun
from ..api.run_models import run_log_window
from ..formatting import (
    TimeMode,
    format_age_words,
    format_both_times,
    format_clock,
    format_duration,
    printable,
)
from ..messages import (
    ApiFailed,
    ContainersLoaded,
    JobKey,
    LogsLoaded,
    MetricsLoaded,
    RunInfoFailed,
)
from ..toast import toast
from ..watch.run_info import RUNNING_INTERVAL, Cadence
from ..widgets.containers import RunContainers
from ..widgets.run_usage import RunUsage
from ..widgets.status_badge import badge_text
from ..widgets.text_line import TextLine

# Copied only when it is this short and has nothing but visible characters: OSC 52 carries
# the text as it is, and a control character on the clipboard is typed into the shell the
# user pastes it into. Run ids are UUIDs (36 characters).
MAX_COPY_CHARS = 64


def copyable_id(run_id: str) -> bool:
    """True when a run id may go to the clipboard: 1-64 visible characters, no whitespace."""
    return (
        0 < len(run_id) <= MAX_COPY_CHARS
        and printable(run_id) == run_id
        and not any(char.isspace() for char in run_id)
    )


def run_fields(run: JobRun, now: datetime) -> list[tuple[str, str]]:
    """(label, value) for every field of the run, as plain text; the duration last."""
    return [
        ("id", printable(run.id)),
        ("runName", printable(run.run_name)),
        ("status", printable(run.raw_status)),
        ("active", str(int(run.active))),
        ("concluded", str(run.concluded).lower()),
        ("succeeded", str(int(run.succeeded))),
        ("failed", str(int(run.failed))),
        ("completions", str(run.completions)),
        ("backoffLimit", str(run.backoff_limit)),
        ("startedAt", format_both_times(run.started_at)),
        ("concludedAt", format_both_times(run.concluded_at)),
        ("started", format_age_words(run.started_at, now)),
        ("duration", format_duration(run.duration(now))
         + ("  (running)" if run.is_active else "")),
    ]


LABEL_WIDTH = len("backoffLimit")  # the longest label: the value column starts after it
DURATION_LABEL = "duration"
# The fields as rows of (label value) pairs, the first label in the label column: seven
# lines with the duration instead of fourteen, so that the log keeps its room at 80x24.
FIELD_ROWS: tuple[tuple[str, ...], ...] = (
    ("runName",),
    ("id",),
    ("status", "concluded", "active", "succeeded", "failed"),
    ("completions", "backoffLimit", "started"),
    ("startedAt",),
    ("concludedAt",),
)
PAIR_GAP = "   "
WIDE_WIDTH = 140  # from here the fields and the charts stand side by side
TALL_HEIGHT = 36  # from here the charts are more than a line high
# What each part needs of the token (jobs-logs-metrics.md §0), said when a 403 comes back.
# ("Project > Jobs > " goes before each: left out so that the line fits 80 columns.)
PERMISSIONS = {
    "containers": "Deployment > View Instance Logs",
    "metrics": "Deployment > View Instance Metrics",
}


def failure_text(what: str, error: NorthflankError, wait: float | None, *,
                 shown: bool = False) -> str:
    """One line for a part that could not load (its label says which): the error,
    sanitised, or on a 403 what the token lacks; and when it is tried again. `shown`: an
    earlier answer is on screen and stays ("not updated: ...")."""
    if isinstance(error, ForbiddenError) and what in PERMISSIONS:
        text = f"403: the token needs \u201c{PERMISSIONS[what]}\u201d"
    else:
        text = f"{'not updated' if shown else 'cannot load them'}: {printable(str(error))}"
    if wait is not None:
        text += f" (again in {max(1, round(wait / 60))} min)" if wait >= 90 \
            else f" (again in {max(1, round(wait))} s)"
    return text


class RunDetailScreen(Screen[None]):
    """Pushed by Enter on a run; Escape goes back."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("c", "copy_id", "Copy id"),
        Binding("l", "open_log", "Log viewer"),
        Binding("r", "reload_logs", "Reload logs"),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "run-list--success", "run-list--running", "run-list--failed", "run-list--unknown",
    }

    def __init__(
        self, client: NorthflankClient, key: JobKey, run: JobRun, *,
        now: Callable[[], datetime], time_mode: TimeMode = TimeMode.RELATIVE,
    ) -> None:
        super().__init__()
        self.client = client
        self.key = key
        self.run = run
        self.now = now
        self.time_mode = time_mode
        self.cadence: dict[Literal["containers", "metrics"], Cadence] = {
            "containers": Cadence(), "metrics": Cadence(),
        }

    def compose(self) -> ComposeResult:
        yield Header(icon="▤")
        with Vertical(id="detail-body"):
            with Container(id="detail-top"):
                with Vertical(id="detail-run"):
                    yield Static(id="detail-fields")
                    # Its own line: the per-second tick of a running run repaints the digits
                    # that changed, not the whole table.
                    yield TextLine(id="detail-duration")
                with Vertical(id="detail-info"):
                    yield RunContainers(id="detail-containers", mode=self.time_mode)
                    yield RunUsage(id="detail-usage", mode=self.time_mode)
            yield Static(Text("Logs: loading…"), id="logs-title")
            yield Log(id="logs", highlight=False, auto_scroll=True)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"run {printable(self.run.run_name)}"
        self._fit(self.app.size.width, self.app.size.height)
        self._show_fields()
        self.set_interval(1.0, self._tick, name="detail tick")
        self.load_logs()
        self.ask_run_info()

    def _tick(self) -> None:
        if self.run.is_active:
            self._show_duration(run_fields(self.run, self.now())[-1][1])
        self.query_one(RunContainers).tick(self.now())
        self.ask_run_info()

    def on_resize(self) -> None:
        self._fit(self.app.size.width, self.app.size.height)

    def _fit(self, width: int, height: int) -> None:
        """Side by side from WIDE_WIDTH columns, taller charts from TALL_HEIGHT lines; the
        containers take at most what leaves the log 8 lines."""
        self.set_class(width >= WIDE_WIDTH, "-wide")
        self.set_class(height >= TALL_HEIGHT, "-tall")
        # 24 lines: header, 7 of fields, 2 of charts, the log's title, border and scroll bar,
        # 8 log lines and the footer leave one for the containers (more runs on it).
        self.query_one(RunContainers).set_max_lines(max(1, min(6, height - 23)))

    def _show_fields(self) -> None:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True, min_width=LABEL_WIDTH)
        table.add_column()
        plain, style_class = badge_text(self.run.status, self.run.raw_status)
        badge = Text(plain, self.get_component_rich_style(style_class, partial=True))
        *fields, (_label, duration) = run_fields(self.run, self.now())
        values = dict(fields)
        for labels in FIELD_ROWS:
            first, *rest = labels
            value = Text(values[first])
            for label in rest:
                value.append(PAIR_GAP)
                value.append(label, "bold")
                value.append(" " + values[label])
            if first == "runName":
                value.append(PAIR_GAP)
                value.append_text(badge)
            table.add_row(first, value)
        self.query_one("#detail-fields", Static).update(table)
        self._show_duration(duration)

    def _show_duration(self, value: str) -> None:
        label = Text(DURATION_LABEL.ljust(LABEL_WIDTH), "bold")
        self.query_one("#detail-duration", TextLine).set_text(Text.assemble(label, "  ", value))

    def update_run(self, run: JobRun) -> None:
        """The main screen's poll saw this run change."""
        if run.id == self.run.id and run != self.run:  # the same run again repaints nothing
            ended = self.run.is_active and not run.is_active
            self.run = run
            self._show_fields()
            if ended:  # its final containers and usage, once
                for cadence in self.cadence.values():
                    cadence.concluded()
                self.ask_run_info()

    # ----- containers and metrics -----------------------------------------------------------

    def ask_run_info(self) -> None:
        """Start whichever of the containers and metrics requests is due (see Cadence)."""
        now = self.now()
        if self.cadence["containers"].due(now):
            self.cadence["containers"].started()
            self.load_containers(self.run)
        if self.cadence["metrics"].due(now):
            self.cadence["metrics"].started()
            self.load_metrics(self.run)

    def _interval(self) -> float:
        """The running run's cadence, stretched when the budget share would not last: the
        two requests of a round count against the same budget as every other."""
        return max(RUNNING_INTERVAL, self.client.budget.interval_for(2, RUNNING_INTERVAL))

    @work(group="containers", exit_on_error=False)
    async def load_containers(self, run: JobRun) -> None:
        concluded = not run.is_active
        try:
            containers = await self.client.list_run_containers(
                self.key.project_id, self.key.job_id, run.id)
        except NorthflankError as error:
            self.post_message(RunInfoFailed("containers", run.id, error))
            return
        self.post_message(ContainersLoaded(run.id, containers, concluded))

    @work(group="metrics", exit_on_error=False)
    async def load_metrics(self, run: JobRun) -> None:
        concluded = not run.is_active
        try:
            # The run's own window, as for its logs: from its start to its end (or now).
            # (The app's clock: the client's server time, or the frozen one of a test.)
            window = run_log_window(run, self.now())
            metrics = await self.client.get_run_metrics(
                self.key.project_id, self.key.job_id, run.id, window, ("cpu", "memory"))
        except NorthflankError as error:
            self.post_message(RunInfoFailed("metrics", run.id, error))
            return
        self.post_message(MetricsLoaded(run.id, metrics, window, concluded))

    def on_containers_loaded(self, message: ContainersLoaded) -> None:
        if message.run_id != self.run.id:
            return
        now = self.now()
        self.cadence["containers"].succeeded(now, concluded=message.concluded,
                                             interval=self._interval())
        self.query_one(RunContainers).show(message.containers, now)

    def on_metrics_loaded(self, message: MetricsLoaded) -> None:
        if message.run_id != self.run.id:
            return
        now = self.now()
        self.cadence["metrics"].succeeded(now, concluded=message.concluded,
                                          interval=self._interval())
        run = self.run
        end = run.concluded_at if message.concluded and run.concluded_at is not None \
            else (message.window.end or now)
        self.query_one(RunUsage).show(message.metrics, run.started_at, end, now)

    def on_run_info_failed(self, message: RunInfoFailed) -> None:
        if message.run_id != self.run.id:
            return
        wait = self.cadence[message.what].failed(self.now(), message.error, self._interval())
        if message.what == "containers":
            containers = self.query_one(RunContainers)
            containers.failed(failure_text(message.what, message.error, wait,
                                           shown=containers.containers is not None))
        else:
            usage = self.query_one(RunUsage)
            usage.failed(failure_text(message.what, message.error, wait,
                                      shown=usage.shown is not None))

    # ----- logs ---------------------------------------------------------------------------

    @work(group="logs", exclusive=True, exit_on_error=False)
    async def load_logs(self) -> None:
        try:
            # The run's own window: without one the API answers with the last 30 minutes
            # only, and a run that ended an hour ago would show no logs at all.
            window = run_log_window(self.run, self.client.server_now())
            lines = await self.client.get_run_logs(
                self.key.project_id, self.key.job_id, self.run.id, line_limit=200,
                window=window,
            )
        except NorthflankError as error:
            self.post_message(ApiFailed("logs", error, self.key))
            return
        self.post_message(LogsLoaded(self.run.id, lines))

    def on_logs_loaded(self, message: LogsLoaded) -> None:
        log = self.query_one(Log)
        log.clear()
        title = self.query_one("#logs-title", Static)
        if not message.lines:
            title.update(Text("Logs: none for this run"))
            return
        title.update(Text(f"Logs: last {len(message.lines)} lines"))
        log.write_lines(
            f"{format_clock(line.ts)}  {printable(line.log)}"
            for line in message.lines
        )

    def on_api_failed(self, message: ApiFailed) -> None:
        self.query_one("#logs-title", Static).update(
            Text(f"Logs: cannot load them: {printable(str(message.error))}  (r retries)")
        )

    def action_open_log(self) -> None:
        from .log_viewer import LogViewerScreen

        self.app.push_screen(LogViewerScreen(self.client, self.key, self.run, now=self.now))

    def action_reload_logs(self) -> None:
        self.query_one("#logs-title", Static).update(Text("Logs: loading…"))
        self.load_logs()

    def action_copy_id(self) -> None:
        run_id = self.run.id
        if not copyable_id(run_id):
            if not 0 < len(run_id) <= MAX_COPY_CHARS:
                why = f"it is {len(run_id):,} characters long (at most {MAX_COPY_CHARS} are copied)"
            else:
                why = "it holds control or blank characters, which a shell could act on when pasted"
            toast(self, f"Not copied: {why}. The id is shown above, made visible.",
                  title="Run id not copied", severity="warning", timeout=6)
            return
        self.app.copy_to_clipboard(run_id)
        toast(self, f"Copied run id {run_id}", timeout=3)
