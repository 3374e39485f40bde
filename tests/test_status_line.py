"""The status line repaints only what changed: a poll that moves the API count by one sends a
character, not the line (a board left open over SSH polls every few seconds for days)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from textual.app import App, ComposeResult

from tui.api.ratelimit import RateLimitSnapshot
from tui.app import stylesheet_paths
from tui.watch.events import PlanReason, ProblemKind
from tui.widgets.status_line import StatusLine

from .harness import spy_refresh

BUDGET = RateLimitSnapshot(limit=1000, remaining=612, reset_in=23 * 60, observed=True)


class StatusApp(App[None]):
    CSS_PATH = stylesheet_paths()

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")


def painted(app: App[Any]) -> str:
    """The status line as the screen shows it (compositor output, not the widget's state)."""
    status = app.query_one(StatusLine)
    strips = app.screen._compositor.render_strips()
    return "".join(segment.text for segment in strips[status.region.y]).strip()


async def test_a_changed_count_repaints_its_characters_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with StatusApp().run_test(size=(80, 3)) as pilot:
        status = pilot.app.query_one(StatusLine)
        status.update_state(loaded=120, shown=120, has_more=True, budget=BUDGET)
        await pilot.pause()
        assert painted(pilot.app) == "120 runs · more · API 612/1000, resets 23m"
        calls = spy_refresh(status, monkeypatch)

        status.update_state(budget=replace(BUDGET, remaining=611))
        ((region,),) = calls
        assert region.width == 1 and region.height == 1
        await pilot.pause()
        assert painted(pilot.app) == "120 runs · more · API 611/1000, resets 23m"

        calls.clear()
        status.update_state(budget=replace(BUDGET, remaining=611))  # the same text
        assert calls == []


async def test_a_shorter_line_clears_what_it_no_longer_covers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with StatusApp().run_test(size=(80, 3)) as pilot:
        status = pilot.app.query_one(StatusLine)
        status.update_state(loaded=120, shown=120, has_more=True, problem="offline",
                            problem_kind=ProblemKind.ERROR, retry_in=12, budget=BUDGET)
        await pilot.pause()
        assert "offline, retrying in 12 s" in painted(pilot.app)
        status.update_state(problem="", problem_kind=ProblemKind.NONE, retry_in=None)
        await pilot.pause()
        assert painted(pilot.app) == "120 runs · more · API 612/1000, resets 23m"


async def test_a_style_change_alone_repaints(monkeypatch: pytest.MonkeyPatch) -> None:
    async with StatusApp().run_test(size=(80, 3)) as pilot:
        status = pilot.app.query_one(StatusLine)
        status.update_state(problem="rate limited", problem_kind=ProblemKind.WARNING)
        await pilot.pause()
        calls = spy_refresh(status, monkeypatch)
        status.update_state(problem_kind=ProblemKind.ERROR)  # same words, another colour
        assert len(calls) == 1


async def test_one_run_and_a_quota_no_answer_has_told() -> None:
    async with StatusApp().run_test(size=(80, 3)) as pilot:
        status = pilot.app.query_one(StatusLine)
        # Before any answer the budget knows only its default: it is not shown as a fact.
        status.update_state(loaded=1, shown=1, end_reached=True,
                            budget=replace(BUDGET, observed=False))
        await pilot.pause()
        assert painted(pilot.app) == "1 run · all · API quota unknown"
        status.update_state(budget=BUDGET)
        await pilot.pause()
        assert painted(pilot.app) == "1 run · all · API 612/1000, resets 23m"


# ----- what fits: the least important parts go first --------------------------------------------

BUSY = dict(
    loaded=2500, shown=37, has_more=True, last_refresh_age=4.0, interval=7.0,
    interval_reason=PlanReason.BUDGET, budget=BUDGET, filter_text="failed nightly-backup",
)


@pytest.mark.parametrize(("width", "expected"), [
    (200, "37/2,500 runs · more · refreshed just now · polling every 7 s to fit the API budget"
          " · API 612/1000, resets 23m · filter: failed nightly-backup"),
    # The filter whole at 120: how often it polls goes first (said shorter, then not at all).
    (120, "37/2,500 runs · more · refreshed just now · API 612/1000, resets 23m"
          " · filter: failed nightly-backup"),
    (130, "37/2,500 runs · more · refreshed just now · every 7 s (budget) · API 612/1000,"
          " resets 23m · filter: failed nightly-backup"),
    # The quota stays at 80: how fresh goes, then the quota says only what is left.
    (80, "37/2,500 runs · more · API 612/1000 · filter: failed nightly-backup"),
    # At 60 the runs and the filter that hides most of them are what stays.
    (60, "37/2,500 runs · filter: failed nightly-backup"),
])
async def test_a_narrow_line_drops_the_least_important_parts_first(
    width: int, expected: str
) -> None:
    async with StatusApp().run_test(size=(width, 3)) as pilot:
        status = pilot.app.query_one(StatusLine)
        status.update_state(**BUSY)
        await pilot.pause()
        assert painted(pilot.app) == expected
        assert status.plain == expected  # what it says is what is shown
        assert len(expected) <= width - 2  # (its padding)


async def test_a_problem_outlasts_everything_and_is_cut_last() -> None:
    async with StatusApp().run_test(size=(80, 3)) as pilot:
        status = pilot.app.query_one(StatusLine)
        status.update_state(**BUSY, problem="offline", problem_kind=ProblemKind.WARNING,
                            retry_in=12)
        await pilot.pause()
        assert painted(pilot.app) == (
            "37/2,500 runs · offline, retrying in 12 s · filter: failed nightly-backup")
        status.update_state(filter_text="")
        await pilot.pause()
        assert painted(pilot.app) == (
            "37/2,500 runs · more · offline, retrying in 12 s · API 612/1000, resets 23m")
        status.update_state(problem="Cannot load more runs: " + "x" * 200)
        await pilot.pause()
        line = painted(pilot.app)
        assert line.startswith("Cannot load more runs: xxx") and line.endswith("…")
        assert len(line) == 78


async def test_the_line_fits_again_after_a_resize() -> None:
    async with StatusApp().run_test(size=(200, 3)) as pilot:
        status = pilot.app.query_one(StatusLine)
        status.update_state(**BUSY)
        await pilot.pause()
        assert "polling every 7 s" in painted(pilot.app)
        await pilot.resize_terminal(80, 3)
        await pilot.pause()
        assert painted(pilot.app) == (
            "37/2,500 runs · more · API 612/1000 · filter: failed nightly-backup")
        await pilot.resize_terminal(200, 3)
        await pilot.pause()
        assert "polling every 7 s to fit the API budget" in painted(pilot.app)


async def test_the_walk_to_the_oldest_run_says_how_to_stop_it_and_what_it_waits_for() -> None:
    async with StatusApp().run_test(size=(80, 3)) as pilot:
        status = pilot.app.query_one(StatusLine)
        status.update_state(loaded=1200, shown=1200, has_more=True, budget=BUDGET,
                            walking=True, walk_wait=2.0)
        await pilot.pause()
        assert painted(pilot.app) == (
            "1,200 runs · more · loading older runs (Esc stops) · API 612/1000, resets 23m")
        # Its part of the hour spent: how long until the next page, not a silent stall.
        status.update_state(walk_wait=11 * 60.0)
        await pilot.pause()
        assert painted(pilot.app) == (
            "1,200 runs · older runs: next page in 11m, for the API budget (Esc stops)")
        await pilot.resize_terminal(120, 3)
        await pilot.pause()
        assert painted(pilot.app) == (
            "1,200 runs · more · older runs: next page in 11m, for the API budget (Esc stops)"
            " · API 612/1000, resets 23m")
