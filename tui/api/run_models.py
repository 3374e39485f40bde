"""Frozen models for what a run leaves behind: a page of its logs, its containers, its metrics
(jobs-logs-metrics.md §3, §5, §6), and the time window to ask them for.

Each `from_json` checks what it uses, ignores unknown fields and raises `BadResponseError`
(never anything else) on a wrong shape; every count is capped before anything is parsed, so
a hostile answer costs what was asked for, not what it claims.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from .errors import BadResponseError
from .models import MAX_CONTAINER_ID, JobRun, LogLine, _cursor, parse_timestamp

# The documented cap of `lineLimit` (min 0, max 1000).
MAX_LINE_LIMIT = 1000
# A run's window reaches this far before its start and after its end: clocks of the node that
# wrote the lines and of the API differ, and a container logs a little after "concluded".
WINDOW_BEFORE = timedelta(seconds=60)
WINDOW_AFTER = timedelta(seconds=120)
# Containers of one run kept, and points of one metric series: a run has a handful of
# containers and a series a few hundred points at the server's resolution.
MAX_CONTAINERS = 200
MAX_METRIC_SERIES = 50
MAX_METRIC_POINTS = 20_000
METRIC_TYPES = (
    "cpu", "memory", "networkIngress", "networkEgress", "tcpConnectionsOpen", "diskUsage",
    "requests", "http4xxResponses", "http5xxResponses", "bandwidth", "bandwidthVolume",
)


def format_ms(value: datetime) -> str:
    """A time as the official client sends it (`Date.toISOString()`): UTC, milliseconds, Z.
    Sub-millisecond parts are dropped (floored)."""
    utc = value.astimezone(timezone.utc)
    return (f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:"
            f"{utc.second:02d}.{utc.microsecond // 1000:03d}Z")


@dataclass(frozen=True, slots=True)
class LogWindow:
    """The time span to ask a run's logs (or metrics) for; None is "not sent"."""

    start: datetime | None
    end: datetime | None


def run_log_window(run: JobRun, now: datetime) -> LogWindow:
    """A run's window: from its start to its end, with margins; a running run's to `now`
    (the server's clock: `NorthflankClient.server_now()`). Without a start the API's own
    default applies (the last ~30 minutes), the only thing it can mean."""
    start = _shifted(run.started_at, -WINDOW_BEFORE)
    if run.concluded_at is not None and not run.is_active:
        end = _shifted(run.concluded_at, WINDOW_AFTER)
    else:
        end = now
    if start is not None and end is not None and end < start:  # never an empty window
        end = _shifted(start, WINDOW_BEFORE + WINDOW_AFTER)
    return LogWindow(start, end)


def _shifted(moment: datetime | None, by: timedelta) -> datetime | None:
    """`moment` moved by a margin; at the calendar's edges (year 1, 9999) the edge itself."""
    if moment is None:
        return None
    try:
        return moment + by
    except OverflowError:
        return datetime.min.replace(tzinfo=timezone.utc) if by < timedelta(0) \
            else datetime.max.replace(tzinfo=timezone.utc)


def _lenient_cursor(value: object) -> str | None:
    """A page's cursor, or None for one that cannot be sent back (a hostile cursor ends a
    walk; it never fails the page it came with)."""
    if not isinstance(value, str):
        return None
    try:
        return _cursor(value)
    except BadResponseError:
        return None


def _fields(data: object, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise BadResponseError(f"Unexpected API answer: {what} is not an object")
    return data


@dataclass(frozen=True, slots=True)
class LogPage:
    """One answer to a range query: its lines oldest first, and whether the API said (or a
    full page suggests) there are more in the direction asked."""

    lines: tuple[LogLine, ...]
    has_more: bool
    cursor: str | None
    cut: bool = False  # the API sent more lines than asked for; the rest were dropped

    @classmethod
    def from_json(cls, body: object, line_limit: int) -> LogPage:
        top = _fields(body, "the log answer")
        raw = top.get("data")
        if not isinstance(raw, list):
            raise BadResponseError("Unexpected API answer: logs are not a list.")
        cut = len(raw) > line_limit
        lines = [LogLine.from_json_lenient(item) for item in raw[:line_limit]]
        has_more = len(raw) >= line_limit > 0
        cursor = None
        pagination = top.get("pagination")
        if isinstance(pagination, Mapping):
            cursor = _lenient_cursor(pagination.get("cursor"))
            flag = pagination.get("hasNextPage")
            if isinstance(flag, bool):
                has_more = flag or cut
        return cls(lines=oldest_first(lines), has_more=has_more, cursor=cursor, cut=cut)


def oldest_first(lines: list[LogLine]) -> tuple[LogLine, ...]:
    """Lines in time order, whichever order the API sent (a backward query may answer newest
    first). Equal times keep the order they were written in; a line without a time stays
    beside the line it came after."""
    known = [line.ts for line in lines if line.ts is not None]
    if len(known) >= 2 and known[0] > known[-1]:
        lines = lines[::-1]
    epoch = datetime.min.replace(tzinfo=timezone.utc)
    keys: list[datetime] = []
    previous: datetime | None = None
    for line in lines:
        previous = line.ts if line.ts is not None else previous
        keys.append(previous or epoch)
    order = sorted(range(len(lines)), key=keys.__getitem__)
    return tuple(lines[index] for index in order)


class ContainerStatus(str, enum.Enum):
    """A container's status (§5); anything else is UNKNOWN (the raw value is kept)."""

    RUNNING = "TASK_RUNNING"
    STARTING = "TASK_STARTING"
    STAGING = "TASK_STAGING"
    KILLING = "TASK_KILLING"
    KILLED = "TASK_KILLED"
    FAILED = "TASK_FAILED"
    FINISHED = "TASK_FINISHED"
    UNKNOWN = "UNKNOWN"

    @classmethod
    def parse(cls, value: str) -> ContainerStatus:
        try:
            return cls(value.upper())
        except ValueError:
            return cls.UNKNOWN


# Unix seconds a container's times may have: 2000-01-01 to 2200-01-01 (a datetime past year
# 9999 raises; nothing of Northflank's is older than 2000).
_MIN_UNIX, _MAX_UNIX = 946_684_800, 7_258_118_400


def _unix_time(data: Mapping[str, Any], key: str) -> datetime | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadResponseError(f"Unexpected API answer: container.{key} is not unix seconds")
    if not (math.isfinite(value) and _MIN_UNIX <= value <= _MAX_UNIX):
        raise BadResponseError(f"Unexpected API answer: container.{key} is out of range")
    return datetime.fromtimestamp(float(value), tz=timezone.utc)


@dataclass(frozen=True, slots=True)
class Container:
    """One container of a run: its name (the pod, as log lines' `containerId` name it), its
    status and when it was created and last changed."""

    name: str
    status: ContainerStatus
    raw_status: str
    created_at: datetime | None
    updated_at: datetime | None

    @property
    def ended_badly(self) -> bool:
        return self.status in (ContainerStatus.FAILED, ContainerStatus.KILLED)

    @classmethod
    def from_json(cls, data: object) -> Container:
        fields = _fields(data, "container")
        name = fields.get("name")
        if not isinstance(name, str) or not name or len(name) > MAX_CONTAINER_ID:
            raise BadResponseError("Unexpected API answer: container.name is not a name")
        status = fields.get("status")
        raw = status if isinstance(status, str) else ""
        return cls(
            name=name, status=ContainerStatus.parse(raw), raw_status=raw[:64],
            created_at=_unix_time(fields, "createdAt"), updated_at=_unix_time(fields, "updatedAt"),
        )


@dataclass(frozen=True, slots=True)
class ContainerPage:
    """One page of `GET …/containers?runId=`: `data.containers` may be absent (read as [])."""

    containers: tuple[Container, ...]
    has_next_page: bool
    cursor: str | None

    @classmethod
    def from_json(cls, body: object, per_page: int) -> ContainerPage:
        top = _fields(body, "the container answer")
        data = _fields(top.get("data"), "data")
        raw = data.get("containers")
        if raw is None:
            raw = []
        if not isinstance(raw, list):
            raise BadResponseError("Unexpected API answer: data.containers is not a list")
        containers = tuple(Container.from_json(item) for item in raw[:per_page])
        pagination = top.get("pagination")
        cursor = None
        has_next = False
        if isinstance(pagination, Mapping):
            cursor = _lenient_cursor(pagination.get("cursor"))
            has_next = pagination.get("hasNextPage") is True and cursor is not None
        return cls(containers=containers, has_next_page=has_next, cursor=cursor)


@dataclass(frozen=True, slots=True)
class MetricPoint:
    ts: datetime
    value: float


@dataclass(frozen=True, slots=True)
class MetricSeries:
    """One metric of one container over time, oldest first."""

    metric: str  # "cpu", "memory", … as the API named it
    unit: str  # "vCPU", "mb", "pct", … as sent ("" if none)
    container_id: str
    resolution: float | None  # seconds between points, as the server chose
    points: tuple[MetricPoint, ...]

    @property
    def peak(self) -> MetricPoint | None:
        return max(self.points, key=lambda point: point.value, default=None)


def _metric_value(value: object) -> float | None:
    """A point's value: a number, or a string of one (the types allow both); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str) and len(value) <= 64:
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _series(metric: str, entry: Mapping[str, Any]) -> list[MetricSeries]:
    info = entry.get("metricInfo")
    info = info if isinstance(info, Mapping) else {}
    unit = info.get("metricUnit")
    unit = unit[:16] if isinstance(unit, str) else ""
    resolution = _metric_value(info.get("metricResolution"))
    if resolution is not None and resolution <= 0:
        resolution = None
    values = entry.get("values")
    if not isinstance(values, list):
        raise BadResponseError(f"Unexpected API answer: data.{metric[:40]}.values is not a list")
    series: list[MetricSeries] = []
    for item in values[:MAX_METRIC_SERIES]:
        value = _fields(item, f"data.{metric[:40]}.values[]")
        metadata = value.get("metadata")
        container = metadata.get("containerId") if isinstance(metadata, Mapping) else None
        if not isinstance(container, str) or len(container) > MAX_CONTAINER_ID:
            container = ""
        data = value.get("data")
        if not isinstance(data, list):
            raise BadResponseError("Unexpected API answer: metric values' data is not a list")
        points: list[MetricPoint] = []
        for raw in data[:MAX_METRIC_POINTS]:
            if not isinstance(raw, Mapping) or not isinstance(raw.get("ts"), str):
                continue  # one unreadable point is a gap in a chart, not a failed call
            number = _metric_value(raw.get("value"))
            try:
                ts = parse_timestamp(raw["ts"])
            except (ValueError, OverflowError):
                continue
            if number is not None:
                points.append(MetricPoint(ts, number))
        points.sort(key=lambda point: point.ts)
        series.append(MetricSeries(metric, unit, container, resolution, tuple(points)))
    return series


@dataclass(frozen=True, slots=True)
class RunMetrics:
    """A run's metrics over a window: every series of every metric type answered."""

    series: tuple[MetricSeries, ...]

    def of(self, metric: str) -> tuple[MetricSeries, ...]:
        return tuple(item for item in self.series if item.metric == metric)

    @classmethod
    def from_json(cls, body: object, metric_types: tuple[str, ...]) -> RunMetrics:
        """Only the types asked for are read (a server's extra keys cost nothing)."""
        data = _fields(_fields(body, "the metrics answer").get("data"), "data")
        series: list[MetricSeries] = []
        for metric in metric_types:
            entry = data.get(metric)
            if entry is None:
                continue
            series += _series(metric, _fields(entry, f"data.{metric}"))
        return cls(tuple(series))
