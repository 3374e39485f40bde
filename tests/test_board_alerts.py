"""The board's news (tui.watch.alerts), how it is told (tui.notices), and its rows' cells
(tui.widgets.board_cells): pure, no app, no clock but the one given."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from tui.notices import COALESCE, BoardNotices, desktop_sequences
from tui.watch.alerts import MAX_TOLD, AlertKind, BoardAlerts, coalesced_text
from tui.watch.board import JobSummary, summarize, with_live_parts
from tui.watch.events import BoardChanged, JobKey
from tui.widgets.board_cells import (
    MARGIN,
    MIN_NAME,
    STATE_WIDTH,
    Column,
    board_layout,
    compact_age,
    compact_ahead,
    row_cells,
    state_cell,
)

from .test_board_engine import at, cron_job, manual_job, run


def manual_row(*runs: object, job_id: str = "reindex", name: str = "Reindex",
               seen: bool = True) -> JobSummary:
    return summarize(manual_job(job_id, name), list(runs),  # type: ignore[arg-type]
                     now=at(30), looked_at=at(30) if seen else None)


# ----- news --------------------------------------------------------------------------------


def test_what_stands_at_the_first_look_is_not_news() -> None:
    alerts = BoardAlerts()
    failing = manual_row(run("r1", "FAILED", at(0), 10))
    assert alerts.follow([failing]) == []
    assert alerts.unread_count == 0
    # The same failure seen again is not news either.
    assert alerts.follow([failing]) == []


def test_a_new_failure_is_news_once_and_unread_until_seen() -> None:
    alerts = BoardAlerts()
    alerts.follow([manual_row(run("r1", "SUCCESS", at(0), 10))])
    alerts.follow([manual_row(run("r2", "RUNNING", at(5)), run("r1", "SUCCESS", at(0), 10))])
    news = alerts.follow([manual_row(run("r2", "FAILED", at(5), 20),
                                     run("r1", "SUCCESS", at(0), 10))])
    assert [alert.kind for alert in news] == [AlertKind.FAILED]
    assert news[0].text == "Reindex: run run-r2 failed"
    key = JobKey("p", "reindex")
    assert alerts.unread_count == 1 and alerts.is_unread(key)
    assert alerts.follow([manual_row(run("r2", "FAILED", at(5), 20))]) == []
    assert alerts.seen(key) and alerts.unread_count == 0
    assert not alerts.seen(key)


def test_a_failure_told_by_the_run_list_is_not_told_again() -> None:
    alerts = BoardAlerts()
    alerts.follow([manual_row(run("r1", "SUCCESS", at(0), 10))])
    alerts.told(["r2"])
    assert alerts.follow([manual_row(run("r2", "FAILED", at(5), 20))]) == []
    assert alerts.was_told("r2")


def test_told_run_ids_are_bounded() -> None:
    alerts = BoardAlerts()
    alerts.told(f"run-{index}" for index in range(MAX_TOLD + 500))
    assert not alerts.was_told("run-0") and alerts.was_told(f"run-{MAX_TOLD + 499}")
    assert len(alerts._told) == MAX_TOLD


def test_a_missed_fire_is_news_after_the_first_check_of_the_schedule() -> None:
    alerts = BoardAlerts()
    job = cron_job("*/15 * * * *")
    ran = [run("c1", "SUCCESS", at(0), 30)]
    # 12:05: fine. 12:20: the 12:15 run never came, past its 2 min grace.
    assert alerts.follow([summarize(job, ran, now=at(5), looked_at=at(5))]) == []
    news = alerts.follow([summarize(job, ran, now=at(20), looked_at=at(20))])
    assert [alert.kind for alert in news] == [AlertKind.MISSED]
    assert "12:15 UTC" in news[0].text
    # Still missing at 12:25: the same fire, told once.
    assert alerts.follow([summarize(job, ran, now=at(25), looked_at=at(25))]) == []


def test_a_job_missed_when_the_board_opens_is_not_news() -> None:
    alerts = BoardAlerts()
    job = cron_job("*/15 * * * *")
    ran = [run("c1", "SUCCESS", at(0), 30)]
    assert alerts.follow([summarize(job, ran, now=at(20), looked_at=at(20))]) == []


def test_hostile_names_are_printable_and_short_in_news() -> None:
    alerts = BoardAlerts()
    name = "\x1b]0;pwned\x07" + "x" * 500
    alerts.follow([manual_row(run("r1", "SUCCESS", at(0), 10), name=name)])
    news = alerts.follow([manual_row(run("r2", "FAILED", at(5), 10), name=name)])
    assert news and "\x1b" not in news[0].text and "\x07" not in news[0].text
    assert len(news[0].job_name) <= 60


def test_coalesced_text() -> None:
    alerts = BoardAlerts()
    rows = [manual_row(run("a1", "SUCCESS", at(0), 10), job_id=f"j{i}", name=f"Job {i}")
            for i in range(5)]
    alerts.follow(rows)
    news = alerts.follow([manual_row(run(f"b{i}", "FAILED", at(5), 10), job_id=f"j{i}",
                                     name=f"Job {i}") for i in range(5)])
    title, text = coalesced_text(news)
    assert title == "Board" and text == "5 failed: Job 0, Job 1, Job 2 and 2 more"
    assert coalesced_text(news[:1]) == ("Run failed", "Job 0: run run-b0 failed")


# ----- telling -----------------------------------------------------------------------------


class FakeApp:
    def __init__(self) -> None:
        self.toasts: list[tuple[str, str]] = []
        self.bells = 0
        self.timers: list[tuple[float, Callable[[], None]]] = []

    def notify(self, message: str, *, title: str = "", severity: str = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        assert markup is False
        self.toasts.append((title, message))

    def bell(self) -> None:
        self.bells += 1

    def set_timer(self, delay: float, callback: Callable[[], None]) -> object:
        self.timers.append((delay, callback))
        return None

    def fire_timers(self) -> None:
        timers, self.timers = self.timers, []
        for _, callback in timers:
            callback()


def changed(*rows: JobSummary) -> BoardChanged:
    return BoardChanged(rows, tuple(row.key for row in rows), 0, 100)


@pytest.mark.parametrize(("bell", "desktop"), [(False, False), (True, True)])
def test_news_arriving_together_is_told_once(bell: bool, desktop: bool) -> None:
    app, written, counts = FakeApp(), [], []
    notices = BoardNotices(app, bell=bell, desktop=desktop,  # type: ignore[arg-type]
                           write=written.append, environ={}, on_unread=counts.append)
    first = [manual_row(run("a", "SUCCESS", at(0), 10), job_id=f"j{i}", name=f"Job {i}")
             for i in range(3)]
    notices.follow(changed(*first))
    for i in range(3):
        notices.follow(changed(manual_row(run(f"f{i}", "FAILED", at(5), 10), job_id=f"j{i}",
                                          name=f"Job {i}")))
    assert len(app.timers) == 1 and app.timers[0][0] == COALESCE
    assert app.toasts == [] and counts[-1] == 3
    app.fire_timers()
    assert app.toasts == [("Board", "3 failed: Job 0, Job 1, Job 2")]
    assert app.bells == (1 if bell else 0)
    assert len(written) == (1 if desktop else 0)
    notices.seen(None)
    assert counts[-1] == 0 and notices.unread() == frozenset()


def test_desktop_sequences_cannot_be_broken_out_of() -> None:
    hostile = "job\x07;\x1b]52;c;cGF5bG9hZA==\x1b\\ done"
    data = desktop_sequences("nf-runs board", hostile, in_tmux=False)
    osc9, osc777, osc99 = data.split("\x07")
    assert osc9.startswith("\x1b]9;nf-runs") and osc777.startswith("\x1b]777;notify;")
    assert osc99.startswith("\x1b]99;;nf-runs") and osc99.endswith("\x1b\\")
    # Exactly three sequences, each ended once; the payload has no ESC, BEL or ';' of its own.
    assert data.count("\x07") == 2 and data.count("\x1b") == 4
    assert osc777.count(";") == 3  # 777 ; notify ; title ; body
    assert osc9.count(";") == 1 and osc99.count(";") == 2
    wrapped = desktop_sequences("t", "b", in_tmux=True)
    assert wrapped.startswith("\x1bPtmux;\x1b\x1b]9;") and wrapped.endswith("\x1b\\")


# ----- cells -------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [40, 60, 80, 100, 120, 160, 200, 300])
def test_the_layout_fits_every_width(width: int) -> None:
    layout = board_layout(width)
    used = MARGIN + STATE_WIDTH + 1 + layout.name + sum(1 + w for _, w in layout.columns)
    assert used <= width or width < MARGIN + STATE_WIDTH + 1 + MIN_NAME
    if width >= 80:
        assert {Column.DURATION, Column.STRIP, Column.SCHEDULE, Column.NEXT} <= \
            {column for column, _ in layout.columns}
    if width >= 200:
        assert len(layout.columns) == len(Column)


def test_times_move_by_the_minute() -> None:
    assert compact_age(at(0), at(0, 59)) == "just now"
    assert compact_age(at(0), at(12, 30)) == "12m ago"
    assert compact_age(at(0, hour=9), at(0)) == "3h ago"
    assert compact_age(None, at(0)) == "-"
    assert compact_ahead(at(3), at(2, 30)) == "in <1m"
    assert compact_ahead(at(10), at(2)) == "in 8m"


def test_a_rows_cells() -> None:
    job = cron_job("*/15 * * * *")
    runs = [run("c2", "RUNNING", at(15), None)] + [
        run(f"c{i}", "SUCCESS", at(0) - timedelta(minutes=15 * i), 60) for i in range(1, 7)]
    row = summarize(job, runs, now=at(17), looked_at=at(17))
    cells = row_cells(row, at(17), board_layout(300))
    assert cells[Column.SCHEDULE] == "cron · every 15 min"
    assert cells[Column.DURATION] == "2m 00s SLOW"  # past the p90 of 60 s
    assert cells[Column.STRIP] == "\u2714" * 6 + "\u25cf"
    assert cells[Column.NEXT] == "in 13m"
    assert cells[Column.SEEN] == "<1m"
    assert state_cell(row) == ("\u25cf RUNNING", "board--running")


def test_the_live_parts_move_without_recomputing_the_row() -> None:
    job = cron_job("*/15 * * * *")
    runs = [run("c2", "RUNNING", at(15), None)] + [
        run(f"c{i}", "SUCCESS", at(0) - timedelta(minutes=15 * i), 60) for i in range(1, 7)]
    row = summarize(job, runs, now=at(15, 30), looked_at=at(15, 30))
    assert not row.slow and row.latest is not None
    later = with_live_parts(row, at(17))
    assert later.latest is not None and later.latest.duration == timedelta(minutes=2)
    assert later.slow  # past the p90 of 60 s
    # The rest is the row's own until its next look (the tick recomputes it now and then).
    assert (later.next_fire, later.strip, later.typical_duration) == \
        (row.next_fire, row.strip, row.typical_duration)
    finished = summarize(job, runs[1:], now=at(17), looked_at=at(17))
    assert with_live_parts(finished, at(18)) is finished
