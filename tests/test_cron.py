"""Cron schedules (tui.watch.cron): parsing hostile text, fire times, words, missed runs.

Every time is fixed; nothing reads the clock except the generous no-hang guard of the fuzz.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui.simulator.hostile import HOSTILE_TEXT
from tui.watch.cron import (
    ASSUMED_TIME_ZONE,
    MACROS,
    MAX_COUNTED_MISSES,
    MAX_EXPRESSION_LENGTH,
    MAX_FIRES,
    CronError,
    CronSchedule,
    CronState,
    check_missed,
    default_grace,
    describe_schedule,
    parse_schedule,
)

UTC = timezone.utc
NOW = datetime(2026, 11, 29, 12, 7, 30, tzinfo=UTC)  # a Sunday


def at(hour: int, minute: int = 0, second: int = 0, day: int = 29) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC)


def schedule(expression: str) -> CronSchedule:
    parsed = parse_schedule(expression)
    assert isinstance(parsed, CronSchedule), parsed
    return parsed


def error(expression: object) -> CronError:
    parsed = parse_schedule(expression)
    assert isinstance(parsed, CronError), parsed
    assert parsed.message.endswith(".") and parsed.message.isprintable()
    return parsed


# ----- parsing ---------------------------------------------------------------------------


def test_the_assumed_time_zone_is_utc() -> None:
    assert ASSUMED_TIME_ZONE is UTC


@pytest.mark.parametrize(
    "expression",
    ["* * * * *", "*/15 * * * *", "30 8 * * *", "0 0 1 1 *", "15 6 * * MON-FRI",
     "0 12 ? * mon", "0 0 L * *", "  5 4 * * 0  ", "0\t8 * * *", "0 0 * * 7"],
)
def test_valid_expressions_parse(expression: str) -> None:
    parsed = schedule(expression)
    assert parsed.expression == expression.strip()
    assert len(parsed.fields.split(" ")) == 5


@pytest.mark.parametrize("macro", sorted(MACROS))
def test_every_documented_macro_fires_like_its_expansion(macro: str) -> None:
    expanded = schedule(MACROS[macro])
    for spelling in (macro, macro.upper()):
        parsed = schedule(spelling)
        assert parsed.next_fires(NOW, 3) == expanded.next_fires(NOW, 3)
        assert parsed.previous_fire(NOW) == expanded.previous_fire(NOW)
    assert schedule("@hourly").next_fire(NOW) == at(13)
    assert schedule("@daily").next_fire(NOW) == at(0, day=30)
    assert schedule("@weekly").previous_fire(NOW) == at(0)  # Sunday midnight


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        (None, "not a string"),
        (5, "not a string"),
        (["* * * * *"], "not a string"),
        ("", "is empty"),
        ("   ", "is empty"),
        ("* " * 150, f"longer than {MAX_EXPRESSION_LENGTH}"),
        ("* * * *", "does not have 5 fields (4)"),
        ("0 * * * * *", "does not have 5 fields (6)"),  # no seconds field on Northflank
        ("60 * * * *", "not valid (bad minute)"),
        ("* 24 * * *", "not valid (bad hour)"),
        ("* * 0 * *", "not valid (bad day-of-month)"),
        ("* * * 13 *", "not valid (bad month)"),
        ("*/0 * * * *", "not valid"),
        ("5-1 * * * *", "not valid"),
        ("0 0 30 2 *", "not valid (bad day-of-month)"),  # February has no 30th
        ("0 0 31 4,6,9,11 *", "not valid (bad day-of-month)"),
        ("0 0 LW * */8", "never fires"),  # the last weekday of a month is never a Sunday
        ("@reboot", "not a known @macro"),
        ("@every 5m", "not a known @macro"),
        ("CRON_TZ=UTC 0 8 * * *", "characters cron does not use"),
        ("٣ * * * *", "characters cron does not use"),  # an Arabic-Indic digit
        ("* * * * *\x1b]52;c;SGVsbG8=\x07", "characters cron does not use"),
    ],
)
def test_bad_expressions_are_errors_not_exceptions(expression: object, words: str) -> None:
    assert words in error(expression).message


def test_a_huge_expression_is_refused_without_being_kept() -> None:
    from tui.watch import cron

    before = cron._parse_text.cache_info().currsize
    assert "longer than" in error("* " * 2_000_000).message
    assert cron._parse_text.cache_info().currsize == before


def test_an_error_shows_the_expression_printable_and_cut() -> None:
    bad = error(HOSTILE_TEXT + "* * * * *")
    assert bad.expression.isprintable() and "\x1b" not in bad.message
    assert str(bad) == bad.message
    long_bad = error("*" * 150 + " x")
    assert len(long_bad.expression) <= 61 and long_bad.expression.endswith("…")
    assert error(3.5).expression == "float"


# ----- fire times ------------------------------------------------------------------------


def test_next_fires_are_strictly_after() -> None:
    every_15 = schedule("*/15 * * * *")
    assert every_15.next_fire(NOW) == at(12, 15)
    assert every_15.next_fire(at(12, 15)) == at(12, 30)  # not the instant itself
    assert every_15.next_fire(at(12, 14, 59) + timedelta(microseconds=999_999)) == at(12, 15)
    assert every_15.next_fires(at(23, 40), 3) == (at(23, 45), at(0, day=30), at(0, 15, day=30))
    assert every_15.next_fires(NOW, 0) == ()
    assert every_15.next_fires(NOW, -3) == ()
    assert len(every_15.next_fires(NOW, 10_000)) == MAX_FIRES


def test_previous_fire_is_at_or_before() -> None:
    daily = schedule("30 8 * * *")
    assert daily.previous_fire(NOW) == at(8, 30)
    assert daily.previous_fire(at(8, 30)) == at(8, 30)  # the instant itself counts
    assert daily.previous_fire(at(8, 30) + timedelta(microseconds=1)) == at(8, 30)
    assert daily.previous_fire(at(8, 29, 59)) == at(8, 30, day=28)


def test_times_are_utc_whatever_zone_they_come_in() -> None:
    hourly = schedule("0 * * * *")
    naive = datetime(2026, 11, 29, 12, 7, 30)  # taken as UTC
    assert hourly.next_fire(naive) == at(13)
    tokyo = timezone(timedelta(hours=9))
    assert hourly.next_fire(NOW.astimezone(tokyo)) == at(13)
    fire = hourly.next_fire(NOW.astimezone(tokyo))
    assert fire is not None and fire.utcoffset() == timedelta(0)
    # Daily at 08:30 means 08:30 UTC, not 08:30 in the zone the time was given in.
    assert schedule("30 8 * * *").next_fire(NOW.astimezone(tokyo)) == at(8, 30, day=30)


def test_fires_beyond_the_lookahead_count_as_none() -> None:
    leap_day = schedule("0 0 29 2 *")
    assert leap_day.next_fire(datetime(2025, 3, 1, tzinfo=UTC)) is None  # 2028-02-29 too far
    assert leap_day.next_fire(datetime(2028, 1, 1, tzinfo=UTC)) == datetime(2028, 2, 29,
                                                                             tzinfo=UTC)
    assert leap_day.previous_fire(NOW) is None  # 2024-02-29 is more than 400 days back
    assert leap_day.shortest_interval(NOW) is None
    assert default_grace(leap_day, NOW) == timedelta(minutes=15)


def test_the_ends_of_the_calendar_give_nothing() -> None:
    every_minute = schedule("* * * * *")
    assert every_minute.next_fire(datetime.max) is None
    assert every_minute.next_fires(datetime(9999, 12, 31, 23, 58, tzinfo=UTC), 5) == (
        datetime(9999, 12, 31, 23, 59, tzinfo=UTC),
    )
    assert every_minute.previous_fire(datetime.min) == datetime.min.replace(tzinfo=UTC)
    assert schedule("30 * * * *").previous_fire(datetime.min) is None
    assert every_minute.previous_fire(datetime(1, 1, 1, 0, 1, tzinfo=UTC)) == datetime(
        1, 1, 1, 0, 1, tzinfo=UTC
    )
    result = check_missed(every_minute, last_run_start=datetime.min, now=datetime.max)
    assert result.state is CronState.OK


# ----- words -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("* * * * *", "every minute"),
        ("*/5 * * * *", "every 5 min"),
        ("0-59/5 * * * *", "every 5 min"),
        ("*/15 * * * *", "every 15 min"),
        ("5-59/15 * * * *", "every 15 min from :05"),
        ("10,25,40,55 * * * *", "every 15 min from :10"),
        ("30 * * * *", "hourly at :30"),
        ("@hourly", "hourly at :00"),
        ("0 */6 * * *", "every 6 h at :00"),
        ("15 3-23/6 * * *", "every 6 h at :15 from 03:15 UTC"),
        ("30 8 * * *", "daily at 08:30 UTC"),
        ("@daily", "daily at 00:00 UTC"),
        ("0 8,20 * * *", "daily at 08:00, 20:00 UTC"),
        ("15 6 * * 1-5", "Mon-Fri at 06:15 UTC"),
        ("15 6 * * MON-FRI", "Mon-Fri at 06:15 UTC"),
        ("0 0 * * 6,0", "Sat, Sun at 00:00 UTC"),
        ("@weekly", "weekly on Sun at 00:00 UTC"),
        ("0 9 * * 7", "weekly on Sun at 09:00 UTC"),
        ("@monthly", "monthly on day 1 at 00:00 UTC"),
        ("@yearly", "yearly on Jan 1 at 00:00 UTC"),
        ("0 0 29 2 *", "yearly on Feb 29 at 00:00 UTC"),
        # No short words: the expression itself.
        ("*/7 * * * *", "*/7 * * * *"),
        ("*/15 9-17 * * 1-5", "*/15 9-17 * * 1-5"),
        ("0 0 1 * 1", "0 0 1 * 1"),  # day-of-month OR day-of-week
        ("0 0 L * *", "0 0 L * *"),
        ("0 0,6,12 * * *", "0 0,6,12 * * *"),
        ("0 0 1 1,7 *", "0 0 1 1,7 *"),
    ],
)
def test_schedules_in_words(expression: str, words: str) -> None:
    assert schedule(expression).describe() == words
    assert describe_schedule(expression) == words


def test_words_for_a_bad_schedule_are_the_expression_made_printable() -> None:
    assert describe_schedule("0 0 30 2 *") == "0 0 30 2 *"
    hostile = describe_schedule(HOSTILE_TEXT)
    assert hostile.isprintable() and len(hostile) <= 61
    assert describe_schedule(None) == "NoneType"


# ----- grace -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "grace"),
    [
        ("* * * * *", timedelta(minutes=2)),  # the floor: runs take a moment to appear
        ("*/15 * * * *", timedelta(minutes=2)),
        ("*/30 * * * *", timedelta(minutes=3)),
        ("0 * * * *", timedelta(minutes=6)),
        ("0 8,9 * * *", timedelta(minutes=6)),  # the shortest interval decides
        ("0 */6 * * *", timedelta(minutes=15)),  # the cap
        ("@daily", timedelta(minutes=15)),
    ],
)
def test_default_grace(expression: str, grace: timedelta) -> None:
    assert default_grace(schedule(expression), NOW) == grace


# ----- missed runs -----------------------------------------------------------------------


def test_a_run_after_the_latest_fire_is_on_time() -> None:
    every_15 = schedule("*/15 * * * *")
    result = check_missed(every_15, last_run_start=at(12, 0, 4), now=NOW)
    assert result.state is CronState.OK
    assert result.latest_fire == at(12)
    assert result.grace == timedelta(minutes=2)
    assert result.first_missed is None and result.missed_count == 0


def test_within_the_grace_a_missing_run_is_due_then_missed() -> None:
    every_15 = schedule("*/15 * * * *")
    due = check_missed(every_15, last_run_start=at(11, 45, 2), now=at(12, 1, 59))
    assert due.state is CronState.DUE and due.first_missed == at(12)
    assert due.overdue_since is None
    missed = check_missed(every_15, last_run_start=at(11, 45, 2), now=at(12, 2))
    assert missed.state is CronState.MISSED
    assert missed.first_missed == at(12) and missed.overdue_since == at(12, 2)
    assert missed.missed_count == 1
    # A run that comes late still covers the fire.
    late = check_missed(every_15, last_run_start=at(12, 5), now=at(12, 7))
    assert late.state is CronState.OK


def test_missed_since_the_first_fire_without_a_run() -> None:
    every_15 = schedule("*/15 * * * *")
    # Runs stopped after 11:00: 11:15, 11:30, 11:45 and 12:00 are past their grace, 12:15 not.
    result = check_missed(every_15, last_run_start=at(11, 0, 3), now=at(12, 16))
    assert result.state is CronState.MISSED
    assert result.first_missed == at(11, 15)
    assert result.overdue_since == at(11, 17)
    assert result.latest_fire == at(12, 15)
    assert result.missed_count == 4


def test_the_missed_count_is_capped() -> None:
    every_minute = schedule("* * * * *")
    result = check_missed(every_minute, last_run_start=at(0), now=at(12))
    assert result.state is CronState.MISSED
    assert result.missed_count == MAX_COUNTED_MISSES
    assert result.first_missed == at(0, 1)


def test_fires_before_the_job_existed_need_no_run() -> None:
    hourly = schedule("0 * * * *")
    created = at(11, 30)
    assert check_missed(hourly, last_run_start=None, now=at(11, 59), not_before=created).state \
        is CronState.OK
    due = check_missed(hourly, last_run_start=None, now=at(12, 3), not_before=created)
    assert due.state is CronState.DUE
    missed = check_missed(hourly, last_run_start=None, now=at(12, 6), not_before=created)
    assert missed.state is CronState.MISSED and missed.first_missed == at(12)
    # Without any run or creation time only the latest fire is known.
    unknown = check_missed(hourly, last_run_start=None, now=at(12, 6))
    assert unknown.state is CronState.MISSED and unknown.missed_count == 1


def test_fires_while_a_forbid_job_runs_need_no_run() -> None:
    every_minute = schedule("* * * * *")
    # A run from 12:00 still going at 12:07:30: Forbid skipped 12:01..12:07 by design.
    busy = check_missed(every_minute, last_run_start=at(12), now=NOW, busy_until=NOW)
    assert busy.state is CronState.OK
    # It ended at 12:03: 12:04 and 12:05 are past their grace without a run.
    ended = check_missed(every_minute, last_run_start=at(12), now=NOW, busy_until=at(12, 3))
    assert ended.state is CronState.MISSED and ended.first_missed == at(12, 4)
    assert ended.missed_count == 2


def test_a_run_in_the_future_covers_everything() -> None:
    result = check_missed(schedule("* * * * *"), last_run_start=at(13), now=NOW)
    assert result.state is CronState.OK


def test_a_given_grace_is_used_and_clamped() -> None:
    hourly = schedule("0 * * * *")
    ten = check_missed(hourly, last_run_start=at(11), now=at(12, 9), grace=timedelta(minutes=10))
    assert ten.state is CronState.DUE and ten.grace == timedelta(minutes=10)
    zero = check_missed(hourly, last_run_start=at(11), now=at(12), grace=timedelta(seconds=-5))
    assert zero.state is CronState.MISSED and zero.grace == timedelta(0)
    huge = check_missed(hourly, last_run_start=at(11), now=at(12), grace=timedelta(days=400))
    assert huge.grace == timedelta(days=1) and huge.state is CronState.DUE


def test_naive_and_zoned_inputs_are_utc() -> None:
    tokyo = timezone(timedelta(hours=9))
    every_15 = schedule("*/15 * * * *")
    result = check_missed(every_15, last_run_start=datetime(2026, 11, 29, 11, 45, 2),
                          now=at(12, 2).astimezone(tokyo))
    assert result.state is CronState.MISSED and result.first_missed == at(12)


# ----- fuzz: nothing raises, nothing hangs -----------------------------------------------

_FIELD = st.one_of(
    st.text(alphabet="0123456789*/,-#?LW", min_size=1, max_size=8),
    st.sampled_from(["*", "*/5", "1-5", "MON-FRI", "JAN", "L", "LW", "5L", "1#5", "?", "7",
                     "0", "59", "31", "29", "30", "2", "*/8", "1-31/2", "sun,sat"]),
)
_EXPRESSIONS = st.one_of(
    st.lists(_FIELD, min_size=5, max_size=5).map(" ".join),
    st.lists(_FIELD, min_size=0, max_size=7).map(" ".join),
    st.text(max_size=60),
    st.sampled_from(sorted(MACROS)).map(lambda macro: macro + " "),
    st.just(HOSTILE_TEXT),
)
_TIMES = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-11)), timezone(timedelta(hours=14))]),
)
# Generous: the slowest expression costs milliseconds; a hang would cost forever.
NO_HANG_SECONDS = 10.0


@settings(max_examples=300, deadline=None)
@given(expression=_EXPRESSIONS, moment=_TIMES, last=st.one_of(st.none(), _TIMES))
def test_fuzz_nothing_raises_nothing_hangs(
    expression: str, moment: datetime, last: datetime | None
) -> None:
    began = time.perf_counter()
    parsed = parse_schedule(expression)
    words = describe_schedule(expression)
    assert isinstance(words, str) and words.isprintable()
    if isinstance(parsed, CronSchedule):
        assert parsed.describe().isprintable()
        fires = parsed.next_fires(moment, 3)
        assert list(fires) == sorted(set(fires))
        assert all(fire > moment for fire in fires)
        nearest = parsed.next_fire(moment)
        assert nearest == (fires[0] if fires else None)
        if nearest is not None:
            assert parsed.previous_fire(nearest) == nearest
        previous = parsed.previous_fire(moment)
        if previous is not None:
            assert previous <= moment
            assert parsed.next_fire(previous - timedelta(seconds=1)) == previous
        check = check_missed(parsed, last_run_start=last, now=moment)
        assert check.state in CronState
        assert 0 <= check.missed_count <= MAX_COUNTED_MISSES
        assert timedelta(0) <= check.grace <= timedelta(minutes=15)
    else:
        assert parsed.message.isprintable()
    assert time.perf_counter() - began < NO_HANG_SECONDS


@settings(max_examples=60, deadline=None)
@given(moment=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)),
       expression=st.sampled_from(["* * * * *", "*/5 * * * *", "30 8 * * 1-5", "0 */6 * * *"]))
def test_the_walks_shared_within_a_minute_give_what_cronsim_gives(
    moment: datetime, expression: str
) -> None:
    """next and previous fires are worked out once per minute (fires fall on whole minutes):
    the same answers as cronsim's own walk from the very moment."""
    from cronsim import CronSim

    at = moment.replace(tzinfo=UTC, microsecond=0)
    cron = schedule(expression)
    assert cron.next_fire(at) == next(iter(CronSim(expression, at)))
    expected = next(iter(CronSim(expression, at + timedelta(seconds=1), reverse=True)))
    assert cron.previous_fire(at) == expected
