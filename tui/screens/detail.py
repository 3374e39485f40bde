"""Run detail: every field of one run, and its last log lines (shown literally)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Log, Static

from ..api.client import NorthflankClient
from ..api.errors import NorthflankError
from ..api.models import JobRun
from ..api.run_models import run_log_window
from ..formatting import (
    format_age_words,
    format_both_times,
    format_clock,
    format_duration,
    printable,
)
from ..messages import ApiFailed, JobKey, LogsLoaded
from ..toast import toast
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
        now: Callable[[], datetime],
    ) -> None:
        super().__init__()
        self.client = client
        self.key = key
        self.run = run
        self.now = now

    def compose(self) -> ComposeResult:
        yield Header(icon="▤")
        with Vertical(id="detail-body"):
            yield Static(id="detail-fields")
            # Its own line: the per-second tick of a running run repaints the digits that
            # changed, not the whole table.
            yield TextLine(id="detail-duration")
            yield Static(Text("Logs: loading…"), id="logs-title")
            yield Log(id="logs", highlight=False, auto_scroll=True)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"run {printable(self.run.run_name)}"
        self._show_fields()
        self.set_interval(1.0, self._tick, name="detail tick")
        self.load_logs()

    def _tick(self) -> None:
        if self.run.is_active:
            self._show_duration(run_fields(self.run, self.now())[-1][1])

    def _show_fields(self) -> None:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True, min_width=LABEL_WIDTH)
        table.add_column()
        plain, style_class = badge_text(self.run.status, self.run.raw_status)
        badge = Text(plain, self.get_component_rich_style(style_class, partial=True))
        table.add_row("", badge)
        *fields, (_label, duration) = run_fields(self.run, self.now())
        for label, value in fields:
            table.add_row(label, Text(value))
        self.query_one("#detail-fields", Static).update(table)
        self._show_duration(duration)

    def _show_duration(self, value: str) -> None:
        label = Text(DURATION_LABEL.ljust(LABEL_WIDTH), "bold")
        self.query_one("#detail-duration", TextLine).set_text(Text.assemble(label, "  ", value))

    def update_run(self, run: JobRun) -> None:
        """The main screen's poll saw this run change."""
        if run.id == self.run.id and run != self.run:  # the same run again repaints nothing
            self.run = run
            self._show_fields()

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
