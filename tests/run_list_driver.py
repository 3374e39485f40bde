"""Feeding a RunList the way the engine does, for tests of the list alone.

Each helper changes the list's store (`run_list.store`), then shows the changes and the feed's
state with the list's public API, `RunList.apply` and `RunList.set_feed_state`, as MainScreen
does for a `FeedChanged`. One difference is on purpose: when a page ends the list (no more
runs), the list hears that before it shows the page, so a test can pin that it never asks for
more once the end is known.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tui.api.models import JobRun
from tui.watch.store import StoreChange
from tui.widgets.run_list import RunList


def _show(
    run_list: RunList, changes: Iterable[StoreChange], *, has_more: bool | None = None,
    loading_more: bool | None = None,
) -> None:
    """Apply `changes` and tell the feed state (None: as it is)."""
    has_more = run_list.has_more if has_more is None else has_more
    loading_more = run_list.loading_more if loading_more is None else loading_more
    changes = list(changes)

    def state() -> None:
        run_list.set_feed_state(has_more=has_more, loading_more=loading_more,
                                problems=run_list.problems)

    if has_more:
        run_list.apply(changes)
        state()
    else:
        state()
        run_list.apply(changes)


def clear_runs(run_list: RunList) -> None:
    """Forget every run (another job was selected); the filter stays."""
    _show(run_list, [run_list.store.clear()], has_more=False, loading_more=False)


def append_page(run_list: RunList, runs: Sequence[JobRun], has_more: bool) -> None:
    """An older page arrived; runs already loaded are updated in place."""
    _show(run_list, run_list.store.append_page(runs), has_more=has_more)


def merge_head(run_list: RunList, runs: Sequence[JobRun]) -> int:
    """A refreshed first page arrived. Returns how many runs were inserted."""
    before = len(run_list.store)
    _show(run_list, run_list.store.merge_head(runs))
    return len(run_list.store) - before


def update_runs(run_list: RunList, runs: Iterable[JobRun]) -> list[tuple[JobRun, JobRun]]:
    """Runs were refreshed; returns (old, new) for those whose status changed."""
    change = run_list.store.update(runs)
    _show(run_list, [change])
    return list(change.status_changes)


def remove_runs(run_list: RunList, run_ids: Iterable[str]) -> int:
    """The server no longer has these runs. Returns how many were dropped."""
    before = len(run_list.store)
    change = run_list.store.remove(run_ids)
    _show(run_list, [] if change is None else [change])
    return before - len(run_list.store)


def set_loading_more(run_list: RunList, loading: bool) -> None:
    """A next page is (or is no longer) on its way."""
    _show(run_list, [], loading_more=loading)
