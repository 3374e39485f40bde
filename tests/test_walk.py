"""G in the run list: the feed walks every older page to the oldest run, within its part of
the budget, and Esc stops it (no older page is asked for after). On a fake clock, against the
simulator: no real time passes."""

from __future__ import annotations

from itertools import pairwise

from tui.api.ratelimit import BURST_WINDOW, WINDOW_SECONDS
from tui.watch.events import FeedChanged, JobKey
from tui.watch.feed import JobFeed
from tui.watch.walk import WALK_BURST, WALK_RUSH, WALK_SHARE

from .engine_harness import KEY, Engine, Request, engine

PAGE = 50
# The default quota and share: 500 requests an hour for nf-runs, 41 in any minute.
LIMIT, SHARE = 1000, 0.5
SHARE_LIMIT = int(LIMIT * SHARE)
BURST = SHARE_LIMIT // 12


def most_in_any(requests: list[Request], window: float) -> int:
    """The most requests sent in any `window` seconds (a rolling window)."""
    times = sorted(request.at for request in requests)
    most, first = 0, 0
    for last, at in enumerate(times):
        while times[first] <= at - window:
            first += 1
        most = max(most, last - first + 1)
    return most


def walk(e: Engine, feed: JobFeed) -> None:
    """What G does: the screen tells the feed, and wakes the scheduler."""
    feed.walk_to_end(e.client.budget)
    e.scheduler.wake()


def oldest_id(e: Engine, key: JobKey = KEY) -> str:
    return str(e.world.runs(key.project_id, key.job_id)[-1]["id"])


async def test_g_reaches_the_oldest_of_thousands_of_runs_within_the_budget() -> None:
    async with engine(history=True, page_size=PAGE, rate_limit=LIMIT, share=SHARE) as e:
        feed = await e.watch_loaded()
        total = e.world.run_count(KEY.project_id, KEY.job_id)
        assert total >= 2500 and len(feed.store) == PAGE and feed.has_more
        mark = e.mark()
        walk(e, feed)
        took = await e.run_until(lambda: not feed.walk.active, 3600, "the oldest run")
        # Every run, once, in the server's order, down to the oldest.
        assert not feed.has_more and feed.store.runs[-1].id == oldest_id(e)
        # (A run may have started since the last poll: not on the list yet.)
        server = [run["id"] for run in e.world.runs(KEY.project_id, KEY.job_id)]
        assert [run.id for run in feed.store.runs] == server[-len(feed.store):]
        assert len(feed.store) >= total
        # Within the walk's part of the budget: pages come WALK_BURST of the burst cap a
        # minute, so the walk takes minutes, not seconds; and with the polls, the gate's.
        pages = [r for r in e.requests_since(mark) if r.is_older_page]
        assert len(pages) == -(-(total - PAGE) // PAGE)
        assert most_in_any(pages, BURST_WINDOW) <= int(BURST * WALK_BURST)
        assert took >= (len(pages) // int(BURST * WALK_BURST) - 1) * BURST_WINDOW
        # ... steadily, a page every few seconds after the first few (not a burst a minute).
        assert [r.at for r in pages[:WALK_RUSH]] == [pages[0].at] * WALK_RUSH
        gaps = [b.at - a.at for a, b in pairwise(pages)]
        assert max(gaps) <= BURST_WINDOW / 4
        assert sorted(gaps)[len(gaps) // 2] == BURST_WINDOW / int(BURST * WALK_BURST)
        everything = e.requests
        assert most_in_any(everything, BURST_WINDOW) <= BURST
        assert most_in_any(everything, WINDOW_SECONDS) <= SHARE_LIMIT
        # The polls went on meanwhile: the running run stayed fresh.
        polls = [r for r in e.requests_since(mark) if r.is_poll]
        assert len(polls) >= took / 30 - 1
        assert all(r.outcome == "200" for r in e.requests_since(mark))
        # Each page was told, the walk's state with it: walking until the last page.
        told = [event.state.walking for _at, event in e.feed_events() if event.changes]
        assert told[-1] is False and told.count(True) >= len(pages) - 1


async def test_a_walk_past_its_part_of_the_hour_waits_for_it() -> None:
    async with engine(history=False, page_size=PAGE, rate_limit=LIMIT, share=SHARE) as e:
        project, job = "archive", "huge"
        e.world.add_project(project, "Archive")
        e.world.add_job(project, job, "Huge", "manual", None)
        e.world.add_runs(project, job, 20_000)
        key = JobKey(project, job)
        feed = await e.watch_loaded(key)
        mark = e.mark()
        walk(e, feed)
        per_hour = int(SHARE_LIMIT * WALK_SHARE)
        await e.run_for(WINDOW_SECONDS - 60)
        pages = [r for r in e.requests_since(mark) if r.is_older_page]
        # Its part of the hour spent, the walk waits (it still walks: the footer says so).
        assert len(pages) == per_hour and feed.walk.active and feed.has_more
        assert most_in_any(pages, BURST_WINDOW) <= int(BURST * WALK_BURST)
        # The polls went on beside it, every 30 s (no active run), never refused.
        polls = [r for r in e.requests_since(mark) if r.is_poll]
        assert len(polls) >= (WINDOW_SECONDS - 60) / 30 - 1
        assert not any(r.outcome != "200" for r in e.requests_since(mark))
        assert most_in_any(e.requests, WINDOW_SECONDS) <= SHARE_LIMIT
        await e.run_until(lambda: not feed.walk.active, 4 * WINDOW_SECONDS, "the oldest run")
        assert feed.store.runs[-1].id == oldest_id(e, key) and len(feed.store) == 20_000
        assert most_in_any(e.requests, WINDOW_SECONDS) <= SHARE_LIMIT
        pages = [r for r in e.requests_since(mark) if r.is_older_page]
        assert most_in_any(pages, WINDOW_SECONDS) <= per_hour


async def test_esc_stops_the_walk_and_nothing_more_is_asked() -> None:
    async with engine(history=True, page_size=PAGE, rate_limit=LIMIT, share=SHARE) as e:
        feed = await e.watch_loaded()
        walk(e, feed)
        await e.run_until(lambda: len(feed.store) >= 10 * PAGE, 600, "some pages")
        feed.stop_walk()  # Esc
        loaded = len(feed.store)
        mark = e.mark()
        await e.run_for(1800)
        assert not feed.walk.active and feed.has_more
        assert not [r for r in e.requests_since(mark) if r.is_older_page]
        assert len(feed.store) >= loaded  # (new runs on top only)
        assert feed.state().walking is False
        # G again: the walk goes on from where it stopped, to the end.
        walk(e, feed)
        await e.run_until(lambda: not feed.walk.active, 3600, "the oldest run")
        assert feed.store.runs[-1].id == oldest_id(e)


async def test_nothing_to_walk_past_the_end_or_when_stopped() -> None:
    async with engine(history=False, page_size=PAGE) as e:
        feed = await e.watch_loaded()
        assert not feed.has_more  # a few runs: one page
        walk(e, feed)
        assert not feed.walk.active and not feed.more_wanted


async def test_a_failed_page_is_asked_again_and_the_walk_goes_on() -> None:
    async with engine(history=True, page_size=PAGE) as e:
        feed = await e.watch_loaded()
        fault = e.transport.fail(lambda r: b"cursor=" in r.url.query, 503, count=2)
        walk(e, feed)
        await e.run_until(lambda: not feed.walk.active, 3600, "the oldest run")
        assert fault.hits == 2 and feed.store.runs[-1].id == oldest_id(e)
        assert not [event for _at, event in e.feed_events()
                    if isinstance(event, FeedChanged) and event.state.stopped]
