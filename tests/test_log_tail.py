"""The live log tail (issue 11): the official client's WebSocket protocol against the
simulator, reconnects with back-off and the gap filled by a range query, the end of a run
ending the tail, a bad token, hostile messages, and the token kept out of URLs and logs."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from tests.conftest import START, make_client
from tui.api.client import NorthflankClient
from tui.api.errors import ConfigError
from tui.api.log_tail import MAX_BATCH_LINES, LogTail, TailEnded, TailLines, TailState, tail_url
from tui.api.logs import LogLoader
from tui.api.models import JobRun
from tui.simulator import Simulator, run_simulator

P, J = "payments", "refund-batch"
DEADLINE = 60.0  # generous: a loaded machine is slow, not wrong


@pytest.fixture
def tsim() -> Iterator[Simulator]:
    with run_simulator(seed=7, speed=0.0, start=START, history=False) as simulator:
        simulator.world.set_log_every(P, J, 0.05)
        yield simulator


async def until(condition: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


class Recorder:
    """Runs a tail's events in a task and keeps them."""

    def __init__(self, tail: LogTail) -> None:
        self.tail = tail
        self.events: list[Any] = []
        self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        async for event in self.tail.events():
            self.events.append(event)

    def lines(self) -> int:
        return sum(len(event.lines) for event in self.events if isinstance(event, TailLines))

    def states(self) -> list[str]:
        return [event.state for event in self.events if isinstance(event, TailState)]

    def ended(self) -> TailEnded | None:
        return next((event for event in self.events if isinstance(event, TailEnded)), None)


def server_lines(sim: Simulator, run_id: str) -> list[tuple[str, str]]:
    lines, _ = sim.world.log_page(P, J, run_id, 10**7, "forward", None, None)
    return [(line["ts"], line["log"]) for line in lines]


def shown(lines: Any) -> list[tuple[str, str]]:
    return [(line.ts.isoformat(timespec="milliseconds").replace("+00:00", "Z"), line.log)
            for line in lines]


async def start_tail(sim: Simulator, client: NorthflankClient, run_id: str,
                     **options: Any) -> tuple[LogLoader, Recorder]:
    run = await client.get_job_run(P, J, run_id)
    loader = LogLoader(client, P, J, run)
    options.setdefault("sleep", lambda _seconds: asyncio.sleep(0))
    return loader, Recorder(LogTail(loader, **options))


# ----- the URL ----------------------------------------------------------------------------------


def test_the_tail_url_swaps_the_scheme_and_never_carries_the_token() -> None:
    run = "d34582a4-35bd-4c71-8e7c-e36999b88723"
    path = "/v1/projects/p/jobs/j/logs"
    assert tail_url("https://api.northflank.com", path, run) == (
        f"wss://api.northflank.com{path}?queryType=tail&lineLimit=10&runId={run}")
    assert tail_url("http://127.0.0.1:8080", path, run, 3).startswith("ws://127.0.0.1:8080/")
    for host in ("http://example.com", "http://127.0.0.1.evil.example", "ftp://127.0.0.1"):
        with pytest.raises(ConfigError):
            tail_url(host, path, run)
    client = NorthflankClient("secret-token", "https://api.example.test")
    loader = LogLoader(client, "p", "j", JobRun.unreadable_placeholder({"id": run}, "x"))
    tail = LogTail(loader)
    assert "secret-token" not in tail.url and "secret-token" not in repr(tail)
    assert json.loads(client.log_tail_init()) == {
        "type": "init", "data": {"auth": {"type": "apiToken", "apiToken": "secret-token"}}}


# ----- against the simulator ------------------------------------------------------------------


async def test_the_tail_follows_a_run_until_it_concludes(
    tsim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    world = tsim.world
    run = world.start_run(P, J, duration=30, outcome="FAILED")
    world.advance(3)
    async with make_client(tsim) as client:
        loader, tail = await start_tail(tsim, client, run["id"])
        await until(lambda: "live" in tail.states(), "the tail to go live")
        for _ in range(40):  # a simulated second at a time: a batch each
            seen = tail.lines()
            world.advance(1)
            if tail.ended():
                break
            await until(lambda seen=seen: tail.lines() > seen or tail.ended() is not None,
                        "a batch of lines")
        await asyncio.wait_for(tail.task, DEADLINE)
    ended = tail.ended()
    assert ended is not None and ended.concluded and "FAILED" in ended.reason
    assert shown(loader.lines) == server_lines(tsim, run["id"])[-len(loader.lines):]
    assert shown(loader.lines)[-1][1] == "Error: process exited with code 1"
    assert tail.tail.connections == 1
    paths = [path for _, path, _ in tsim.requests]
    assert sum(method == "WS" for method, _, _ in tsim.requests) == 1
    assert not any(tsim.token in path for path in paths)
    assert tsim.token not in caplog.text


async def test_a_dropped_socket_reconnects_with_back_off_and_fills_the_gap(
    tsim: Simulator
) -> None:
    world = tsim.world
    run = world.start_run(P, J, duration=120, outcome="SUCCESS")
    world.advance(5)
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)
        world.advance(7)  # lines written while no socket listens: the gap

    async with make_client(tsim) as client:
        loader, tail = await start_tail(tsim, client, run["id"], sleep=sleep)
        for drop in range(3):
            await until(lambda drop=drop: tsim.open_tails == 1
                        and tail.states().count("live") == drop + 1, "a live tail")
            world.advance(2)
            seen = tail.lines()
            await until(lambda seen=seen: tail.lines() > seen, "lines")
            assert tsim.drop_tails() == 1
        await until(lambda: tail.states().count("live") == 4, "the fourth connection")
        world.advance(200)
        await asyncio.wait_for(tail.task, DEADLINE)
    assert tail.ended() is not None and tail.ended().concluded  # type: ignore[union-attr]
    expected = server_lines(tsim, run["id"])
    assert shown(loader.lines) == expected[-len(loader.lines):]
    keys = [line.key for line in loader.lines]
    assert len(keys) == len(set(keys))
    assert len(delays) == 3 and all(0.5 <= delay <= 1.0 for delay in delays)  # attempt 1 each
    reconnecting = [event for event in tail.events
                    if isinstance(event, TailState) and event.retry_in is not None]
    assert [event.attempt for event in reconnecting] == [1, 1, 1]


async def test_a_bad_token_ends_the_tail_with_the_servers_error_and_no_retry(
    tsim: Simulator
) -> None:
    run = tsim.world.start_run(P, J, duration=60)
    async with make_client(tsim) as good:
        job_run = await good.get_job_run(P, J, run["id"])
    async with NorthflankClient("wrong-token", tsim.url) as client:
        loader = LogLoader(client, P, J, job_run)
        tail = Recorder(LogTail(loader, sleep=lambda _s: asyncio.sleep(0)))
        await asyncio.wait_for(tail.task, DEADLINE)
    ended = tail.ended()
    assert ended is not None and ended.error and not ended.concluded
    assert "Unauthorized" in ended.reason and "wrong-token" not in ended.reason
    assert tail.tail.connections == 1


async def test_the_tail_gives_up_after_its_attempts_with_growing_delays(
    tsim: Simulator
) -> None:
    run = tsim.world.start_run(P, J, duration=600)
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    async with make_client(tsim) as client:
        _loader, tail = await start_tail(tsim, client, run["id"], sleep=sleep, max_attempts=5,
                                        backoff_base=1.0, backoff_cap=8.0)
        await until(lambda: "live" in tail.states(), "the tail to go live")
        tsim.stop()
        await asyncio.wait_for(tail.task, DEADLINE)
    ended = tail.ended()
    assert ended is not None and ended.error and "gave up after 5 attempts" in ended.reason
    retry_waits = [d for d in delays if d >= 0.5]  # the client's own HTTP retries are tiny
    caps = [1.0, 2.0, 4.0, 8.0, 8.0]
    assert len(retry_waits) == 5
    assert all(cap / 2 <= wait <= cap for wait, cap in zip(retry_waits, caps, strict=True))


async def test_the_polls_conclusion_ends_a_tail_whose_socket_stays_open(
    tsim: Simulator
) -> None:
    run = tsim.world.start_run(P, J, duration=60, outcome="SUCCESS")
    tsim.world.advance(5)
    async with make_client(tsim) as client:
        loader, tail = await start_tail(tsim, client, run["id"])
        await until(lambda: "live" in tail.states(), "the tail to go live")
        tsim.world.advance(100)
        tail.tail.note_run(await client.get_job_run(P, J, run["id"]))
        await asyncio.wait_for(tail.task, DEADLINE)
    assert tail.ended() is not None and tail.ended().concluded  # type: ignore[union-attr]
    assert shown(loader.lines)[-1][1] == "[INFO] done"


async def test_stop_ends_the_tail_at_once(tsim: Simulator) -> None:
    run = tsim.world.start_run(P, J, duration=600)
    async with make_client(tsim) as client:
        _, tail = await start_tail(tsim, client, run["id"])
        await until(lambda: "live" in tail.states(), "the tail to go live")
        tail.tail.stop()
        await asyncio.wait_for(tail.task, DEADLINE)
    assert tail.ended() == TailEnded("The live tail was stopped.")
    await until(lambda: tsim.open_tails == 0, "the socket to close")


# ----- hostile messages (a fake socket) ---------------------------------------------------------


class FakeSocket:
    def __init__(self, messages: list[str]) -> None:
        self.messages = list(messages)
        self.sent: list[str] = []

    async def send(self, message: str) -> None:
        self.sent.append(message)

    async def recv(self) -> str:
        if self.messages:
            return self.messages.pop(0)
        await asyncio.Event().wait()  # silence, like a server with nothing to say
        raise AssertionError("unreachable")


async def test_hostile_messages_are_bounded_ignored_or_dropped(tsim: Simulator) -> None:
    run = tsim.world.start_run(P, J, duration=600)
    tsim.world.advance(3)
    line = {"containerId": "c", "log": "x", "ts": "2026-11-29T12:00:04.000Z"}
    many = [{**line, "ts": f"2026-11-29T12:00:05.{i % 1000:03d}Z", "log": str(i)}
            for i in range(MAX_BATCH_LINES * 2)]
    scripts = [
        ['{"type":"init","data":{"auth":"successful"}}', '{"type":"ping"}', "[1,2]",
         json.dumps({"type": "log-lines", "data": many}), "not json", "{", "still not"],
        [json.dumps({"type": "error", "data": {"message": "\x1b[2J boom " + "y" * 5000}})],
    ]
    sockets: list[FakeSocket] = []

    @asynccontextmanager
    async def connect(url: str) -> AsyncIterator[FakeSocket]:
        assert tsim.token not in url
        sockets.append(FakeSocket(scripts[len(sockets)]))
        yield sockets[-1]

    async with make_client(tsim) as client:
        _loader, tail = await start_tail(tsim, client, run["id"], connect=connect)
        await asyncio.wait_for(tail.task, DEADLINE)
    assert len(sockets) == 2  # three messages that are not JSON dropped the first
    assert all(json.loads(s.sent[0])["type"] == "init" for s in sockets)
    batch = [event for event in tail.events if isinstance(event, TailLines)
             and any(line.container_id == "c" for line in event.lines)]
    assert len(batch) == 1 and len(batch[0].lines) <= MAX_BATCH_LINES
    ended = tail.ended()
    assert ended is not None and ended.error and len(ended.reason) < 300
    assert "boom" in ended.reason
