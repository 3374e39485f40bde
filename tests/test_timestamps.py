"""Timestamps at the edge of the calendar (issue 8, class 6): shown, or "?", never a crash.

startedAt 9999-12-31T23:00Z is already year 10000 in Tokyo; 0001-01-01T00:00Z still year 0 in
New York: converting them to local time overflows. Every display of a time (the run list's
three time modes, the detail screen, durations, relative times, log lines) must cope, in any
time zone. The zone is set with TZ + time.tzset() and restored after each test.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui.api.client import NorthflankClient
from tui.api.models import JobRun, RunStatus
from tui.api.ratelimit import RateLimitBudget
from tui.app import NfRunsApp
from tui.formatting import (
    TimeMode,
    format_both_times,
    format_clock,
    format_duration,
    format_local,
    format_started,
    format_utc,
)
from tui.options import AppOptions
from tui.screens.detail import RunDetailScreen, run_fields
from tui.simulator import Simulator, World

from . import harness

UTC = timezone.utc
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
LAST_HOUR = datetime(9999, 12, 31, 23, 0, tzinfo=UTC)
FIRST_DAY = datetime(1, 1, 1, tzinfo=UTC)
ZONES = [
    "UTC", "Asia/Tokyo", "America/New_York", "Pacific/Kiritimati",  # +14
    "Pacific/Pago_Pago",  # -11
    "Asia/Kathmandu",  # +05:45
    "Australia/Lord_Howe",  # a half-hour DST shift
    "America/St_Johns",  # -03:30
]

SetZone = Callable[[str], None]


@contextlib.contextmanager
def zone(monkeypatch: pytest.MonkeyPatch, name: str) -> Iterator[None]:
    """The process's local time zone is `name` inside; the old one is restored after."""
    with monkeypatch.context() as patch:
        patch.setenv("TZ", name)
        time.tzset()
        try:
            yield
        finally:
            patch.undo()
            time.tzset()


@pytest.fixture
def set_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[SetZone]:
    def set_it(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield set_it
    monkeypatch.undo()
    time.tzset()


def _run(started: datetime | None, concluded: datetime | None = None, *,
         running: bool = False) -> JobRun:
    return JobRun(
        id="d34582a4-35bd-4c71-8e7c-e36999b88723", run_name="edge",
        status=RunStatus.RUNNING if running else RunStatus.SUCCESS,
        raw_status="RUNNING" if running else "SUCCESS", active=running, concluded=not running,
        succeeded=not running, failed=False, completions=0 if running else 1, backoff_limit=0,
        started_at=started, concluded_at=concluded,
    )


# ----- the two cases of the issue, and their neighbours ------------------------------------------


def test_last_hour_of_year_9999_in_tokyo(set_zone: SetZone) -> None:
    set_zone("Asia/Tokyo")
    # The local time would be year 10000: the value is shown in UTC, marked "Z".
    assert format_started(LAST_HOUR, NOW, TimeMode.LOCAL) == "9999-12-31 23:00:00Z"
    assert format_started(LAST_HOUR, NOW, TimeMode.UTC) == "9999-12-31 23:00:00Z"
    assert re.fullmatch(r"in \d+y \d+d", format_started(LAST_HOUR, NOW, TimeMode.RELATIVE))
    assert format_both_times(LAST_HOUR) == "?   (9999-12-31 23:00:00Z)"
    assert format_clock(LAST_HOUR) == "23:00:00"


def test_first_day_of_year_1_in_new_york(set_zone: SetZone) -> None:
    set_zone("America/New_York")
    assert format_started(FIRST_DAY, NOW, TimeMode.LOCAL) == "0001-01-01 00:00:00Z"
    assert format_started(FIRST_DAY, NOW, TimeMode.UTC) == "0001-01-01 00:00:00Z"  # 4 digits
    assert format_started(FIRST_DAY, NOW, TimeMode.RELATIVE) == "2027y 93d ago"
    assert format_both_times(FIRST_DAY) == "?   (0001-01-01 00:00:00Z)"


def test_the_same_times_where_they_fit(set_zone: SetZone) -> None:
    set_zone("America/New_York")
    assert format_local(LAST_HOUR) == "9999-12-31 18:00:00"
    assert format_both_times(LAST_HOUR) == "9999-12-31 18:00:00 -0500   (9999-12-31 23:00:00Z)"
    set_zone("Asia/Tokyo")
    # Local mean time before 1888: +09:18:59, seconds and all.
    assert format_both_times(FIRST_DAY) == "0001-01-01 09:18:59 +091859   (0001-01-01 00:00:00Z)"


def test_an_offset_that_leaves_the_calendar_shows_a_question_mark(set_zone: SetZone) -> None:
    set_zone("UTC")
    # 0001-01-01 03:00 at +05:00 is year 0 in UTC: not representable at all.
    early = datetime(1, 1, 1, 3, tzinfo=timezone(timedelta(hours=5)))
    late = datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5)))
    for value in (early, late):
        for mode in TimeMode:
            assert format_started(value, NOW, mode) == "?"
        assert format_both_times(value) == "?"
        assert format_clock(value) == "??:??:??"
        assert format_utc(value) == "?"


def test_relative_times_from_a_clock_at_the_other_end() -> None:
    # humanize.naturaltime would subtract from the local clock and overflow here.
    far_future = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert format_started(FIRST_DAY, far_future, TimeMode.RELATIVE) == "10005y 233d ago"
    assert format_started(far_future, FIRST_DAY, TimeMode.RELATIVE) == "in 10005y 233d"


@pytest.mark.parametrize(
    ("days", "text"),
    [(999, "999d 0h"), (1000, "2y 270d"), (3650, "10y 0d"), (36500, "100y 0d"),
     (365 * 1000, "1000y 0d"), (365 * 10000 + 100, "10000y"), (3_652_058, "10005y")],
)
def test_durations_of_centuries_fit_the_column(days: int, text: str) -> None:
    assert format_duration(timedelta(days=days)) == text


@pytest.mark.parametrize("tz", ["Asia/Tokyo", "America/New_York"])
def test_detail_fields_of_runs_at_the_edges(set_zone: SetZone, tz: str) -> None:
    set_zone(tz)
    runs = [
        _run(FIRST_DAY, FIRST_DAY + timedelta(minutes=1)),
        _run(LAST_HOUR, running=True),  # started "in the future": 0s so far
        _run(FIRST_DAY, running=True),  # running for 2,000 years
        _run(FIRST_DAY, LAST_HOUR),
    ]
    for run in runs:
        fields = dict(run_fields(run, NOW))
        assert "Z)" in fields["startedAt"]
        assert fields["duration"]
    assert dict(run_fields(runs[0], NOW))["duration"] == "1m 00s"
    assert dict(run_fields(runs[1], NOW))["duration"] == "0s  (running)"
    assert dict(run_fields(runs[2], NOW))["duration"] == "2027y  (running)"


# ----- hypothesis: the whole range, several zones ----------------------------------------------

_OFFSETS = st.sampled_from([
    UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12)),
    timezone(timedelta(hours=5, minutes=45)), timezone(timedelta(hours=-3, minutes=-30)),
])
ANY_TIME = st.datetimes(
    min_value=datetime.min, max_value=datetime.max, timezones=st.one_of(st.none(), _OFFSETS)
)
_DATE_TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
SHAPES = {
    TimeMode.UTC: re.compile(rf"{_DATE_TIME}Z|\?"),
    TimeMode.LOCAL: re.compile(rf"{_DATE_TIME}Z?|\?"),
    TimeMode.RELATIVE: re.compile(r"just now|.+ ago|in .+|\?"),
}


@settings(max_examples=300, deadline=None)
@given(value=ANY_TIME, now=ANY_TIME, tz=st.sampled_from(ZONES))
def test_any_time_in_any_zone_is_shown_or_a_question_mark(
    value: datetime, now: datetime, tz: str
) -> None:
    with pytest.MonkeyPatch.context() as patch, zone(patch, tz):
        for mode in TimeMode:
            text = format_started(value, now, mode)
            assert SHAPES[mode].fullmatch(text), (mode, text)
            assert len(text) <= 22, text  # within the started column or close to it
        both = format_both_times(value)
        assert both == "?" or both.endswith("Z)"), both
        assert re.fullmatch(r"\d\d:\d\d:\d\d|\?\?:\?\?:\?\?", format_clock(value))


@settings(max_examples=300, deadline=None)
@given(started=ANY_TIME, end=ANY_TIME, now=ANY_TIME, running=st.booleans(),
       tz=st.sampled_from(ZONES))
def test_any_run_detail_in_any_zone(
    started: datetime, end: datetime, now: datetime, running: bool, tz: str
) -> None:
    started, end, now = (value.replace(tzinfo=UTC) for value in (started, end, now))
    run = _run(started, None if running else end, running=running)
    with pytest.MonkeyPatch.context() as patch, zone(patch, tz):
        fields = dict(run_fields(run, now))
    assert fields["startedAt"].endswith("Z)")
    assert len(fields["duration"].split()[0]) <= 8


@given(st.timedeltas())
def test_any_duration_fits(td: timedelta) -> None:
    text = format_duration(td)
    assert len(text) <= 8 and not text.startswith("-"), text


# ----- the app, in Tokyo and New York -----------------------------------------------------------


def edge_simulator() -> Simulator:
    """A job whose runs start at 0001-01-01T00:00Z and 9999-12-31T23:00Z (still running)."""
    world = World(seed=7, speed=0.0, start=NOW, history=False)
    world.add_project("edge", "Edge of the calendar")
    world.add_job("edge", "times", "Times", "manual", None, (10.0, 60.0))
    job = world._job("edge", "times")
    with world._lock:  # the simulator has no public way to start a run at a chosen time
        world._append(job, FIRST_DAY.timestamp(), duration=60.0, outcome="SUCCESS")
        world._append(job, LAST_HOUR.timestamp(), duration=60.0, outcome="FAILED")
    sim = Simulator(world, rate_limit=1_000_000)
    sim.start()
    return sim


@pytest.mark.parametrize("tz", ["Asia/Tokyo", "America/New_York"])
async def test_the_app_shows_runs_at_the_edges(set_zone: SetZone, tz: str) -> None:
    set_zone(tz)
    sim = edge_simulator()
    try:
        client = NorthflankClient(sim.token, sim.url, budget=RateLimitBudget(), max_retries=0)
        app = NfRunsApp(
            client,
            AppOptions(host_label="sim.test", project="edge", job="times", refresh=1.0,
                       tick=0.2, idle_interval=2.0, tty_check=0),
            now=sim.world.now,
        )
        async with harness.run_board(
            app, (120, 30), lambda pilot, errors: harness.Board(app, pilot, sim, errors)
        ) as b:
            assert len(b.run_list.runs) == 2
            texts = []
            for _ in TimeMode:  # relative, local, UTC; each repainted
                texts.append("\n".join(b.run_list.visible_text()))
                await b.pilot.press("t")
                await b.pilot.pause()
            joined = "\n".join(texts)
            assert "9999-12-31 23:00:00Z" in joined and "0001-01-01 00:00:00Z" in joined
            assert re.search(r"\bin \d+y \d+d", joined) and re.search(r"\d+y \d+d ago", joined)
            for index in range(2):
                b.run_list.focus()
                await b.pilot.press("home", *("down",) * index, "enter")
                await b.wait(lambda: isinstance(app.screen, RunDetailScreen), "the detail")
                detail = app.screen
                assert isinstance(detail, RunDetailScreen)
                # The run "in the future" has no lines yet: "Logs: none for this run".
                title = detail.query_one("#logs-title")
                await b.wait(lambda t=title: "loading" not in str(t.render()), "the logs")
                await b.pilot.pause(0.5)  # a few ticks of the running run's duration
                await b.pilot.press("escape")
                await b.wait(lambda: not isinstance(app.screen, RunDetailScreen), "back")
            b.assert_healthy()
    finally:
        sim.stop()
