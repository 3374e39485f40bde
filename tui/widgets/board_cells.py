"""What each cell of a board row says: the columns that fit a width, and a row's texts.

Pure text, no Textual: the board's painter (board_rows.py) styles these cells, and tests read
them. Every time text here moves once a minute at most ("12m ago", "in 3m", "seen 2m"), so a
board left open repaints a running job's duration each second and little else.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from tui.api.models import RunStatus
from tui.formatting import as_utc, format_duration, printable
from tui.watch.board import BoardState, JobSummary
from tui.widgets.fit import fit

__all__ = [
    "BoardLayout",
    "Column",
    "board_layout",
    "compact_age",
    "compact_ahead",
    "fit",
    "row_cells",
    "state_cell",
    "strip_glyph",
]

MARGIN = 2  # the unread mark and a space
GAP = 1
MIN_NAME = 15
MAX_NAME = 40  # past this the name column stops growing: the other columns spread instead


class Column(str, enum.Enum):
    """The board's optional columns, left to right."""

    SCHEDULE = "schedule"
    LATEST = "latest"
    STARTED = "started"
    DURATION = "duration"
    TYPICAL = "typical"
    STREAK = "streak"
    LAST_OK = "last_ok"
    STRIP = "strip"
    NEXT = "next"
    SEEN = "seen"


# (title, least width, full width) of each optional column.
_COLUMNS: dict[Column, tuple[str, int, int]] = {
    Column.SCHEDULE: ("Schedule", 14, 30),
    Column.LATEST: ("Last run", 10, 10),
    Column.STARTED: ("Started", 8, 8),
    Column.DURATION: ("Duration", 11, 11),
    Column.TYPICAL: ("Typical", 7, 7),
    Column.STREAK: ("Streak", 18, 18),
    Column.LAST_OK: ("Last OK", 8, 8),
    Column.STRIP: ("Last 20 runs", 10, 20),
    Column.NEXT: ("Next", 7, 7),
    Column.SEEN: ("Seen", 6, 6),
}
# Which columns a narrow terminal keeps first; each at its least width, then widened in the
# same order while there is room.
_PRIORITY = (
    Column.DURATION, Column.STRIP, Column.SCHEDULE, Column.NEXT, Column.STARTED,
    Column.STREAK, Column.LATEST, Column.LAST_OK, Column.TYPICAL, Column.SEEN,
)
STATE_WIDTH = 12  # "‖ SUSPENDED" and a space

_STATE_WORDS = {
    BoardState.FAILING: ("\u2718 FAILING", "board--failing"),
    BoardState.MISSED: ("\u25f7 MISSED", "board--missed"),
    BoardState.RUNNING: ("\u25cf RUNNING", "board--running"),
    BoardState.FINE: ("\u2714 OK", "board--fine"),
    BoardState.SUSPENDED: ("\u2016 SUSPENDED", "board--suspended"),
    BoardState.UNKNOWN: ("\u25cc \u2026", "board--unknown"),
}
SUSPENDED_WORD = _STATE_WORDS[BoardState.SUSPENDED]
_GLYPHS = {
    RunStatus.SUCCESS: ("\u2714", "board--success"),
    RunStatus.FAILED: ("\u2718", "board--failed"),
    RunStatus.RUNNING: ("\u25cf", "board--running"),
}
_UNKNOWN_GLYPH = ("?", "board--unknown")
_LATEST_WORDS = {
    RunStatus.SUCCESS: "\u2714 SUCCESS",
    RunStatus.FAILED: "\u2718 FAILED",
    RunStatus.RUNNING: "\u25cf RUNNING",
}


@dataclass(frozen=True)
class BoardLayout:
    """The columns shown at one width, and the name's width."""

    width: int
    name: int
    columns: tuple[tuple[Column, int], ...]  # (column, width), left to right

    def has(self, column: Column) -> bool:
        return any(shown is column for shown, _ in self.columns)

    def x_of(self, column: Column) -> int | None:
        """Where a column starts in the row (None: not shown)."""
        x = MARGIN + STATE_WIDTH + GAP + self.name
        for shown, width in self.columns:
            x += GAP
            if shown is column:
                return x
            x += width
        return None


@lru_cache(maxsize=16)
def board_layout(width: int) -> BoardLayout:
    """Columns by priority at their least width while the name keeps MIN_NAME cells, then
    widened by priority; the rest goes to the name (up to MAX_NAME), then is left blank."""
    room = width - MARGIN - STATE_WIDTH - GAP - MIN_NAME
    chosen: dict[Column, int] = {}
    for column in _PRIORITY:
        least = _COLUMNS[column][1]
        if room >= GAP + least:
            chosen[column] = least
            room -= GAP + least
    for column in _PRIORITY:
        if column in chosen:
            grow = min(room, _COLUMNS[column][2] - chosen[column])
            chosen[column] += grow
            room -= grow
    name = MIN_NAME + min(max(room, 0), MAX_NAME - MIN_NAME)
    ordered = tuple((column, chosen[column]) for column in Column if column in chosen)
    return BoardLayout(width=width, name=max(name, 1), columns=ordered)



def _compact(seconds: float) -> str:
    if seconds < 3600:
        return f"{int(seconds // 60)}m"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h"
    days = int(seconds // 86400)
    return f"{days}d" if days < 1000 else "999d+"


def compact_age(moment: datetime | None, now: datetime) -> str:
    """ "just now", "12m ago", "3h ago", "2d ago"; "-" when unknown. Moves once a minute."""
    start, current = (as_utc(moment) if moment else None), as_utc(now)
    if start is None or current is None:
        return "-"
    seconds = (current - start).total_seconds()
    if seconds < 60:
        return "just now"
    return f"{_compact(seconds)} ago"


def compact_ahead(moment: datetime | None, now: datetime) -> str:
    """ "in <1m", "in 3m", "in 5h", "in 2d"; "-" when none."""
    ahead, current = (as_utc(moment) if moment else None), as_utc(now)
    if ahead is None or current is None:
        return "-"
    seconds = (ahead - current).total_seconds()
    if seconds < 60:
        return "in <1m"
    return f"in {_compact(seconds)}"


def state_cell(row: JobSummary) -> tuple[str, str]:
    """(word, component class) of the row's state: symbol and word, never colour alone."""
    if row.suspended and row.state is BoardState.UNKNOWN:
        return SUSPENDED_WORD  # (known from the job's details before any look)
    return _STATE_WORDS[row.state]


def strip_glyph(status: RunStatus) -> tuple[str, str]:
    return _GLYPHS.get(status, _UNKNOWN_GLYPH)


def _latest_word(row: JobSummary) -> str:
    latest = row.latest
    if latest is None:
        return "-" if row.looked_at is not None else ""
    if latest.status in _LATEST_WORDS and not (latest.active and latest.status
                                               is not RunStatus.RUNNING):
        return _LATEST_WORDS[latest.status]
    return "? " + (printable(latest.raw_status.strip())[:8] or "UNKNOWN")


def _duration_text(row: JobSummary) -> str:
    latest = row.latest
    if latest is None:
        return ""
    text = format_duration(latest.duration)
    return f"{text} SLOW" if row.slow and latest.active else text


def _next_text(row: JobSummary, now: datetime) -> str:
    if row.is_missed and row.missed is not None and row.missed.overdue_since is not None:
        first = row.missed.first_missed
        late = (now - first).total_seconds() if first is not None else 0.0
        return f"late {_compact(max(late, 60.0))}"
    if row.next_fire is None:
        return "-" if row.kind == "cron" else ""
    return compact_ahead(row.next_fire, now)


def _seen_text(row: JobSummary, now: datetime) -> str:
    fresh = row.freshness(now)
    if fresh is None:
        return "never"
    if fresh < timedelta(minutes=1):
        return "<1m"
    return _compact(fresh.total_seconds())


def _schedule_text(row: JobSummary) -> str:
    """ "cron · hourly at :00"; a suspended job's "suspended · hourly at :00": the word
    first, as a narrow column cuts the end ("suspended · h…")."""
    text = printable(row.schedule_text)
    if not row.suspended:
        return text
    kind, dot, described = text.partition(" · ")
    return f"suspended · {described if dot else kind}"


def name_text(row: JobSummary) -> str:
    """The job's name as drawn (control characters made visible), and its problem if any."""
    name = printable(row.name[:500]) or printable(row.key.job_id)
    if row.problem:
        return f"{name}  \u26a0 {row.problem}"
    if row.schedule_problem:
        return f"{name}  \u26a0 {printable(row.schedule_problem)}"
    return name


def row_cells(row: JobSummary, now: datetime, layout: BoardLayout) -> dict[Column, str]:
    """The text of each optional column shown at `layout` (unpadded)."""
    cells: dict[Column, str] = {}
    latest = row.latest
    for column, width in layout.columns:
        if column is Column.SCHEDULE:
            text = _schedule_text(row)
        elif column is Column.LATEST:
            text = _latest_word(row)
        elif column is Column.STARTED:
            text = compact_age(latest.started_at, now) if latest is not None else ""
        elif column is Column.DURATION:
            text = _duration_text(row)
        elif column is Column.TYPICAL:
            text = format_duration(row.typical_duration) if row.typical_duration else ""
        elif column is Column.STREAK:
            text = row.streak_text
        elif column is Column.LAST_OK:
            text = compact_age(row.last_success_at, now) if row.last_success_at else (
                "never" if row.looked_at is not None else "")
        elif column is Column.STRIP:
            text = "".join(strip_glyph(status)[0] for status in row.strip[-width:])
        elif column is Column.NEXT:
            text = _next_text(row, now)
        else:
            text = _seen_text(row, now)
        cells[column] = text
    return cells


def column_title(column: Column, width: int) -> str:
    title = _COLUMNS[column][0]
    if column is Column.STRIP and width < _COLUMNS[column][2]:
        title = f"Last {width}"
    return title


RIGHT_ALIGNED = frozenset({Column.DURATION, Column.TYPICAL, Column.STRIP})
