"""The app's settings as one frozen value, built by the CLI and injected into the App."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Each default is written once, here (the CLI, the engine and the budget read them).
DEFAULT_REFRESH = 5.0  # seconds between polls of a job with active runs
IDLE_INTERVAL = 30.0  # seconds between polls of a job with none
DEFAULT_PAGE_SIZE = 50
DEFAULT_BUDGET_PERCENT = 50.0  # of the account's hourly quota


@dataclass(frozen=True)
class AppOptions:
    """What the user asked for on the command line (no secrets here)."""

    host_label: str = "api.northflank.com"
    project: str | None = None
    job: str | None = None
    refresh: float = DEFAULT_REFRESH
    idle_interval: float = IDLE_INTERVAL
    page_size: int = DEFAULT_PAGE_SIZE
    read_only: bool = False
    bell: bool = False
    board: bool = False  # open on the status board
    board_project: str | None = None  # the board shows this project's jobs; None: all
    notify: bool = False  # desktop notifications (OSC 9 / OSC 777) for the board's news
    grace: float | None = None  # minutes a cron run may be late; None: each schedule's own
    cache_dir: Path | None = None  # where the job index is cached; None: in memory only
    tick: float = 1.0
    tty_check: float = 1.0  # seconds between checks that the terminal is still there
    time_mode: str = "relative"  # how the run list shows start times (tui.formatting.TimeMode)
    theme: str | None = None  # a Textual theme; None: Textual's default
    context: str | None = None  # the Northflank CLI context in use (its badge in the header)
