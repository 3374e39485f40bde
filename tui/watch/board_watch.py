"""The board's engine side: its planner, what each look read, and the rows it makes.

The scheduler owns one `BoardWatch` while the board is open (`Scheduler.watch_board`): it
sends the looks the planner asks for through the same request gate as every feed, hands the
answers here, and emits `BoardChanged`. No Textual, no I/O here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from ..api.errors import BudgetExhaustedError, NorthflankError
from ..api.models import Job, JobDetails, JobRun
from ..sanitize import printable
from .board import JobSummary, details_of, moved_to, schedule_of, summarize
from .events import BoardChanged, JobKey
from .planner import BoardPlanner, LookWhat

# Runs read per look: the strip's 20, which are also the typical duration's sample.
BOARD_PAGE = 20
MAX_PROBLEM = 120  # characters of an error message a row keeps


class BoardWatch:
    """Every job on the board: details, newest runs, when each was read, and its row."""

    def __init__(
        self, planner: BoardPlanner, *, wall: Callable[[], datetime],
        grace: timedelta | None = None,
    ) -> None:
        self.planner = planner
        self._wall = wall
        self.grace = grace
        self._details: dict[JobKey, JobDetails] = {}
        self._runs: dict[JobKey, tuple[JobRun, ...]] = {}
        self._looked_at: dict[JobKey, datetime] = {}
        self._problems: dict[JobKey, str] = {}
        # Each row as of its job's last look: a look recomputes one row, not forty.
        self._rows: dict[JobKey, JobSummary] = {}

    def __contains__(self, key: object) -> bool:
        return key in self._details

    @property
    def keys(self) -> list[JobKey]:
        return list(self._details)

    def add(self, job: Job | JobDetails) -> JobKey:
        key = self.planner.add(job)
        if isinstance(job, JobDetails) or key not in self._details:
            self._details[key] = job if isinstance(job, JobDetails) else details_of(job)
            self._rows.pop(key, None)
        return key

    def remove(self, key: JobKey) -> None:
        self.planner.remove(key)
        self._details.pop(key, None)
        self._runs.pop(key, None)
        self._looked_at.pop(key, None)
        self._problems.pop(key, None)
        self._rows.pop(key, None)

    # ----- answers ---------------------------------------------------------------------------

    def apply_details(self, key: JobKey, details: JobDetails) -> bool:
        """A job's details came; False (and nothing kept) when they are another job's."""
        if (details.project_id, details.id) != (key.project_id, key.job_id) \
                or key not in self._details:
            return False
        self._details[key] = details
        self._problems.pop(key, None)
        self.planner.details_read(details)
        self._rows.pop(key, None)
        return True

    def apply_runs(self, key: JobKey, runs: Sequence[JobRun]) -> bool:
        """A job's newest runs were read (a look, or a feed's poll); whether they changed."""
        if key not in self._details:
            return False
        newest = tuple(runs[:BOARD_PAGE])
        self._runs[key] = newest
        self._looked_at[key] = self._wall()
        self._problems.pop(key, None)
        self._rows.pop(key, None)
        return self.planner.looked(key, newest)

    def failed(self, key: JobKey, what: LookWhat, error: NorthflankError,
               *, permanent: bool) -> None:
        retry_in = getattr(error, "retry_after", None) or getattr(error, "retry_in", None)
        wait = float(retry_in) if isinstance(retry_in, (int, float)) else None
        self.planner.look_failed(key, what, wait, permanent=permanent)
        if key in self._details and not isinstance(error, BudgetExhaustedError):
            # (The gate holding a look back is the board's pace, not a problem of the job.)
            text = printable(str(error).rstrip("."))
            self._problems[key] = text[:MAX_PROBLEM]
            self._rows.pop(key, None)

    # ----- rows ------------------------------------------------------------------------------

    def summary(self, key: JobKey, now: datetime | None = None) -> JobSummary:
        details = self._details[key]
        row = summarize(details, self._runs.get(key, ()), now=now or self._wall(),
                        looked_at=self._looked_at.get(key), grace=self.grace)
        problem = self._problems.get(key, "")
        return dataclasses.replace(row, problem=problem) if problem else row

    def summaries(self, now: datetime | None = None) -> tuple[JobSummary, ...]:
        """Every row now, in the order the jobs were added (sort with
        board.attention_order): for the board's tick (live durations, SLOW, next run)."""
        moment = now or self._wall()
        rows: dict[JobKey, JobSummary] = {}
        for key, details in self._details.items():
            row = self._rows.get(key)
            if row is None or any(run.is_active for run in self._runs.get(key, ())[1:]):
                rows[key] = self.summary(key, moment)
            else:
                # Only the clock moved since the row was made: no statistics, no cron walk.
                rows[key] = moved_to(row, moment, schedule_of(details))
        self._rows = rows
        return tuple(rows.values())

    def renew(self, keys: Iterable[JobKey], now: datetime | None = None
              ) -> tuple[JobSummary, ...]:
        """Every row, with these jobs' recomputed for `now` (a tick's live parts: a running
        job's duration and SLOW each second; the rest now and then)."""
        moment = now or self._wall()
        for key in keys:
            if key in self._details:
                self._rows[key] = self.summary(key, moment)
        return self.rows()

    def rows(self) -> tuple[JobSummary, ...]:
        """Every row as of its job's last look (or last `summaries`), in the order added."""
        moment: datetime | None = None
        for key in self._details:
            if key not in self._rows:
                moment = moment or self._wall()
                self._rows[key] = self.summary(key, moment)
        return tuple(self._rows[key] for key in self._details)

    def changed(self, keys: tuple[JobKey, ...]) -> BoardChanged:
        return BoardChanged(
            self.rows(), keys, self.planner.spent_last_hour(), self.planner.per_hour
        )
