"""The log viewer: one run's whole log, full screen, searchable, live while the run runs.

Opened with `l` on a run (the run list or the run detail). The lines come from a
`LogSession` (tui/watch/log_session.py) through the client the screen was given, so within the
app's budget: the newest page first, older pages as the view nears the top, and for an
active run the live tail. Its workers post what the session says (`LogSessionEvent`); the
handlers show it on the `LogLines` widget and the status line.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Header, Input

from ..api.client import NorthflankClient
from ..api.errors import NorthflankError
from ..api.models import JobRun
from ..formatting import printable
from ..messages import ApiFailed, EngineMessage, JobKey, LogSessionEvent
from ..toast import toast
from ..watch.events import FeedChanged
from ..watch.log_session import LogSession, LogUpdate, TailStatus
from ..widgets.log_lines import LogLines, ViewState
from ..widgets.log_paint import line_text
from ..widgets.safe_input import SafeInput
from ..widgets.text_line import TextLine
from .detail import MAX_COPY_CHARS, copyable_id
from .help import HelpScreen
from .log_save import safe_file_stem, save_folder, write_new_file

__all__ = ["LogViewerScreen", "tail_words"]

OLDER_RETRY = 5.0  # seconds before an older page that failed may be asked again
MAX_COPY_LINE = 16_384 + 64  # a log line is at most 16k characters (models.MAX_LOG_CHARS)


def tail_words(status: TailStatus, now: float) -> tuple[str, str]:
    """What the status line says of the tail, and how loud ("", "warning", "error")."""
    phase = status.phase
    if phase == "live":
        return "\u25cf live", ""
    if phase == "connecting":
        return "connecting to the live tail\u2026", ""
    if phase == "reconnecting":
        if status.retry_at is None:
            return "reconnecting\u2026", "warning"
        seconds = max(0, math.ceil(status.retry_at - now))
        return f"reconnecting in {seconds}s", "warning"
    if phase == "ended":
        if status.run_status is not None:
            loud = "error" if status.run_status == "FAILED" else ""
            return f"Run ended: {printable(status.run_status)} - tail stopped", loud
        return f"tail stopped: {printable(status.reason or 'no reason given')}", \
            "error" if status.error else ""
    if phase == "unavailable":
        return f"no live tail: {printable(status.reason or '')}", "warning"
    return "", ""


class LogViewerScreen(Screen[None]):
    """Full screen; Esc or q goes back (and stops the tail)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Back"),
        Binding("slash", "search", "Search"),
        Binding("n", "next_match", "Next", show=False),
        Binding("N", "previous_match", "Previous", show=False),
        Binding("t", "toggle_timestamps", "Times"),
        Binding("c", "toggle_containers", "Containers", show=False),
        Binding("w", "toggle_wrap", "Wrap"),
        Binding("s", "save", "Save"),
        Binding("r", "reload", "Reload", show=False),
        Binding("y", "copy_line", "Copy line", show=False),
        Binding("Y", "copy_run_id", "Copy id", show=False),
        Binding("question_mark", "help", "Help"),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "log-status--warning", "log-status--error", "log-status--dim", "log-status--new",
    }

    def __init__(
        self, client: NorthflankClient, key: JobKey, run: JobRun, *,
        now: Callable[[], datetime], session: LogSession | None = None,
    ) -> None:
        super().__init__()
        self.key = key
        self.run = run
        self.now = now
        self.session = session or LogSession(client, key.project_id, key.job_id, run, now=now)
        self._problem: str | None = None
        self._loaded = False
        self._view = ViewState(0, 0, True, 0, "")

    @property
    def log_lines(self) -> LogLines:
        return self.query_one(LogLines)

    @property
    def status_text(self) -> str:
        return self.query_one("#log-status", TextLine).text.plain

    def compose(self) -> ComposeResult:
        yield Header(icon="▤")
        yield LogLines(id="log-lines")
        yield TextLine(id="log-status")
        yield SafeInput(placeholder="search the loaded lines…  (Enter: go, Esc: cancel)",
                        id="log-search")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"log · {printable(self.run.run_name)}"
        self.query_one("#log-search").display = False
        self.log_lines.focus()
        self._show_status()
        # Only the reconnect countdown moves by itself; other ticks repaint nothing.
        self.set_interval(1.0, self._tick, name="log viewer tick")
        self._run_session()

    def on_unmount(self) -> None:
        # Popped: the tail ends (its socket closes); the workers are cancelled with the screen.
        self.session.stop()

    # ----- the session ----------------------------------------------------------------------

    @work(group="log-session", exclusive=True, exit_on_error=False)
    async def _run_session(self) -> None:
        try:
            self.post_message(LogSessionEvent(await self.session.start()))
        except NorthflankError as error:
            self.post_message(ApiFailed("logs", error, self.key))
            if not self.session.wants_tail:
                return  # (an active run's tail loads the newest page itself)
        async for event in self.session.follow():
            self.post_message(LogSessionEvent(event))

    @work(group="log-older", exclusive=False, exit_on_error=False)
    async def _load_older(self) -> None:
        try:
            update = await self.session.load_older()
        except NorthflankError as error:
            self.post_message(ApiFailed("older logs", error, self.key))
            return
        self.post_message(LogSessionEvent(update or LogUpdate(has_older=self.session.has_older)))

    def on_log_session_event(self, message: LogSessionEvent) -> None:
        event = message.event
        view = self.log_lines
        if isinstance(event, TailStatus):
            self._show_status()
            return
        self._loaded = True
        self._problem = None
        with self.app.batch_update():
            if event.reset is not None:
                view.set_lines(event.reset, has_older=event.has_older)
            if event.prepended or event.dropped_newest:
                view.add_older(event.prepended, dropped_newest=event.dropped_newest,
                               has_older=event.has_older)
            if event.appended or event.dropped_oldest:
                view.add_newer(event.appended, dropped_oldest=event.dropped_oldest)
            if not event.changed:
                view.set_older(event.has_older)
            self._show_status()

    def on_api_failed(self, message: ApiFailed) -> None:
        message.stop()
        self._problem = f"cannot load the {message.what}: {printable(str(message.error))}"
        if message.what == "logs":
            self._problem += " (r retries)"
        if message.what == "older logs":
            self.set_timer(OLDER_RETRY, lambda: self.log_lines.set_older(self.session.has_older))
        self._show_status()

    @on(LogLines.NearTop)
    def _near_top(self) -> None:
        if self.session.has_older and not self.session.loading_older:
            self._load_older()
            self._show_status()

    @on(LogLines.Changed)
    def _view_changed(self, message: LogLines.Changed) -> None:
        self._view = message.state
        self._show_status()

    def on_engine_message(self, message: EngineMessage) -> None:
        """The run list's poll goes on under this screen: it says when the run concludes."""
        event = message.event
        if isinstance(event, FeedChanged) and event.key == self.key:
            for run in event.updated_runs:
                if run.id == self.run.id:
                    self.run = run
                    self.session.note_run(run)

    # ----- the status line ------------------------------------------------------------------

    def _tick(self) -> None:
        if self.session.tail_status.phase == "reconnecting":
            self._show_status()

    def _show_status(self) -> None:
        parts: list[tuple[str, str]] = []
        session, view = self.session, self._view
        if not self._loaded and self._problem is None:
            parts.append(("loading the log\u2026", "dim"))
        elif self._loaded and not view.lines:
            parts.append(("no log lines yet" if self.run.is_active
                          else "no log lines in the run's window", "dim"))
        elif self._loaded:
            where = "loading older\u2026" if session.loading_older else (
                "more above" if session.has_older else "from the start")
            parts.append((f"{view.lines:,} lines ({where})", ""))
        if self._problem:  # (early: a narrow status line cuts from the end)
            parts.append((self._problem, "error"))
        if view.unseen:
            parts.append((f"{view.unseen:,} new line{'s' * (view.unseen != 1)} \u2193 (End)",
                          "new"))
        words, loud = tail_words(session.tail_status, session.clock())
        if words:
            parts.append((words, loud))
        elif not self.run.is_active:
            parts.append((f"run {printable(self.run.raw_status)}", "dim"))
        if view.matches:
            query = printable(self.log_lines.matches.query)
            parts.append((f"/{query} {view.matches}", ""))
        if view.lines:
            parts.append((f"line {view.cursor:,}", "dim"))
        text = Text(" ")
        for index, (words, loud) in enumerate(parts):
            if index:
                text.append(" \u00b7 ", self.get_component_rich_style("log-status--dim",
                                                                      partial=True))
            style = self.get_component_rich_style(f"log-status--{loud}", partial=True) \
                if loud else ""
            text.append(words, style)
        self.query_one("#log-status", TextLine).set_text(text)

    # ----- keys -----------------------------------------------------------------------------

    def action_close(self) -> None:
        search = self.query_one("#log-search", Input)
        if search.has_focus:
            search.display = False
            self.log_lines.focus()
            return
        self.app.pop_screen()

    def action_reload(self) -> None:
        """`r`: the newest page again (after a failed load, or to see a concluded run's
        last lines); a live tail already shows them."""
        if self.session.tailing:
            toast(self, "The live tail is showing new lines as they come", title="Reload",
                  timeout=3)
            return
        self._problem = None
        self._show_status()
        self._run_session()

    def action_search(self) -> None:
        search = self.query_one("#log-search", Input)
        search.display = True
        search.value = self.log_lines.matches.query
        search.focus()

    @on(Input.Submitted, "#log-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.input.display = False
        view = self.log_lines
        view.focus()
        count = view.search(event.value)
        if event.value and not count:
            toast(self, f"Not found in the {len(view.lines):,} loaded lines: {event.value}",
                  title="Search", severity="warning", timeout=3)

    def action_next_match(self) -> None:
        self._step(True)

    def action_previous_match(self) -> None:
        self._step(False)

    def _step(self, forward: bool) -> None:
        view = self.log_lines
        if not view.matches.needle:
            toast(self, "Search first with /", title="Search", timeout=2)
        elif not view.next_match(forward):
            toast(self, f"No line holds {view.matches.query}", title="Search", timeout=2)

    def action_toggle_timestamps(self) -> None:
        self.log_lines.set_options(timestamps=not self.log_lines.timestamps)

    def action_toggle_containers(self) -> None:
        self.log_lines.set_options(containers=not self.log_lines.containers)

    def action_toggle_wrap(self) -> None:
        self.log_lines.set_options(wrap=not self.log_lines.wrap)
        self.notify(f"Wrap {'on' if self.log_lines.wrap else 'off'}", timeout=2)

    def action_copy_line(self) -> None:
        line = self.log_lines.cursor_line
        if line is None:
            toast(self, "No line to copy yet", title="Copy", timeout=2)
            return
        text = line_text(line)[:MAX_COPY_LINE]  # made visible: pasted into a shell as seen
        self.app.copy_to_clipboard(text)
        toast(self, f"Copied line {self.log_lines.cursor + 1:,} ({len(text):,} characters)",
              title="Copy", timeout=3)

    def action_copy_run_id(self) -> None:
        run_id = self.run.id
        if not copyable_id(run_id):
            toast(self, f"Not copied: the run id is not 1-{MAX_COPY_CHARS} visible characters",
                  title="Run id not copied", severity="warning", timeout=6)
            return
        self.app.copy_to_clipboard(run_id)
        toast(self, f"Copied run id {run_id}", timeout=3)

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen("Log viewer"))

    def action_save(self) -> None:
        self._save()

    @work(group="log-save", exclusive=False, exit_on_error=False)
    async def _save(self) -> None:
        lines = tuple(self.log_lines.lines)
        if not lines:
            toast(self, "No lines loaded yet: nothing to save", title="Save", timeout=3)
            return
        folder = save_folder()
        stem = safe_file_stem(self.run.run_name)
        try:
            # A thread: writing a large log must not stall the screen.
            path = await asyncio.to_thread(write_new_file, folder, stem, lines)
        except OSError as error:
            toast(self, f"Cannot save the log in {folder}: {error.strerror or error}",
                  title="Save", severity="error", timeout=8)
            return
        toast(self, f"Saved {len(lines):,} lines to {path}", title="Log saved", timeout=8)
