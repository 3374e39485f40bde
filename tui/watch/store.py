"""RunStore: the loaded runs of one job, in display order, and what each change did to them.

Runs are newest first. Every mutation returns a `StoreChange` that says which shown rows it
touched, so a view repaints only those; the store knows nothing about cursors or screens.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ..api.models import JobRun, RunStatus

ChangeKind = Literal["appended", "prepended", "updated", "removed", "rebuilt", "cleared"]


@dataclass(frozen=True, slots=True)
class StoreChange:
    """What one mutation did to the shown rows (the filtered view, or every run).

    - appended: shown rows `first .. first+count-1` were added at the end;
    - prepended: `count` shown rows were added on top (every shown row moved down by it);
    - updated: the shown rows in `dirty` were replaced in place;
    - removed: the rows at `removed` (old shown indices, ascending) are gone;
    - rebuilt: the shown rows were recomputed (a filter): positions are not comparable;
    - cleared: nothing is loaded any more.
    `status_changes` lists (old, new) for runs whose status changed, shown or not.
    """

    kind: ChangeKind
    first: int = 0
    count: int = 0
    dirty: tuple[int, ...] = ()
    removed: tuple[int, ...] = ()
    status_changes: tuple[tuple[JobRun, JobRun], ...] = ()


def run_matches(run: JobRun, text: str, statuses: frozenset[RunStatus] | None) -> bool:
    """Whether a run passes a filter (`text` already case-folded)."""
    if statuses is not None and run.status not in statuses:
        return False
    return not text or text in run.run_name.casefold()


def status_changed(old: JobRun, new: JobRun) -> bool:
    """The badge would change: another status, or another raw word for an unknown one."""
    if old.status is not new.status:
        return True
    return new.status is RunStatus.UNKNOWN and old.raw_status != new.raw_status


class Rows:
    """Runs in display order with id -> position in O(1), cheap to grow at both ends.

    Each id gets a sequence number; position = seq - seq of the first item. Prepending only
    lowers the base, so inserting at the top does not renumber the other 100k ids.
    """

    __slots__ = ("_base", "_seq", "items")

    def __init__(self, runs: Iterable[JobRun] = ()) -> None:
        self.items: list[JobRun] = []
        self._seq: dict[str, int] = {}
        self._base = 0
        self.extend(runs)

    def __len__(self) -> int:
        return len(self.items)

    def position(self, run_id: str) -> int | None:
        seq = self._seq.get(run_id)
        return None if seq is None else seq - self._base

    def append(self, run: JobRun) -> None:
        self._seq[run.id] = self._base + len(self.items)
        self.items.append(run)

    def extend(self, runs: Iterable[JobRun]) -> None:
        for run in runs:
            self.append(run)

    def prepend(self, runs: Sequence[JobRun]) -> None:
        """Insert `runs` (ids not present, in display order) before the first item."""
        self._base -= len(runs)
        for offset, run in enumerate(runs):
            self._seq[run.id] = self._base + offset
        self.items[:0] = runs


@dataclass
class RunStore:
    """Every loaded run of one job, the filtered view of them, and the active ones."""

    _all: Rows = field(default_factory=Rows)
    _filtered: Rows | None = None  # None: no filter, every loaded run is shown
    filter_text: str = ""
    filter_statuses: frozenset[RunStatus] | None = None
    _active_ids: set[str] = field(default_factory=set)

    # ----- reading ---------------------------------------------------------------------------

    @property
    def runs(self) -> Sequence[JobRun]:
        """Every loaded run, newest first (the list itself: do not mutate)."""
        return self._all.items

    @property
    def shown(self) -> Sequence[JobRun]:
        """The runs that pass the filter, newest first (do not mutate)."""
        return self.view.items

    @property
    def view(self) -> Rows:
        return self._all if self._filtered is None else self._filtered

    @property
    def filtered(self) -> bool:
        return self._filtered is not None

    def __len__(self) -> int:
        return len(self._all)

    def get(self, run_id: str) -> JobRun | None:
        position = self._all.position(run_id)
        return None if position is None else self._all.items[position]

    def shown_position(self, run_id: str) -> int | None:
        return self.view.position(run_id)

    def nearest_shown(self, run_id: str) -> int:
        """The shown index of a run, else of the nearest older run shown, else the last shown
        (-1 when nothing is shown)."""
        shown_at = self.view.position(run_id)
        if shown_at is not None:
            return shown_at
        loaded_at = self._all.position(run_id)
        if loaded_at is not None:
            view = self.view
            for run in self._all.items[loaded_at:]:
                position = view.position(run.id)
                if position is not None:
                    return position
        return len(self.view) - 1

    @property
    def active_runs(self) -> list[JobRun]:
        """Loaded runs that can still change, newest first."""
        rows = self._all
        positions = sorted(p for i in self._active_ids if (p := rows.position(i)) is not None)
        return [rows.items[p] for p in positions]

    @property
    def active_count(self) -> int:
        return len(self._active_ids)

    def is_active(self, run_id: str) -> bool:
        return run_id in self._active_ids

    # ----- changes ---------------------------------------------------------------------------

    def clear(self) -> StoreChange:
        """Forget every run (the list restarts); the filter stays."""
        self._all = Rows()
        if self._filtered is not None:
            self._filtered = Rows()
        self._active_ids.clear()
        return StoreChange("cleared")

    def append_page(self, runs: Iterable[JobRun]) -> list[StoreChange]:
        """Add an older page at the end; runs already loaded are updated in place."""
        shown_before = len(self.view)
        known: list[JobRun] = []
        rows, filtered = self._all, self._filtered
        for run in runs:
            if rows.position(run.id) is not None:
                known.append(run)
                continue
            rows.append(run)
            self._track(run)
            if filtered is not None and self._matches(run):
                filtered.append(run)
        changes = [self.update(known)] if known else []
        added = len(self.view) - shown_before
        changes.append(StoreChange("appended", first=shown_before, count=added))
        return changes

    def merge_head(self, runs: Sequence[JobRun]) -> list[StoreChange]:
        """Merge a refreshed first page: new runs go on top, known ones update in place."""
        rows = self._all
        fresh: list[JobRun] = []
        fresh_ids: set[str] = set()
        known: list[JobRun] = []
        for run in runs:
            if run.id in fresh_ids:
                continue
            if rows.position(run.id) is None:
                fresh.append(run)
                fresh_ids.add(run.id)
            else:
                known.append(run)
        changes = [self.update(known)] if known else []
        if not fresh:
            return changes
        rows.prepend(fresh)
        for run in fresh:
            self._track(run)
        shown = fresh
        if self._filtered is not None:
            shown = [run for run in fresh if self._matches(run)]
            self._filtered.prepend(shown)
        changes.append(StoreChange("prepended", count=len(shown)))
        return changes

    def update(self, runs: Iterable[JobRun]) -> StoreChange:
        """Replace loaded runs by id. Unknown ids are ignored; identical runs change nothing."""
        rows, filtered = self._all, self._filtered
        status_changes: list[tuple[JobRun, JobRun]] = []
        dirty: list[int] = []
        refilter = False
        for new in runs:
            position = rows.position(new.id)
            if position is None:
                continue
            old = rows.items[position]
            if old == new:
                continue
            rows.items[position] = new
            self._track(new)
            if status_changed(old, new):
                status_changes.append((old, new))
            if filtered is None:
                dirty.append(position)
                continue
            shown_at = filtered.position(new.id)
            if (shown_at is not None) != self._matches(new):
                refilter = True  # it enters or leaves the filtered view
            elif shown_at is not None:
                filtered.items[shown_at] = new
                dirty.append(shown_at)
        if refilter:
            self._refilter()
            return StoreChange("rebuilt", status_changes=tuple(status_changes))
        return StoreChange("updated", dirty=tuple(dirty), status_changes=tuple(status_changes))

    def remove(self, run_ids: Iterable[str]) -> StoreChange | None:
        """Drop runs the server no longer has; None when none of them was loaded."""
        drop = {run_id for run_id in run_ids if self._all.position(run_id) is not None}
        if not drop:
            return None
        removed = tuple(i for i, run in enumerate(self.view.items) if run.id in drop)
        self._all = Rows(run for run in self._all.items if run.id not in drop)
        if self._filtered is not None:
            self._filtered = Rows(run for run in self._filtered.items if run.id not in drop)
        self._active_ids -= drop
        return StoreChange("removed", removed=removed)

    def set_filter(
        self, text: str, statuses: frozenset[RunStatus] | None
    ) -> StoreChange | None:
        """Show runs whose name contains `text` (any case) and whose status is in `statuses`
        (None: any status). None when the filter is the one in force."""
        folded = text.casefold()
        if folded == self.filter_text and statuses == self.filter_statuses:
            return None
        self.filter_text, self.filter_statuses = folded, statuses
        self._refilter()
        return StoreChange("rebuilt")

    # ----- internals -------------------------------------------------------------------------

    def _matches(self, run: JobRun) -> bool:
        return run_matches(run, self.filter_text, self.filter_statuses)

    def _track(self, run: JobRun) -> None:
        if run.is_active:
            self._active_ids.add(run.id)
        else:
            self._active_ids.discard(run.id)

    def _refilter(self) -> None:
        if not self.filter_text and self.filter_statuses is None:
            self._filtered = None
        else:
            self._filtered = Rows(run for run in self._all.items if self._matches(run))
