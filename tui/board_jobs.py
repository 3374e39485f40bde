"""Which jobs the board watches: every job of every project, or of `--project`.

Started on the board's first use (`start_board`); the jobs come from the catalogue walk the
engine does (pages of projects, then each project's pages of jobs, by cursor), and each page
goes onto the board as it arrives.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from .options import AppOptions
from .watch.events import CatalogFailed, Event, JobsLoaded, ProjectsLoaded
from .watch.scheduler import Scheduler

if TYPE_CHECKING:
    from .app import NfRunsApp

# A runaway server (a cursor that never ends) stops here: the board's memory stays bounded.
MAX_BOARD_PAGES = 200


class BoardCatalog:
    """Walks the catalogue once for the board and puts every job on it."""

    def __init__(self, scheduler: Scheduler, options: AppOptions) -> None:
        self._scheduler = scheduler
        self._project = options.project
        self._pending: set[str | None] = set()  # None: projects; else a project's jobs
        self._pages = 0
        self.done = False

    def start(self) -> None:
        if self._project:
            self._ask(self._project)
        else:
            self._ask(None)

    def _ask(self, project_id: str | None, cursor: str | None = None) -> None:
        self._pages += 1
        if self._pages > MAX_BOARD_PAGES:
            return
        self._pending.add(project_id)
        if project_id is None:
            self._scheduler.load_projects(cursor)
        else:
            self._scheduler.load_jobs(project_id, cursor)

    def follow(self, event: Event) -> bool:
        """Whether the board's list of jobs is complete after this event."""
        if isinstance(event, ProjectsLoaded) and None in self._pending:
            self._pending.discard(None)
            for project in event.page.items:
                self._ask(project.id)
            if event.page.has_next_page and event.page.cursor:
                self._ask(None, event.page.cursor)
        elif isinstance(event, JobsLoaded) and event.project_id in self._pending:
            self._pending.discard(event.project_id)
            self._scheduler.watch_board(event.page.items)
            if event.page.has_next_page and event.page.cursor:
                self._ask(event.project_id, event.page.cursor)
        elif isinstance(event, CatalogFailed) and event.project_id in self._pending:
            # The picker and the status line say why; the board goes on with what it has.
            self._pending.discard(event.project_id)
        else:
            return self.done
        self.done = not self._pending
        return self.done


def start_board(app: NfRunsApp, scheduler: Scheduler, options: AppOptions) -> BoardCatalog:
    """Open the board in the engine and start listing its jobs."""
    grace = timedelta(minutes=options.grace) if options.grace else None
    # The board's time is the app's: the server's clock (frozen in tests and screenshots).
    scheduler.watch_board((), grace=grace, wall=app.now)
    catalog = BoardCatalog(scheduler, options)
    app.board_catalog = catalog
    catalog.start()
    return catalog
