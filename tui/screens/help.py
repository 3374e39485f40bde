"""The help screen: every key nf-runs answers to (a test checks it against the bindings)."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: list[tuple[str, str, list[tuple[str, str]]]] = [
    ("Runs", "", [
        ("↑ ↓  j k", "move the cursor"),
        ("PgUp PgDn  Home End  g G", "page, first, oldest (End/G loads every older page; "
                                     "Esc stops)"),
        ("Enter", "run detail: fields, containers, CPU and memory, last log lines"),
        ("l", "the run's whole log, full screen (live while the run runs)"),
        ("r", "refresh now"),
        ("t", "times: relative, local, UTC"),
        ("/", "filter runs by name (Esc clears)"),
        ("1 2 3 4", "show all, running, failed, succeeded"),
        ("s", "start a run of this job (asks first; not with --read-only)"),
        ("x", "abort the highlighted running run (asks first; not with --read-only)"),
        ("b  Esc", "the status board (Esc: when no filter is open)"),
    ]),
    ("Board", "", [
        ("↑ ↓  j k  PgUp PgDn  g G", "move the cursor"),
        ("Enter  b", "the highlighted job's runs (Esc or b comes back)"),
        ("/", "filter jobs by name or id (Esc clears)"),
        ("1 2 3 4 5", "show all, failing, missed, running, ok"),
        ("o", "sort by attention (failing, missed, running, the rest) or by name"),
        ("a", "mark the board's news read (the • marks and the header's counter)"),
        ("r", "look at the highlighted job now"),
    ]),
    ("Jobs", "", [
        ("p", "go to the job picker; again: hide it"),
        ("Tab", "move between the picker, its filter and the runs"),
        ("Enter", "open a project, watch a job"),
        ("Ctrl+P", "command palette: jump to a job, switch theme"),
    ]),
    ("Run detail", "", [
        ("c", "copy the run id (OSC 52: works over SSH; in tmux needs "
              "'set -g set-clipboard on')"),
        ("l", "the log viewer"),
        ("r", "reload the last log lines"),
        ("Esc", "back to the runs"),
    ]),
    ("Log viewer", "", [
        ("↑ ↓  j k  PgUp PgDn", "move the current line (older lines load at the top)"),
        ("Home End  g G", "the first or last loaded line (End: follow new lines again)"),
        ("← →", "scroll long lines sideways (without wrap)"),
        ("/", "search the loaded lines (Enter: go, Esc: cancel)"),
        ("n N", "next, previous match (the status line counts them: 3/17)"),
        ("t", "show or hide the times (UTC)"),
        ("c", "show or hide the container names"),
        ("w", "wrap long lines or cut them"),
        ("s", "save the loaded lines to a file (~/Downloads, else here; never overwrites)"),
        ("r", "load the newest lines again (a failed load; not while live)"),
        ("y", "copy the current line (OSC 52)"),
        ("Y", "copy the run id (OSC 52)"),
        ("Esc  q", "back (the live tail stops)"),
    ]),
    ("Anywhere", "", [
        ("?", "this help"),
        ("q", "quit"),
    ]),
]


def help_table(first: str | None = None) -> Table:
    """Every key, by section; the `first` section (the screen the help was opened on) on top."""
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True, style="bold")
    table.add_column()
    sections = sorted(KEYS, key=lambda section: section[0] != first)
    for title, _, keys in sections:
        table.add_row(Text(title, style="underline"), "")
        for key, what in keys:
            table.add_row(key, what)
        table.add_row("", "")
    table.add_row(
        "Status line",
        "runs loaded · refresh age · poll interval · API requests left of the hourly "
        "quota · problems (offline, rate limited) with the retry countdown",
    )
    table.add_row(
        "Board",
        "a row per job: state (✘ FAILING, ◷ MISSED: a cron run that did not start within "
        "its grace, ● RUNNING, ✔ OK, ‖ SUSPENDED) · schedule · last run · duration (SLOW "
        "past the 90th percentile of recent runs) · streak · the last 20 runs (newest "
        "right) · next fire · when it was last looked at",
    )
    return table


class HelpScreen(ModalScreen[None]):
    """Modal list of keys; Esc, q or ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close"),
    ]

    def __init__(self, first: str | None = None) -> None:
        super().__init__()
        self._first = first

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(Text("nf-runs keys"), id="help-title")
            yield Static(help_table(self._first), id="help-keys")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
