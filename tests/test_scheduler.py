"""The Scheduler on a fake clock: cadence, catching up after a suspend, the budget shared by
every feed, and the interval it sets.

Driven through `tests/engine_harness.py`: no real time passes; request times are exact.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

from tui.api.errors import BudgetExhaustedError
from tui.watch.events import FeedChanged, FeedState, JobKey, PlanReason
from tui.watch.feed import MAX_GAP_PAGES
from tui.watch.scheduler import TICK

from .engine_harness import KEY, Engine, Request, engine, first_page

WINDOW = 3600.0


def gaps(times: list[float]) -> list[float]:
    return [round(b - a, 6) for a, b in itertools.pairwise(times)]


def most_in_any_hour(times: list[float]) -> int:
    """The most requests sent within any rolling hour [t, t + 3600)."""
    times = sorted(times)
    most, first = 0, 0
    for last, at in enumerate(times):
        while times[first] <= at - WINDOW:
            first += 1
        most = max(most, last - first + 1)
    return most


# ----- cadence ----------------------------------------------------------------------------------


async def test_polls_come_exactly_at_the_refresh_or_the_idle_interval() -> None:
    async with engine(refresh=3.0, idle_interval=30.0) as h:
        feed = await h.watch_loaded()
        await h.run_for(600, tick=True)  # the app's 1 s tick never causes an extra poll
        polls = [entry.at for entry in h.polls_since(0)]
        assert set(gaps(polls)) == {3.0, 30.0}, gaps(polls)
        assert len(polls) > 600 / 30
        assert feed.problem == ""


# ----- a suspended process ----------------------------------------------------------------------


async def catch_up_after(h: Engine, suspend: Callable[[float], None], notice: bool) -> None:
    """Half an hour passes on the server while the engine does not run; then it catches up
    with one poll (its first page, the gap pages, the active runs) and no burst."""
    feed = await h.watch_loaded()
    await h.run_for(2, tick=True)
    before = [run.id for run in feed.store.runs]
    active_before = [run.id for run in feed.store.active_runs]
    assert active_before, "the cron job has a RUNNING run at START"
    mark = h.mark()
    suspend(1800)  # 30 cron runs; every run RUNNING before has concluded
    assert feed.poll_due(h.now) is not notice, "only the tick can tell"
    h.scheduler.notice_time()
    assert feed.poll_due(h.now)
    await h.settle()
    catch_up = h.requests_since(mark)
    assert len(catch_up) <= 1 + MAX_GAP_PAGES + len(active_before), catch_up
    assert len(h.polls_since(mark)) == 1, "more than one poll on resume"
    # Everything is current at once: new runs on top, the old ones concluded.
    assert h.matches_server(feed)
    ids = [run.id for run in feed.store.runs]
    assert ids[-len(before):] == before
    fresh = h.expected_runs(1)[0]
    assert ids[0] == fresh.id
    assert all(run.id == fresh.id for run in feed.store.active_runs)
    assert feed.problem == ""
    # And then back to the normal pace: the next poll a refresh later, no burst.
    mark = h.mark()
    await h.run_for(feed.policy.refresh - 0.01, tick=True)
    assert h.requests_since(mark) == []
    await h.run_for(0.02, tick=True)
    assert len(h.polls_since(mark)) == 1


async def test_sigstop_then_resume_catches_up_with_one_poll() -> None:
    async with engine(page_size=10, refresh=3.0) as h:
        await catch_up_after(h, h.sigstop, notice=False)


async def test_wall_clock_jump_catches_up_with_one_poll() -> None:
    """A laptop lid: the monotonic clock stood still while the wall clock moved on."""
    async with engine(page_size=10, refresh=3.0) as h:
        await catch_up_after(h, h.lid_closed, notice=True)


async def test_a_late_tick_is_not_a_suspend() -> None:
    async with engine(refresh=3.0) as h:
        feed = await h.watch_loaded()
        planned = feed.next_poll_at
        h.advance(3 * TICK + 1)  # a busy event loop, not a sleep
        h.scheduler.notice_time()
        assert feed.next_poll_at == planned


# ----- the budget -------------------------------------------------------------------------------

QUOTA = 40  # requests per hour: 20 for this process at the default share
SHARE = 0.5
LONG_RUNS = 4  # off the first page soon: each costs a request per poll


def server_windows(times: list[float]) -> list[int]:
    """Requests per quota window, cut as the simulator cuts them: a window starts at its
    first request and lasts an hour."""
    counts: list[int] = []
    start: float | None = None
    for at in times:
        if start is not None and at >= start + WINDOW:
            start = None
        if start is None:
            start = at
            counts.append(0)
        counts[-1] += 1
    return counts


@dataclass(frozen=True)
class Day:
    """What a simulated day of two feeds on a binding budget did."""

    requests: list[Request]
    states: list[FeedState]
    problems: list[str]  # the problem of every feed event that had one
    refused: int  # requests the client's gate held back (nothing sent)
    caught_up: bool  # ingest-events equalled the server after a poll at the end


_DAYS: dict[str, Day] = {}


async def binding_day() -> Day:
    """Two jobs watched for a simulated day on a quota whose share (20 an hour) is far below
    what they wish (a poll every 5 s while runs are active: 720 an hour each, more with the
    long runs off the first page): the budget binds all day, by construction. Run once and
    shared by the tests that read it."""
    if "day" in _DAYS:
        return _DAYS["day"]
    other = JobKey("data-platform", "ingest-events")
    async with engine(rate_limit=QUOTA, share=SHARE, page_size=10) as h:
        for _ in range(LONG_RUNS):
            h.world.start_run(KEY.project_id, KEY.job_id, duration=30 * 3600)
        feeds = [h.watch(KEY), h.watch(other)]
        refused = 0
        admit = h.client.budget.admit

        def counted_admit() -> None:
            nonlocal refused
            try:
                admit()
            except BudgetExhaustedError:
                refused += 1
                raise

        h.client.budget.admit = counted_admit  # type: ignore[method-assign]
        await h.run_for(24 * 3600)
        caught_up = True
        try:
            await h.run_until(lambda: h.matches_server(feeds[1]), 2 * WINDOW, "caught up")
        except AssertionError:
            caught_up = False
        problems = [event.state.problem for _, event in h.events
                    if isinstance(event, FeedChanged) and event.state.problem]
        day = Day(list(h.requests), [feed.state() for feed in feeds], problems, refused,
                  caught_up)
    _DAYS["day"] = day
    return day


async def test_a_day_never_spends_more_than_the_share_in_any_hour() -> None:
    day = await binding_day()
    times = [entry.at for entry in day.requests]
    share = math.floor(QUOTA * SHARE)
    assert {entry.outcome for entry in day.requests} == {"200"}, "never refused by the API"
    assert most_in_any_hour(times) <= share
    windows = server_windows(times)
    # A window starts at its first request: at a steady pace up to one interval passes
    # between two windows, so a day holds 23 to 25 of them.
    assert len(windows) >= 23 and max(windows) <= share, windows
    # It bound: every full window spent most of the share, and the feeds say why.
    assert min(windows[:-1]) >= 0.8 * share, windows
    for state in day.states:
        assert state.interval_reason is PlanReason.BUDGET
    # Starved of requests, nothing was lost: the gap walk kept the list whole.
    assert day.caught_up


async def test_a_binding_budget_is_a_pace_not_a_problem() -> None:
    """Pacing to the share is the plan, not a fault: no feed says "rate limited" when the API
    never refused, and the gate's hold shows as the budget's pace."""
    day = await binding_day()
    assert day.problems == []
    for state in day.states:
        assert state.problem == "" and state.interval is not None


async def test_the_gate_never_has_to_refuse_what_the_scheduler_starts() -> None:
    day = await binding_day()
    assert day.refused == 0


async def test_stale_waits_for_twice_the_interval_the_budget_set() -> None:
    """Polling every ~10 s to fit the budget, one failed poll does not make the data stale
    yet: only twice that interval does."""
    async with engine(rate_limit=360, share=1.0) as h:  # 360 an hour: one request per 10 s
        feed = await h.watch_loaded()
        await h.run_until(lambda: feed.interval_reason is PlanReason.BUDGET, 600, "budget pace")
        interval = feed.interval
        assert interval is not None and interval >= 9.0
        last_good = feed.last_good
        assert last_good is not None
        h.transport.offline = True
        await h.run_until(lambda: feed.policy.failures >= 1, 600, "a failed poll")
        limit = last_good + 2 * interval + 1
        while h.now < limit - TICK:
            assert not feed.is_stale(h.now), (h.now - last_good, interval)
            await h.run_for(TICK, tick=True)
        await h.run_for(2 * TICK, tick=True)
        assert feed.is_stale(h.now)


# ----- feeds come and go ------------------------------------------------------------------------


async def test_unwatch_cancels_what_is_in_flight_and_says_nothing_more() -> None:
    async with engine() as h:
        feed = await h.watch_loaded()
        gate = h.transport.hold(first_page)
        h.scheduler.poll_now(KEY)
        h.scheduler.start_due()
        await h.until_io(gate.arrived, "the poll to be sent")
        heard = len(h.events)
        h.scheduler.unwatch(KEY)
        gate.release()
        await h.run_for(600)
        assert not h.scheduler.busy and KEY not in h.scheduler.feeds
        assert len(h.events) == heard
        assert len(h.polls_since(0)) == 2
        assert feed.polling_since is not None  # abandoned with its feed
