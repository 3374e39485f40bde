"""The log viewer's engine side (tui/watch/log_session.py), without Textual: the updates it
hands out, applied in order to a copy, always give the loader's lines, even while the live
tail appends, older pages come in between and the loader's bounds drop lines at both ends."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.conftest import START, make_client
from tui.api.models import LogLine
from tui.simulator import Simulator, run_simulator
from tui.watch.log_session import LogSession, LogUpdate, TailStatus

P, J = "payments", "refund-batch"
DEADLINE = 60.0


@pytest.fixture
def tsim() -> Iterator[Simulator]:
    with run_simulator(seed=7, speed=0.0, start=START, history=False) as simulator:
        simulator.world.set_log_every(P, J, 0.05)
        yield simulator


def apply(mirror: list[LogLine], update: LogUpdate) -> None:
    """What the LogLines widget does with an update."""
    if update.reset is not None:
        mirror[:] = update.reset
        return
    if update.dropped_newest:
        del mirror[len(mirror) - update.dropped_newest:]
    mirror[:0] = update.prepended
    mirror += update.appended
    if update.dropped_oldest:
        del mirror[:update.dropped_oldest]


async def until(condition: object, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not condition():  # type: ignore[operator]
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def test_a_concluded_run_loads_pages_and_has_no_tail(tsim: Simulator) -> None:
    run = tsim.world.start_run(P, J, duration=300, outcome="FAILED")
    tsim.world.advance(400)
    async with make_client(tsim) as client:
        session = LogSession(client, P, J, await client.get_job_run(P, J, run["id"]),
                             now=tsim.world.now)
        mirror: list[LogLine] = []
        first = await session.start()
        apply(mirror, first)
        assert first.reset is not None and len(mirror) == 1000 and first.has_older
        assert mirror[-1].log == "Error: process exited with code 1"
        while session.has_older:
            update = await session.load_older()
            assert update is not None and update.prepended
            apply(mirror, update)
        assert mirror == list(session.loader.lines) and session.known == len(mirror)
        assert mirror[0].log.startswith("Starting container")
        assert await session.load_older() is None  # the start: nothing more is asked
        assert not session.wants_tail
        assert [event async for event in session.follow()] == []


async def test_updates_add_up_to_the_loader_while_the_tail_and_older_pages_interleave(
    tsim: Simulator,
) -> None:
    world = tsim.world
    run = world.start_run(P, J, duration=240, outcome="SUCCESS")
    world.advance(120)  # ~2400 lines already: older pages to load
    async with make_client(tsim) as client:
        job_run = await client.get_job_run(P, J, run["id"])
        # A small bound: lines fall off both ends as the tail appends and pages come.
        session = LogSession(client, P, J, job_run, now=world.now, max_lines=1500,
                             sleep=lambda _s: asyncio.sleep(0))
        mirror: list[LogLine] = []
        apply(mirror, await session.start())
        events: list[object] = []
        # (Between updates only: a gap fill of several pages is handed out when it is done.)
        mismatches: list[str] = []

        def check(what: str) -> None:
            if mirror != list(session.loader.lines):
                mismatches.append(what)

        async def follow() -> None:
            async for event in session.follow():
                events.append(event)
                if isinstance(event, LogUpdate):
                    apply(mirror, event)
                    check(f"tail update {len(events)}")

        task = asyncio.ensure_future(follow())
        await until(lambda: any(isinstance(e, TailStatus) and e.phase == "live"
                                for e in events), "the live tail")
        older = 0
        for _ in range(150):
            world.advance(1)
            update = await session.load_older()
            if update is not None:
                older += 1
                apply(mirror, update)
                check(f"older page {older}")
            await asyncio.sleep(0.02)  # the tail's batch meanwhile
            if task.done():
                break
        await asyncio.wait_for(task, DEADLINE)
    assert older >= 2 and not mismatches
    assert mirror == list(session.loader.lines)
    assert len({line.key for line in mirror}) == len(mirror)
    ended = events[-1]
    assert isinstance(ended, TailStatus) and ended.phase == "ended"
    assert ended.run_status == "SUCCESS"
    assert not session.tailing


async def test_stop_ends_follow(tsim: Simulator) -> None:
    run = tsim.world.start_run(P, J, duration=600)
    tsim.world.advance(3)
    async with make_client(tsim) as client:
        session = LogSession(client, P, J, await client.get_job_run(P, J, run["id"]),
                             now=tsim.world.now)
        await session.start()
        events: list[object] = []

        async def follow() -> None:
            async for event in session.follow():
                events.append(event)

        task = asyncio.ensure_future(follow())
        await until(lambda: tsim.open_tails == 1, "the tail")
        session.stop()
        await asyncio.wait_for(task, DEADLINE)
        await until(lambda: tsim.open_tails == 0, "the socket closed")
    assert isinstance(events[-1], TailStatus) and events[-1].phase == "ended"
    assert not session.wants_tail
