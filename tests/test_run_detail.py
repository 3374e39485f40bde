"""The run detail's containers ("why it failed") and CPU/memory charts ("what it used"), their
budget (once for a concluded run, a slow cadence for a running one, on the app's clock), hostile
answers, and the layout at 80x24 and 200x60 (snapshots).

Time is the simulator's frozen clock (the app's `now`): a test moves it with
`world.advance()` and runs the detail's tick itself, so no test waits on the wall clock for a
cadence. The Pilot tests wait for what the user would see, with a deadline.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from textual.widgets import Static

from tui.api.errors import ForbiddenError, NetworkError, RateLimitedError
from tui.api.run_models import Container, ContainerStatus, MetricPoint, MetricSeries, RunMetrics
from tui.formatting import TimeMode
from tui.screens.detail import RunDetailScreen
from tui.screenshots import freeze_local_time, scene_app, settle
from tui.simulator import Simulator, run_simulator
from tui.watch.run_info import Cadence
from tui.widgets.containers import RunContainers, failures_first, middle_cut
from tui.widgets.moment import clock_text
from tui.widgets.run_usage import RunUsage, UsageRow, amount, usage_of, usage_words
from tui.widgets.sparkline import resample, sparkline_rows

from .test_ui import Board, add_job, board, screen_text

T0 = datetime(2026, 11, 29, 14, 0, 0, tzinfo=timezone.utc)


@pytest.fixture
def utc_zone() -> Iterator[None]:
    """Local time is UTC for the test (and the zone is put back after it)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()


def container(name: str, status: str, updated: datetime | None) -> Container:
    return Container(name=name, status=ContainerStatus.parse(status), raw_status=status,
                     created_at=T0, updated_at=updated)


# ----- pure parts ---------------------------------------------------------------------------


def test_failures_come_first_then_running_then_finished() -> None:
    containers = [
        container("a-finished", "TASK_FINISHED", T0 + timedelta(seconds=50)),
        container("b-running", "TASK_RUNNING", T0 + timedelta(seconds=40)),
        container("c-killed", "TASK_KILLED", T0 + timedelta(seconds=30)),
        container("d-failed-old", "TASK_FAILED", T0 + timedelta(seconds=10)),
        container("e-failed-new", "TASK_FAILED", T0 + timedelta(seconds=20)),
        container("f-odd", "SOMETHING_ELSE", None),
    ]
    order = [c.name for c in failures_first(containers)]
    assert order == ["e-failed-new", "d-failed-old", "c-killed", "b-running", "f-odd",
                     "a-finished"]


def test_middle_cut_keeps_both_ends() -> None:
    name = "settle-ledger-18f9d4bb8b-d1f50"
    assert middle_cut(name, 40) == name
    cut = middle_cut(name, 15)
    assert len(cut) == 15 and cut.startswith("settle-") and cut.endswith("d1f50") and "…" in cut


def test_clock_text_follows_the_time_mode(utc_zone: None) -> None:
    moment = T0 + timedelta(seconds=131)
    assert clock_text(moment, TimeMode.RELATIVE, T0) == "14:02:11"
    assert clock_text(moment, TimeMode.LOCAL, T0) == "14:02:11"
    assert clock_text(moment, TimeMode.UTC, T0) == "14:02:11Z"
    assert clock_text(moment, TimeMode.UTC, T0, seconds=False) == "14:02Z"
    # Another day than today's: the date too.
    assert clock_text(moment, TimeMode.LOCAL, T0 + timedelta(days=2)) == "2026-11-29 14:02:11"
    assert clock_text(None, TimeMode.LOCAL, T0) == "-"


def test_sparkline_reads_from_zero_and_leaves_gaps_blank() -> None:
    assert sparkline_rows([0.0, 0.5, 1.0, None]) == ["▁▄█ "]
    # A flat series is not a mountain: 0.30 and 0.32 of a 0.32 peak are both near the top.
    assert sparkline_rows([0.30, 0.32]) == ["██"]
    assert sparkline_rows([0.30, 0.32], height=3) == ["▇█", "██", "██"]
    two = sparkline_rows([0.25, 1.0, None], height=2)
    assert two == [" █ ", "▄█ "]
    assert sparkline_rows([], height=2) == ["", ""]
    assert sparkline_rows([float("inf"), 1.0]) == [" █"]


def test_resample_places_points_by_time_and_keeps_peaks() -> None:
    points = [(T0, 1.0), (T0 + timedelta(seconds=1), 5.0), (T0 + timedelta(seconds=9), 2.0)]
    columns = resample(points, T0, T0 + timedelta(seconds=10), 5)
    assert columns == [5.0, None, None, None, 2.0]  # a column holds its largest value
    held = resample(points, T0, T0 + timedelta(seconds=10), 5, hold=4.0)
    assert held == [5.0, 5.0, None, None, 2.0]  # held for the resolution, then a gap
    assert resample(points, T0, T0, 3) == [None, None, 5.0]  # no span: all at the end
    assert resample(points, T0, T0 + timedelta(seconds=10), 0) == []


def test_usage_sums_containers_and_says_the_peak_in_words(utc_zone: None) -> None:
    def series(container_id: str, values: list[float]) -> MetricSeries:
        return MetricSeries("cpu", "vCPU", container_id, 10.0, tuple(
            MetricPoint(T0 + timedelta(seconds=10 * i), v) for i, v in enumerate(values)))

    usage = usage_of([series("a", [0.1, 0.5, 0.2]), series("b", [0.1, 0.32])], "cpu")
    assert [value for _, value in usage.points] == pytest.approx([0.2, 0.82, 0.2])
    assert usage.peak == (T0 + timedelta(seconds=10), pytest.approx(0.82))
    assert usage.containers == 2
    assert amount(0.82, "vCPU") == "0.82 vCPU"
    assert amount(412.4, "mb") == "412 MB"
    assert amount(1e300, "mb") == "1e+300 MB"
    huge = usage_of([series("a", [1e308]), series("b", [1e308])], "cpu")
    assert huge.points == ()  # a sum that overflows is no point at all


moments = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                       timezones=st.just(timezone.utc))
values = st.floats(allow_nan=True, allow_infinity=True)


@given(st.lists(st.tuples(moments, values), max_size=30), moments, moments,
       st.integers(-2, 300), st.integers(0, 5), st.none() | st.floats(0, 1e12))
def test_charts_never_raise_on_any_numbers_or_times(
    points: list[tuple[datetime, float]], start: datetime, end: datetime, width: int,
    height: int, hold: float | None,
) -> None:
    points.sort(key=lambda point: point[0])
    columns = resample(points, start, end, width, hold)
    assert len(columns) == max(0, width)
    rows = sparkline_rows(columns, height)
    assert len(rows) == max(1, height) and all(len(row) == len(columns) for row in rows)
    series = MetricSeries("cpu", "vCPU", "c", hold or None, tuple(
        MetricPoint(ts, value) for ts, value in points if value == value))
    usage = usage_of([series, series], "cpu")
    for mode in TimeMode:
        words = usage_words(usage, mode, end, span=(end - start).total_seconds())
        assert words and all(isinstance(line, str) for line in words)


def test_cadence_asks_once_for_a_concluded_run() -> None:
    cadence = Cadence()
    assert cadence.due(T0)
    cadence.started()
    assert not cadence.due(T0)  # in flight
    cadence.succeeded(T0, concluded=True)
    for hours in (0, 1, 24, 24 * 365):
        assert not cadence.due(T0 + timedelta(hours=hours))


def test_cadence_of_a_running_run_and_its_end() -> None:
    cadence = Cadence(interval=60.0)
    cadence.started()
    cadence.succeeded(T0, concluded=False)
    assert not cadence.due(T0 + timedelta(seconds=59))
    assert cadence.due(T0 + timedelta(seconds=60))
    cadence.started()
    cadence.succeeded(T0 + timedelta(seconds=60), concluded=False, interval=300.0)
    assert not cadence.due(T0 + timedelta(seconds=200))  # a stretched interval (the budget)
    cadence.concluded()  # the run ended: its final picture at once
    assert cadence.due(T0 + timedelta(seconds=61))
    cadence.started()
    cadence.succeeded(T0 + timedelta(seconds=61), concluded=True)
    assert not cadence.due(T0 + timedelta(days=1))


def test_cadence_retries_what_may_pass_and_never_what_will_not() -> None:
    cadence = Cadence(interval=60.0)
    cadence.started()
    assert cadence.failed(T0, NetworkError("down")) == 60.0
    assert cadence.due(T0 + timedelta(seconds=60))
    cadence.started()
    assert cadence.failed(T0, RateLimitedError("slow down", 429, None, 600)) == 600
    assert not cadence.due(T0 + timedelta(seconds=599))
    assert cadence.due(T0 + timedelta(seconds=600))
    cadence.started()
    assert cadence.failed(T0, ForbiddenError("no", 403)) is None
    cadence.concluded()
    assert not cadence.due(T0 + timedelta(days=1))


# ----- the detail in the app ----------------------------------------------------------------


class Rewrite(httpx.AsyncBaseTransport):
    """The simulator over real loopback, but answers of our own for some paths (by the
    path's last segment: "containers", "metrics"), and a count of each path's requests."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.answers: dict[str, Callable[[httpx.Request], httpx.Response | None]] = {}
        self.hits: dict[str, int] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        last = request.url.path.rsplit("/", 1)[-1]
        self.hits[last] = self.hits.get(last, 0) + 1
        answer = self.answers.get(last)
        response = answer(request) if answer is not None else None
        if response is not None:
            return response
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def json_answer(body: object, status: int = 200) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, json=body)


def requests_to(sim: Simulator, what: str) -> list[str]:
    return [target for method, target, _ in sim.requests
            if method == "GET" and target.split("?")[0].endswith("/" + what)]


async def open_detail(b: Board) -> RunDetailScreen:
    await b.idle()
    await b.press("enter")
    await b.wait(lambda: isinstance(b.app.screen, RunDetailScreen), "the detail")
    detail = b.app.screen
    assert isinstance(detail, RunDetailScreen)
    return detail


def containers_text(detail: RunDetailScreen) -> str:
    return detail.query_one(RunContainers).render().plain


def usage_text(detail: RunDetailScreen) -> str:
    lines = []
    for row in detail.query_one(RunUsage).query(UsageRow):
        if row.display:
            words = row.query_one(".usage-words", Static).content
            label = row.query_one(".usage-label", Static).content
            lines.append(f"{label}{words}")
    return "\n".join(lines)


async def settled_detail(b: Board, detail: RunDetailScreen) -> None:
    await b.wait(lambda: "loading" not in containers_text(detail)
                 and "loading" not in usage_text(detail), "the containers and the charts")


async def test_a_failed_run_says_which_container_failed_and_when(
    sim: Simulator, utc_zone: None,
) -> None:
    async with board(sim, project="payments", job="reconcile-legacy", size=(120, 40),
                     refresh=60, idle_interval=60) as b:
        detail = await open_detail(b)
        await settled_detail(b, detail)
        run = detail.run
        assert run.concluded_at is not None and run.raw_status == "FAILED"
        pod = sim.world.run_facts("payments", "reconcile-legacy", run.id).container
        at = run.concluded_at.strftime("%H:%M:%S")
        line = containers_text(detail).splitlines()[0]
        assert re.match(rf"✘ container\s+{re.escape(pod)} TASK_FAILED at {at}\b", line), line
        assert f"TASK_FAILED at {at}" in screen_text(b)
        words = usage_text(detail)
        assert re.search(r"^CPU\s+peak \d+\.\d\d vCPU at \d\d:\d\d$", words, re.M), words
        assert re.search(r"^memory\s+peak \d+ MB at \d\d:\d\d$", words, re.M), words
        # The query: the run's own window and the two metric types.
        metrics = requests_to(sim, "metrics")
        assert len(metrics) == 1
        assert "queryType=range" in metrics[0] and "startTime=" in metrics[0]
        assert "metricTypes=cpu" in metrics[0] and "metricTypes=memory" in metrics[0]
        assert f"runId={run.id}" in requests_to(sim, "containers")[0]


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
async def test_containers_of_a_retried_run_failure_first(
    small_sim: Simulator, utc_zone: None, size: tuple[int, int],
) -> None:
    sim = small_sim
    add_job(sim, "ops", "retry", runs=1)
    proxy = Rewrite()
    base = int(datetime(2026, 11, 29, 11, 0, tzinfo=timezone.utc).timestamp())
    proxy.answers["containers"] = json_answer({
        "data": {"containers": [
            {"name": "retry-pod-ok", "status": "TASK_FINISHED", "createdAt": base,
             "updatedAt": base + 100},
            {"name": "retry-pod-bad", "status": "TASK_FAILED", "createdAt": base,
             "updatedAt": base + 50},
        ], "runId": "x"},
        "pagination": {"hasNextPage": False, "count": 2},
    })
    from .test_ui import make_client

    async with board(sim, project="ops", job="retry", size=size,
                     client=make_client(sim, transport=proxy)) as b:
        detail = await open_detail(b)
        await settled_detail(b, detail)
        lines = containers_text(detail).splitlines()
        assert lines[0].startswith("✘ container")
        assert "retry-pod-bad TASK_FAILED at 11:00:50" in lines[0]
        if size == (80, 24):  # one line: the failure, and how many more
            assert lines == [lines[0]] and lines[0].endswith(" · +1 more"), lines
        else:
            assert lines[1].startswith("✔ container")
            assert "retry-pod-ok TASK_FINISHED at 11:01:40" in lines[1]


async def test_a_concluded_run_is_asked_once_however_long_it_stays_open(
    sim: Simulator,
) -> None:
    async with board(sim, project="payments", job="reconcile-legacy", size=(80, 24),
                     refresh=60, idle_interval=60) as b:
        await b.idle()
        await b.press("t", "t")  # times in UTC: the detail follows the list's time mode
        detail = await open_detail(b)
        await settled_detail(b, detail)
        assert re.search(r"TASK_FAILED at \d\d:\d\d:\d\dZ$", containers_text(detail))
        assert re.search(r"^CPU\s+peak .* at \d\d:\d\dZ$", usage_text(detail), re.M)
        assert len(requests_to(sim, "metrics")) == 1
        assert len(requests_to(sim, "containers")) == 1
        for _ in range(5):  # hours pass on the app's clock; the detail ticks
            sim.world.advance(3600)
            detail._tick()
            await b.pilot.pause()
        await b.wait(lambda: not any(w.is_running for w in b.app.workers
                                     if w.group in ("containers", "metrics")), "no request")
        assert len(requests_to(sim, "metrics")) == 1
        assert len(requests_to(sim, "containers")) == 1


async def test_a_running_run_is_asked_on_a_slow_cadence_and_once_at_its_end(
    small_sim: Simulator,
) -> None:
    sim = small_sim
    add_job(sim, "ops", "long", runs=2)
    sim.world.start_run("ops", "long", run_name="long-run", duration=100)
    # (The list polls every second of wall time, as the app does: the detail hears of the
    # run's end from those polls. The detail's own cadence runs on the frozen clock.)
    async with board(sim, project="ops", job="long", size=(80, 24)) as b:
        detail = await open_detail(b)
        assert detail.run.is_active
        await settled_detail(b, detail)

        def asked() -> tuple[int, int]:
            return len(requests_to(sim, "metrics")), len(requests_to(sim, "containers"))

        assert asked() == (1, 1)
        sim.world.advance(59)
        detail._tick()
        await b.pilot.pause()
        assert asked() == (1, 1)  # not yet a minute
        sim.world.advance(1)
        detail._tick()
        await b.wait(lambda: asked() == (2, 2), "the second round, a minute later")
        await b.wait(lambda: "TASK_RUNNING" in containers_text(detail), "the new status")
        # The run ends before the next round is due (the list's poll tells the detail): its
        # final picture, once.
        sim.world.advance(40)
        await b.wait(lambda: not detail.run.is_active, "the run to conclude in the detail")
        await b.wait(lambda: asked() == (3, 3), "the final round")
        await b.wait(lambda: "TASK_FINISHED" in containers_text(detail), "the last status")
        for _ in range(3):
            sim.world.advance(600)
            detail._tick()
            await b.pilot.pause()
        assert asked() == (3, 3)


HOSTILE_NAME = "evil\x1b]52;c;aGFja2Vk\x07\x1b[2J\x9b31m-pod"


@pytest.mark.parametrize(("containers", "metrics", "expect_containers", "expect_usage"), [
    # Wrong shapes: one line each, no crash.
    ({"data": {"containers": "nope"}}, {"data": {"cpu": {"values": "nope"}}},
     "cannot load them: Unexpected API answer", "cannot load them: Unexpected API answer"),
    # A refusal (403): what the token lacks; an HTML error page with a 500.
    ({"error": {"message": "\x1b[31mForbidden\x07"}}, None,
     "403: the token needs “Deployment > View Instance Logs”", "cannot load them: The API"),
], ids=["wrong-shapes", "refused"])
async def test_hostile_answers_say_so_in_their_part_and_nothing_breaks(
    small_sim: Simulator, containers: Any, metrics: Any, expect_containers: str,
    expect_usage: str,
) -> None:
    sim = small_sim
    add_job(sim, "ops", "bad", runs=1)
    proxy = Rewrite()
    if "error" in containers:
        proxy.answers["containers"] = json_answer(containers, 403)
        proxy.answers["metrics"] = lambda request: httpx.Response(
            500, content=b"<html>\x1b[2J oops</html>", headers={"content-type": "text/html"})
    else:
        proxy.answers["containers"] = json_answer(containers)
        proxy.answers["metrics"] = json_answer(metrics)
    from .test_ui import make_client

    async with board(sim, project="ops", job="bad", size=(80, 24),
                     client=make_client(sim, transport=proxy)) as b:
        detail = await open_detail(b)
        await settled_detail(b, detail)
        shown, usage = containers_text(detail), usage_text(detail)
        assert expect_containers in shown, shown
        assert expect_usage in usage, usage
        assert len(shown.splitlines()) == 1 and len(usage.splitlines()) == 1
        text = screen_text(b)
        assert "\x1b" not in text and "\x07" not in text
        await b.wait(lambda: detail.query_one("#logs-title", Static).content.plain
                     .startswith("Logs: last"), "the logs, still loaded")


async def test_hostile_names_and_numbers_are_shown_safely(small_sim: Simulator) -> None:
    sim = small_sim
    add_job(sim, "ops", "odd", runs=1)
    proxy = Rewrite()
    base = int(datetime(2026, 11, 29, 11, 0, tzinfo=timezone.utc).timestamp())
    proxy.answers["containers"] = json_answer({"data": {"containers": [
        {"name": HOSTILE_NAME, "status": "TASK_FAILED\x1b[0m", "createdAt": base,
         "updatedAt": base},
    ]}})
    start = datetime.fromtimestamp(base, tz=timezone.utc)
    points = [{"value": value, "ts": (start + timedelta(seconds=10 * i)).isoformat()}
              for i, value in enumerate([1e308, "NaN", "0.5", -3, None, "1e308", 2])]
    proxy.answers["metrics"] = json_answer({"data": {
        "cpu": {"metricInfo": {"metricUnit": "\x1b[2JvCPU"},
                "values": [{"metadata": {"containerId": "p"}, "data": points},
                           {"metadata": {"containerId": "q"}, "data": points}]},
        "memory": {"metricInfo": {"metricUnit": "mb"}, "values": []},
    }})
    from .test_ui import make_client

    async with board(sim, project="ops", job="odd", size=(80, 24),
                     client=make_client(sim, transport=proxy)) as b:
        detail = await open_detail(b)
        await settled_detail(b, detail)
        shown = containers_text(detail)
        assert "␛" in shown and "\x1b" not in shown and "TASK_FAILED" in shown
        usage = usage_text(detail)
        assert "\x1b" not in usage and "peak" in usage
        assert re.search(r"^memory\s+no data for this run$", usage, re.M), usage
        text = screen_text(b)
        assert "\x1b" not in text and "\x07" not in text


async def test_a_failed_refresh_keeps_what_is_shown(small_sim: Simulator) -> None:
    sim = small_sim
    add_job(sim, "ops", "flaky", runs=1)
    sim.world.start_run("ops", "flaky", run_name="flaky-run", duration=3600)
    proxy = Rewrite()
    from .test_ui import make_client

    async with board(sim, project="ops", job="flaky", size=(120, 40), refresh=60,
                     idle_interval=60, client=make_client(sim, transport=proxy)) as b:
        detail = await open_detail(b)
        await settled_detail(b, detail)
        before = usage_text(detail)
        assert "peak" in before and "TASK_STARTING" in containers_text(detail)
        down = json_answer({"error": {"message": "upstream down"}}, 503)
        proxy.answers["containers"] = proxy.answers["metrics"] = down
        sim.world.advance(60)
        detail._tick()
        await b.wait(lambda: "upstream down" in usage_text(detail), "the note in the charts")
        await b.wait(lambda: "upstream down" in containers_text(detail), "the containers' note")
        usage = usage_text(detail)
        assert "peak" in usage and "not updated" in usage and "again in 60 s" in usage
        assert "TASK_STARTING" in containers_text(detail)  # the list stays
        assert all(row.chart.display for row in detail.query_one(RunUsage).query(UsageRow))


# ----- layout ---------------------------------------------------------------------------


async def test_80x24_keeps_eight_log_lines_and_no_horizontal_scroll(sim: Simulator) -> None:
    async with board(sim, project="payments", job="reconcile-legacy", size=(80, 24),
                     refresh=60, idle_interval=60) as b:
        detail = await open_detail(b)
        await settled_detail(b, detail)
        await b.pilot.pause()
        log = detail.query_one("#logs")
        assert log.scrollable_content_region.height >= 8, log.scrollable_content_region
        for widget in ("#detail-body", "#detail-top", "#detail-info", "#detail-usage"):
            assert not detail.query_one(widget).show_horizontal_scrollbar, widget
        assert not detail.has_class("-wide")
    async with board(sim, project="payments", job="reconcile-legacy", size=(200, 60),
                     refresh=60, idle_interval=60) as b:
        detail = await open_detail(b)
        await settled_detail(b, detail)
        assert detail.has_class("-wide") and detail.has_class("-tall")
        fields = detail.query_one("#detail-fields").region
        usage = detail.query_one("#detail-usage").region
        assert usage.x > fields.right and usage.y < fields.bottom  # side by side
        assert detail.query_one("#logs").scrollable_content_region.height >= 40


async def open_a_failed_run(pilot: Any) -> None:
    await settle(pilot)
    await pilot.press("3")  # failed runs only
    await settle(pilot)
    await pilot.press("enter")
    await settle(pilot)


@pytest.mark.parametrize("size", [(80, 24), (200, 60)], ids=["80x24", "200x60"])
def test_failed_run_detail_snapshot(snap_compare: Any, size: tuple[int, int]) -> None:
    freeze_local_time()
    with run_simulator(seed=7, speed=0.0) as simulator:
        app = scene_app(simulator, "payments", "settle-ledger")
        assert snap_compare(app, terminal_size=size, run_before=open_a_failed_run)


def test_metrics_answer_of_the_simulator_parses() -> None:
    """The simulator's metrics answer is what RunMetrics reads (the charts' source)."""
    with run_simulator(seed=7, speed=0.0) as simulator:
        run = simulator.world.runs("payments", "settle-ledger", 3)[2]
        body = httpx.get(
            f"{simulator.url}/v1/projects/payments/jobs/settle-ledger/metrics",
            params={"queryType": "range", "metricTypes": ["cpu", "memory"], "runId": run["id"],
                    "startTime": run["startedAt"], "endTime": run["concludedAt"]},
            headers={"Authorization": f"Bearer {simulator.token}"},
        ).json()
        metrics = RunMetrics.from_json(json.loads(json.dumps(body)), ("cpu", "memory"))
        assert usage_of(metrics.of("cpu"), "cpu").points
        assert usage_of(metrics.of("memory"), "memory").unit == "mb"
