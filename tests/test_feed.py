"""JobFeed on a fake clock: outages, bursts, Retry-After, holds, stale data, refused access,
pages of a list that restarted, gap walks, runs that cannot be refreshed, failure news.

Every test drives the engine through `tests/engine_harness.py`: the simulator answers over
loopback, no real time passes, and every delay and request time is exact.
"""

from __future__ import annotations

import itertools

import pytest

from tui.api.errors import NotFoundError, UnauthorizedError
from tui.api.models import RunStatus
from tui.watch.events import AccessLost, FeedChanged, FeedState, JobKey, ProblemKind, RunsFailed
from tui.watch.feed import MAX_BACKOFF, MAX_GAP_PAGES, MAX_RUN_BACKOFF, JobFeed

from .engine_harness import (
    JOB,
    KEY,
    PROJECT,
    Engine,
    engine,
    first_page,
    older_page,
    path_is,
    run_path,
)

REFRESH = 5.0


def failed_polls(h: Engine, since: float) -> list[tuple[float, FeedState]]:
    """(when, state) of each failed poll since `since`: the state says when the next is."""
    return [
        (at, event.state) for at, event in h.feed_events()
        if at >= since and not event.changes and event.state.problem
        and event.state.problem_kind is ProblemKind.WARNING and not event.state.loading_more
    ]


def ids(feed: JobFeed) -> list[str]:
    return [run.id for run in feed.store.runs]


# ----- outage -----------------------------------------------------------------------------------


async def test_outage_backs_off_with_jitter_and_recovers_by_itself() -> None:
    async with engine() as h:
        feed = await h.watch_loaded()
        before = ids(feed)
        since = h.now
        mark = h.mark()
        h.transport.offline = True
        await h.run_until(lambda: feed.policy.failures >= 6, 600, "six failed polls")
        # While down: the rows stay and the feed says why.
        assert ids(feed) == before
        assert feed.problem == "offline" and feed.problem_kind is ProblemKind.WARNING
        assert not feed.stopped and feed.interval is None
        failures = failed_polls(h, since)
        assert len(failures) == 6
        delays = [state.next_poll_at - at for at, state in failures]  # type: ignore[operator]
        # Exponential back-off with full jitter: growing ceilings, never in lock step, never
        # past the cap.
        for n, delay in enumerate(delays, start=1):
            ceiling = min(MAX_BACKOFF, REFRESH * 2 ** min(n, 8))
            assert max(REFRESH, ceiling / 2) <= delay <= ceiling, (n, delay, delays)
        assert len(set(delays)) == len(delays), f"delays in lock step: {delays}"
        assert delays[-1] > delays[0]
        # Each poll went out exactly when planned: the first page and the client's one retry,
        # nothing else.
        sent = h.requests_since(mark)
        assert all(entry.is_poll and entry.outcome == "offline" for entry in sent)
        assert len(sent) == 2 * 6
        for (_, state), entry in zip(failures, sent[2::2], strict=False):
            assert entry.at == pytest.approx(state.next_poll_at, abs=1e-9)

        # A long outage: still about once a minute, never slower.
        await h.run_for(1800)
        later = failed_polls(h, since)[6:]
        assert later and all(
            state.next_poll_at - at <= MAX_BACKOFF for at, state  # type: ignore[operator]
            in later
        )

        # The API comes back with news; nobody asks for anything.
        new = h.world.start_run(PROJECT, JOB, duration=3600)
        h.transport.offline = False
        took = await h.run_until(lambda: ids(feed)[0] == new["id"], MAX_BACKOFF, "the new run")
        assert took <= MAX_BACKOFF
        assert feed.problem == "" and feed.state().problem_kind is ProblemKind.NONE
        assert feed.policy.failures == 0 and feed.interval == REFRESH
        assert not feed.is_stale(h.now)
        # The half hour of runs missed is walked (gap pages), so nothing is missing between.
        assert ids(feed)[-len(before):] == before
        assert h.matches_server(feed)


# ----- bursts -----------------------------------------------------------------------------------

# kind -> (how many in a row, so the client's own retry fails too; what the feed says)
FAULTS: dict[str, tuple[int, str]] = {
    "500": (2, "The API failed (500)"),
    "502": (2, "The API failed (502)"),
    "503": (2, "The API failed (503)"),
    "drop": (2, "offline"),
    "malformed": (1, "Unexpected API answer"),
    "html": (1, "Unexpected API answer"),
    "empty": (1, "Unexpected API answer"),
    "wrong_shape": (1, "Unexpected API answer"),
}


@pytest.mark.parametrize("kind", list(FAULTS))
async def test_fault_burst_keeps_rows_and_recovers_on_time(kind: str) -> None:
    count, said = FAULTS[kind]
    async with engine() as h:
        feed = await h.watch_loaded()
        before = list(feed.store.runs)
        h.sim.faults.queue(kind, count)
        mark = h.mark()
        h.scheduler.poll_now(KEY)
        await h.settle()
        assert said in feed.problem, feed.problem
        assert feed.problem_kind is ProblemKind.WARNING
        assert h.sim.faults.pending == 0
        assert len(h.requests_since(mark)) == count
        assert list(feed.store.runs) == before
        # The next poll is at the first back-off (within its jitter) and clears the problem.
        assert feed.next_poll_at is not None
        planned = feed.next_poll_at - h.now
        assert REFRESH <= planned <= 2 * REFRESH
        took = await h.run_until(lambda: not feed.problem, 3 * REFRESH, "recovery")
        assert took == pytest.approx(planned)
        assert len(h.polls_since(mark)) == count + 1
        assert h.matches_server(feed)


async def test_an_answer_that_never_comes_is_not_offline() -> None:
    async with engine() as h:
        feed = await h.watch_loaded()
        before = ids(feed)
        h.transport.fail(first_page, timeout=True, count=2)
        h.scheduler.poll_now(KEY)
        await h.settle()
        assert feed.problem == "the API is not answering"  # reachable, so not "offline"
        assert ids(feed) == before
        await h.run_until(lambda: not feed.problem, 3 * REFRESH, "recovery")


# ----- Retry-After ------------------------------------------------------------------------------


async def test_rate_limit_burst_honours_retry_after() -> None:
    """Two 429s with Retry-After: 2: the client waits 2 s before its own retry, then the feed
    waits at least 2 s before its next poll."""
    async with engine() as h:
        feed = await h.watch_loaded()
        before = ids(feed)
        mark = h.mark()
        h.sim.faults.queue("429", 2, retry_after=2)
        h.scheduler.poll_now(KEY)
        await h.settle()
        assert feed.problem == "rate limited by the API"
        assert ids(feed) == before
        await h.run_until(lambda: not feed.problem, 10, "recovery")
        sent = h.requests_since(mark)
        assert [entry.outcome for entry in sent[:3]] == ["429", "429", "200"]
        assert all(entry.is_poll for entry in sent[:3]), "nothing else went out in between"
        first, second, third = (entry.at for entry in sent[:3])
        assert 2.0 <= second - first <= 2.25, "the client retried before Retry-After"
        assert 2.0 <= third - second <= 4.0, "the feed polled before Retry-After"
        assert ids(feed) == before


async def test_long_retry_after_holds_every_request() -> None:
    """A Retry-After too long to sleep inside a call: the next poll is planned past it, and
    older pages wait for it too."""
    async with engine() as h:
        feed = await h.watch_loaded()
        h.sim.faults.queue("429", 1, retry_after=45)
        mark = h.mark()
        h.scheduler.poll_now(KEY)
        await h.settle()
        refused = h.requests_since(mark)[0]
        assert refused.outcome == "429"
        assert feed.problem == "rate limited by the API"
        assert feed.next_poll_at is not None and 45 <= feed.next_poll_at - h.now <= 47
        assert feed.has_more
        h.scheduler.want_more(KEY)
        await h.run_for(44.99)
        assert h.requests_since(mark) == [refused]
        loaded = len(feed.store)
        await h.run_until(lambda: len(feed.store) > loaded, 10, "the older page")
        later = h.requests_since(mark)[1:]
        assert later and all(entry.at >= refused.at + 45 for entry in later), later
        assert h.matches_server(feed)


async def test_older_page_refused_by_rate_limit_holds_the_poll() -> None:
    async with engine(refresh=20.0, idle_interval=20.0) as h:
        feed = await h.watch_loaded()
        loaded = len(feed.store)
        h.sim.faults.queue("429", 1, retry_after=40)
        mark = h.mark()
        h.scheduler.want_more(KEY)
        await h.settle()
        refused = h.requests_since(mark)[0]
        assert refused.is_older_page and refused.outcome == "429"
        assert "Cannot load more runs" in feed.problem and "Rate limited" in feed.problem
        assert feed.next_poll_at is not None and feed.next_poll_at >= h.now + 40
        await h.run_for(39.99)
        assert h.requests_since(mark) == [refused]
        assert len(feed.store) == loaded
        await h.run_until(
            lambda: len(feed.store) > loaded and (feed.last_good or 0) > refused.at, 10,
            "the older page and a poll",
        )
        assert all(entry.at >= refused.at + 40 for entry in h.requests_since(mark)[1:])
        assert h.matches_server(feed)


async def test_older_pages_wanted_during_retry_after_load_once_it_ends() -> None:
    async with engine(max_retries=0) as h:
        feed = await h.watch_loaded()
        loaded = len(feed.store)
        h.sim.faults.queue("429", 1, retry_after=3)
        mark = h.mark()
        h.scheduler.poll_now(KEY)
        await h.settle()
        assert feed.problem == "rate limited by the API"
        h.scheduler.want_more(KEY)  # nobody asks anything else: it loads once the hold ends
        await h.run_until(lambda: len(feed.store) > loaded, 10, "the older page")
        sent = h.requests_since(mark)
        assert sent[0].outcome == "429"
        assert all(entry.at - sent[0].at >= 3.0 for entry in sent[1:]), sent
        assert any(entry.is_older_page for entry in sent[1:])
        assert h.matches_server(feed)


# ----- stale ------------------------------------------------------------------------------------


def threshold(interval: float) -> float:
    """Data refreshed every `interval` seconds counts as stale past twice that (+1 s)."""
    return 2 * max(interval, REFRESH) + 1


async def test_stale_only_when_the_last_good_refresh_is_older_than_twice_the_interval() -> None:
    async with engine() as h:
        feed = await h.watch_loaded()
        assert feed.interval == REFRESH
        last_good = feed.last_good
        assert last_good is not None
        h.transport.offline = True
        await h.run_until(lambda: feed.policy.failures >= 1, 60, "a failed poll")
        assert not feed.is_stale(h.now), "one failed poll is not stale data yet"
        became = await h.run_until(lambda: feed.is_stale(h.now), 60, "stale", tick=True)
        assert last_good + threshold(REFRESH) < h.now <= last_good + threshold(REFRESH) + 1
        assert became > 0
        assert feed.last_good == last_good
        h.transport.offline = False
        await h.run_until(lambda: not feed.is_stale(h.now), MAX_BACKOFF, "fresh data")
        assert feed.problem == ""


async def test_a_hung_request_turns_the_feed_stale() -> None:
    """A poll that never answers (no error): "refreshing…" alone would look current."""
    async with engine() as h:
        feed = await h.watch_loaded()
        last_good = feed.last_good
        assert last_good is not None and feed.next_poll_at is not None
        gate = h.transport.hold(first_page)
        h.advance(feed.next_poll_at - h.now)
        h.scheduler.start_due()
        await h.until_io(gate.arrived, "the poll to be sent")
        while h.now <= last_good + threshold(REFRESH):
            assert not feed.is_stale(h.now)
            assert feed.polling_since is not None
            h.advance(0.5)
            h.scheduler.notice_time()
            h.scheduler.start_due()
        assert feed.is_stale(h.now) and feed.polling_since is not None
        assert feed.state().polling_since is not None
        assert len(h.polls_since(0)) == 2, "no second poll while one hangs"
        gate.release()
        await h.settle()
        assert not feed.is_stale(h.now) and feed.polling_since is None


# ----- access refused ---------------------------------------------------------------------------


async def test_token_refused_mid_session_stops_polling_until_asked() -> None:
    async with engine() as h:
        feed = await h.watch_loaded()
        before = list(feed.store.runs)
        token = h.sim.token
        h.sim.token = "revoked"
        await h.run_until(lambda: feed.stopped, 60, "polling stopped")
        assert "401" in feed.problem and "token" in feed.problem
        assert "NORTHFLANK_API_TOKEN" in feed.problem or "--token-file" in feed.problem
        assert feed.problem_kind is ProblemKind.ERROR
        lost = h.events_of(AccessLost)
        assert len(lost) == 1 and lost[0].key == KEY
        assert isinstance(lost[0].error, UnauthorizedError)
        assert list(feed.store.runs) == before
        # No hammering with a refused token, not even for older pages.
        mark = h.mark()
        h.scheduler.want_more(KEY)
        await h.run_for(3600)
        assert h.requests_since(mark) == []
        assert feed.next_due() is None
        assert list(feed.store.runs) == before
        # The token is good again: asking (the `r` key) brings the feed back, and the older
        # page wanted meanwhile loads.
        h.sim.token = token
        h.scheduler.poll_now(KEY)
        await h.settle()
        assert not feed.stopped and feed.problem == ""
        await h.run_until(lambda: len(feed.store) > len(before), 10, "the older page")
        assert h.matches_server(feed)


def remove_job(h: Engine, project: str, job: str) -> None:
    """The world has no API to delete a job: reach in (test only)."""
    with h.world._lock:
        del h.world._jobs[project][job]


async def test_job_gone_mid_session_stops_polling_until_asked() -> None:
    async with engine() as h:
        feed = await h.watch_loaded()
        before = list(feed.store.runs)
        remove_job(h, PROJECT, JOB)
        await h.run_until(lambda: feed.stopped, 60, "polling stopped")
        assert feed.problem == "This job or project is gone (404). Pick another job."
        assert feed.problem_kind is ProblemKind.ERROR
        assert isinstance(h.events_of(AccessLost)[0].error, NotFoundError)
        mark = h.mark()
        await h.run_for(3600)
        assert h.requests_since(mark) == []
        assert list(feed.store.runs) == before


async def test_unknown_job_says_so_and_never_polls_again() -> None:
    async with engine() as h:
        feed = h.watch(JobKey(PROJECT, "no-such-job"))
        await h.run_for(600)
        assert feed.stopped and "404" in feed.problem and "Pick another job" in feed.problem
        assert len(h.requests) == 1 and len(feed.store) == 0


# ----- pages and gaps ---------------------------------------------------------------------------


async def test_page_in_flight_when_the_list_restarts_is_not_appended() -> None:
    """An older page is on its way when a poll finds so many new runs that the list restarts
    from the head: that page belongs to the old list and must not be glued under the new one."""
    async with engine(refresh=20.0, idle_interval=20.0) as h:
        feed = await h.watch_loaded()
        gate = h.transport.hold(older_page)
        h.scheduler.want_more(KEY)
        h.scheduler.start_due()
        await h.until_io(gate.arrived, "the older page to be sent")
        assert feed.state().loading_more
        h.world.advance(7200)  # 120 new runs: more than the gap walk covers
        h.scheduler.poll_now(KEY)
        h.scheduler.start_due()
        await h.until_event(
            lambda event: isinstance(event, FeedChanged)
            and any(change.kind == "cleared" for change in event.changes),
            "the restarted list",
        )
        assert ids(feed)[0] == h.expected_runs(1)[0].id
        gate.release()  # the old page's answer arrives now
        await h.settle()
        assert len(feed.store) == 20 * (1 + MAX_GAP_PAGES)
        assert len(set(ids(feed))) == len(feed.store)
        assert h.matches_server(feed)
        assert not feed.state().loading_more


async def test_gap_walk_closes_a_gap_and_restarts_past_its_reach() -> None:
    async with engine(page_size=10) as h:
        feed = await h.watch_loaded()
        before = ids(feed)
        # 25 runs while nobody looked: the walk reaches the loaded list, nothing missing.
        h.world.advance(25 * 60)
        mark = h.mark()
        h.scheduler.poll_now(KEY)
        await h.settle()
        lists = [entry for entry in h.requests_since(mark) if entry.path.endswith("/runs")]
        assert 1 < len(lists) <= 1 + MAX_GAP_PAGES
        assert ids(feed)[-len(before):] == before
        assert h.matches_server(feed)
        # Far more than the walk covers: it stops after MAX_GAP_PAGES pages and the list
        # restarts from the head (a hole in the middle would be worse).
        h.world.advance(3 * 3600)
        mark = h.mark()
        h.scheduler.poll_now(KEY)
        await h.settle()
        lists = [entry for entry in h.requests_since(mark) if entry.path.endswith("/runs")]
        assert len(lists) == 1 + MAX_GAP_PAGES
        assert len(feed.store) == 10 * (1 + MAX_GAP_PAGES) and feed.has_more
        assert not set(before) & set(ids(feed))
        assert h.matches_server(feed)


# ----- runs that cannot be refreshed ------------------------------------------------------------


@pytest.mark.parametrize("status", [403, 500])
async def test_one_run_that_cannot_be_refreshed_does_not_stop_the_others(status: int) -> None:
    async with engine(page_size=10) as h:
        feed = await h.watch_loaded()
        long_runs = [h.world.start_run(PROJECT, JOB, duration=6 * 3600)["id"] for _ in range(3)]
        await h.settle()
        h.sigstop(15 * 60)  # 15 cron runs push the long ones off the first page
        await h.settle()
        head = {run.id for run in feed.store.runs[:10]}
        assert feed.store.active_count >= 3 and not head & set(long_runs)
        ok, broken, concluding = long_runs
        fault = h.transport.fail(path_is(run_path(broken)), status)
        h.world.abort_run(PROJECT, JOB, concluding)
        mark = h.mark()
        h.scheduler.poll_now(KEY)
        await h.settle()
        # That run is marked; the poll, and the other runs, went on.
        assert feed.run_problems == {broken: f"cannot refresh ({status})"}
        assert feed.state().run_problems == feed.run_problems
        assert feed.problem == "" and feed.last_good == h.now
        stored = feed.store.get(concluding)
        assert stored is not None and stored.status is RunStatus.FAILED
        assert any(entry.path == run_path(ok) for entry in h.requests_since(mark))
        asked = [entry.at for entry in h.requests if entry.path == run_path(broken)]
        # It is asked again after a back-off, not at every poll.
        await h.run_for(4 * REFRESH)
        again = [entry.at for entry in h.requests if entry.path == run_path(broken)]
        assert len(h.polls_since(mark)) >= 4
        assert again[len(asked)] - asked[-1] >= 2 * REFRESH, again
        assert all(b - a <= MAX_RUN_BACKOFF for a, b in itertools.pairwise(again))
        # It answers again: its problem goes.
        h.transport.faults.remove(fault)
        await h.run_until(lambda: not feed.run_problems, MAX_RUN_BACKOFF, "the run refreshed")
        assert h.matches_server(feed)


async def test_fifty_runs_failing_in_one_poll_are_told_once_in_one_event() -> None:
    key = JobKey("data-platform", "export-reports")  # a manual job never run: only ours
    async with engine(page_size=20) as h:
        feed = await h.watch_loaded(key)
        started = {
            h.world.start_run(key.project_id, key.job_id, duration=60, outcome="FAILED")["id"]
            for _ in range(50)
        }
        h.scheduler.poll_now(key)
        await h.settle()
        while feed.has_more:  # the view scrolls to the end: every run is loaded
            h.scheduler.want_more(key)
            await h.settle()
        assert set(ids(feed)) == started and feed.store.active_count == 50
        await h.run_for(60 + REFRESH)
        told = h.events_of(RunsFailed)
        assert len(told) == 1, [len(event.runs) for event in told]
        assert told[0].key == key and {run.id for run in told[0].runs} == started
        assert len(told[0].runs) == 50
        # Never again, whatever the later polls see.
        await h.run_for(600)
        h.scheduler.poll_now(key)
        await h.settle()
        assert len(h.events_of(RunsFailed)) == 1
        assert sorted(h.failed_run_ids()) == sorted(started)


async def test_a_refused_older_page_does_not_hide_that_polling_stopped() -> None:
    """The token is revoked while an older page is on its way: the poll stops the feed with an
    error; the page's own 401, arriving after, must not turn that into a passing warning."""
    async with engine() as h:
        feed = await h.watch_loaded()
        gate = h.transport.hold(older_page)
        h.scheduler.want_more(KEY)
        h.scheduler.start_due()
        await h.until_io(gate.arrived, "the older page to be sent")
        h.sim.token = "revoked"
        h.scheduler.poll_now(KEY)
        h.scheduler.start_due()
        await h.until_event(lambda event: isinstance(event, AccessLost), "the refused poll")
        assert feed.stopped and feed.problem_kind is ProblemKind.ERROR
        gate.release()
        await h.settle()
        assert feed.stopped
        assert feed.state().problem_kind is ProblemKind.ERROR, feed.problem
        assert "401" in feed.problem


async def test_an_ask_for_more_past_the_end_is_not_kept_for_later() -> None:
    """The view may ask once more after the last page (it shows the rows before the feed's
    state); that ask must not stay pending and load a page nobody asked for once the list
    is rebuilt (a gap walk restarts it with older pages to load again)."""
    async with engine() as h:
        feed = await h.watch_loaded()
        while feed.has_more:
            loaded = len(feed.store)
            h.scheduler.want_more(KEY)
            await h.run_until(
                lambda loaded=loaded: len(feed.store) > loaded or not feed.has_more,  # type: ignore[misc]
                10, "the next older page")
        mark = h.mark()
        h.scheduler.want_more(KEY)
        assert not feed.more_wanted
        await h.run_for(60)
        assert not [entry for entry in h.requests_since(mark) if entry.is_older_page]
