"""`python -m tui.bench` still works: its cheapest measurements, quickly (a few seconds)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tui import bench, bench_board

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
