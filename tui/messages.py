"""Every message the workers post to the widgets, in one place."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from .api.errors import NorthflankError
from .api.models import Job, JobRun, LogLine, Page, Project


@dataclass(frozen=True, slots=True)
class JobKey:
    """Which job's runs are on screen."""

    project_id: str
    job_id: str


class ProjectsLoaded(Message):
    """A page of projects arrived."""

    def __init__(self, page: Page[Project], first: bool) -> None:
        super().__init__()
        self.page = page
        self.first = first


class JobsLoaded(Message):
    """A page of a project's jobs arrived."""

    def __init__(self, project_id: str, page: Page[Job], first: bool) -> None:
        super().__init__()
        self.project_id = project_id
        self.page = page
        self.first = first


class RunsPageLoaded(Message):
    """A page of older runs arrived (the first page of a job, or the next one)."""

    def __init__(self, key: JobKey, page: Page[JobRun], first: bool) -> None:
        super().__init__()
        self.key = key
        self.page = page
        self.first = first


class RunsPolled(Message):
    """A poll finished: the fresh head of the list and the active runs fetched off it.

    `head` is newest first. `replace` is set when the head no longer overlaps what was
    loaded (a long sleep, many new runs): the list restarts from `head`, with `cursor`.
    """

    def __init__(
        self, key: JobKey, head: list[JobRun], updated: list[JobRun], replace: bool,
        cursor: str | None, has_more: bool, gone: list[str],
    ) -> None:
        super().__init__()
        self.key = key
        self.head = head
        self.updated = updated
        self.replace = replace
        self.cursor = cursor
        self.has_more = has_more
        self.gone = gone


class ApiFailed(Message):
    """An API call failed; `what` says which ("projects", "jobs", "runs", "more", "poll")."""

    def __init__(self, what: str, error: NorthflankError, key: JobKey | None = None) -> None:
        super().__init__()
        self.what = what
        self.error = error
        self.key = key


class LogsLoaded(Message):
    """A run's log lines arrived (for the detail screen)."""

    def __init__(self, run_id: str, lines: list[LogLine]) -> None:
        super().__init__()
        self.run_id = run_id
        self.lines = lines
