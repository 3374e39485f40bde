"""The status board in Textual's Pilot, against the 40-job board world over loopback.

The simulated clock is frozen (speed 0) and the app reads its time from it; the quota is made
generous so the first looks at all 40 jobs come at once. Tests wait on conditions.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from textual.widgets._header import HeaderTitle

from tui.app import NfRunsApp
from tui.options import AppOptions
from tui.screens.board import BoardScreen
from tui.screens.main import MainScreen
from tui.simulator import Simulator, run_simulator
from tui.watch.board import BoardState
from tui.watch.events import JobKey
from tui.widgets.board_cells import Column, board_layout, state_cell
from tui.widgets.board_table import BoardTable

from . import harness
from .conftest import START, make_client

JOBS_ON_BOARD = 40


@pytest.fixture
def board_sim() -> Iterator[Simulator]:
    with run_simulator(seed=7, speed=0.0, start=START, preset="board") as simulator:
        simulator.set_rate_limit(1_000_000)
        yield simulator


@dataclass
class Board(harness.Board):
    @property
    def board(self) -> BoardScreen:
        screen = self.app.screen
        assert isinstance(screen, BoardScreen), f"unexpected screen {screen!r}"
        return screen

    @property
    def table(self) -> BoardTable:
        return self.board.table

    def looked_at_all(self) -> bool:
        screen = self.app.screen
        return isinstance(screen, BoardScreen) and len(screen.table.rows) == JOBS_ON_BOARD \
            and all(row.looked_at is not None for row in screen.table.rows)

    def title(self) -> str:
        return str(self.app.screen.query_one(HeaderTitle).render())


@contextlib.asynccontextmanager
async def board_app(
    sim: Simulator, size: tuple[int, int] = (200, 60), **options: Any
) -> AsyncIterator[Board]:
    options.setdefault("tick", 0.2)
    options.setdefault("tty_check", 0)
    app = NfRunsApp(make_client(sim), AppOptions(host_label="sim.test", board=True, **options),
                    now=sim.world.now)
    async with harness.run_board(app, size, lambda pilot, errors: Board(app, pilot, sim, errors),
                                 wait_first_page=False) as state:
        await state.wait(state.looked_at_all, "every job looked at")
        yield state


@contextlib.asynccontextmanager
async def indexed_app(sim: Simulator) -> AsyncIterator[Board]:
    """The app without the board, once the job index has listed all 40 jobs."""
    app = NfRunsApp(make_client(sim), AppOptions(host_label="sim.test", tick=0.2, tty_check=0),
                    now=sim.world.now)
    async with harness.run_board(app, (120, 40), lambda pilot, errors: Board(
            app, pilot, sim, errors), wait_first_page=False) as state:
        scheduler = app.scheduler
        assert scheduler is not None
        await state.wait(lambda: scheduler.index is not None
                         and len(scheduler.index.snapshot()) == JOBS_ON_BOARD, "the index")
        yield state


async def test_the_board_shows_every_job_sorted_by_attention(board_sim: Simulator) -> None:
    async with board_app(board_sim) as state:
        rows = state.table.rows
        states = [row.state for row in rows]
        # Failing first, then missed, running, the rest.
        ranks = [list(BoardState).index(row_state) for row_state in states]
        assert ranks == sorted(ranks)
        assert BoardState.FAILING in states and BoardState.FINE in states
        # The seeded streak: "Retry failed charges" failed its last 4 runs at least.
        charges = next(row for row in rows if row.key.job_id == "charge-retries")
        assert charges.state is BoardState.FAILING and charges.failure_streak >= 4
        text = "\n".join(state.table.visible_text())
        assert "\u2718 FAILING" in text and "\u2714 OK" in text
        assert "failed in a row" in text
        assert "manual" in text
        summary = state.board.query_one("#board-summary").render()
        assert "failing" in str(summary) and "running" in str(summary)
        # Every row fits the width: nothing spills into the next line.
        width = state.table.scrollable_content_region.width
        assert all(len(line) <= width for line in state.table.visible_text())


async def test_the_board_fits_80x24(board_sim: Simulator) -> None:
    async with board_app(board_sim, size=(80, 24)) as state:
        lines = state.table.visible_text()
        assert lines and all(len(line) <= 80 for line in lines)
        layout = board_layout(state.table.scrollable_content_region.width)
        assert layout.name >= 15 and len(layout.columns) >= 4
        assert layout.has(Column.NEXT) and layout.has(Column.DURATION)
        assert state.table.size.height < 24


async def test_enter_opens_the_run_list_and_escape_comes_back(board_sim: Simulator) -> None:
    async with board_app(board_sim) as state:
        await state.pilot.press("down", "down")
        chosen = state.table.highlighted
        assert chosen is not None
        await state.pilot.press("enter")
        await state.wait(lambda: isinstance(state.app.screen, MainScreen), "the run list")
        main = state.app.screen
        assert isinstance(main, MainScreen)
        assert main.key == chosen.key
        await state.wait(lambda: bool(main.run_list.runs), "its runs")
        await state.pilot.press("escape")
        await state.wait(lambda: isinstance(state.app.screen, BoardScreen), "the board")
        highlighted = state.table.highlighted
        assert highlighted is not None and highlighted.key == chosen.key
        # `b` on the board shows the highlighted job's runs; `b` again comes back.
        await state.pilot.press("b")
        await state.wait(lambda: isinstance(state.app.screen, MainScreen), "the run list")
        await state.pilot.press("b")
        await state.wait(lambda: isinstance(state.app.screen, BoardScreen), "the board")


async def test_filters_and_sort(board_sim: Simulator) -> None:
    async with board_app(board_sim) as state:
        await state.pilot.press("2")  # failing only
        assert state.table.rows and all(row.state is BoardState.FAILING
                                        for row in state.table.rows)
        await state.pilot.press("5")  # ok only: the word of help and README
        assert state.table.rows and all(row.state is BoardState.FINE
                                        for row in state.table.rows)
        assert "only ok" in str(state.board.query_one("#board-summary").render())
        await state.pilot.press("1", "o")  # all, by name
        names = [row.name.casefold() for row in state.table.rows]
        assert len(names) == JOBS_ON_BOARD and names == sorted(names)
        await state.pilot.press("slash")
        await state.pilot.press(*"ingest")
        await state.wait(lambda: len(state.table.rows) == 1, "one job matching 'ingest'")
        assert state.table.rows[0].key == JobKey("data", "ingest-clicks")
        await state.pilot.press("escape")
        assert len(state.table.rows) == JOBS_ON_BOARD


async def test_a_new_failure_is_told_and_counted_until_looked_at(board_sim: Simulator) -> None:
    async with board_app(board_sim) as state:
        assert state.app.notices.unread_count == 0  # what stood at the start is not news
        key = JobKey("storefront", "purge-cdn")
        run = board_sim.world.start_run(key.project_id, key.job_id, run_name="purge-now",
                                        duration=5.0, outcome="FAILED")
        board_sim.world.advance(10.0)
        state.table.select_key(key)
        await state.pilot.press("r")  # look at it now
        await state.wait(lambda: state.app.notices.unread_count == 1, "the unread count")
        assert run["id"] in state.app.notices.alerts._told
        await state.wait(lambda: "1 new" in state.title(), "the counter in the header")
        assert state.app.notices.alerts.is_unread(key)
        state.table.select_key(key)
        await state.pilot.press("enter")
        await state.wait(lambda: state.app.notices.unread_count == 0, "the news read")
        assert "new" not in state.title()


async def test_the_picker_filter_and_the_palette_find_jobs_of_projects_never_expanded(
    board_sim: Simulator,
) -> None:
    """Typing "ingest" right after the start finds the job in a project nobody opened: the
    global job index lists every project's jobs."""
    async with indexed_app(board_sim) as state:
        app = state.app
        main = app.screen
        assert isinstance(main, MainScreen)
        picker = main.picker
        assert picker.find_job("data", "ingest-clicks") is not None  # (known from the index)
        box = picker.query_one("#job-filter")
        box.focus()
        await state.pilot.press(*"ingest")

        def leaves() -> list[str]:
            return [leaf.label.plain for node in picker.job_tree.root.children
                    for leaf in node.children]

        await state.wait(lambda: any("Ingest clickstream" in label for label in leaves()),
                         "the job under its project")
        from tui.commands import JobCommands

        labels = [label for _, _, label in JobCommands(app.screen)._jobs()]
        assert "Data pipelines / Ingest clickstream" in labels
        assert len(labels) == JOBS_ON_BOARD


async def test_board_over_one_project(board_sim: Simulator) -> None:
    app = NfRunsApp(make_client(board_sim),
                    AppOptions(host_label="sim.test", board=True, project="platform",
                               board_project="platform", tick=0.2,
                               tty_check=0),
                    now=board_sim.world.now)
    async with harness.run_board(app, (200, 60), lambda pilot, errors: Board(
            app, pilot, board_sim, errors), wait_first_page=False) as state:
        await state.wait(lambda: isinstance(app.screen, BoardScreen)
                         and len(state.table.rows) > 0
                         and all(row.looked_at is not None for row in state.table.rows),
                         "the platform project's jobs looked at")
        await state.wait(lambda: app.scheduler is not None and app.scheduler.index is not None
                         and not app.scheduler.index.walking, "the index listed")
        await state.pilot.pause()
        keys = {row.key for row in state.table.rows}
        assert keys and {key.project_id for key in keys} == {"platform"}
        expected = {item["id"] for item in board_sim.world.jobs("platform")}
        assert {key.job_id for key in keys} == expected


async def test_without_colour_failures_are_the_loudest(
    board_sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    async with board_app(board_sim, size=(120, 40)) as state:
        table = state.table
        failing = table.get_component_rich_style("board--failing")
        fine = table.get_component_rich_style("board--fine")
        assert failing.reverse and failing.bold and not fine.reverse
        await state.pilot.press("enter")
        await state.wait(lambda: isinstance(state.app.screen, MainScreen), "the run list")
        run_list = state.app.screen.query_one("RunList")
        failed = run_list.get_component_rich_style("run-list--failed")
        success = run_list.get_component_rich_style("run-list--success")
        assert failed.reverse and failed.bold and not success.reverse


async def test_picker_filter_escape_clears_and_enter_opens_the_single_match(
    board_sim: Simulator,
) -> None:
    async with indexed_app(board_sim) as state:
        app = state.app
        main = app.screen
        assert isinstance(main, MainScreen)
        picker = main.picker
        box = picker.query_one("#job-filter")
        box.focus()
        await state.pilot.press(*"rotate")
        await state.wait(lambda: len(picker.matching_jobs()) == 2, "two matches")
        await state.pilot.press("escape")
        await state.wait(lambda: picker.job_tree.has_focus, "the tree focused")
        assert box.value == "" and len(picker.matching_jobs()) != 2
        box.focus()
        await state.pilot.press(*"clickstream", "enter")
        await state.wait(lambda: main.key == JobKey("data", "ingest-clicks"), "the job opened")


async def test_the_palettes_screenshot_is_saved_and_says_where(
    board_sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/Downloads: the working directory
    monkeypatch.chdir(tmp_path)
    async with board_app(board_sim, size=(80, 24)) as state:
        state.app.action_screenshot()
        saved = list(tmp_path.glob("*.svg"))
        assert len(saved) == 1 and "<svg" in saved[0].read_text()
        await state.wait(lambda: any(str(saved[0]) in n.message
                                     for n in state.app._notifications), "the toast")


async def test_the_run_list_under_the_board_does_not_tick(
    board_sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Textual counts the screen under the top one as current even when the top one hides it
    all: its run list's tick would repaint, every second, what nobody can see."""
    async with board_app(board_sim) as b:
        main = b.app.screen_stack[0]
        assert isinstance(main, MainScreen) and isinstance(b.app.screen, BoardScreen)
        ticks: list[int] = []
        monkeypatch.setattr(main.run_list, "tick", lambda: ticks.append(1))
        start = b.board._ticks
        await b.wait(lambda: b.board._ticks >= start + 3, "three board ticks")
        assert ticks == []
        await b.pilot.press("b")  # the highlighted job's runs: the run list is seen again
        await b.wait(lambda: isinstance(b.app.screen, MainScreen), "the run list")
        await b.wait(lambda: bool(ticks), "the run list's tick")


async def test_a_suspended_job_stays_suspended_whatever_its_old_runs_say(
    board_sim: Simulator,
) -> None:
    """"Old export" is suspended, its last runs (3 days old) failed 5 in a row: the row read
    SUSPENDED until its first look, then FAILING (and its schedule's "suspended" was cut off
    at 120 columns). It stays SUSPENDED, is not counted failing, and ranks below the ok ones."""
    key = JobKey("data", "old-export")
    async with board_app(board_sim, size=(120, 40)) as state:
        row = next(row for row in state.table.rows if row.key == key)
        assert row.looked_at is not None and row.failure_streak >= 2  # its old failures
        state.table.select_key(key)  # (scrolled to: it ranks below the ok ones)
        await state.pilot.pause()
        line = next(line for line in state.table.visible_text() if "Old export" in line)
        assert "SUSPENDED" in line and "FAILING" not in line, line
        assert "suspended" in line.replace("SUSPENDED", ""), line  # the schedule's word too
        assert row.suspended and row.state is BoardState.SUSPENDED
        assert state_cell(row)[0] == "\u2016 SUSPENDED"
        failing = [r for r in state.table.rows if r.state is BoardState.FAILING]
        assert key not in {r.key for r in failing}
        ranks = [list(BoardState).index(r.state) for r in state.table.rows]
        assert ranks == sorted(ranks)
        summary = str(state.board.query_one("#board-summary").render())
        suspended = sum(r.suspended for r in state.table.rows)
        assert f"\u2016 {suspended} suspended" in summary, summary
        ok = sum(r.state is BoardState.FINE for r in state.table.rows)
        assert f"\u2714 {ok} ok" in summary, summary
        # A later look (the planner's second, `r`) and the index's listing change nothing.
        before = row.looked_at
        board_sim.world.advance(10.0)
        await state.pilot.press("r")
        await state.wait(lambda: next(r for r in state.table.rows if r.key == key).looked_at
                         != before, "a second look")
        again = next(r for r in state.table.rows if r.key == key)
        assert again.state is BoardState.SUSPENDED
        assert state.app.notices.unread_count == 0  # old failures are not news
