"""Range queries of a run's logs (issue 11): the window, lineLimit, pagination both ways
without repeats at page boundaries, hostile log pages, containers, metrics, the budget."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import START, make_client
from tui.api.client import NorthflankClient
from tui.api.errors import BadResponseError, BudgetExhaustedError
from tui.api.logs import LogLoader
from tui.api.models import MAX_LOG_CHARS, JobRun, LogLine
from tui.api.ratelimit import RateLimitBudget
from tui.api.run_models import (
    WINDOW_AFTER,
    WINDOW_BEFORE,
    Container,
    ContainerStatus,
    LogWindow,
    RunMetrics,
    run_log_window,
)
from tui.simulator import Simulator, run_simulator

P, J = "payments", "refund-batch"
RUN = "d34582a4-35bd-4c71-8e7c-e36999b88723"


@pytest.fixture
def lsim() -> Iterator[Simulator]:
    """A frozen simulator whose refund-batch runs write a line every 20 ms."""
    with run_simulator(seed=7, speed=0.0, start=START, history=False) as simulator:
        simulator.world.set_log_every(P, J, 0.02)
        yield simulator


def roomy_budget() -> RateLimitBudget:
    """A budget on a clock that moves 100 s a look: thousands of pages fit in it."""
    ticks = iter(range(0, 10**9, 100))
    return RateLimitBudget(clock=lambda: float(next(ticks)))


def server_lines(sim: Simulator, run_id: str) -> list[tuple[str, str]]:
    lines, _ = sim.world.log_page(P, J, run_id, 10**7, "forward", None, None)
    return [(line["ts"], line["log"]) for line in lines]


def shown(lines: Any) -> list[tuple[str, str]]:
    return [(line.ts.isoformat(timespec="milliseconds").replace("+00:00", "Z"), line.log)
            for line in lines]


async def run_of(client: NorthflankClient, run_id: str) -> JobRun:
    return await client.get_job_run(P, J, run_id)


# ----- the window ---------------------------------------------------------------------------


def _run(status: str, started: datetime, concluded: datetime | None) -> JobRun:
    return JobRun.from_json({
        "id": RUN, "runName": "r", "status": status, "active": int(concluded is None),
        "concluded": concluded is not None, "startedAt": started.isoformat(),
        "concludedAt": concluded.isoformat() if concluded else None,
    })


def test_the_window_of_a_concluded_and_of_a_running_run() -> None:
    started, ended = START, START + timedelta(minutes=7)
    now = START + timedelta(hours=5)
    window = run_log_window(_run("FAILED", started, ended), now)
    assert window == LogWindow(started - WINDOW_BEFORE, ended + WINDOW_AFTER)
    assert run_log_window(_run("RUNNING", started, None), now) == LogWindow(
        started - WINDOW_BEFORE, now)


def test_the_range_query_is_sent_as_the_official_client_sends_it() -> None:
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.raw_path.decode())
        return httpx.Response(200, json={"data": []})

    window = LogWindow(START, START + timedelta(seconds=90, microseconds=1500))

    async def go() -> None:
        async with NorthflankClient("tok", "https://api.example.test",
                                    transport=httpx.MockTransport(handler)) as client:
            await client.get_log_page(P, J, RUN, window, line_limit=5000)
            await client.get_log_page(P, J, RUN, window, direction="forward", line_limit=7)
            await client.get_run_logs(P, J, RUN, line_limit=50, window=window)

    import asyncio
    asyncio.run(go())
    base = f"/v1/projects/{P}/jobs/{J}/logs?queryType=range"
    times = "startTime=2026-11-29T12%3A00%3A00.000Z&endTime=2026-11-29T12%3A01%3A30.001Z"
    assert sent == [
        f"{base}&{times}&lineLimit=1000&runId={RUN}&direction=backward",
        f"{base}&{times}&lineLimit=7&runId={RUN}&direction=forward",
        f"{base}&{times}&runId={RUN}&lineLimit=50&direction=backward",
    ]


# ----- pagination against the simulator -------------------------------------------------------


@pytest.mark.parametrize(("page_size", "duration"), [(7, 15), (100, 200), (1000, 200)])
async def test_paging_back_through_a_whole_log_repeats_and_skips_nothing(
    lsim: Simulator, page_size: int, duration: int
) -> None:
    # A line per 20 ms (and groups of 3 lines in one millisecond): ~10k lines in 200 s.
    run = lsim.world.start_run(P, J, duration=duration, outcome="FAILED")
    lsim.world.advance(3600)
    expected = server_lines(lsim, run["id"])
    assert len(expected) > 40 * (duration - 4)
    async with make_client(lsim, budget=roomy_budget()) as client:
        loader = LogLoader(client, P, J, await run_of(client, run["id"]), page_size=page_size)
        await loader.load_latest()
        assert shown(loader.lines)[-1][1] == "Error: process exited with code 1"
        assert not loader.has_newer
        requests = 1
        while loader.has_older and requests < 3000:
            await loader.load_older()
            requests += 1
        assert shown(loader.lines) == expected
        # Each page repeats at most the lines of its boundary's 2 ms (a group of 3 here).
        assert requests <= len(expected) // (page_size - 3) + 2
        query = [path for method, path, _ in lsim.requests if "/logs" in path]
        assert all(f"lineLimit={page_size}" in path and "startTime=" in path for path in query)


async def test_following_a_running_run_forward_repeats_and_skips_nothing(lsim: Simulator) -> None:
    run = lsim.world.start_run(P, J, duration=120, outcome="SUCCESS")
    lsim.world.advance(10)
    async with make_client(lsim, budget=roomy_budget()) as client:
        loader = LogLoader(client, P, J, await run_of(client, run["id"]), page_size=9)
        await loader.load_latest()
        assert loader.has_newer and loader.run_active
        first = loader.lines[0]
        for _ in range(12):
            lsim.world.advance(13)
            for _ in range(400):
                if (await loader.load_newer()).appended < 9:
                    break
        loader.update_run(await run_of(client, run["id"]))
        while (await loader.load_newer()).appended:
            pass
        assert not loader.has_newer
        expected = server_lines(lsim, run["id"])
        start = expected.index(shown([first])[0])
        assert shown(loader.lines) == expected[start:]


async def test_a_bounded_loader_drops_the_far_end_and_says_more_is_there(lsim: Simulator) -> None:
    run = lsim.world.start_run(P, J, duration=200, outcome="SUCCESS")
    lsim.world.advance(3600)
    async with make_client(lsim) as client:
        loader = LogLoader(client, P, J, await run_of(client, run["id"]), page_size=1000,
                           max_lines=2500)
        await loader.load_latest()
        changes = [await loader.load_older() for _ in range(4)]
        assert len(loader.lines) == 2500
        assert sum(change.dropped_newest for change in changes) > 0 and loader.has_newer
        newest = loader.lines[-1]
        change = await loader.load_newer()
        assert change.appended > 0 and change.dropped_oldest == change.appended
        assert len(loader.lines) == 2500 and loader.lines[-2500 + 2500 - 1] != newest


async def test_every_request_passes_the_budget_gate(lsim: Simulator) -> None:
    run = lsim.world.start_run(P, J, duration=200)
    lsim.world.advance(3600)
    budget = RateLimitBudget()
    async with make_client(lsim, budget=budget) as client:
        loader = LogLoader(client, P, J, await run_of(client, run["id"]), page_size=10)
        await loader.load_latest()
        while budget.refusal() is None:
            budget.admit()
        before = lsim.request_count
        for call in (loader.load_older, loader.load_newer):
            with pytest.raises(BudgetExhaustedError):
                await call()
        with pytest.raises(BudgetExhaustedError):
            await client.list_run_containers(P, J, run["id"])
        with pytest.raises(BudgetExhaustedError):
            await client.get_run_metrics(P, J, run["id"], loader.window)
        assert lsim.request_count == before


# ----- hostile log pages ----------------------------------------------------------------------


def _mock_client(answer: Callable[[httpx.Request], Any]) -> NorthflankClient:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=answer(request))

    return NorthflankClient("tok", "https://api.example.test",
                            transport=httpx.MockTransport(handler))


def _line(second: float, log: object = "x", container: object = "c") -> dict[str, object]:
    ts = (START + timedelta(seconds=second)).isoformat(timespec="milliseconds")
    return {"containerId": container, "log": log, "ts": ts.replace("+00:00", "Z")}


async def test_a_log_of_any_json_type_and_hostile_lines_read_without_failing_the_page() -> None:
    items: list[object] = [
        _line(1, {"level": "info", "msg": "héllo"}), _line(2, 42), _line(3, None),
        _line(4, [1, True, None]), _line(5, "x" * 1_000_000), _line(6, "ok", container=7),
        _line(7, "ok", container="c" * 5000), {"containerId": "c", "log": "bad", "ts": "soon"},
        "not an object", _line(8, False), {"log": "\x1b]52;c;aGk=\x07", "ts": 17},
    ]
    async with _mock_client(lambda _: {"data": items, "extra": 1}) as client:
        lines = await client.get_run_logs(P, J, RUN)
    logs = [line.log for line in lines]
    assert logs[:4] == ['{"level":"info","msg":"héllo"}', "42", "", "[1,true,null]"]
    assert len(logs[4]) < MAX_LOG_CHARS + 50 and logs[4].endswith("more characters cut)")
    assert lines[5].container_id == "" and lines[6].container_id == ""
    assert "bad" in logs and "false" in logs and "\x1b]52;c;aGk=\x07" in logs
    assert any(log.startswith("(unreadable log line") for log in logs)
    assert all(isinstance(line, LogLine) for line in lines)


async def test_a_page_longer_than_asked_is_cut_before_it_is_read() -> None:
    async with _mock_client(lambda _: {"data": [_line(i / 1000) for i in range(50_000)]}) as c:
        page = await c.get_log_page(P, J, RUN, LogWindow(START, None), line_limit=1000)
    assert len(page.lines) == 1000 and page.cut and page.has_more


async def test_a_server_repeating_one_page_ends_the_walk_after_one_request() -> None:
    sent: list[str] = []
    page = {"data": [_line(i) for i in range(10)],
            "pagination": {"hasNextPage": True, "cursor": "2026-11-29T12:00:00.000Z"}}

    def answer(request: httpx.Request) -> object:
        sent.append(str(request.url))
        return page

    async with _mock_client(answer) as client:
        run = _run("FAILED", START, START + timedelta(seconds=60))
        loader = LogLoader(client, P, J, run, page_size=10)
        await loader.load_latest()
        assert loader.has_older
        for _ in range(5):
            await loader.load_older()
        assert len(sent) == 2 and not loader.has_older and len(loader.lines) == 10


@pytest.mark.parametrize("body", [
    {"data": "lines"}, {"data": {"lines": []}}, [], "x", {"nodata": []},
])
async def test_a_log_answer_of_the_wrong_shape_is_a_bad_response(body: object) -> None:
    async with _mock_client(lambda _: body) as client:
        with pytest.raises(BadResponseError):
            await client.get_log_page(P, J, RUN, LogWindow(None, None))


# ----- containers and metrics -----------------------------------------------------------------


async def test_containers_say_how_each_run_ended(lsim: Simulator) -> None:
    world = lsim.world
    failed = world.start_run(P, J, duration=30, outcome="FAILED")
    world.advance(60)
    done = world.start_run(P, J, duration=30, outcome="SUCCESS")
    world.advance(60)
    aborted = world.start_run(P, J, duration=300)
    world.advance(10)
    world.abort_run(P, J, aborted["id"])
    running = world.start_run(P, J, duration=300)
    world.advance(5)
    async with make_client(lsim) as client:
        statuses = {}
        for run in (failed, done, aborted, running):
            (container,) = await client.list_run_containers(P, J, run["id"])
            statuses[run["id"]] = container.status
            assert container.created_at == datetime.fromisoformat(
                run["startedAt"].replace("Z", "+00:00"))
        assert statuses == {failed["id"]: ContainerStatus.FAILED,
                            done["id"]: ContainerStatus.FINISHED,
                            aborted["id"]: ContainerStatus.KILLED,
                            running["id"]: ContainerStatus.RUNNING}
        loader = LogLoader(client, P, J, await run_of(client, failed["id"]))
        await loader.load_latest()
        assert {line.container_id for line in loader.lines} == {
            (await client.list_run_containers(P, J, failed["id"]))[0].name}


def test_container_models_tolerate_unknown_fields_and_refuse_bad_ones() -> None:
    good = {"name": "c-1", "status": "TASK_OOM", "createdAt": 1611241087,
            "updatedAt": 1611241090, "nodeName": "n", "new": {"x": 1}}
    container = Container.from_json(good)
    assert container.status is ContainerStatus.UNKNOWN and container.raw_status == "TASK_OOM"
    for bad in ({**good, "createdAt": "2021-01-01"}, {**good, "createdAt": 10**12},
                {**good, "name": ""}, {**good, "createdAt": True}, "c"):
        with pytest.raises(BadResponseError):
            Container.from_json(bad)


async def test_metrics_of_a_run_over_its_window(lsim: Simulator) -> None:
    run = lsim.world.start_run(P, J, duration=600, outcome="FAILED")
    lsim.world.advance(3600)
    async with make_client(lsim) as client:
        job_run = await run_of(client, run["id"])
        window = run_log_window(job_run, client.server_now())
        metrics = await client.get_run_metrics(P, J, run["id"], window)
        (cpu,), (memory,) = metrics.of("cpu"), metrics.of("memory")
        assert cpu.unit == "vCPU" and memory.unit == "mb" and cpu.resolution == 10
        assert len(cpu.points) == 61 and all(0 < point.value < 2 for point in cpu.points)
        assert memory.peak is not None and memory.peak.ts >= memory.points[-6].ts
        again = await client.get_run_metrics(P, J, run["id"], window)
        assert again == metrics  # deterministic
    query = next(path for _, path, _ in lsim.requests if "/metrics" in path)
    assert "queryType=range" in query and "metricTypes=cpu&metricTypes=memory" in query
    with pytest.raises(ValueError):
        await make_client(lsim).get_run_metrics(P, J, run["id"], window, ("gpu",))


def test_metric_models_skip_bad_points_and_cap_what_they_keep() -> None:
    body = {"data": {"cpu": {
        "metricInfo": {"metricUnit": "vCPU", "metricResolution": 10, "more": 1},
        "values": [{"metadata": {"containerId": "c"}, "data": [
            {"value": "0.5", "ts": "2026-11-29T12:00:10Z"}, {"value": 0.25, "ts": "bad"},
            {"value": "NaN", "ts": "2026-11-29T12:00:20Z"}, {"value": True, "ts": "x"},
            {"value": 1e400, "ts": "2026-11-29T12:00:30Z"}, "junk",
            {"value": 2, "ts": "2026-11-29T12:00:00Z"},
        ]}]}, "memory": {"values": "no"}}}
    metrics = RunMetrics.from_json(body, ("cpu",))
    (cpu,) = metrics.series
    assert [point.value for point in cpu.points] == [2.0, 0.5]
    with pytest.raises(BadResponseError):
        RunMetrics.from_json(body, ("cpu", "memory"))
    assert json.dumps(body)  # the body itself is plain JSON
