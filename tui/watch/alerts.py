"""What on the board is worth telling: a run that failed, a cron run that never started.

`BoardAlerts` follows the board's rows (`BoardChanged.summaries`) and answers which jobs have
news since the last look: a newly failed run, or a newly missed fire. What a job shows at its
first look is where it stands, not news (a board opened on a failing job does not ring). It
keeps the unread ones until the user looks (`seen`). Pure: no Textual, no I/O, no clock.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from ..api.models import RunStatus
from ..sanitize import printable
from .board import JobSummary
from .events import JobKey

# Run ids already told (by the board or by a run list's own toast), newest kept.
MAX_TOLD = 2000
MAX_NAME = 60  # characters of a job or run name in an alert's text


class AlertKind(str, enum.Enum):
    FAILED = "failed"
    MISSED = "missed"


@dataclass(frozen=True, slots=True)
class Alert:
    """One piece of news about one job; `text` is printable and short."""

    key: JobKey
    kind: AlertKind
    job_name: str  # printable
    text: str  # "Export events: run nightly-3 failed", "Export events: missed its 12:15 run"


def _short(text: str) -> str:
    shown = printable(text)
    return shown if len(shown) <= MAX_NAME else shown[: MAX_NAME - 1] + "\u2026"


class BoardAlerts:
    """News per job since the board's first look at it, and which of it is unread."""

    def __init__(self) -> None:
        self._known: set[JobKey] = set()
        self._checked: set[JobKey] = set()  # jobs whose schedule has been checked
        self._missed_told: dict[JobKey, datetime] = {}
        self._told: OrderedDict[str, None] = OrderedDict()
        self._unread: dict[JobKey, list[Alert]] = {}

    # ----- following the rows ------------------------------------------------------------

    def told(self, run_ids: Iterable[str]) -> None:
        """These runs' failures were told elsewhere (the run list's own toast)."""
        for run_id in run_ids:
            self._remember(run_id)

    def was_told(self, run_id: str) -> bool:
        return run_id in self._told

    def _remember(self, run_id: str) -> None:
        self._told[run_id] = None
        self._told.move_to_end(run_id)
        while len(self._told) > MAX_TOLD:
            self._told.popitem(last=False)

    def follow(self, summaries: Iterable[JobSummary]) -> list[Alert]:
        """The news in these rows (each job's first look sets where it stands)."""
        news: list[Alert] = []
        for row in summaries:
            if row.looked_at is None:
                continue
            first = row.key not in self._known
            self._known.add(row.key)
            latest = row.latest
            if latest is not None and not latest.active \
                    and latest.status is RunStatus.FAILED and latest.run_id not in self._told:
                self._remember(latest.run_id)
                if not first:
                    news.append(Alert(
                        row.key, AlertKind.FAILED, _short(row.name),
                        f"{_short(row.name)}: run {_short(latest.run_name)} failed",
                    ))
            missed = row.missed
            if missed is None:
                continue  # (its schedule is not known yet: nothing to tell)
            # The first check of its schedule is where it stands, like the first look.
            first_check = row.key not in self._checked
            self._checked.add(row.key)
            fire = missed.first_missed if row.is_missed else None
            if fire is not None and self._missed_told.get(row.key) != fire:
                self._missed_told[row.key] = fire
                if not first_check:
                    at = fire.strftime("%H:%M UTC")
                    news.append(Alert(
                        row.key, AlertKind.MISSED, _short(row.name),
                        f"{_short(row.name)}: its {at} run never started",
                    ))
        for alert in news:
            self._unread.setdefault(alert.key, []).append(alert)
        return news

    def forget(self, keys: Iterable[JobKey]) -> None:
        """Jobs that left the board."""
        for key in keys:
            self._known.discard(key)
            self._checked.discard(key)
            self._missed_told.pop(key, None)
            self._unread.pop(key, None)

    # ----- unread ------------------------------------------------------------------------

    @property
    def unread_count(self) -> int:
        """Jobs with news the user has not looked at."""
        return len(self._unread)

    def unread_keys(self) -> frozenset[JobKey]:
        return frozenset(self._unread)

    def is_unread(self, key: JobKey) -> bool:
        return key in self._unread

    def seen(self, key: JobKey | None = None) -> bool:
        """The user looked at this job (None: at all of them); whether anything was unread."""
        if key is None:
            had = bool(self._unread)
            self._unread.clear()
            return had
        return self._unread.pop(key, None) is not None


def coalesced_text(alerts: list[Alert], *, names: int = 3) -> tuple[str, str]:
    """(title, message) of one toast for several alerts at once."""
    if len(alerts) == 1:
        alert = alerts[0]
        title = "Run failed" if alert.kind is AlertKind.FAILED else "Run missed"
        return title, alert.text
    jobs = list(dict.fromkeys(alert.job_name for alert in alerts))
    shown = ", ".join(jobs[:names])
    if len(jobs) > names:
        shown += f" and {len(jobs) - names} more"
    failed = sum(alert.kind is AlertKind.FAILED for alert in alerts)
    missed = len(alerts) - failed
    parts = [f"{failed} failed" if failed else "", f"{missed} missed" if missed else ""]
    return "Board", f"{' and '.join(part for part in parts if part)}: {shown}"
