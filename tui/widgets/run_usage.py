"""The run detail's "what it used": CPU and memory over the run's life, as sparklines with the
peak in words ("peak 0.82 vCPU at 14:01"), so the numbers read without colour or a chart.

A run with several containers (retries) is summed at each moment: what the run used in all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from tui.api.run_models import MetricSeries, RunMetrics
from tui.formatting import TimeMode, format_duration
from tui.sanitize import printable

from .moment import clock_text
from .sparkline import Point, Sparkline

METRICS = (("cpu", "CPU"), ("memory", "memory"))
LABEL = 14  # the detail's label column


@dataclass(frozen=True, slots=True)
class Usage:
    """One metric of a run, its containers summed: the points, the unit, the resolution."""

    metric: str
    unit: str
    points: tuple[Point, ...]
    resolution: float | None
    containers: int

    @property
    def peak(self) -> Point | None:
        # The first of equal peaks: when the run first reached it.
        return max(self.points, key=lambda point: point[1], default=None)

    @property
    def mean(self) -> float | None:
        if not self.points:
            return None
        # sum, not math.fsum: fsum raises on an overflow, sum gives inf (then None).
        total = sum(value for _, value in self.points) / len(self.points)
        return total if math.isfinite(total) else None


def usage_of(series: Sequence[MetricSeries], metric: str) -> Usage:
    """The series of one metric summed moment by moment (a moment no finite sum reaches is
    left out: a hostile 1e308 twice is not a chart)."""
    sums: dict[datetime, list[float]] = {}
    for item in series:
        for point in item.points:
            sums.setdefault(point.ts, []).append(point.value)
    points = []
    for ts in sorted(sums):
        total = sum(sums[ts])
        if math.isfinite(total):
            points.append((ts, total))
    unit = next((item.unit for item in series if item.unit), "")
    resolutions = [item.resolution for item in series if item.resolution]
    return Usage(metric, printable(unit), tuple(points), max(resolutions, default=None),
                 sum(1 for item in series if item.points))


def amount(value: float, unit: str) -> str:
    """"0.82 vCPU", "412 MB", "45 %", "3 count"; huge values in exponent form."""
    shown_unit = {"mb": "MB", "pct": "%", "vcpu": "vCPU"}.get(unit.lower(), unit)
    if abs(value) >= 1e6:
        number = f"{value:.3g}"
    elif unit.lower() == "vcpu":
        number = f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"
    elif abs(value) >= 100 or value == int(value):
        number = f"{value:,.0f}"
    else:
        number = f"{value:.1f}"
    return f"{number} {shown_unit}".strip()


def usage_words(usage: Usage, mode: TimeMode, now: datetime, span: float | None) -> list[str]:
    """What the chart says in words, the most important first (a short row shows line 1):
    the peak and when, the average, how many containers and points."""
    peak = usage.peak
    if peak is None:
        return ["no data for this run"]
    when = clock_text(peak[0], mode, now, seconds=False)
    lines = [f"peak {amount(peak[1], usage.unit)} at {when}"]
    mean = usage.mean
    if mean is not None:
        lines.append(f"average {amount(mean, usage.unit)}")
    every = (f"a point every {usage.resolution:g} s" if usage.resolution
             else f"{len(usage.points)} points")
    over = f"over {format_duration_seconds(span)}, " if span is not None else ""
    many = f"{usage.containers} containers, " if usage.containers > 1 else ""
    lines.append(f"{many}{over}{every}")
    return lines


def format_duration_seconds(seconds: float) -> str:
    return format_duration(timedelta(seconds=max(0.0, seconds)))


class UsageRow(Horizontal):
    """One metric: its label, its sparkline, its words."""

    def __init__(self, metric: str, label: str) -> None:
        super().__init__(id=f"usage-{metric}", classes="usage-row")
        self.metric = metric
        self.label = label
        self._lines: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static(Text(self.label.ljust(LABEL), "bold"), classes="usage-label")
        yield Sparkline(classes="usage-chart")
        yield Static(classes="usage-words")

    @property
    def chart(self) -> Sparkline:
        return self.query_one(Sparkline)

    @property
    def words(self) -> Static:
        return self.query_one(".usage-words", Static)

    def say(self, lines: Sequence[str], *, chart: bool) -> None:
        self.chart.display = chart
        self.set_class(not chart, "-words-only")
        self._lines = list(lines)
        self._show_words()

    def on_resize(self) -> None:
        self._show_words()

    def _show_words(self) -> None:
        """As many lines of words as the row is high: the words' column is as wide as its
        longest line shown, and the chart takes the rest."""
        lines = self._lines[: max(1, self.size.height)]
        text = Text("\n".join(lines), no_wrap=True, overflow="ellipsis")
        shown = self.words.content
        if not isinstance(shown, Text) or shown.plain != text.plain:
            self.words.update(text)


class RunUsage(Vertical):
    """CPU and memory of one run (or "loading…", or the one line that says why not)."""

    DEFAULT_CSS = """
    RunUsage { height: auto; }
    RunUsage .usage-row { height: 1; }
    RunUsage .usage-label { width: 14; }
    RunUsage .usage-chart { width: 1fr; height: 1fr; }
    RunUsage .usage-words { width: auto; max-width: 60%; height: 1fr; margin-left: 2; }
    RunUsage .usage-row.-words-only .usage-words { width: 1fr; max-width: 100%; margin-left: 0; }
    """

    def __init__(self, *, id: str | None = None, mode: TimeMode = TimeMode.RELATIVE) -> None:
        super().__init__(id=id)
        self.mode = mode
        self.shown: dict[str, Usage] | None = None
        self._words: dict[str, list[str]] = {}

    def compose(self) -> ComposeResult:
        for metric, label in METRICS:
            yield UsageRow(metric, label)

    def on_mount(self) -> None:
        for row in self.query(UsageRow):
            row.say(["loading…"], chart=False)

    def rows(self) -> list[UsageRow]:
        return list(self.query(UsageRow))

    def show(self, metrics: RunMetrics, start: datetime | None, end: datetime,
             now: datetime) -> None:
        """The run's metrics over [start, end] (start None: from the first point)."""
        self.shown = {}
        for row in self.rows():
            row.display = True
            usage = usage_of(metrics.of(row.metric), row.metric)
            self.shown[row.metric] = usage
            if not usage.points:
                self._say(row, ["no data for this run"], chart=False)
                continue
            first = start if start is not None else usage.points[0][0]
            last = max(end, usage.points[-1][0]) if start is None else end
            span = max(0.0, (last - first).total_seconds())
            hold = usage.resolution * 1.5 if usage.resolution else None
            row.chart.show(usage.points, first, last, hold)
            self._say(row, usage_words(usage, self.mode, now, span), chart=True)

    def failed(self, text: str) -> None:
        """A request failed: one line for the section when nothing is shown yet; else the
        charts stay and the last row's words say it."""
        rows = self.rows()
        if self.shown is None:
            rows[0].query_one(".usage-label", Static).update(
                Text("CPU, memory".ljust(LABEL), "bold"))
            rows[0].say([text], chart=False)
            for row in rows[1:]:
                row.display = False
            return
        last = rows[-1]
        words = self._words.get(last.metric, [])
        last.say([f"{words[0]} · {text}" if words else text, *words[1:]],
                 chart=last.chart.display)

    def _say(self, row: UsageRow, lines: list[str], *, chart: bool) -> None:
        self._words[row.metric] = lines
        row.say(lines, chart=chart)


__all__ = ["RunUsage", "Usage", "amount", "usage_of", "usage_words"]
