"""The app's settings as one frozen value, built by the CLI and injected into the App."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AppOptions:
    """What the user asked for on the command line (no secrets here)."""

    host_label: str = "api.northflank.com"
    project: str | None = None
    job: str | None = None
    refresh: float = 5.0
    idle_interval: float = 30.0
    page_size: int = 50
    read_only: bool = False
    bell: bool = False
    tick: float = 1.0
    tty_check: float = 1.0  # seconds between checks that the terminal is still there
