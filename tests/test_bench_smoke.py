"""`python -m tui.bench` still works: its cheapest measurements, quickly (a few seconds)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tui import bench

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
