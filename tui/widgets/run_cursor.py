"""The run list's cursor: a row of the shown runs, and the run on it, so that it can follow
that run when the store's rows move (new runs on top, runs dropped, another filter)."""

from __future__ import annotations

from collections.abc import Sequence

from tui.api.models import JobRun
from tui.watch.store import RunStore

__all__ = ["RunCursor"]


class RunCursor:
    """A row of `store`'s shown runs (`index`, -1 for none) and the id of the run on it."""

    def __init__(self, store: RunStore, index: int = -1) -> None:
        self._store = store
        self.index = -1
        self._run_id: str | None = None
        self.move(index)

    def move(self, index: int) -> None:
        """Put the cursor on row `index` (not clamped: -1 or past the end is no run)."""
        view = self._store.view.items
        self.index = index
        self._run_id = view[index].id if 0 <= index < len(view) else None

    @property
    def run(self) -> JobRun | None:
        """The run on the cursor's row."""
        view = self._store.view.items
        return view[self.index] if 0 <= self.index < len(view) else None

    def remembered_run(self) -> JobRun | None:
        """The run the cursor was put on (as the store has it now), if still loaded; after
        the rows were rebuilt it may be on another row, or on none."""
        return None if self._run_id is None else self._store.get(self._run_id)

    def after_removal(self, removed: Sequence[int]) -> None:
        """The rows at `removed` (old indices) are gone: the cursor stays on its run, or takes
        the next older one shown (else the nearest newer one)."""
        cursor, shown = self.index, len(self._store.view)
        if cursor >= 0:
            cursor -= sum(1 for index in removed if index < cursor)
            cursor = min(cursor, shown - 1)
        self.move(cursor if shown else -1)

    def after_rebuild(self, previous: JobRun | None) -> None:
        """The shown rows were recomputed (a filter): back on `previous` or the run nearest
        to it, else on the first row."""
        cursor = -1 if previous is None else self._store.nearest_shown(previous.id)
        if cursor < 0 and self._store.view:
            cursor = 0
        self.move(cursor)
