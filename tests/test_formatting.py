"""tui.formatting and the status badges: pure text, no app needed."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tui.api.models import JobRun, RunStatus
from tui.formatting import (
    TimeMode,
    format_age_words,
    format_attempts,
    format_duration,
    format_started,
    printable,
)
from tui.widgets.status_badge import badge_text
from tui.widgets.status_line import compact_span, rounded_age

NOW = datetime(2026, 11, 29, 12, 5, 2, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0s"),
        (0.9, "0s"),
        (45, "45s"),
        (59.99, "59s"),
        (60, "1m 00s"),
        (125, "2m 05s"),
        (3599, "59m 59s"),
        (3600, "1h 00m"),
        (3780, "1h 03m"),
        (86399, "23h 59m"),
        (86400, "1d 0h"),
        (2 * 86400 + 4 * 3600 + 59 * 60, "2d 4h"),
        (400 * 86400, "400d 0h"),
        (-5, "0s"),  # clock skew: never a negative duration
        (-86400, "0s"),
    ],
)
def test_format_duration(seconds: float, expected: str) -> None:
    assert format_duration(timedelta(seconds=seconds)) == expected


def test_format_duration_none() -> None:
    assert format_duration(None) == "-"


@given(st.timedeltas(min_value=timedelta(days=-1000), max_value=timedelta(days=999)))
def test_format_duration_is_never_negative_and_short(td: timedelta) -> None:
    text = format_duration(td)
    assert not text.startswith("-")
    assert len(text) <= 8  # fits the duration column (999 days: "999d 23h")


def test_format_started_relative() -> None:
    assert format_started(NOW - timedelta(minutes=5), NOW, TimeMode.RELATIVE) == "5m ago"
    assert format_started(NOW - timedelta(seconds=60), NOW, TimeMode.RELATIVE) == "1m ago"
    assert format_started(NOW - timedelta(days=3), NOW, TimeMode.RELATIVE) == "3d 0h ago"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(90, "1m ago"), (119, "1m ago"), (120, "2m ago"),
     (3599, "59m ago"), (5400, "1h 30m ago"), (86399, "23h 59m ago"),
     (86400 * 1.5, "1d 12h ago"), (86400 * 1200, "3y 105d ago")],
)
def test_format_started_counts_whole_units_like_durations(seconds: float, text: str) -> None:
    # As exact as the column allows, in the duration column's style, and counted down like
    # it: a run 1m 30s old is "1m ago" beside its "1m 30s", never "2m ago".
    started = NOW - timedelta(seconds=seconds)
    assert format_started(started, NOW, TimeMode.RELATIVE) == text


def test_the_detail_says_the_age_in_words() -> None:
    assert format_age_words(NOW - timedelta(hours=3), NOW) == "3 hours ago"
    assert format_age_words(None, NOW) == "-"
    assert format_age_words(NOW + timedelta(seconds=30), NOW) == "just now"


@pytest.mark.parametrize("seconds", [1, 14, 59.9])
def test_format_started_under_a_minute_is_just_now(seconds: float) -> None:
    # Minute resolution: a relative start never changes every second (a board left open over
    # SSH would repaint every fresh row each second for it).
    started = NOW - timedelta(seconds=seconds)
    assert format_started(started, NOW, TimeMode.RELATIVE) == "just now"


@pytest.mark.parametrize(
    "skew",
    [timedelta(0), timedelta(milliseconds=300), timedelta(seconds=-2), timedelta(minutes=-4)],
)
def test_format_started_skew_says_just_now(skew: timedelta) -> None:
    # A start slightly after "now" is clock skew: "just now", never "in 2 seconds".
    assert format_started(NOW - skew, NOW, TimeMode.RELATIVE) == "just now"


def test_format_started_far_future_is_not_hidden() -> None:
    assert format_started(NOW + timedelta(hours=3), NOW, TimeMode.RELATIVE) == "in 3h 00m"
    # Found by hypothesis: "1 year, 11 months from now" did not fit the 20-cell column.
    assert format_started(datetime(30, 1, 1), datetime(28, 2, 1), TimeMode.RELATIVE) == \
        "in 700d 0h"


def test_format_started_utc() -> None:
    paris = timezone(timedelta(hours=1))
    started = datetime(2026, 11, 29, 13, 5, 2, tzinfo=paris)
    assert format_started(started, NOW, TimeMode.UTC) == "2026-11-29 12:05:02Z"


def test_format_started_naive_is_utc() -> None:
    started = datetime(2026, 11, 29, 12, 5, 2)
    assert format_started(started, NOW, TimeMode.UTC) == "2026-11-29 12:05:02Z"
    assert format_started(started, NOW, TimeMode.RELATIVE) == "just now"


@pytest.fixture
def paris_tz(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Europe/Paris")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_format_started_local(paris_tz: None) -> None:
    assert format_started(NOW, NOW, TimeMode.LOCAL) == "2026-11-29 13:05:02"


def test_format_started_none() -> None:
    for mode in TimeMode:
        assert format_started(None, NOW, mode) == "-"


def test_time_mode_cycles() -> None:
    assert TimeMode.RELATIVE.next() is TimeMode.LOCAL
    assert TimeMode.LOCAL.next() is TimeMode.UTC
    assert TimeMode.UTC.next() is TimeMode.RELATIVE


def _run(**overrides: object) -> JobRun:
    fields: dict[str, object] = {
        "id": "r1",
        "run_name": "nightly",
        "status": RunStatus.SUCCESS,
        "raw_status": "SUCCESS",
        "active": False,
        "concluded": True,
        "succeeded": True,
        "failed": False,
        "completions": 1,
        "backoff_limit": 6,
        "started_at": NOW,
        "concluded_at": NOW,
    }
    fields.update(overrides)
    return JobRun(**fields)  # type: ignore[arg-type]


def test_format_attempts_says_which_try_of_how_many() -> None:
    assert format_attempts(_run()) == "1 of 7"  # one try done; 6 retries allowed
    assert format_attempts(_run(completions=0, backoff_limit=0)) == "1 of 1"
    running = _run(completions=2, backoff_limit=6, active=True, concluded=False,
                   status=RunStatus.RUNNING, raw_status="RUNNING")
    assert format_attempts(running) == "3 of 7"  # the third try, under way
    assert format_attempts(_run(completions=10**9, backoff_limit=10**9)) == "999+ of 999+"


def test_printable_keeps_markup_and_shows_controls() -> None:
    assert printable("[bold]x[/]") == "[bold]x[/]"
    assert printable("a\x1b[31mb") == "a\u241b[31mb"  # ESC -> "␛"
    assert printable("tab\there\nnl\x7f") == "tab\u2409here\u240anl\u2421"
    assert printable("\u202eevil") == "\ufffdevil"  # bidi override cannot reorder the line
    assert printable("caf\u00e9 \u4e2d") == "caf\u00e9 \u4e2d"


@given(st.text())
def test_printable_never_leaves_a_control_character(text: str) -> None:
    assert printable(text).isprintable()


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (RunStatus.SUCCESS, ("\u2714 SUCCESS", "run-list--success")),
        (RunStatus.RUNNING, ("\u25cf RUNNING", "run-list--running")),
        (RunStatus.FAILED, ("\u2718 FAILED", "run-list--failed")),
    ],
)
def test_badges(status: RunStatus, expected: tuple[str, str]) -> None:
    assert badge_text(status, status.value) == expected


def test_badges_are_distinct_without_colour() -> None:
    texts = [badge_text(status, "WEIRD")[0] for status in RunStatus]
    symbols = {text.split()[0] for text in texts}
    assert len(symbols) == len(texts)


def test_unknown_badge_shows_raw_status_literally() -> None:
    assert badge_text(RunStatus.UNKNOWN, "Pending") == ("? Pending", "run-list--unknown")
    assert badge_text(RunStatus.UNKNOWN, "[red]x[/]") == ("? [red]x[/]", "run-list--unknown")
    assert badge_text(RunStatus.UNKNOWN, "\x1b[31m")[0] == "? \u241b[31m"


def test_unknown_badge_is_truncated() -> None:
    text, _ = badge_text(RunStatus.UNKNOWN, "WAITING_FOR_RESOURCES")
    assert text == "? WAITING_F\u2026"
    assert len(text) == 12


def test_unknown_badge_blank_raw() -> None:
    assert badge_text(RunStatus.UNKNOWN, "  ") == ("? UNKNOWN", "run-list--unknown")


def test_formatting_does_not_import_textual() -> None:
    code = "import sys, tui.formatting; assert 'textual' not in sys.modules, 'textual imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, 1e400])
def test_status_line_numbers_that_are_not_finite(value: float) -> None:
    # A reset or Retry-After from a header: "?" rather than int(inf) raising mid-repaint.
    assert compact_span(value) == "?"
    assert rounded_age(value) == "? ago"


def test_status_line_numbers_are_clamped() -> None:
    assert compact_span(-5) == "0s"
    assert compact_span(1e18) == "87600h00m"  # ten years at most
    assert rounded_age(-3) == "just now"


def test_printable_on_every_hostile_sequence() -> None:
    from tui.simulator.hostile import CONTROL_CHARACTERS, HOSTILE_ID, HOSTILE_TEXT

    for text in (HOSTILE_TEXT, HOSTILE_ID):
        shown = printable(text)
        assert shown.isprintable()
        assert not CONTROL_CHARACTERS & set(shown)
        assert "\u241b]52;c;SGVsbG8=\u2407" in shown  # visible, not dropped
