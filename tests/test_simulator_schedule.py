"""The simulator's schedules: cron jobs fire by their expression in simulated time, miss fires
when told, follow their concurrency policy; manual jobs are started by hand at seeded times;
the board world preset. All on a frozen clock moved by `advance`."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tui.simulator import World
from tui.simulator.board_world import HAND_EVERY, JOBS, MISSING_JOB, SUSPENDED_FOR
from tui.simulator.schedule import MAX_HAND_GAP_FACTOR, MIN_HAND_GAP, Ticks, interval_expression
from tui.watch.cron import CronSchedule, CronState, check_missed, default_grace, parse_schedule

from .conftest import START

UTC = timezone.utc
T0 = START.timestamp()  # 2026-11-29 12:00:00 UTC, a Sunday


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def empty_world(seed: int = 7) -> World:
    world = World(seed=seed, speed=0.0, start=START, preset="empty")
    world.add_project("p", "P")
    return world


def starts(world: World, project: str, job: str) -> list[str]:
    """Start times, oldest first, as the API writes them."""
    return [run["startedAt"] for run in reversed(world.runs(project, job))]


# ----- fire times ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "expression"),
    [(60, "* * * * *"), (300, "*/5 * * * *"), (900, "*/15 * * * *"), (3600, "0 * * * *"),
     (7200, "0 */2 * * *"), (86400, "0 0 * * *"), (30, None), (420, None), (90000, None),
     (60.5, None), (0, None), (-60, None)],
)
def test_interval_expressions(seconds: float, expression: str | None) -> None:
    assert interval_expression(seconds) == expression


def test_ticks_by_cron_expression() -> None:
    ticks = Ticks("*/15 * * * *")
    assert ticks.expression == "*/15 * * * *"
    assert ticks.after(T0) == T0 + 900
    assert ticks.after(T0 - 0.5) == T0
    assert ticks.at_or_before(T0) == T0
    assert ticks.at_or_before(T0 + 899.9) == T0
    history = ticks.before(T0)
    assert [next(history) for _ in range(3)] == [T0 - 900, T0 - 1800, T0 - 2700]
    daily = Ticks("@daily")
    assert daily.expression == "@daily" and daily.after(T0) == ts("2026-11-30T00:00:00")


def test_ticks_agree_with_the_interval_they_stand_for() -> None:
    for seconds in (60, 300, 900, 3600, 21600, 86400):
        expression = interval_expression(seconds)
        assert expression is not None
        by_cron, by_interval = Ticks(expression), Ticks(interval=seconds)
        for moment in (T0, T0 + 1, T0 + 12345.5):
            assert by_cron.after(moment) == by_interval.after(moment)
            assert by_cron.at_or_before(moment) == by_interval.at_or_before(moment)


@pytest.mark.parametrize("expression", ["0 0 30 2 *", "* * * *", "61 * * * *", "@reboot",
                                        "0 0 LW * */8"])
def test_ticks_refuse_what_cannot_fire(expression: str) -> None:
    with pytest.raises(ValueError):
        Ticks(expression)
    world = empty_world()
    with pytest.raises(ValueError):
        world.add_job("p", "bad", "Bad", "cron", cron=expression)


def test_add_job_refuses_contradictions() -> None:
    world = empty_world()
    with pytest.raises(ValueError):
        world.add_job("p", "a", "A", "cron", 60, cron="* * * * *")
    with pytest.raises(ValueError):
        world.add_job("p", "b", "B", "manual", cron="* * * * *")
    with pytest.raises(ValueError):
        world.add_job("p", "c", "C", "cron", cron="* * * * *", started_every=60)
    with pytest.raises(ValueError):
        world.add_job("p", "d", "D", "manual", started_every=0)
    with pytest.raises(ValueError):
        world.add_job("p", "e", "E", "cron", cron="* * * * *", concurrency_policy="Never")
    with pytest.raises(ValueError):
        World(preset="nope")
    assert World(speed=0.0, preset="empty").projects == []


# ----- cron jobs in simulated time -------------------------------------------------------


def test_a_cron_job_fires_by_its_expression() -> None:
    world = empty_world()
    world.add_job("p", "quarter", "Q", "cron", cron="*/15 * * * *", run_duration=(5, 5))
    world.add_job("p", "morning", "M", "cron", cron="30 8 * * *", run_duration=(5, 5))
    world.add_job("p", "weekdays", "W", "cron", cron="0 9 * * MON-FRI", run_duration=(5, 5))
    assert world.run_count("p", "quarter") == 0  # created at 12:00:00: not yet fired
    world.advance(3600)
    assert starts(world, "p", "quarter") == [
        "2026-11-29T12:15:00Z", "2026-11-29T12:30:00Z", "2026-11-29T12:45:00Z",
        "2026-11-29T13:00:00Z"]
    world.advance(2 * 86400)
    assert starts(world, "p", "morning") == ["2026-11-30T08:30:00Z", "2026-12-01T08:30:00Z"]
    world.advance(6 * 86400)  # to Sunday 2026-12-07 13:00
    assert starts(world, "p", "weekdays") == ["2026-11-30T09:00:00Z"] + [
        f"2026-12-0{day}T09:00:00Z" for day in (1, 2, 3, 4, 7)]


def test_history_follows_the_expression() -> None:
    world = empty_world()
    world.add_job("p", "hourly", "H", "cron", cron="30 * * * *", run_duration=(5, 5))
    world.seed_history("p", "hourly", 3)
    assert starts(world, "p", "hourly") == [
        "2026-11-29T09:30:00Z", "2026-11-29T10:30:00Z", "2026-11-29T11:30:00Z"]
    world.add_runs("p", "hourly", 2)
    assert starts(world, "p", "hourly")[:2] == ["2026-11-29T07:30:00Z", "2026-11-29T08:30:00Z"]
    # add_job's history stops before the latest fire, as it always did.
    world.add_job("p", "hist", "H2", "cron", cron="0 0 * * *", history=2)
    assert starts(world, "p", "hist") == ["2026-11-27T00:00:00Z", "2026-11-28T00:00:00Z"]
    with pytest.raises(ValueError):
        world.seed_history("p", "hourly", 1)  # it has runs


def test_skipped_fires_are_missed_and_remembered() -> None:
    world = empty_world()
    world.add_job("p", "q", "Q", "cron", cron="*/15 * * * *", run_duration=(5, 5))
    world.skip_fires("p", "q", 2)
    world.advance(3600)
    assert starts(world, "p", "q") == ["2026-11-29T12:45:00Z", "2026-11-29T13:00:00Z"]
    assert world.missed_fires("p", "q") == [datetime(2026, 11, 29, 12, 15, tzinfo=UTC),
                                            datetime(2026, 11, 29, 12, 30, tzinfo=UTC)]
    world.add_job("p", "m", "M")
    with pytest.raises(ValueError):
        world.skip_fires("p", "m")


def test_a_miss_rate_misses_seeded_fires_whenever_looked_at() -> None:
    def build(seed: int) -> World:
        world = empty_world(seed)
        world.add_job("p", "flaky", "F", "cron", cron="* * * * *", run_duration=(5, 5),
                      miss_rate=0.3)
        return world

    one_step, many_steps, other_seed = build(7), build(7), build(8)
    one_step.advance(6 * 3600)
    for _ in range(6 * 36):
        many_steps.advance(100)
    other_seed.advance(6 * 3600)
    missed = one_step.missed_fires("p", "flaky")
    assert missed == many_steps.missed_fires("p", "flaky")
    assert missed != other_seed.missed_fires("p", "flaky")
    assert starts(one_step, "p", "flaky") == starts(many_steps, "p", "flaky")
    assert len(missed) + one_step.run_count("p", "flaky") == 360
    assert 0.2 * 360 < len(missed) < 0.4 * 360
    started = {run["startedAt"] for run in one_step.runs("p", "flaky")}
    assert not any(fire.strftime("%Y-%m-%dT%H:%M:%SZ") in started for fire in missed)


def test_forbid_skips_a_fire_while_a_run_goes_on_and_replace_aborts_it() -> None:
    world = empty_world()
    world.add_job("p", "forbid", "F", "cron", cron="* * * * *", run_duration=(90, 90),
                  concurrency_policy="forbid")
    world.add_job("p", "replace", "R", "cron", cron="* * * * *", run_duration=(90, 90),
                  concurrency_policy="Replace")
    world.add_job("p", "allow", "A", "cron", cron="* * * * *", run_duration=(90, 90))
    world.advance(600)
    assert starts(world, "p", "forbid") == [f"2026-11-29T12:{m:02d}:00Z" for m in (1, 3, 5, 7, 9)]
    assert len(world.missed_fires("p", "forbid")) == 5
    assert world.run_count("p", "allow") == 10
    replaced = list(reversed(world.runs("p", "replace")))
    assert len(replaced) == 10 and world.missed_fires("p", "replace") == []
    for run, following in itertools.pairwise(replaced):
        assert run["status"] == "FAILED" and run["concludedAt"] == following["startedAt"]
    assert world.job_details("p", "forbid")["settings"]["cron"]["concurrencyPolicy"] == "Forbid"


def test_suspend_and_resume() -> None:
    world = empty_world()
    world.add_job("p", "q", "Q", "cron", cron="*/15 * * * *", run_duration=(5, 5))
    world.set_suspended("p", "q", True)
    world.advance(3600)
    assert world.run_count("p", "q") == 0
    assert world.job_details("p", "q")["suspended"] is True
    world.set_suspended("p", "q", False)
    world.advance(1800)
    assert starts(world, "p", "q") == ["2026-11-29T13:15:00Z", "2026-11-29T13:30:00Z"]
    assert world.missed_fires("p", "q") == []  # a suspended job misses nothing
    world.add_job("p", "m", "M")
    with pytest.raises(ValueError):
        world.set_suspended("p", "m", True)


# ----- manual jobs started by hand -------------------------------------------------------


def test_manual_jobs_are_started_by_hand_at_seeded_times() -> None:
    def build(seed: int) -> World:
        world = empty_world(seed)
        world.add_job("p", "hand", "H", "manual", run_duration=(60, 600), started_every=7200)
        world.add_job("p", "idle", "I", "manual")
        return world

    one_step, many_steps, other_seed = build(7), build(7), build(8)
    one_step.advance(4 * 86400)
    for _ in range(4 * 24):
        many_steps.advance(3600)
    other_seed.advance(4 * 86400)
    times = starts(one_step, "p", "hand")
    assert times == starts(many_steps, "p", "hand")
    assert times != starts(other_seed, "p", "hand")
    assert 24 <= len(times) <= 80  # about 48 in four days
    moments = [datetime.fromisoformat(t.replace("Z", "+00:00")) for t in times]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(moments)]
    assert min(gaps) >= MIN_HAND_GAP and max(gaps) <= MAX_HAND_GAP_FACTOR * 7200
    assert len(set(gaps)) > len(gaps) // 2  # at random, not on a beat
    assert one_step.run_count("p", "idle") == 0


# ----- the board world -------------------------------------------------------------------


def board(seed: int = 7, history: bool = False) -> World:
    return World(seed=seed, speed=0.0, start=START, history=history, preset="board")


def _kind(spec: Any) -> str:
    if spec.suspended or (spec.cron is None and not spec.by_hand):
        return "suspended or idle"
    if spec.cron is None:
        return "manual"
    schedule = parse_schedule(spec.cron)
    assert isinstance(schedule, CronSchedule)
    interval = schedule.shortest_interval(START)
    assert interval is not None
    return {60: "every minute", 900: "every 15 minutes"}.get(
        int(interval.total_seconds()), "hourly or daily")


def test_the_board_world_has_the_benchmarks_classes() -> None:
    world = board()
    assert [project["id"] for project in world.projects] == ["storefront", "data", "platform"]
    listed = [(p["id"], job["id"]) for p in world.projects for job in world.jobs(p["id"])]
    assert len(listed) == len(JOBS) == 40 and len(set(listed)) == 40
    kinds: dict[str, int] = {}
    for spec in JOBS:
        kinds[_kind(spec)] = kinds.get(_kind(spec), 0) + 1
    assert kinds == {"every minute": 2, "every 15 minutes": 8, "hourly or daily": 10,
                     "manual": 10, "suspended or idle": 10}
    hourly_or_daily = [spec for spec in JOBS if _kind(spec) == "hourly or daily"]
    for spec in hourly_or_daily:
        schedule = parse_schedule(spec.cron)
        assert isinstance(schedule, CronSchedule)
        interval = schedule.shortest_interval(START)
        assert interval in (timedelta(hours=1), timedelta(days=1))


def _dump(world: World) -> str:
    return json.dumps([
        (world.job_details(p["id"], job["id"]), world.runs(p["id"], job["id"]))
        for p in world.projects for job in world.jobs(p["id"])
    ], sort_keys=True)


def test_the_board_world_is_deterministic_by_seed() -> None:
    assert _dump(board(7)) == _dump(board(7))
    assert _dump(board(7)) != _dump(board(8))
    stepped, jumped = board(7), board(7)
    for _ in range(24):
        stepped.advance(3600)
    jumped.advance(86400)
    assert _dump(stepped) == _dump(jumped)


@pytest.mark.parametrize("history", [False, True])
def test_at_the_start_only_the_missing_job_is_missed(history: bool) -> None:
    world = board(history=history)
    for spec in JOBS:
        if spec.cron is None or spec.suspended:
            continue
        schedule = parse_schedule(spec.cron)
        assert isinstance(schedule, CronSchedule)
        runs = world.runs(spec.project, spec.id, limit=1)
        assert runs, spec.id
        last = datetime.fromisoformat(runs[0]["startedAt"].replace("Z", "+00:00"))
        check = check_missed(schedule, last_run_start=last, now=START)
        assert check.state is CronState.OK, spec.id
    # The missing job's first fire after the start is missed, flagged once its grace is over.
    schedule = parse_schedule("*/15 * * * *")
    assert isinstance(schedule, CronSchedule)
    grace = default_grace(schedule, START)
    world.advance(15 * 60 + grace.total_seconds())
    last_run = world.runs(*MISSING_JOB, limit=1)[0]
    assert last_run["startedAt"] == "2026-11-29T12:00:00Z"
    check = check_missed(schedule, last_run_start=START, now=world.now())
    assert check.state is CronState.MISSED
    assert check.first_missed == START + timedelta(minutes=15)
    assert world.missed_fires(*MISSING_JOB) == [START + timedelta(minutes=15)]


def test_the_board_world_over_a_day() -> None:
    world = board(history=True)
    world.advance(86400)
    missed = world.missed_fires(*MISSING_JOB)
    assert 5 <= len(missed) <= 40  # about a fifth of 96 fires, and the first
    for spec in JOBS:
        runs = world.runs(spec.project, spec.id)
        if spec.by_hand:
            assert 4 <= sum(run["startedAt"] > "2026-11-29T12:00:00Z" for run in runs) <= 30
        if spec.suspended:
            latest = max(run["startedAt"] for run in runs)
            assert latest <= (START - timedelta(seconds=SUSPENDED_FOR)).strftime(
                "%Y-%m-%dT%H:%M:%SZ")
        elif spec.cron is not None and (spec.project, spec.id) != MISSING_JOB:
            assert world.missed_fires(spec.project, spec.id) == []
    assert HAND_EVERY == 7200


def test_the_board_worlds_failing_streaks() -> None:
    world = board(history=True)
    retries = world.runs("storefront", "charge-retries")
    assert [run["status"] for run in retries[:4]] == ["FAILED"] * 4
    assert {run["status"] for run in world.runs("data", "train-ranker")} == {"FAILED"}
    load = world.runs("data", "warehouse-load")
    assert [run["status"] for run in load[:3]] == ["FAILED"] * 3
    assert world.runs("data", "rebuild-index") == []  # never run


def test_simulate_takes_the_board_world(monkeypatch: pytest.MonkeyPatch) -> None:
    import tui.__main__ as cli
    import tui.simulator.server as server

    seen: dict[str, Any] = {}

    def fake_serve(**kwargs: Any) -> int:
        seen.update(kwargs)
        return 0

    monkeypatch.setattr(server, "serve_forever_cli", fake_serve)
    assert cli.main(["simulate", "--world", "board", "--port", "0"]) == 0
    assert seen["preset"] == "board"
    assert cli.main(["simulate", "--port", "0"]) == 0
    assert seen["preset"] == "demo"
    with pytest.raises(SystemExit) as caught:
        cli.build_parser().parse_args(["simulate", "--world", "hostile"])
    assert caught.value.code == 2
