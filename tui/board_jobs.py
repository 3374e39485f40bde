"""Which jobs the board watches: every job of the global index, or of one project
(`--project`, or the board's project remembered in settings.toml).

The index (tui.watch.job_index) lists every project and job once, cached on disk, and
refreshes in the background; each `IndexChanged` is mirrored here onto the board: new jobs
added, and once a listing is complete, jobs gone from it removed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from .options import AppOptions
from .watch.events import IndexChanged
from .watch.index_snapshot import IndexSnapshot
from .watch.scheduler import Scheduler

if TYPE_CHECKING:
    from .app import NfRunsApp


def start_board(app: NfRunsApp, scheduler: Scheduler, options: AppOptions) -> None:
    """Open the board in the engine with the jobs the index knows now."""
    grace = timedelta(minutes=options.grace) if options.grace else None
    # The board's time is the app's: the server's clock (frozen in tests and screenshots).
    scheduler.watch_board((), grace=grace, wall=app.now)
    index = scheduler.index
    if index is not None:
        sync_board(scheduler, index.snapshot(), options.board_project, complete=False)


def sync_board(scheduler: Scheduler, snapshot: IndexSnapshot, project: str | None, *,
               complete: bool) -> None:
    """Put the index's jobs (of `project`, if given) on the board; with a complete listing,
    take off the jobs it no longer has."""
    board = scheduler.board
    if board is None:
        return
    entries = [entry for entry in snapshot.entries
               if project is None or entry.project.id == project]
    wanted = {entry.key for entry in entries}
    new = [entry.job for entry in entries if entry.key not in board]
    if new:
        scheduler.watch_board(new)
    if complete:
        for key in board.keys:
            if key not in wanted:
                board.remove(key)


def board_listed(event: IndexChanged) -> bool:
    """Whether the board has every job it will get from this listing."""
    return event.complete or not event.refreshing
