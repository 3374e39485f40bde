"""Block sparklines (▁▂▃▄▅▆▇█) for a series of values over time, one or more rows high.

Why not `textual.widgets.Sparkline`: it spreads the values by their index, not their time, so
a gap in the data would not show, and it scales from the smallest value to the largest, so a
flat 0.30-0.32 vCPU would draw as a mountain. Usage reads true from zero: here a bar's height
is its value over the peak, a column with no data stays blank, and the shape carries no
colour, so it reads the same with NO_COLOR.

The functions are pure (tested on their own); `Sparkline` is a small widget over them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

BARS = "▁▂▃▄▅▆▇█"
LEVELS = len(BARS)
BLANK = " "

Point = tuple[datetime, float]


def resample(
    points: Sequence[Point], start: datetime, end: datetime, width: int,
    hold: float | None = None,
) -> list[float | None]:
    """`points` (oldest first) as `width` columns over [start, end]: each column the largest
    value in its span of time (a peak is never averaged away). A column without a point
    holds the value before it for up to `hold` seconds (the series' resolution: points are
    that far apart, so the columns between two of them are not a gap); else it is None.
    Points outside the span go to the first or last column."""
    if width <= 0:
        return []
    columns: list[float | None] = [None] * width
    span = (end - start).total_seconds()
    for ts, value in points:
        if not math.isfinite(value):
            continue
        if span <= 0:
            index = width - 1
        else:
            offset = (ts - start).total_seconds() / span
            index = min(width - 1, max(0, math.floor(offset * width)))
        current = columns[index]
        columns[index] = value if current is None else max(current, value)
    if hold and span > 0:
        column_seconds = span / width
        reach = max(0, math.ceil(hold / column_seconds) - 1)
        last: float | None = None
        held = 0
        for index, column in enumerate(columns):
            if column is not None:
                last, held = column, 0
            elif last is not None and held < reach:
                columns[index] = last
                held += 1
    return columns


def sparkline_rows(values: Sequence[float | None], height: int = 1,
                   top: float | None = None) -> list[str]:
    """The columns as `height` rows of block characters, the top row first. A bar's height
    is its value over `top` (default: the largest value), from zero; any value shows at
    least the lowest block, so "no data" (blank) and "nothing used" (▁) differ."""
    height = max(1, height)
    known = [value for value in values if value is not None and math.isfinite(value)]
    peak = top if top is not None and math.isfinite(top) and top > 0 else max(known, default=0)
    steps = LEVELS * height
    levels: list[int] = []
    for value in values:
        if value is None or not math.isfinite(value):
            levels.append(0)
        elif peak <= 0 or value <= 0:
            levels.append(1)
        else:
            levels.append(min(steps, max(1, math.ceil(value / peak * steps - 1e-9))))
    rows: list[str] = []
    for row in reversed(range(height)):
        low = row * LEVELS
        cells = []
        for level in levels:
            if level >= low + LEVELS:
                cells.append(BARS[-1])
            elif level > low:
                cells.append(BARS[level - low - 1])
            else:
                cells.append(BLANK)
        rows.append("".join(cells))
    return rows


class Sparkline(Widget):
    """A sparkline as wide and as high as the widget, over a time span (see `resample`)."""

    DEFAULT_CSS = """
    Sparkline {
        height: 1;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._points: tuple[Point, ...] = ()
        self._span: tuple[datetime, datetime] | None = None
        self._hold: float | None = None

    def show(self, points: Sequence[Point], start: datetime, end: datetime,
             hold: float | None = None) -> None:
        self._points, self._span, self._hold = tuple(points), (start, end), hold
        self.refresh()

    def render(self) -> Text:
        width, height = self.size.width, max(1, self.size.height)
        if self._span is None or width <= 0:
            return Text("")
        columns = resample(self._points, *self._span, width, self._hold)
        style = self.rich_style if isinstance(self.rich_style, Style) else None
        return Text("\n".join(sparkline_rows(columns, height)), style=style or "",
                    no_wrap=True, overflow="crop")


__all__ = ["BARS", "Sparkline", "resample", "sparkline_rows"]
