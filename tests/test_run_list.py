"""RunList: the virtual run list, in a tiny app at 80x24 with a frozen clock."""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.message import Message
from textual.pilot import Pilot

from tui.api.models import JobRun, RunStatus
from tui.formatting import TimeMode
from tui.widgets.run_list import RunList

from .run_list_driver import (
    append_page,
    clear_runs,
    merge_head,
    remove_runs,
    set_loading_more,
    update_runs,
)

STYLES = Path(__file__).resolve().parent.parent / "styles" / "run_list.tcss"
NOW = datetime(2026, 11, 29, 12, 0, 0, tzinfo=timezone.utc)
ROWS_ON_SCREEN = 23  # 24 lines minus the header


def make_run(
    index: int,
    status: RunStatus = RunStatus.SUCCESS,
    *,
    name: str | None = None,
    raw: str | None = None,
    minutes_ago: float | None = None,
) -> JobRun:
    """Run `index` started `index + 1` minutes before NOW (newest first in index order)."""
    running = status is RunStatus.RUNNING
    started = NOW - timedelta(minutes=index + 1 if minutes_ago is None else minutes_ago)
    return JobRun(
        id=f"run-{index}",
        run_name=f"nightly-{index}" if name is None else name,
        status=status,
        raw_status=raw or status.value,
        active=running,
        concluded=not running,
        succeeded=status is RunStatus.SUCCESS,
        failed=status is RunStatus.FAILED,
        completions=1,
        backoff_limit=3,
        started_at=started,
        concluded_at=None if running else started + timedelta(seconds=65),
    )


class RunListApp(App[None]):
    CSS_PATH = STYLES

    def __init__(self) -> None:
        super().__init__()
        self.now = NOW
        self.messages: list[Message] = []

    def compose(self) -> ComposeResult:
        yield RunList(now=lambda: self.now, id="runs")

    def on_run_list_need_more(self, message: RunList.NeedMore) -> None:
        self.messages.append(message)

    def on_run_list_run_selected(self, message: RunList.RunSelected) -> None:
        self.messages.append(message)

    def on_run_list_run_highlighted(self, message: RunList.RunHighlighted) -> None:
        self.messages.append(message)

    def of_type(self, kind: type[Message]) -> list[Any]:
        return [message for message in self.messages if isinstance(message, kind)]


def screen_lines(run_list: RunList) -> list[str]:
    """What the widget paints, line by line (header, rows, footer)."""
    return [run_list.render_line(y).text.rstrip() for y in range(run_list.size.height)]


class RefreshSpy:
    """Records RunList.refresh calls (refresh_line(s) go through it too)."""

    def __init__(self, run_list: RunList, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[Region, ...]] = []
        original = run_list.refresh

        def spy(*regions: Region, **kwargs: Any) -> RunList:
            self.calls.append(regions)
            return original(*regions, **kwargs)

        monkeypatch.setattr(run_list, "refresh", spy)

    @property
    def lines(self) -> list[int]:
        return sorted(region.y for regions in self.calls for region in regions)


async def started(pilot: Pilot[None]) -> tuple[RunListApp, RunList]:
    await pilot.pause()
    app = pilot.app
    assert isinstance(app, RunListApp)
    return app, app.query_one(RunList)


# ---------------------------------------------------------------------------- rendering


async def test_rows_header_and_footer() -> None:
    async with RunListApp().run_test(size=(80, 24)) as pilot:
        _app, runs = await started(pilot)
        assert "No runs yet" in screen_lines(runs)[1]
        append_page(runs,
            [make_run(0, RunStatus.RUNNING), make_run(1), make_run(2, RunStatus.FAILED)],
            has_more=False,
        )
        await pilot.pause()
        lines = screen_lines(runs)
        assert lines[0].split() == ["Status", "Run", "Started", "Duration", "Try"]
        assert lines[1].split() == [
            "\u25cf",
            "RUNNING",
            "nightly-0",
            "1m",
            "ago",
            "1m",
            "00s",
            "2",  # Try: a running run with one try done is on its second, of 1 + 3 retries
            "of",
            "4",
        ]
        assert lines[2].startswith(" \u2714 SUCCESS")
        assert lines[3].startswith(" \u2718 FAILED")
        assert lines[4].strip() == "end of runs \u2014 3 loaded"
        assert runs.visible_text() == lines[1:4]
        assert all(
            len(runs.render_line(y).text) == runs.scrollable_content_region.width for y in range(5)
        )


async def test_long_names_are_cut_with_an_ellipsis() -> None:
    async with RunListApp().run_test(size=(80, 24)) as pilot:
        _app, runs = await started(pilot)
        names = ["job-" + "x" * 100 + "-first", "job-" + "x" * 100 + "-other"]
        append_page(runs, [make_run(0, name=names[0]), make_run(1, name=names[1])],
                         has_more=False)
        await pilot.pause()
        rows = runs.visible_text()
        # Cut in the middle: the start and the distinguishing end both stay.
        assert "job-x" in rows[0] and "\u2026" in rows[0] and "x-first  " in rows[0]
        assert "x-other  " in rows[1]
        assert all(row.endswith(" of 4") for row in rows)


async def test_narrow_terminal_drops_columns_not_the_name() -> None:
    async with RunListApp().run_test(size=(40, 10)) as pilot:
        _app, runs = await started(pilot)
        append_page(runs, [make_run(0)], has_more=False)
        await pilot.pause()
        [row] = runs.visible_text()
        assert "nightly-0" in row
        assert "ago" not in row and " of 4" not in row
        assert "1m 05s" in row


@pytest.mark.parametrize(
    "name", ["[bold]x[/]", "[/]", "\x1b[31mred", "[link=x]y[/link]", "a\nb\tc"]
)
async def test_api_text_is_rendered_literally(name: str) -> None:
    async with RunListApp().run_test(size=(80, 24)) as pilot:
        app, runs = await started(pilot)
        append_page(runs,
            [make_run(0, name=name), make_run(1, RunStatus.UNKNOWN, raw="[b]Q\x1b[0m")],
            has_more=False,
        )
        await pilot.pause()
        first, second = runs.visible_text()
        shown = name.replace("\x1b", "\u241b").replace("\n", "\u240a").replace("\t", "\u2409")
        assert shown in first
        assert "? [b]Q\u241b[0m" in second
        for y in range(4):
            for segment in runs.render_line(y):
                assert "\x1b" not in segment.text
                assert not segment.style or not segment.style.link
        assert app.export_screenshot()  # the whole screen renders without a markup error


async def test_time_mode_change_repaints() -> None:
    async with RunListApp().run_test(size=(80, 24)) as pilot:
        _app, runs = await started(pilot)
        append_page(runs, [make_run(0)], has_more=False)
        await pilot.pause()
        assert "1m ago" in runs.visible_text()[0]
        runs.time_mode = TimeMode.UTC
        await pilot.pause()
        assert "2026-11-29 11:59:00Z" in runs.visible_text()[0]
        assert "Started (UTC)" in screen_lines(runs)[0]
        runs.cycle_time_mode()
        assert runs.time_mode is TimeMode.RELATIVE


# ---------------------------------------------------------------------------- data updates


async def test_append_page_dedupes_and_updates_in_place() -> None:
    async with RunListApp().run_test(size=(80, 24)) as pilot:
        _app, runs = await started(pilot)
        append_page(runs, [make_run(i) for i in range(5)], has_more=True)
        updated = make_run(3, RunStatus.FAILED)
        append_page(runs, [updated, make_run(5), make_run(5)], has_more=False)
        await pilot.pause()
        assert runs.loaded_count == 6
        assert [run.id for run in runs.runs] == [f"run-{i}" for i in range(6)]
        assert runs.runs[3] is updated
        assert "FAILED" in runs.visible_text()[3]
        assert runs.has_more is False


async def test_append_page_keeps_cursor_and_scroll() -> None:
    async with RunListApp().run_test(size=(80, 24)) as pilot:
        _app, runs = await started(pilot)
        append_page(runs, [make_run(i) for i in range(100)], has_more=True)
        await pilot.pause()
        runs.select_run_id("run-50")
        await pilot.pause()
        scroll = runs.scroll_offset.y
        append_page(runs, [make_run(i) for i in range(100, 200)], has_more=True)
        await pilot.pause()
        assert runs.highlighted_run is not None and runs.highlighted_run.id == "run-50"
        assert runs.scroll_offset.y == scroll


async def test_merge_head_keeps_the_highlighted_run_and_the_view() -> None:
    async with RunListApp().run_test(size=(80, 24)) as pilot:
        app, runs = await started(pilot)
        append_page(runs, [make_run(i) for i in range(100)], has_more=True)
        await pilot.pause()
        runs.select_run_id("run-40")  # scrolls down
        await pilot.pause()
        before = runs.visible_text()
        scroll = runs.scroll_offset.y
        assert scroll > 0
        app.messages.clear()
        fresh = [make_run(-2), make_run(-1)]
        inserted = merge_head(runs, [*fresh, make_run(0, RunStatus.FAILED), make_run(-1)])
        await pilot.pause()
        assert inserted == 2
        assert [run.id for run in runs.runs[:4]] == ["run--2", "run--1", "run-0", "run-1"]
        assert runs.runs[2].status is RunStatus.FAILED
        assert runs.highlighted_run is not None and runs.highlighted_run.id == "run-40"
        assert runs.scroll_offset.y == scroll + 2
        assert runs.visible_text() == before  # the view did not jump
        assert app.of_type(RunList.RunHighlighted) == []  # same run: no spurious event


async def test_merge_head_at_top_shows_new_runs() -> None:
    async with RunListApp().run_test(size=(80, 24)) as pilot:
        _app, runs = await started(pilot)
        append_page(runs, [make_run(i) for i in range(10)], has_more=False)
        await pilot.pause()
        assert merge_head(runs, [make_run(-1)]) == 1
        assert merge_head(runs, [make_run(-1)]) == 0
        await pilot.pause()
        assert runs.scroll_offset.y == 0
        assert "nightly--1" in runs.visible_text()[0]
        assert runs.highlighted_run is not None and runs.highlighted_run.id == "run-0"


async def test_update_runs_reports_status_changes() -> None:
    async with RunListApp().run_test(size=(80, 24)) as pilot:
        _app, runs = await started(pilot)
        append_page(runs, [make_run(0, RunStatus.RUNNING), make_run(1)], has_more=False)
        await pilot.pause()
        assert [run.id for run in runs.active_runs] == ["run-0"]
        done = make_run(0, RunStatus.SUCCESS)
        renamed = dataclasses.replace(make_run(1), run_name="renamed")
        changes = update_runs(runs, [done, renamed, make_run(99)])
        assert [(old.status, new.status) for old, new in changes] == [
            (RunStatus.RUNNING, RunStatus.SUCCESS)
        ]
        assert runs.active_runs == []
        assert runs.loaded_count == 2
        await pilot.pause()
        assert "renamed" in runs.visible_text()[1]


async def test_update_that_changes_nothing_does_not_refresh(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with RunListApp().run_test(size=(80, 24)) as pilot:
        _app, runs = await started(pilot)
        page = [make_run(i) for i in range(50)]
        append_page(runs, page, has_more=True)
        await pilot.pause()
        spy = RefreshSpy(runs, monkeypatch)
        assert update_runs(runs, page) == []
        assert update_runs(runs, [make_run(i) for i in range(50)]) == []  # equal copies
        assert update_runs(runs, [make_run(1000)]) == []
        append_page(runs, [make_run(i) for i in range(10)], has_more=True)
        merge_head(runs, [make_run(i) for i in range(10)])
        set_loading_more(runs, False)
        runs.set_filter("", None)
        runs.tick()
        assert spy.calls == []


async def test_update_refreshes_only_changed_visible_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with RunListApp().run_test(size=(80, 24)) as pilot:
        _app, runs = await started(pilot)
        append_page(runs, [make_run(i) for i in range(200)], has_more=False)
        await pilot.pause()
        spy = RefreshSpy(runs, monkeypatch)
        update_runs(runs, [make_run(150, RunStatus.FAILED)])  # off screen
        assert spy.calls == []
        update_runs(runs, [make_run(4, RunStatus.FAILED), make_run(7, RunStatus.FAILED)])
        assert spy.lines == [5, 8]  # header is line 0


async def test_clear_runs() -> None:
    async with RunListApp().run_test(size=(80, 24)) as pilot:
        _app, runs = await started(pilot)
        append_page(runs, [make_run(i, RunStatus.RUNNING) for i in range(50)], has_more=True)
        set_loading_more(runs, True)
        await pilot.pause()
        clear_runs(runs)
        await pilot.pause()
        assert (runs.loaded_count, runs.shown_count, runs.active_runs) == (0, 0, [])
        assert runs.highlighted_run is None
        assert (runs.has_more, runs.loading_more) == (False, False)
        assert runs.visible_text() == []
        assert "No runs yet" in screen_lines(runs)[1]


# ---------------------------------------------------------------------------- cursor


async def test_keys_move_the_cursor_and_enter_selects() -> None:
    async with RunListApp().run_test(size=(80, 24)) as pilot:
        app, runs = await started(pilot)
        append_page(runs, [make_run(i) for i in range(100)], has_more=False)
        await pilot.pause()

        def at() -> str:
            assert runs.highlighted_run is not None
            return runs.highlighted_run.id

        assert at() == "run-0"
        for key, expected in [
            ("down", "run-1"),
            ("j", "run-2"),
            ("k", "run-1"),
            ("up", "run-0"),
            ("up", "run-0"),
            ("pagedown", f"run-{ROWS_ON_SCREEN}"),
            ("pageup", "run-0"),
            ("G", "run-99"),
            ("g", "run-0"),
            ("end", "run-99"),
            ("home", "run-0"),
        ]:
            await pilot.press(key)
            assert at() == expected, key
        await pilot.press("G")
        await pilot.pause()
        assert runs.visible_text()[-1].split()[2] == "nightly-99"  # scrolled to it
        await pilot.press("enter")
        await pilot.pause()
        [selected] = app.of_type(RunList.RunSelected)
        assert selected.run.id == "run-99" and selected.control is runs
        highlighted = [message.run.id for message in app.of_type(RunList.RunHighlighted)]
        # One per move; none for "up" on the first row; the first one for the first page.
        assert highlighted == [
            "run-0",
            "run-1",
            "run-2",
            "run-1",
            "run-0",
            f"run-{ROWS_ON_SCREEN}",
            "run-0",
            "run-99",
            "run-0",
            "run-99",
            "run-0",
            "run-99",
        ]


async def test_page_down_keeps_the_cursor_in_place_on_screen() -> None:
    async with RunListApp().run_test(size=(80, 24)) as pilot:
        _app, runs = await started(pilot)
        append_page(runs, [make_run(i) for i in range(100)], has_more=False)
        await pilot.pause()
        await pilot.press("down", "down", "pagedown")
        assert runs.scroll_offset.y == ROWS_ON_SCREEN
        assert runs.visible_text()[2].split()[2] == f"nightly-{ROWS_ON_SCREEN + 2}"
        assert runs.highlighted_run is not None
        assert runs.highlighted_run.id == f"run-{ROWS_ON_SCREEN + 2}"


async def test_cursor_row_is_styled_by_component_class() -> None:
    async with RunListApp().run_test(size=(80, 24)) as pilot:
        _app, runs = await started(pilot)
        append_page(runs, [make_run(0), make_run(1)], has_more=False)
        await pilot.pause()
        cursor = runs.get_component_rich_style("run-list--cursor")
        assert next(iter(runs.render_line(1))).style == cursor
        assert next(iter(runs.render_line(2))).style != cursor


async def test_theme_change_repaints_with_new_colours() -> None:
    async with RunListApp().run_test(size=(80, 24)) as pilot:
        app, runs = await started(pilot)
        append_page(runs, [make_run(0), make_run(1)], has_more=False)
        await pilot.pause()
        dark = next(iter(runs.render_line(2))).style
        app.theme = "textual-light"
        await pilot.pause()
        light = next(iter(runs.render_line(2))).style
        assert dark is not None and light is not None
        assert dark.bgcolor != light.bgcolor


async def test_no_color_keeps_status_words_and_a_visible_cursor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    async with RunListApp().run_test(size=(80, 24)) as pilot:
        _app, runs = await started(pilot)
        append_page(runs,
            [
                make_run(0, RunStatus.RUNNING),
                make_run(1),
                make_run(2, RunStatus.FAILED),
                make_run(3, RunStatus.UNKNOWN, raw="Queued"),
            ],
            has_more=False,
        )
        await pilot.pause()
        badges = [" ".join(row.split()[:2]) for row in runs.visible_text()]
        assert badges == ["\u25cf RUNNING", "\u2714 SUCCESS", "\u2718 FAILED", "? Queued"]
        assert runs.get_component_rich_style("run-list--cursor").reverse


async def test_click_highlights_then_selects() -> None:
    async with RunListApp().run_test(size=(80, 24)) as pilot:
        app, runs = await started(pilot)
        append_page(runs, [make_run(i) for i in range(10)], has_more=False)
        await pilot.pause()
        await pilot.click(RunList, offset=(20, 4))  # header on line 0: row 3
        await pilot.pause()
        assert runs.highlighted_run is not None and runs.highlighted_run.id == "run-3"
        assert app.of_type(RunList.RunSelected) == []
        await pilot.click(RunList, offset=(20, 4))
        await pilot.pause()
        assert [message.run.id for message in app.of_type(RunList.RunSelected)] == ["run-3"]
        await pilot.click(RunList, offset=(20, 0))  # the header: nothing
        await pilot.click(RunList, offset=(20, 20))  # below the rows: nothing
        await pilot.pause()
        assert runs.highlighted_run.id == "run-3"


async def test_select_run_id() -> None:
    async with RunListApp().run_test(size=(80, 24)) as pilot:
        _app, runs = await started(pilot)
        append_page(runs, [make_run(i) for i in range(100)], has_more=False)
        runs.select_run_id("run-70")
        runs.select_run_id("nope")
        await pilot.pause()
        assert runs.highlighted_run is not None and runs.highlighted_run.id == "run-70"
        assert "nightly-70" in "".join(runs.visible_text())


# ---------------------------------------------------------------------------- paging


async def test_need_more_near_the_end_only_once() -> None:
    async with RunListApp().run_test(size=(80, 24)) as pilot:
        app, runs = await started(pilot)
        append_page(runs, [make_run(i) for i in range(100)], has_more=True)
        await pilot.pause()
        assert app.of_type(RunList.NeedMore) == []
        runs.select_run_id("run-60")  # 39 rows before the end: more than a screen
        await pilot.pause()
        assert app.of_type(RunList.NeedMore) == []
        runs.select_run_id("run-80")
        await pilot.press("down", "down", "G", "up")
        await pilot.pause()
        [need_more] = app.of_type(RunList.NeedMore)
        assert need_more.control is runs
        set_loading_more(runs, True)
        await pilot.press("down", "up")
        await pilot.pause()
        assert len(app.of_type(RunList.NeedMore)) == 1  # not while loading
        assert screen_lines(runs)[-1].strip() == "loading more\u2026"
        append_page(runs, [make_run(i) for i in range(100, 200)], has_more=True)
        set_loading_more(runs, False)
        await pilot.pause()
        assert len(app.of_type(RunList.NeedMore)) == 1  # cursor on run-98: far from the end
        await pilot.press("G")
        await pilot.pause()
        assert len(app.of_type(RunList.NeedMore)) == 2
        append_page(runs, [make_run(i) for i in range(200, 210)], has_more=False)
        await pilot.press("G", "up", "down")
        await pilot.pause()
        assert len(app.of_type(RunList.NeedMore)) == 2  # no more pages
        assert screen_lines(runs)[-1].strip() == "end of runs \u2014 210 loaded"


async def test_need_more_on_scroll() -> None:
    async with RunListApp().run_test(size=(80, 24)) as pilot:
        app, runs = await started(pilot)
        append_page(runs, [make_run(i) for i in range(100)], has_more=True)
        await pilot.pause()
        runs.scroll_to(y=60, animate=False)
        await pilot.pause()
        assert len(app.of_type(RunList.NeedMore)) == 1
        assert runs.highlighted_run is not None and runs.highlighted_run.id == "run-0"


async def test_footer_is_empty_while_more_can_load() -> None:
    async with RunListApp().run_test(size=(80, 24)) as pilot:
        _app, runs = await started(pilot)
        append_page(runs, [make_run(i) for i in range(3)], has_more=True)
        set_loading_more(runs, True)
        set_loading_more(runs, False)
        await pilot.pause()
        assert runs.virtual_size.height == 1 + 3  # header and rows, no footer line
        assert screen_lines(runs)[4] == ""


# ---------------------------------------------------------------------------- filters


async def test_filters() -> None:
    async with RunListApp().run_test(size=(80, 24)) as pilot:
        _app, runs = await started(pilot)
        page = [
            make_run(0, RunStatus.RUNNING, name="Deploy-API"),
            make_run(1, name="nightly"),
            make_run(2, RunStatus.FAILED, name="deploy-web"),
            make_run(3, name="deploy-db"),
        ]
        append_page(runs, page, has_more=False)
        await pilot.pause()
        runs.select_run_id("run-2")
        runs.set_filter("DEPLOY", None)
        await pilot.pause()
        assert runs.shown_count == 3 and runs.loaded_count == 4
        assert [row.split()[2] for row in runs.visible_text()] == [
            "Deploy-API",
            "deploy-web",
            "deploy-db",
        ]
        assert runs.highlighted_run is not None and runs.highlighted_run.id == "run-2"

        runs.set_filter("deploy", frozenset({RunStatus.SUCCESS, RunStatus.RUNNING}))
        await pilot.pause()
        assert [row.split()[2] for row in runs.visible_text()] == ["Deploy-API", "deploy-db"]
        # run-2 is hidden: the cursor goes to the next older run shown.
        assert runs.highlighted_run is not None and runs.highlighted_run.id == "run-3"

        # Runs arriving while filtered are filtered too.
        merge_head(runs, [make_run(-1, name="deploy-new"), make_run(-2, name="other")])
        append_page(runs, [make_run(4, RunStatus.FAILED, name="deploy-old")], has_more=False)
        await pilot.pause()
        assert [row.split()[2] for row in runs.visible_text()] == [
            "deploy-new",
            "Deploy-API",
            "deploy-db",
        ]
        # A run that stops matching leaves the view.
        update_runs(runs, [make_run(0, RunStatus.FAILED, name="Deploy-API")])
        await pilot.pause()
        assert [row.split()[2] for row in runs.visible_text()] == ["deploy-new", "deploy-db"]
        assert runs.highlighted_run is not None and runs.highlighted_run.id == "run-3"

        runs.set_filter("zzz", None)
        await pilot.pause()
        assert runs.visible_text() == []
        assert runs.highlighted_run is None
        assert "No runs match the filter" in screen_lines(runs)[1]

        runs.set_filter("", None)
        await pilot.pause()
        assert runs.shown_count == runs.loaded_count == 7
        assert runs.highlighted_run is not None and runs.highlighted_run.id == "run--1"


# ---------------------------------------------------------------------------- tick


async def test_tick_repaints_only_visible_running_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    async with RunListApp().run_test(size=(80, 24)) as pilot:
        app, runs = await started(pilot)
        statuses = {0: RunStatus.RUNNING, 5: RunStatus.RUNNING, 500: RunStatus.RUNNING}
        append_page(runs,
            [make_run(i, statuses.get(i, RunStatus.SUCCESS), minutes_ago=2.2) for i in range(1000)],
            has_more=False,
        )
        await pilot.pause()
        assert len(runs.active_runs) == 3
        spy = RefreshSpy(runs, monkeypatch)
        runs.tick()  # nothing changed since the last paint
        assert spy.calls == []
        app.now = NOW + timedelta(seconds=1)
        runs.tick()
        assert len(spy.calls) == 1  # one refresh for all rows of this tick
        assert spy.lines == [1, 6]  # rows 0 and 5; run-500 is off screen
        await pilot.pause()
        assert "2m 13s" in runs.visible_text()[0]
        misses = runs.painter.cache.misses
        runs.tick()
        await pilot.pause()
        assert spy.lines == [1, 6]
        assert runs.painter.cache.misses == misses


async def test_tick_updates_relative_start_times(monkeypatch: pytest.MonkeyPatch) -> None:
    async with RunListApp().run_test(size=(80, 24)) as pilot:
        app, runs = await started(pilot)
        append_page(runs, [make_run(0, minutes_ago=0.5), make_run(1)], has_more=False)
        await pilot.pause()
        assert "just now" in runs.visible_text()[0]
        spy = RefreshSpy(runs, monkeypatch)
        app.now = NOW + timedelta(seconds=1)
        runs.tick()
        assert spy.calls == []  # minute resolution: nothing to repaint each second
        app.now = NOW + timedelta(seconds=30)
        runs.tick()
        assert spy.lines == [1]
        await pilot.pause()
        assert "1m ago" in runs.visible_text()[0]


# ---------------------------------------------------------------------------- scale


async def test_hundred_thousand_runs() -> None:
    async with RunListApp().run_test(size=(80, 24)) as pilot:
        _app, runs = await started(pilot)
        pages = [[make_run(p * 100 + i) for i in range(100)] for p in range(1000)]
        start = time.perf_counter()
        for page in pages:
            append_page(runs, page, has_more=True)
        await pilot.pause()
        assert runs.loaded_count == 100_000
        extra = [make_run(100_000 + i) for i in range(100)]
        append_page(runs, extra, has_more=True)
        await pilot.press("G", "up", "down", "down")
        await pilot.pause()
        assert time.perf_counter() - start < 10  # generous: speed is benchmarked separately
        assert runs.highlighted_run is not None and runs.highlighted_run.id == "run-100099"
        assert runs.visible_text()[-1].split()[2] == "nightly-100099"
        assert merge_head(runs, [make_run(-1)]) == 1
        assert runs.highlighted_run.id == "run-100099"


async def test_tick_repaints_only_the_duration_cell_when_only_it_changed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with RunListApp().run_test(size=(80, 24)) as pilot:
        app, runs = await started(pilot)
        runs.time_mode = TimeMode.UTC  # the start column cannot change
        append_page(runs, [make_run(0, RunStatus.RUNNING, minutes_ago=10)], has_more=False)
        await pilot.pause()
        runs.tick()
        await pilot.pause()
        spy = RefreshSpy(runs, monkeypatch)
        app.now = NOW + timedelta(seconds=1)
        runs.tick()
        (regions,) = spy.calls
        (region,) = regions
        width = runs.scrollable_content_region.width
        assert region.y == 1 and region.x > 0 and region.width < width // 4
        await pilot.pause()
        assert "10m 01s" in runs.visible_text()[0]


# ---------------------------------------------------------------------------- gone runs


async def test_remove_runs_drops_them_and_keeps_the_cursor_in_place() -> None:
    async with RunListApp().run_test(size=(80, 24)) as pilot:
        app, runs = await started(pilot)
        append_page(runs,
            [make_run(0), make_run(1, RunStatus.RUNNING), make_run(2), make_run(3)],
            has_more=False,
        )
        await pilot.pause()
        runs.select_run_id("run-1")
        assert [run.id for run in runs.active_runs] == ["run-1"]

        assert remove_runs(runs, ["run-1", "run-unknown"]) == 1
        await pilot.pause()
        assert [run.id for run in runs.runs] == ["run-0", "run-2", "run-3"]
        assert runs.active_runs == []  # no longer followed (nor fetched each poll)
        assert runs.highlighted_run is not None and runs.highlighted_run.id == "run-2"
        assert app.of_type(RunList.RunHighlighted)[-1].run.id == "run-2"
        assert [line.split()[2] for line in runs.visible_text()[:3]] == [
            "nightly-0", "nightly-2", "nightly-3",
        ]
        assert remove_runs(runs, ["run-1"]) == 0  # twice: nothing more happens


async def test_remove_runs_under_a_filter_and_at_the_end() -> None:
    async with RunListApp().run_test(size=(80, 24)) as pilot:
        _app, runs = await started(pilot)
        append_page(runs, [make_run(i, RunStatus.FAILED if i % 2 else RunStatus.SUCCESS)
                          for i in range(6)], has_more=False)
        runs.set_filter("", frozenset({RunStatus.FAILED}))
        await pilot.pause()
        runs.select_run_id("run-5")  # the last failed run shown
        remove_runs(runs, ["run-5", "run-2"])
        await pilot.pause()
        assert runs.shown_count == 2 and runs.loaded_count == 4
        assert [line.split()[2] for line in runs.visible_text()[:2]] == [
            "nightly-1", "nightly-3",
        ]
        assert runs.highlighted_run is not None and runs.highlighted_run.id == "run-3"
        runs.set_filter("", None)
        assert [run.id for run in runs.runs] == ["run-0", "run-1", "run-3", "run-4"]


async def test_a_huge_name_costs_no_more_than_a_short_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """A name of a million characters: the sanitiser and the cut see a bounded string."""
    import tui.widgets.run_rows as run_rows_module

    seen: list[int] = []
    original = run_rows_module.printable

    def counting(text: str) -> str:
        seen.append(len(text))
        return original(text)

    monkeypatch.setattr(run_rows_module, "printable", counting)
    async with RunListApp().run_test(size=(80, 24)) as pilot:
        _app, runs = await started(pilot)
        name = "start-" + "y" * 1_000_000 + "-the-end"
        append_page(runs, [make_run(0, RunStatus.RUNNING, name=name)], has_more=False)
        await pilot.pause()
        for _ in range(5):
            runs.tick()
            await pilot.pause()
        [row] = runs.visible_text()
        assert "start-" in row and "-the-end" in row
        assert seen and max(seen) <= 2 * run_rows_module.MAX_NAME_SHOWN + 1


async def test_a_run_that_cannot_be_refreshed_says_why_in_its_row() -> None:
    async with RunListApp().run_test(size=(100, 24)) as pilot:
        _app, runs = await started(pilot)
        append_page(runs, [make_run(0, RunStatus.RUNNING, name="alpha-run"),
                          make_run(1, RunStatus.RUNNING, name="beta-run")], has_more=False)
        await pilot.pause()
        first = runs.runs[0].id
        runs.set_feed_state(has_more=False, loading_more=False,
                            problems={first: "cannot refresh (403)"})
        await pilot.pause()
        rows = runs.visible_text()
        assert "alpha-run" in rows[0] and "\u26a0 cannot refresh (403)" in rows[0]
        assert "\u26a0" not in rows[1]
        runs.set_feed_state(has_more=False, loading_more=False, problems={})
        await pilot.pause()
        assert "\u26a0" not in runs.visible_text()[0]


async def test_an_unreadable_run_shows_its_id_and_why() -> None:
    placeholder = JobRun.from_json_or_unreadable({"id": "run-bad", "runName": 5})
    async with RunListApp().run_test(size=(120, 24)) as pilot:
        _app, runs = await started(pilot)
        append_page(runs, [make_run(0), placeholder, make_run(2)], has_more=False)
        await pilot.pause()
        rows = runs.visible_text()
        assert len(rows) == 3
        assert "run-bad" in rows[1] and "\u26a0 run.status is not a string" in rows[1], rows[1]
        assert "? UNREADABLE" in rows[1]


async def test_a_job_whose_first_page_is_due_says_loading_not_no_runs() -> None:
    from tui.watch.events import JobKey
    from tui.watch.store import RunStore

    async with RunListApp().run_test(size=(80, 24)) as pilot:
        _app, runs = await started(pilot)
        runs.show_store(RunStore(), JobKey("p", "j"))
        await pilot.pause()
        assert "loading runs" in screen_lines(runs)[1]
        runs.set_feed_state(has_more=False, loading_more=False, problems={}, answered=True)
        await pilot.pause()
        assert "No runs yet" in screen_lines(runs)[1]
