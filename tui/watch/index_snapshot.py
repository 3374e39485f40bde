"""The job index as the UI sees it: an immutable snapshot, its lookups and its search.

Apart from `job_index.py` (the walk, which holds the client) so that `events.py`, which
widgets import, does not reach the API client.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..api.models import Job, Project
from .events import JobKey

MAX_SEARCH_RESULTS = 50


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One job of the index, with its project (for its name)."""

    project: Project
    job: Job

    @property
    def key(self) -> JobKey:
        return JobKey(self.project.id, self.job.id)


class IndexSnapshot:
    """The index at one moment, never changed after it is made: what IndexChanged carries."""

    __slots__ = ("_by_key", "_by_project", "_haystacks", "complete", "entries", "listed_at",
                 "projects", "stale_projects", "truncated")

    def __init__(
        self, projects: Iterable[Project], jobs: Mapping[str, tuple[Job, ...]], *,
        listed_at: float | None = None, truncated: bool = False,
        stale_projects: Iterable[str] = (),
    ) -> None:
        self.projects: tuple[Project, ...] = tuple(projects)
        self.listed_at = listed_at  # wall seconds of the last full listing (None: never)
        self.truncated = truncated  # a cap left projects or jobs out
        # Projects whose jobs could not be listed last time: theirs are from earlier.
        self.stale_projects: frozenset[str] = frozenset(stale_projects)
        self.complete = listed_at is not None and not truncated and not self.stale_projects
        entries: list[IndexEntry] = []
        self._by_project: dict[str, tuple[IndexEntry, ...]] = {}
        for project in self.projects:
            own = tuple(IndexEntry(project, job) for job in jobs.get(project.id, ()))
            self._by_project[project.id] = own
            entries.extend(own)
        self.entries: tuple[IndexEntry, ...] = tuple(entries)
        self._by_key = {entry.key: entry for entry in self.entries}
        self._haystacks = tuple(
            (e.job.id.casefold(), e.job.name.casefold(), e.project.id.casefold(),
             e.project.name.casefold())
            for e in self.entries
        )

    def __len__(self) -> int:
        return len(self.entries)

    def job(self, key: JobKey) -> IndexEntry | None:
        return self._by_key.get(key)

    def project(self, project_id: str) -> Project | None:
        return next((p for p in self.projects if p.id == project_id), None)

    def jobs_of(self, project_id: str) -> tuple[IndexEntry, ...]:
        return self._by_project.get(project_id, ())

    def age(self, wall: float) -> float | None:
        """Seconds since the last full listing (None: never listed)."""
        return None if self.listed_at is None else wall - self.listed_at

    def search(self, text: str, limit: int = MAX_SEARCH_RESULTS) -> list[IndexEntry]:
        """Jobs whose name or id holds `text` (case-insensitive): exact matches first, then
        those starting with it, then the rest, each in index order. "proj/job" matches the
        project's name or id and the job's separately."""
        query = text.strip().casefold()
        if not query:
            return list(self.entries[:limit])
        project_part, slash, job_part = query.rpartition("/")
        ranked: tuple[list[IndexEntry], ...] = ([], [], [])
        for entry, (job_id, name, project_id, project_name) in zip(
            self.entries, self._haystacks, strict=True
        ):
            if slash and project_part and project_part not in project_id \
                    and project_part not in project_name:
                continue
            if job_part in (job_id, name):
                rank = 0
            elif job_id.startswith(job_part) or name.startswith(job_part):
                rank = 1
            elif job_part in job_id or job_part in name:
                rank = 2
            else:
                continue
            if len(ranked[rank]) < limit:
                ranked[rank].append(entry)
        return [*ranked[0], *ranked[1], *ranked[2]][:limit]
