"""The global job index: every project and its jobs, listed once, kept on disk, refreshed.

The picker filter, the palette and the board look jobs up here by name or id, in projects
the user never expanded. A walk lists the projects page by page (by cursor), then each
project's jobs, one request per step: the scheduler starts each step through its one gate,
so a walk never spends more than the budget lets it, and other requests go between its
steps. A fresh cache (younger than the TTL) costs no request at start; a stale one is shown
at once and walked again in the background. A project whose jobs cannot be listed keeps the
jobs listed before and is retried later, alone.

Names are kept as sent (the UI draws them through `tui.sanitize.printable`); ids that could
not be put in a request path are left out, as they could never be opened.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..api.client import MAX_EMPTY_PAGES, MAX_LISTED_JOBS, NorthflankClient
from ..api.errors import (
    InconsistentPagesError,
    NetworkError,
    NorthflankError,
    RateLimitedError,
    UnauthorizedError,
)
from ..api.models import Job, Page, Project
from ..api.urls import id_problem, shown_id
from ..config import app_cache_dir
from . import index_cache
from .clock import Clock
from .events import IndexChanged
from .index_snapshot import IndexEntry, IndexSnapshot

INDEX_TTL = 3600.0  # seconds a listing is fresh: at most one walk an hour
INDEX_PAGE = 100  # projects or jobs asked for per request (the API's most)
MAX_INDEX_PROJECTS = 1000
MAX_INDEX_JOBS = 20_000  # in all projects together; MAX_LISTED_JOBS in any one
# A failed walk, or a project whose jobs failed, is tried again after this many seconds,
# doubling each time it fails again, up to the TTL.
RETRY_MIN = 300.0
# The walk's part of the process's share, so that the run list and the board never starve:
# a quarter of it in any hour (125 of the default 500), half the burst cap in any minute.
INDEX_SHARE = 0.25
HOUR, MINUTE = 3600.0, 60.0
RATE_LIMIT_HOLD = 60.0  # a 429 without Retry-After holds the walk this long
# A cache listed later than now by more than this: the clock went back (or the file lies).
FUTURE_SLACK = 300.0

__all__ = ["INDEX_TTL", "IndexEntry", "IndexSnapshot", "JobIndex"]


@dataclass
class _Pager:
    """Where a cursor walk is, with `walk_pages`' checks against lists that never end."""

    cursor: str | None = None
    seen: set[str] = field(default_factory=set)
    empty_in_a_row: int = 0

    def next_after(self, page: Page[Any]) -> bool:
        """Move past `page`; True when there is another page to fetch."""
        if not page.has_next_page or not page.cursor:
            return False
        self.empty_in_a_row = 0 if page.items else self.empty_in_a_row + 1
        if page.cursor in self.seen or self.empty_in_a_row >= MAX_EMPTY_PAGES:
            raise InconsistentPagesError(
                "The API returned an inconsistent page list (a cursor came back, or empty "
                "pages that each claim another)."
            )
        self.cursor = page.cursor
        self.seen.add(page.cursor)
        return True


@dataclass
class _Walk:
    """One walk under way: the project list (a full walk), then each queued project's jobs."""

    full: bool
    listed_before: bool  # the index had a listing: the UI hears only the walk's end
    projects_done: bool
    total: int  # jobs kept so far, for MAX_INDEX_JOBS
    queue: deque[Project] = field(default_factory=deque)
    projects: list[Project] = field(default_factory=list)
    project_ids: set[str] = field(default_factory=set)
    pager: _Pager = field(default_factory=_Pager)
    jobs: list[Job] = field(default_factory=list)
    job_ids: set[str] = field(default_factory=set)
    failed: dict[str, str] = field(default_factory=dict)  # project id -> why
    skipped: int = 0  # projects or jobs with ids no request could carry
    truncated: bool = False
    held_until: float = float("-inf")  # monotonic


class JobIndex:
    """Every project's jobs, for search; walked by the scheduler (`Scheduler.open_index`)."""

    def __init__(
        self, account: str, *, path: Path | None = None, ttl: float = INDEX_TTL,
        page_size: int = INDEX_PAGE, max_projects: int = MAX_INDEX_PROJECTS,
        max_jobs: int = MAX_INDEX_JOBS, max_project_jobs: int = MAX_LISTED_JOBS,
        retry_min: float = RETRY_MIN,
    ) -> None:
        self.account = account
        self.path = path  # None: kept in memory only
        self.ttl = ttl
        self.page_size = max(1, min(page_size, 100))
        self.max_projects, self.max_jobs = max_projects, max_jobs
        self.max_project_jobs = max_project_jobs
        self.retry_min = retry_min
        self.problem = ""  # one line: the last walk's trouble, or why the cache was ignored
        self.listed_at: float | None = None  # wall seconds of the last full listing
        self._projects: tuple[Project, ...] = ()
        self._jobs: dict[str, tuple[Job, ...]] = {}
        self._stale: set[str] = set()
        self._truncated = False
        self._snapshot: IndexSnapshot | None = None
        self._walk: _Walk | None = None
        self._repair_at: float | None = None  # wall: projects that failed are tried again
        self._not_before: float | None = None  # wall: after a failed walk, none before this
        self._failures = 0
        self._list_failed = False  # the last full walk could not list the projects
        self._forced = False
        self._sent: deque[float] = deque()  # monotonic times of the walk's requests

    @classmethod
    def for_client(
        cls, client: NorthflankClient, cache_dir: Path | None = None, *, persist: bool = True,
        **options: Any,
    ) -> JobIndex:
        """The index of the client's account, its file in `cache_dir` (default: the user's
        cache directory, nf-runs/)."""
        account = index_cache.account_key(client.base_url, client.team)
        folder = (cache_dir or app_cache_dir()) if persist else None
        path = index_cache.cache_file(folder, account) if folder else None
        return cls(account, path=path, **options)

    # ----- what the UI reads -------------------------------------------------------------------

    @property
    def walking(self) -> bool:
        return self._walk is not None

    def snapshot(self) -> IndexSnapshot:
        if self._snapshot is None:
            self._snapshot = IndexSnapshot(
                self._projects, self._jobs, listed_at=self.listed_at,
                truncated=self._truncated, stale_projects=self._stale,
            )
        return self._snapshot

    def changed(self, wall: float) -> IndexChanged:
        snap = self.snapshot()
        age = snap.age(wall)
        fresh = snap.complete and age is not None and -FUTURE_SLACK <= age < self.ttl
        return IndexChanged(snap, snap.complete, fresh, self.walking, self.problem)

    def _touch(self) -> None:
        self._snapshot = None

    # ----- the cache ---------------------------------------------------------------------------

    def load(self) -> bool:
        """Read the cache file, if any; False (with `problem` saying why) when it was ignored."""
        if self.path is None:
            return False
        try:
            data = index_cache.read(self.path)
            if data is None:
                return False
            cached = index_cache.decode(
                data, self.account, max_projects=self.max_projects, max_jobs=self.max_jobs,
                max_project_jobs=self.max_project_jobs,
            )
        except index_cache.CacheProblem as problem:
            self.problem = f"The job index cache was ignored ({problem}); listing jobs again."
            return False
        self._projects = tuple(entry.project for entry in cached.projects)
        self._jobs = {entry.project.id: entry.jobs for entry in cached.projects}
        self._stale = {entry.project.id for entry in cached.projects if entry.stale}
        self.listed_at, self._truncated = cached.listed_at, cached.truncated
        if self._stale:
            self._repair_at = float("-inf")  # only those projects, at once
        self._touch()
        return True

    def _cached(self) -> index_cache.CachedIndex | None:
        if self.listed_at is None:
            return None
        return index_cache.CachedIndex(self.listed_at, self._truncated, tuple(
            index_cache.CachedProject(p, self._jobs.get(p.id, ()), p.id in self._stale)
            for p in self._projects
        ))

    async def _save(self) -> str:
        """Write the cache (in a thread: a few MB); the problem, if it could not be."""
        cached = self._cached()
        if self.path is None or cached is None:
            return ""
        data = index_cache.encode(cached, self.account)
        try:
            await asyncio.to_thread(index_cache.write, self.path, data)
        except index_cache.CacheProblem as problem:
            return f"the job index cache could not be written ({problem})"
        return ""

    # ----- when to walk ------------------------------------------------------------------------

    def due_in(self, wall: float) -> float | None:
        """Seconds until a walk is due (0: now); None while one is under way."""
        if self._walk is not None:
            return None
        if self._forced:
            return 0.0
        age = None if self.listed_at is None else wall - self.listed_at
        # Never listed, or listed "in the future" (the clock went back): its age is unknown.
        wait = 0.0 if age is None or age < -FUTURE_SLACK else self.ttl - age
        if self._repair_at is not None:
            wait = min(wait, self._repair_at - wall)
        if self._not_before is not None:
            wait = max(wait, self._not_before - wall)
        return max(0.0, wait)

    def force(self) -> bool:
        """Walk again as soon as the budget lets (False: a walk is under way already)."""
        if self._walk is not None:
            return False
        self._forced = True
        return True

    def held_for(self, monotonic: float) -> float:
        """Seconds the walk waits after a 429 (0: it may go on)."""
        return 0.0 if self._walk is None else max(0.0, self._walk.held_until - monotonic)

    def spend_wait(self, monotonic: float, per_hour: int, per_minute: int) -> float:
        """Seconds until the walk may send again within its own part of the budget."""
        sent = self._sent
        while sent and sent[0] <= monotonic - HOUR:
            sent.popleft()
        wait = 0.0
        if len(sent) >= per_hour:
            wait = sent[len(sent) - per_hour] + HOUR - monotonic
        recent = [at for at in sent if at > monotonic - MINUTE]
        if len(recent) >= per_minute:
            wait = max(wait, recent[len(recent) - per_minute] + MINUTE - monotonic)
        return max(0.0, wait)

    def begin_walk(self, wall: float) -> IndexChanged:
        """Start the walk that is due: the whole account, or only the projects that failed."""
        age = None if self.listed_at is None else wall - self.listed_at
        aged = age is None or age < -FUTURE_SLACK or age >= self.ttl
        full = self._forced or aged or self._list_failed or not self._stale
        self._forced = False
        walk = _Walk(full=full, listed_before=self.listed_at is not None,
                     projects_done=not full, total=0)
        if not full:
            walk.queue.extend(p for p in self._projects if p.id in self._stale)
            walk.total = sum(len(jobs) for pid, jobs in self._jobs.items()
                             if pid not in self._stale)
        self._walk = walk
        return self.changed(wall)

    def abandon(self, wall: float) -> None:
        """The walk died (a bug, a cancel): what it had not committed is dropped."""
        if self._walk is not None:
            self._walk = None
            self._failures += 1
            self._not_before = wall + self._backoff()
            self.problem = "The job index could not be refreshed (an internal error)."

    def _backoff(self) -> float:
        return min(self.ttl, self.retry_min * (1 << min(max(self._failures - 1, 0), 16)))

    # ----- one step ----------------------------------------------------------------------------

    async def step(self, client: NorthflankClient, clock: Clock) -> list[IndexChanged]:
        """Send the walk's next request and take in its answer; what the UI should hear."""
        walk = self._walk
        if walk is None:
            return []
        project = None if not walk.projects_done else walk.queue[0]
        self._sent.append(clock.monotonic())
        try:
            if project is None:
                projects = await client.list_projects(self.page_size, walk.pager.cursor)
                return await self._got_projects(walk, projects, clock)
            jobs = await client.list_jobs(project.id, self.page_size, walk.pager.cursor)
            return await self._got_jobs(walk, project, jobs, clock)
        except RateLimitedError as error:  # the gate, or a 429 past the client's retries
            walk.held_until = clock.monotonic() + max(1.0, error.retry_after or RATE_LIMIT_HOLD)
            return []
        except NorthflankError as error:
            if project is None:
                return self._walk_failed(walk, f"{error}", clock.wall())
            if isinstance(error, (UnauthorizedError, NetworkError)):
                # Every other project would fail alike: they keep what they had.
                walk.failed.update((p.id, str(error)) for p in walk.queue)
                walk.queue.clear()
                return await self._finish(walk, clock.wall(), f"{error}")
            walk.failed[project.id] = str(error)
            return await self._next_project(walk, clock.wall())

    async def _got_projects(
        self, walk: _Walk, page: Page[Project], clock: Clock
    ) -> list[IndexChanged]:
        for project in page.items:
            if len(walk.projects) >= self.max_projects:
                walk.truncated = True
                break
            if id_problem(project.id) is not None:
                walk.skipped += 1
            elif project.id not in walk.project_ids:
                walk.project_ids.add(project.id)
                walk.projects.append(project)
        if not walk.truncated and walk.pager.next_after(page):
            return []
        # The list is whole: it replaces the old one (vanished projects leave with their jobs).
        walk.projects_done, walk.pager = True, _Pager()
        walk.queue.extend(walk.projects)
        self._projects = tuple(walk.projects)
        self._jobs = {p.id: self._jobs[p.id] for p in walk.projects if p.id in self._jobs}
        self._stale &= walk.project_ids
        self._touch()
        if not walk.queue:
            return await self._finish(walk, clock.wall())
        return [] if walk.listed_before else [self.changed(clock.wall())]

    async def _got_jobs(
        self, walk: _Walk, project: Project, page: Page[Job], clock: Clock
    ) -> list[IndexChanged]:
        room = min(self.max_project_jobs, self.max_jobs - walk.total) - len(walk.jobs)
        for job in page.items:
            if id_problem(job.id) is not None or job.project_id != project.id:
                walk.skipped += 1
            elif job.id in walk.job_ids:
                continue  # a job that moved between pages while they were listed
            elif room <= 0:
                walk.truncated = True
                break
            else:
                walk.job_ids.add(job.id)
                walk.jobs.append(job)
                room -= 1
        if room <= 0 and page.has_next_page:
            walk.truncated = True
        elif room > 0 and walk.pager.next_after(page):
            return []
        self._jobs[project.id] = tuple(walk.jobs)
        self._stale.discard(project.id)
        walk.total += len(walk.jobs)
        self._touch()
        return await self._next_project(walk, clock.wall())

    async def _next_project(self, walk: _Walk, wall: float) -> list[IndexChanged]:
        walk.queue.popleft()
        walk.pager, walk.jobs, walk.job_ids = _Pager(), [], set()
        if walk.total >= self.max_jobs and walk.queue:
            walk.truncated = True  # no room for the rest: they are left out, not stale
            for project in walk.queue:
                self._jobs[project.id] = ()
                self._stale.discard(project.id)
            walk.queue.clear()
        if walk.queue:
            return [] if walk.listed_before else [self.changed(wall)]
        return await self._finish(walk, wall)

    def _walk_failed(self, walk: _Walk, why: str, wall: float) -> list[IndexChanged]:
        """The project list could not be walked: the index stays as it was."""
        self._walk = None
        self._failures += 1
        self._list_failed = True
        self._not_before = wall + self._backoff()
        self.problem = f"The job index could not be refreshed: {why}"
        return [self.changed(wall)]

    async def _finish(self, walk: _Walk, wall: float, stopped: str = "") -> list[IndexChanged]:
        """The walk is over (the project list was whole): commit, say how it went, save."""
        self._stale |= walk.failed.keys()  # each is in the project list: it was queued from it
        if walk.full:
            self.listed_at, self._truncated, self._list_failed = wall, walk.truncated, False
            self._not_before = None
        else:
            self._truncated = self._truncated or walk.truncated
        if self._stale:
            self._failures += 1
            self._repair_at = wall + self._backoff()
        else:
            self._failures, self._repair_at = 0, None
        problems = []
        if stopped:
            problems.append(f"The job index stopped: {stopped}")
        if walk.failed:
            first, why = next(iter(walk.failed.items()))
            count = len(walk.failed)
            problems.append(
                f"Jobs of {count} project{'s' if count != 1 else ''} could not be listed "
                f"({shown_id(first)}: {why}); they keep the jobs listed before"
            )
        if walk.truncated:
            problems.append(f"Only the first {self.max_projects} projects and "
                            f"{self.max_jobs} jobs are indexed")
        if walk.skipped:
            problems.append(f"{walk.skipped} projects or jobs with unusable ids were left out")
        self._touch()
        saved = await self._save()
        if saved:
            problems.append(saved)
        self._walk = None
        self.problem = "; ".join(problems) + ("." if problems else "")
        return [self.changed(wall)]
