"""The Textual messages of the app: small dataclasses.

Engine events reach the screens wrapped in one `EngineMessage`; the detail screen's own log
loads have theirs, and the log viewer's session its `LogSessionEvent`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from textual.message import Message

from .api.errors import NorthflankError
from .api.models import LogLine
from .api.run_models import Container, LogWindow, RunMetrics
from .watch.events import Event, JobKey
from .watch.log_session import SessionEvent

__all__ = [
    "ApiFailed", "ContainersLoaded", "EngineMessage", "JobKey", "LogSessionEvent", "LogsLoaded",
    "MetricsLoaded", "RunInfoFailed",
]


@dataclass
class EngineMessage(Message, bubble=False):
    """Something the watch engine said (a feed changed, a page of jobs arrived, …)."""

    event: Event


@dataclass
class ApiFailed(Message):
    """A call made by a screen itself failed (a run's logs; the viewer's older page)."""

    what: Literal["logs", "older logs"]
    error: NorthflankError
    key: JobKey | None = None


@dataclass
class LogsLoaded(Message):
    """A run's log lines arrived (for the detail screen)."""

    run_id: str
    lines: list[LogLine]


@dataclass
class ContainersLoaded(Message):
    """A run's containers arrived (for the detail screen). `concluded`: the run had
    concluded when they were asked for (its last word)."""

    run_id: str
    containers: list[Container]
    concluded: bool


@dataclass
class MetricsLoaded(Message):
    """A run's CPU and memory over `window` arrived (for the detail screen)."""

    run_id: str
    metrics: RunMetrics
    window: LogWindow
    concluded: bool


@dataclass
class RunInfoFailed(Message):
    """Asking for a run's containers or metrics failed (the detail says so in that part)."""

    what: Literal["containers", "metrics"]
    run_id: str
    error: NorthflankError


@dataclass
class LogSessionEvent(Message, bubble=False):
    """What a log viewer's session said: lines came or went (`LogUpdate`), or the live
    tail's state (`TailStatus`). Posted by the viewer's workers, in order."""

    event: SessionEvent
