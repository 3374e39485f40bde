"""The status line: runs loaded, last refresh, API budget, polling and error state.

It repaints only when its text changes, and then only the characters that changed (a poll that
moves "API 612/1000" to "611" sends a few bytes, not the line); ages are rounded (a few seconds,
then minutes) so a board left open does not repaint it every second. When the line is too
narrow for all it has to say, its parts are said shorter or dropped, least important first
(`Keep`): the API quota outlasts the polling notes, the filter outlasts the quota.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import IntEnum
from typing import ClassVar

from rich.text import Text

from ..api.ratelimit import RateLimitSnapshot
from ..formatting import printable
from ..watch.events import FeedState, PlanReason, ProblemKind
from .text_line import TextLine

# A poll that answers faster than this does not flash "refreshing…" in the status line.
REFRESHING_DELAY = 0.25
# The walk to the oldest run waiting longer than this for its next page says how long.
WALK_WAIT_SHOWN = 10.0

# Numbers here can come from headers (a reset time, a Retry-After): shown as "?" when not
# finite, and capped, rather than `int(inf)` raising in the middle of a repaint.
_MAX_SECONDS = 10 * 365 * 86400.0


def _seconds(value: float) -> float | None:
    """`value` clamped to [0, ten years], or None when it is not a finite number."""
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return min(max(0.0, float(value)), _MAX_SECONDS)


def rounded_age(seconds: float) -> str:
    """'just now', '10 s ago', '3 m ago', '2 h ago': coarse on purpose."""
    clamped = _seconds(seconds)
    if clamped is None:
        return "? ago"
    seconds = clamped
    if seconds < 10:
        return "just now"
    if seconds < 60:
        return f"{int(seconds // 10) * 10} s ago"
    if seconds < 3600:
        return f"{int(seconds // 60)} m ago"
    return f"{int(seconds // 3600)} h ago"


def compact_span(seconds: float) -> str:
    """'45s', '12m', '1h05m'; '?' for a number that is not finite."""
    clamped = _seconds(seconds)
    if clamped is None:
        return "?"
    seconds = int(clamped)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"


@dataclass(frozen=True)
class StatusState:
    """Everything the status line shows, as data (tests read it)."""

    loaded: int = 0
    shown: int = 0
    has_more: bool = False
    end_reached: bool = False
    refreshing: bool = False
    last_refresh_age: float | None = None
    stale: bool = False
    interval: float | None = None
    interval_reason: PlanReason = PlanReason.NONE
    budget: RateLimitSnapshot | None = None
    problem: str = ""
    problem_kind: ProblemKind = ProblemKind.NONE
    retry_in: float | None = None
    filter_text: str = ""
    walking: bool = False  # loading every older page, to the oldest run (G)
    walk_wait: float | None = None  # seconds until the walk's next page may be asked for


def feed_status(
    base: StatusState, feed: FeedState, budget: RateLimitSnapshot | None, *, now: float,
    stale: bool, walk_wait: float | None = None,
) -> StatusState:
    """What the status line says of a feed's state at `now` (the engine's clock); `stale`: its
    data is older than it should be; `walk_wait`: how long the walk to the oldest run waits
    for its next page. The filter is kept from `base`."""
    age = None if feed.last_good is None else now - feed.last_good
    polling = feed.polling_since is not None and now - feed.polling_since >= REFRESHING_DELAY
    retry_in = None
    if feed.problem and feed.next_poll_at is not None and feed.polling_since is None:
        retry_in = max(0.0, feed.next_poll_at - now)
    return replace(
        base,
        loaded=feed.loaded,
        shown=feed.shown,
        has_more=feed.has_more,
        end_reached=feed.end_reached,
        refreshing=polling,
        last_refresh_age=age,
        stale=stale,
        interval=feed.interval,
        interval_reason=feed.interval_reason,
        problem=feed.problem,
        problem_kind=feed.problem_kind,
        retry_in=retry_in if feed.problem_kind is ProblemKind.WARNING else None,
        budget=budget,
        walking=feed.walking,
        walk_wait=walk_wait if feed.walking else None,
    )


class StatusLine(TextLine):
    """One line at the bottom of the main screen."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "status-line--warning", "status-line--error", "status-line--dim",
    }

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.state = StatusState()

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._render_state(True))

    def update_state(self, **changes: object) -> None:
        self.show(replace(self.state, **changes))  # type: ignore[arg-type]

    def show(self, state: StatusState) -> None:
        """Say what `state` holds (repainting only what changed)."""
        self.state = state
        self._render_state()

    def job_opened(self) -> None:
        """Another job is shown: nothing is known of its runs and polls yet."""
        self.update_state(
            loaded=0, shown=0, has_more=False, end_reached=False, problem="", retry_in=None,
            last_refresh_age=None, stale=False, interval=None,
        )

    def _render_state(self, force: bool = False) -> None:
        self.set_text(self.render_text(self.state), force)

    @property
    def plain(self) -> str:
        return self.text.plain

    def on_resize(self) -> None:
        # What fits depends on the width: a narrower line drops its least important parts.
        self._render_state()

    def render_text(self, state: StatusState, width: int | None = None) -> Text:
        """The line for `state`, fitted to `width` cells (default: the widget's width; 0 or
        less: everything, unfitted)."""
        if width is None:
            width = self.content_size.width if self.is_mounted else 0
        return fit_parts(self._parts(state), width)

    def _parts(self, state: StatusState) -> list[Part]:
        warning = self.get_component_rich_style("status-line--warning", partial=True)
        error = self.get_component_rich_style("status-line--error", partial=True)
        dim = self.get_component_rich_style("status-line--dim", partial=True)
        parts: list[Part] = []
        if state.loaded or state.end_reached:
            noun = "run" if state.loaded == 1 else "runs"
            runs = f"{state.loaded:,} {noun}"
            if state.shown != state.loaded:
                runs = f"{state.shown:,}/{state.loaded:,} {noun}"
            more = " · more" if state.has_more else (" · all" if state.end_reached else "")
            parts.append(Part(Text(runs + more), Keep.RUNS, Text(runs) if more else None,
                              Keep.RUNS_SHORT))
        if state.walking:
            wait = None if state.walk_wait is None else _seconds(state.walk_wait)
            walk = "loading older runs"
            if wait is not None and wait >= WALK_WAIT_SHOWN:
                # Its part of the hour is spent: say so, or it looks stuck.
                walk = f"older runs: next page in {compact_span(wait)}, for the API budget"
            parts.append(Part(Text(f"{walk} (Esc stops)"), Keep.WALK,
                              Text("Esc stops loading"), Keep.WALK_SHORT))
        if state.problem:
            problem = printable(state.problem)
            retry_in = None if state.retry_in is None else _seconds(state.retry_in)
            if retry_in is not None:
                problem += f", retrying in {round(retry_in)} s"
            style = error if state.problem_kind is ProblemKind.ERROR else warning
            parts.append(Part(Text(problem, style), Keep.PROBLEM))
        age = None if state.last_refresh_age is None else _seconds(state.last_refresh_age)
        if age is not None and state.stale:
            # Said even while a poll is in flight (a hung request is what makes data stale),
            # and never "just now": stale data is at least a few seconds old.
            ago = f"{int(age)} s ago" if age < 60 else rounded_age(age)
            parts.append(Part(Text(f"stale: last update {ago}", warning), Keep.STALE,
                              Text(f"stale: {ago}", warning), Keep.STALE_SHORT))
        if state.refreshing:
            parts.append(Part(Text("refreshing…", dim), Keep.REFRESHED))
        elif age is not None and not state.stale:
            parts.append(Part(Text(f"refreshed {rounded_age(age)}"), Keep.REFRESHED))
        interval = None if state.interval is None else _seconds(state.interval)
        if interval is not None:
            every = f"every {interval:.0f} s"
            if state.interval_reason is PlanReason.BUDGET:
                parts.append(Part(Text(f"polling {every} to fit the API budget", dim),
                                  Keep.POLLING, Text(f"{every} (budget)", dim),
                                  Keep.POLLING_SHORT))
            elif state.interval_reason is PlanReason.IDLE:
                parts.append(Part(Text(f"no active runs, polling {every}", dim),
                                  Keep.POLLING, Text(f"idle, {every}", dim),
                                  Keep.POLLING_SHORT))
        if state.budget is not None and state.budget.observed:
            budget = state.budget
            quota = f"API {budget.remaining}/{budget.limit}"
            parts.append(Part(Text(f"{quota}, resets {compact_span(budget.reset_in)}", dim),
                              Keep.QUOTA, Text(quota, dim), Keep.QUOTA_SHORT))
        elif state.budget is not None:
            # No answer has said what the quota is yet: nothing made up.
            parts.append(Part(Text("API quota unknown", dim), Keep.QUOTA,
                              Text("API ?", dim), Keep.QUOTA_SHORT))
        if state.filter_text:
            parts.append(Part(Text(f"filter: {printable(state.filter_text)}", dim),
                              Keep.FILTER))
        return parts


class Keep(IntEnum):
    """When room is short, the line gives up its parts in this order (lowest first): each
    part is said shorter at one rank and dropped at another. A problem and stale data are
    what the user must not miss; then what the list shows (how many runs, the filter that
    hides some, and the walk to the oldest run the user asked for); then the API quota;
    first to go: how often it polls and how fresh it is."""

    POLLING_SHORT = 10
    POLLING = 15
    REFRESHED = 20
    QUOTA_SHORT = 30
    RUNS_SHORT = 35
    QUOTA = 45
    FILTER = 50
    RUNS = 55
    WALK_SHORT = 56
    WALK = 57
    STALE_SHORT = 58
    STALE = 60
    PROBLEM = 70


@dataclass(frozen=True)
class Part:
    """One part of the status line: its text, the rank at which it is dropped (`keep`), and
    a shorter way to say it with the rank at which that is used (`keep_short`)."""

    text: Text
    keep: Keep
    short: Text | None = None
    keep_short: Keep | None = None


SEPARATOR = " · "


def fit_parts(parts: list[Part], width: int) -> Text:
    """The parts joined in their order, fitted to `width` cells: the parts are said shorter
    or dropped in the order of their ranks until the line fits; what still does not fit (the
    last part standing) is cut with "…". `width` 0 or less: everything, unfitted."""
    shown: list[Text | None] = [part.text for part in parts]

    def joined() -> Text:
        return Text(SEPARATOR).join(text for text in shown if text is not None)

    if width <= 0:
        return joined()
    steps: list[tuple[Keep, int, Text | None]] = [
        (part.keep, index, None) for index, part in enumerate(parts)]
    steps += [(part.keep_short, index, part.short) for index, part in enumerate(parts)
              if part.short is not None and part.keep_short is not None]
    for _rank, index, short in sorted(steps, key=lambda step: (step[0], step[1])):
        if joined().cell_len <= width:
            break
        if short is not None:
            shown[index] = short
        elif sum(text is not None for text in shown) > 1:
            shown[index] = None
    line = joined()
    if line.cell_len > width:
        line.truncate(width, overflow="ellipsis")
    return line
