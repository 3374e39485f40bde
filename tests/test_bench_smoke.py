"""`python -m tui.bench` still works: its cheapest measurements, quickly (a few seconds)."""

from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tui import bench, bench_board, bench_board_idle
from tui.watch.board import BoardState, JobSummary
from tui.watch.events import JobKey

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and pty")


def test_bytes_by_row_attributes_output_to_cursor_moves() -> None:
    data = b"ab\x1b[3;5Hxyz\x1b[39;1Hstatus"
    assert bench.bytes_by_row(data) == {0: 2, 3: 9, 39: 13}
    assert bench.bytes_by_move(data) == {(0, 0): 2, (3, 5): 9, (39, 1): 13}


def test_bare_import_and_first_row_in_a_pty(tmp_path: Path) -> None:
    [bare] = bench.measure_bare_import(runs=1)
    assert 0 < bare < 20
    sim = bench.build_simulator(history=200)
    children = bench.Children()
    try:
        [first] = bench.measure_first_row(
            sim, children, bench.app_env(str(tmp_path), sim.token), runs=1, cols=100, rows=30
        )
        assert 0 < first < 20
        assert bench.rss_mb() > 0
        assert bench.cpu_seconds(os.getpid()) > 0
    finally:
        children.stop_all()
        sim.stop()


def test_the_board_part_reports_every_figure_over_two_simulated_hours() -> None:
    report = bench.Report()
    figures = bench_board.report_board(report, seconds=2 * 3600)
    rows = {row.figure: row for row in report.rows}
    assert rows["board looks in any rolling hour"].ok is True
    for kind in ("every-minute cron", "15-minute cron", "hourly/daily cron", "manual"):
        assert f"{kind}: start seen" in rows and f"{kind}: end seen" in rows, kind
    assert "idle/suspended: runs" in rows
    assert rows["missed cron runs flagged after"].ok is not None  # a fire was missed
    for kind in bench_board.CRON_CLASSES:
        name = bench_board.CLASS_NAMES[kind]
        for part in ("start", "end"):
            assert rows[f"{name}: {part} p95 vs round-robin"].ok is not None, (kind, part)
    assert figures.round_robin.look_times()  # both ways ran over the same span
    assert len(figures.round_robin.looks) == 2 * bench_board.board_share()


def test_the_board_days_read_the_same_pages_as_whole_reads_would() -> None:
    """The cached first pages (only changed runs read again) equal the world's whole pages
    at every look, for the planner's way of looking and the round-robin's."""
    planner = bench_board.planner_day(seconds=3600, verify=True)
    naive = bench_board.round_robin_day(seconds=3600, verify=True)
    assert planner.looks and naive.looks
    again = bench_board.planner_day(seconds=3600)
    assert (again.looks, again.start_delay, again.end_delay) == (
        planner.looks, planner.start_delay, planner.end_delay)  # same seed, same numbers


def _summary(name: str, *, looked: bool = True, cron: bool = False,
             next_fire: bool = False) -> JobSummary:
    at = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)
    return JobSummary(key=JobKey("p", name), name=name, kind="cron" if cron else "manual",
                      schedule_text="", suspended=False, state=BoardState.FINE,
                      looked_at=at if looked else None, next_fire=at if next_fire else None)


def test_the_board_idle_part_knows_when_the_first_fill_is_done() -> None:
    done = [_summary("a"), _summary("b", cron=True, next_fire=True)]
    assert bench_board_idle.board_filled(done, jobs=2)
    assert not bench_board_idle.board_filled(done, jobs=3)  # a job not listed yet
    assert not bench_board_idle.board_filled([*done, _summary("c", looked=False)], jobs=3)
    assert not bench_board_idle.board_filled([*done, _summary("d", cron=True)], jobs=3)


def test_the_board_idle_commands_parse_and_its_bytes_are_attributed() -> None:
    args = bench.build_parser().parse_args(["board-idle", "--quick"])
    assert args.command == "board-idle" and bench_board_idle.window_seconds(args) == 10.0
    args = bench.build_parser().parse_args(["board-idle", "--seconds", "5"])
    assert bench_board_idle.window_seconds(args) == 5.0
    screen = b"\x1b[2;1Hsum\x1b[3;1Hhdr\x1b[5;1Hjob\x1b[23;1Hst\x1b[24;1Hk"
    window = bench.Window(60.0, 0.1, 0, [], screen)
    idle = bench_board_idle.BoardIdle(80, 24, window, (0.0, 0.0))
    assert bench_board_idle.where_board_bytes_went(idle) == (
        "bytes/min: summary 9, row 3 9, job rows 9, status line 9, row 24 8; "  # with moves
        "whole-board repaints 1.0/min")


def test_a_pty_app_is_repainted_at_its_new_size(tmp_path: Path) -> None:
    children = bench.Children()
    try:
        app = children.spawn([sys.executable, "-m", "tui.bench", "bare"],
                             bench.app_env(str(tmp_path), "token"), 100, 30)
        assert app.wait_for([b"--:--:--", b":"], timeout=30) is not None
        bench_board_idle.resize(app, 80, 24)
        bench_board_idle.wait_repaint(app, 80 * 24, timeout=30)
    finally:
        children.stop_all()
