"""The board's table repaints only the lines whose text moved (a board left open stays idle).

A small app with the table alone; which lines Textual asked the table to paint is counted
(`render_line`) from one frame to the next, the frame awaited with `call_after_refresh`. The
table's clock is injected.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone

from textual.app import App, ComposeResult
from textual.strip import Strip

from tui.api.models import JobDetails, JobRun
from tui.simulator import World
from tui.simulator.board_world import JOBS
from tui.watch.board import BoardState, JobSummary, summarize
from tui.watch.events import JobKey
from tui.widgets.board_cells import board_layout, row_cells
from tui.widgets.board_table import CLOCK_COLUMNS, BoardTable

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)


def row(name: str, state: BoardState = BoardState.FINE) -> JobSummary:
    return JobSummary(key=JobKey("p", name), name=name, kind="manual", schedule_text="manual",
                      suspended=False, state=state, looked_at=NOW - timedelta(minutes=5))


class CountingTable(BoardTable):
    def __init__(self, now: Callable[[], datetime] = lambda: NOW) -> None:
        super().__init__(now=now)
        self.painted: list[int] = []

    def render_line(self, y: int) -> Strip:
        self.painted.append(y)
        return super().render_line(y)


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield CountingTable()


async def painted_by(app: TableApp, change: object = None) -> set[int]:
    """The table's lines painted in the frame after `change` was made (None: nothing)."""
    table = app.query_one(CountingTable)
    await next_frame(table)
    table.painted.clear()
    if callable(change):
        change()
    await next_frame(table)
    return set(table.painted)


async def next_frame(table: BoardTable) -> None:
    """After the frame that paints what is pending (at once if nothing is)."""
    done = asyncio.Event()
    table.call_after_refresh(done.set)
    await asyncio.wait_for(done.wait(), timeout=30)


def shows(table: BoardTable, jobs: Sequence[JobSummary]) -> bool:
    """The table's lines show these jobs, in this order."""
    lines = table.visible_text()
    return len(lines) == len(jobs) and all(
        f" {job.name} " in f"{line} " for job, line in zip(jobs, lines, strict=True))


async def test_a_job_moving_in_the_order_repaints_only_the_lines_that_changed() -> None:
    jobs = [row(f"job-{index}") for index in range(8)]
    app = TableApp()
    async with app.run_test(size=(120, 20)):
        table = app.query_one(CountingTable)
        table.show(jobs)
        await painted_by(app)
        swapped: Sequence[JobSummary] = [jobs[0], jobs[2], jobs[1], *jobs[3:]]
        # Rows 1 and 2 swap places: their lines (the header is line 0) and no other.
        assert await painted_by(app, lambda: table.show(swapped)) == {2, 3}
        assert shows(table, swapped)
        # The same rows, nothing moved: nothing is painted.
        assert await painted_by(app, lambda: table.show(swapped)) == set()
        # One job becomes unread: its line only.
        marked = lambda: table.show(swapped, {jobs[5].key})  # noqa: E731
        assert await painted_by(app, marked) == {6}
        # A job more: the whole table (its length changed).
        more = [*swapped, row("job-8")]
        painted = await painted_by(app, lambda: table.show(more, {jobs[5].key}))
        assert painted >= set(range(1, 10))
        assert shows(table, more)


async def test_the_cursor_follows_its_job_and_both_lines_are_repainted() -> None:
    jobs = [row(f"job-{index}") for index in range(6)]
    app = TableApp()
    async with app.run_test(size=(120, 20)):
        table = app.query_one(CountingTable)
        table.show(jobs)
        table.select_key(jobs[3].key)
        await painted_by(app)
        moved = [jobs[3], *jobs[:3], *jobs[4:]]  # the highlighted job goes to the top
        painted = await painted_by(app, lambda: table.show(moved))
        assert painted == {1, 2, 3, 4}  # every line from the top to where it was
        assert table.highlighted == jobs[3]
        failing = [row("job-3", BoardState.FAILING), *moved[1:]]
        assert await painted_by(app, lambda: table.show(failing)) == {1}


def board_world_rows(now: datetime) -> list[JobSummary]:
    """Every row of the seeded 40-job board world, as a first look at `now` makes them."""
    world = World(seed=7, speed=0.0, start=now, preset="board")
    rows = []
    for spec in JOBS:
        details = JobDetails.from_json(world.job_details(spec.project, spec.id), spec.project)
        runs = [JobRun.from_json(run) for run in world.runs(spec.project, spec.id, limit=20)]
        rows.append(summarize(details, runs, now=now, looked_at=now))
    return rows


def test_only_the_clock_columns_move_with_the_clock() -> None:
    """The table works out the other columns once per JobSummary: their text must not depend
    on the time (whatever the width, whatever the row)."""
    rows = board_world_rows(NOW)
    assert any(row.latest is not None and row.latest.active for row in rows)
    for width in (60, 80, 120, 200, 300):
        layout = board_layout(width)
        fixed = [(column, size) for column, size in layout.columns
                 if column not in CLOCK_COLUMNS]
        assert fixed, width
        for job in rows:
            cells = [row_cells(job, NOW + timedelta(seconds=later), layout)
                     for later in (0, 59, 3600, 86400 * 3)]
            for column, _ in fixed:
                assert len({cell[column] for cell in cells}) == 1, (width, job.name, column)


async def test_a_tick_repaints_only_the_rows_whose_clock_text_moved() -> None:
    clock = [NOW]
    fresh = dataclasses.replace(row("fresh"), looked_at=NOW - timedelta(seconds=58))
    old = dataclasses.replace(row("old"), looked_at=NOW - timedelta(minutes=30))

    class ClockApp(App[None]):
        def compose(self) -> ComposeResult:
            yield CountingTable(now=lambda: clock[0])

    app = ClockApp()
    async with app.run_test(size=(200, 10)):
        table = app.query_one(CountingTable)
        table.show([fresh, old])
        await next_frame(table)
        assert await painted_by(app, table.tick) == set()  # no time passed
        clock[0] = NOW + timedelta(seconds=1)
        assert await painted_by(app, table.tick) == set()  # "<1m" and "30m" both stand
        clock[0] = NOW + timedelta(seconds=3)
        assert await painted_by(app, table.tick) == {1}  # "seen <1m" -> "1m": that row only


async def test_a_running_duration_repaints_its_cell_alone() -> None:
    """Over SSH a whole 200-column line is ~600 bytes; the duration's digits are a few."""
    from textual.geometry import Region

    from tui.api.models import RunStatus
    from tui.watch.board import LatestRun, with_live_parts
    from tui.widgets.board_cells import Column

    clock = [NOW]
    started = NOW - timedelta(seconds=30)
    latest = LatestRun(run_id="r1", run_name="job-r1", status=RunStatus.RUNNING,
                       raw_status="RUNNING", active=True, started_at=started,
                       concluded_at=None, duration=timedelta(seconds=30))
    running = dataclasses.replace(row("busy", BoardState.RUNNING), latest=latest,
                                  looked_at=NOW)
    refreshed: list[Region] = []

    class RecordingTable(CountingTable):
        def refresh(self, *regions: Region, **kwargs: bool) -> RecordingTable:
            refreshed.extend(regions)
            super().refresh(*regions, **kwargs)
            return self

    class ClockApp(App[None]):
        def compose(self) -> ComposeResult:
            yield RecordingTable(now=lambda: clock[0])

    app = ClockApp()
    async with app.run_test(size=(200, 10)):
        table = app.query_one(RecordingTable)
        table.show([running, row("idle")])
        await next_frame(table)
        refreshed.clear()
        clock[0] = NOW + timedelta(seconds=1)
        table.show([with_live_parts(running, clock[0]), row("idle")])
        layout = board_layout(200)
        x = layout.x_of(Column.DURATION)
        width = dict(layout.columns)[Column.DURATION]
        assert x is not None
        assert refreshed == [Region(x, 1, width, 1)]
        await next_frame(table)
        assert "31s" in table.visible_text()[0]
        # The board's per-second tick hands over only the rows that moved.
        refreshed.clear()
        clock[0] = NOW + timedelta(seconds=2)
        table.replace_rows({running.key: with_live_parts(running, clock[0])})
        assert refreshed == [Region(x, 1, width, 1)]
        await next_frame(table)
        assert "32s" in table.visible_text()[0] and "idle" in table.visible_text()[1]


def cells_of(strip: Strip) -> list[tuple[str, object]]:
    """A line cell by cell (character and style), whatever its segments' split."""
    return [(char, segment.style) for segment in strip for char in segment.text]


async def test_a_row_painted_from_its_template_is_the_row_painted_afresh() -> None:
    """A row's line is built once but for its moving cells (duration, clock texts): after
    the clock and the live parts move, every line is what a table with no cache paints,
    for the cursor's row, an unread row, a late cron job and SLOW runs alike."""
    from tui.watch.board import attention_order, with_live_parts

    clock = [NOW]
    rows = attention_order(board_world_rows(NOW))
    assert any(job.latest is not None and job.latest.active for job in rows)

    class ClockApp(App[None]):
        def compose(self) -> ComposeResult:
            yield BoardTable(now=lambda: clock[0], id="kept")

    for size in ((200, 50), (80, 50)):
        app = ClockApp()
        async with app.run_test(size=size):
            table = app.query_one("#kept", BoardTable)
            unread = {rows[2].key, rows[5].key}
            table.show(rows, unread)
            table.select_key(rows[1].key)
            await next_frame(table)
            for seconds in (1, 2, 59, 61, 900, 3600 * 5):
                clock[0] = NOW + timedelta(seconds=seconds)
                moved = [with_live_parts(job, clock[0]) for job in rows]
                if seconds == 900:
                    unread = {rows[1].key, rows[3].key}  # one read, one new
                table.show(moved, unread)
                if seconds == 61:
                    table.select_key(rows[2].key)  # onto an unread row
                await next_frame(table)
                width = table.scrollable_content_region.width
                kept = [table._row_strip(index, width, clock[0]) for index in range(len(moved))]
                table._cache.clear()
                table._templates.clear()
                table._fixed.clear()
                for index, line in enumerate(kept):
                    afresh = table._row_strip(index, width, clock[0])
                    assert cells_of(line) == cells_of(afresh), (size, seconds, index)
                    assert line.cell_length == width
