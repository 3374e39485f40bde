"""What a simulated run writes: its log lines, its container, its CPU and memory.

All of it is computed on demand from the run's facts (`RunFacts`, taken from the `World`
under its lock), deterministic by seed: nothing is stored, so a run with a million log lines
costs nothing until a page of it is asked for, and then O(page).

Every run writes a few fixed lines (start, configuration, database, the outcome). A job with
`log_every` (seconds) also writes a body: one line per slot from 2.5 s after its start to 1 s
before its end, and every 40th slot a group of three lines in the same millisecond (a
checkpoint), so pages meet lines sharing one timestamp at their boundaries.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from typing import Any

JsonDict = dict[str, Any]

GROUP_EVERY = 40  # every 40th slot is a group of 3 lines in one millisecond
GROUP_SIZE = 3
BODY_START = 2.5  # seconds after the start
BODY_END = 1.0  # seconds before the end
METRIC_POINTS = 500  # a window's points at most: the resolution grows with the window


@dataclass(frozen=True, slots=True)
class RunFacts:
    """One run as the generators need it (a snapshot taken under the world's lock)."""

    key: bytes
    seq: int
    start: float
    end: float  # planned (math.inf: until aborted)
    now: float
    status: str  # the concluded status, or "RUNNING"
    aborted: bool
    name: str
    container: str
    backoff_limit: int
    extra_lines: tuple[str, ...]
    log_every: float | None
    records: float  # the run's third draw: how many records it "processed"

    @property
    def concluded(self) -> bool:
        return self.end <= self.now

    @property
    def written_until(self) -> float:
        """Lines and metrics exist up to here."""
        return self.end if self.concluded else self.now


def _ms(ts: float) -> int:
    return math.floor(ts * 1000 + 1e-6)


def format_ms(ms: int) -> str:
    seconds, millis = divmod(ms, 1000)
    t = time.gmtime(seconds)
    return (f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:"
            f"{t.tm_sec:02d}.{millis:03d}Z")


def _unit(key: bytes, seq: int, index: int, person: bytes) -> float:
    digest = hashlib.blake2b(
        seq.to_bytes(8, "big", signed=True) + index.to_bytes(8, "big", signed=True),
        key=key, digest_size=4, person=person,
    ).digest()
    return int.from_bytes(digest, "big") / 4294967296.0


# -- logs --------------------------------------------------------------------------------------


def fixed_lines(run: RunFacts) -> list[tuple[float, str]]:
    """The lines every run writes (those written by now), oldest first."""
    start, end = run.start, run.end
    concluded = run.concluded
    span = end - start

    def at(offset: float, fraction: float) -> float:
        # A run's lines all fit inside its planned span, however short it is; a line's
        # time never changes once written (the tail sent it already).
        return start + (min(offset, span * fraction) if math.isfinite(span) else offset)

    lines: list[tuple[float, str]] = [
        (at(0.125, 0.01), f"Starting container for job run {run.name}"),
        (at(0.5, 0.02), f"[INFO] loading configuration (backoffLimit={run.backoff_limit})"),
        (at(1.75, 0.03), "connecting to postgres://sim-db:5432/app"),
    ]
    lines += [(at(2.0, 0.04), text) for text in run.extra_lines]
    if math.isfinite(end):
        count = 1000 + int(run.records * 90000)
        lines.append((start + span / 2, f"processed {count} records [#####-----] 50%"))
    if concluded:
        last = end - min(0.25, span * 0.01)
        if run.aborted:
            lines.append((last, "[WARN] received SIGTERM: job run aborted"))
        elif run.status == "SUCCESS":
            lines.append((last, "[INFO] done"))
        elif run.status == "FAILED":
            lines.append((end - min(0.5, span * 0.02),
                          "[ERROR] step 'load' failed: connection reset by peer"))
            lines.append((last, "Error: process exited with code 1"))
        else:
            lines.append((last, f"[WARN] run ended with status {run.status}"))
    else:
        lines = [line for line in lines if line[0] <= run.now]
    lines.sort(key=lambda line: line[0])  # stable: equal times keep their order
    return lines


def _slot_ms(run: RunFacts, slot: int) -> int:
    every = run.log_every or 1.0
    jitter = _unit(run.key, run.seq, slot, b"nf-logj") * every * 0.5
    return _ms(run.start + BODY_START + slot * every + jitter)


def _slot_lines(run: RunFacts, slot: int) -> list[str]:
    u = _unit(run.key, run.seq, slot, b"nf-logt")
    if slot % GROUP_EVERY == GROUP_EVERY - 1:
        return [f"[INFO] checkpoint {slot // GROUP_EVERY + 1} written",
                f"  rows committed: {int(u * 50000)}", f"  replication lag: {int(u * 900)} ms"]
    if u < 0.05:
        return [f"[WARN] slow query took {2 + u * 60:.1f}s (threshold 2.0s)"]
    if u < 0.25:
        return [f"[DEBUG] fetched page {slot} ({int(u * 4_000_000)} bytes)"]
    return [f"[INFO] batch {slot}: processed {int(u * 4000) + 10} records in {int(u * 900)} ms"]


def _body_slots(run: RunFacts, low_ms: int, high_ms: int) -> range:
    """The body slots whose lines fall in [low_ms, high_ms] (and are written)."""
    if not run.log_every or run.log_every <= 0:
        return range(0)
    limit = run.end - BODY_END if run.concluded else run.now
    high_ms = min(high_ms, _ms(limit))
    every = run.log_every
    base = run.start + BODY_START
    first = max(0, math.floor((low_ms / 1000 - base) / every) - 1)
    last = math.floor((high_ms / 1000 - base) / every) + 1
    while first <= last and _slot_ms(run, first) < low_ms:
        first += 1
    while last >= first and (last < 0 or _slot_ms(run, last) > high_ms):
        last -= 1
    return range(first, last + 1)


def log_page(
    run: RunFacts, low: float | None, high: float | None, limit: int, backward: bool,
) -> tuple[list[JsonDict], bool]:
    """A range query: at most `limit` lines in [low, high] (inclusive, milliseconds), the
    oldest (forward) or newest (backward, answered newest first); and whether more are in
    the window."""
    low_ms = _ms(low) if low is not None else -(1 << 62)
    high_ms = _ms(high) if high is not None else 1 << 62
    fixed = [(_ms(ts), 0, index, text) for index, (ts, text) in enumerate(fixed_lines(run))
             if low_ms <= _ms(ts) <= high_ms]
    slots = _body_slots(run, low_ms, high_ms)
    body: list[tuple[int, int, int, str]] = []
    ordered = reversed(slots) if backward else iter(slots)
    for slot in ordered:
        if len(body) > limit:
            break
        ms = _slot_ms(run, slot)
        texts = _slot_lines(run, slot)
        body += [(ms, 1, slot * GROUP_SIZE + part, text) for part, text in enumerate(texts)]
    merged = sorted(fixed + body)
    more = len(merged) > limit
    chosen = merged[-limit:][::-1] if backward else merged[:limit]
    return [{"containerId": run.container, "log": text, "ts": format_ms(ms)}
            for ms, _, _, text in chosen], more


# -- containers ----------------------------------------------------------------------------


def container(run: RunFacts) -> JsonDict:
    """The run's one container, with the status its outcome gives."""
    started = math.floor(run.start)
    if not run.concluded:
        status = "TASK_STARTING" if run.now - run.start < 2 else "TASK_RUNNING"
        updated = started if status == "TASK_STARTING" else started + 2
    else:
        updated = math.floor(run.end)
        if run.aborted:
            status = "TASK_KILLED"
        elif run.status == "SUCCESS":
            status = "TASK_FINISHED"
        else:
            status = "TASK_FAILED"
    return {"name": run.container, "status": status, "createdAt": max(started, 1),
            "updatedAt": max(updated, 1)}


# -- metrics -------------------------------------------------------------------------------

_UNITS = {"cpu": "vCPU", "memory": "mb"}


def metrics(
    run: RunFacts, types: list[str], low: float | None, high: float | None, single: float | None,
) -> JsonDict:
    """`{"data": {type: MetricsEntry}}` for the run's container over [low, high] (a range),
    or at `single` (one point). CPU and memory are simulated; other types have no values."""
    first = run.start
    last = run.written_until
    if single is not None:
        low = high = single
    low = first if low is None else max(low, first)
    high = last if high is None else min(high, last)
    span = max(0.0, (high if math.isfinite(high) else last) - low)
    resolution = max(10, math.ceil(span / METRIC_POINTS / 10) * 10)
    data: JsonDict = {}
    for metric in types:
        info = {"metricId": metric, "metricUnit": _UNITS.get(metric, "count"),
                "metricResolution": resolution}
        points: list[JsonDict] = []
        if metric in _UNITS and math.isfinite(low) and low <= high:
            bucket = math.ceil((low - first) / resolution)
            while first + bucket * resolution <= high and len(points) <= METRIC_POINTS:
                ts = first + bucket * resolution
                points.append({"value": _metric_value(run, metric, bucket, ts),
                               "ts": format_ms(_ms(ts))})
                bucket += 1
            if single is not None:
                points = points[:1]
        values = [{"metadata": {"containerId": run.container}, "data": points}] if points else []
        data[metric] = {"metricInfo": info, "values": values}
    return {"data": data}


def _metric_value(run: RunFacts, metric: str, bucket: int, ts: float) -> float:
    noise = _unit(run.key, run.seq, bucket, b"nf-met" + metric[:2].encode())
    if metric == "cpu":
        base = 0.1 + 0.7 * _unit(run.key, run.seq, -1, b"nf-cpub")
        return round(base * (0.6 + 0.8 * noise), 3)
    peak = 128 + 896 * _unit(run.key, run.seq, -2, b"nf-memp")
    end = run.end if math.isfinite(run.end) else run.now + 3600
    progress = min(1.0, max(0.0, (ts - run.start) / max(1.0, end - run.start)))
    level = 0.3 + 0.7 * progress
    if run.concluded and run.status == "FAILED" and not run.aborted and progress > 0.9:
        level = 1.0  # a failing run climbs to its peak before it dies
    return round(peak * level * (0.95 + 0.05 * noise), 1)
