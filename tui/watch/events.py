"""What the engine tells its subscribers: small frozen dataclasses, no Textual.

The app turns each into a Textual message; screens render from them. Nothing here refers to
a widget.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from ..api.errors import NorthflankError
from ..api.models import Job, JobRun, Page, Project
from .store import StoreChange

if TYPE_CHECKING:  # board.py and index_snapshot.py import JobKey from here
    from .board import JobSummary
    from .index_snapshot import IndexSnapshot


@dataclass(frozen=True, slots=True)
class JobKey:
    """Which job a feed watches."""

    project_id: str
    job_id: str


class ProblemKind(str, enum.Enum):
    """How bad the feed's current problem is (the status line colours it)."""

    NONE = ""
    WARNING = "warning"  # retrying by itself
    ERROR = "error"  # stopped until the user acts


class PlanReason(str, enum.Enum):
    """Why the next poll is not at the plain refresh wish."""

    NONE = ""
    IDLE = "idle"
    BUDGET = "budget"
    OFFLINE = "offline"
    RATE_LIMITED = "rate limited"
    SERVER_ERROR = "server error"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class FeedState:
    """A feed's public state at one moment (monotonic times on the engine's clock)."""

    key: JobKey
    loaded: int = 0
    shown: int = 0
    active: int = 0
    has_more: bool = False
    loading_more: bool = False
    polling_since: float | None = None
    last_good: float | None = None
    interval: float | None = None
    interval_reason: PlanReason = PlanReason.NONE
    next_poll_at: float | None = None
    problem: str = ""
    problem_kind: ProblemKind = ProblemKind.NONE
    stopped: bool = False
    run_problems: dict[str, str] = field(default_factory=dict)
    walking: bool = False  # walking to the oldest run (G), page after page

    @property
    def end_reached(self) -> bool:
        return self.loaded > 0 and not self.has_more


@dataclass(frozen=True, slots=True)
class FeedChanged:
    """A feed's runs changed (`changes`, in order) and/or its state did."""

    key: JobKey
    state: FeedState
    changes: tuple[StoreChange, ...] = ()
    updated_runs: tuple[JobRun, ...] = ()


@dataclass(frozen=True, slots=True)
class RunsFailed:
    """Runs seen to fail in one poll of one feed (each run id is told once)."""

    key: JobKey
    runs: tuple[JobRun, ...]


@dataclass(frozen=True, slots=True)
class AccessLost:
    """The token or the job was refused (401, 403, 404): polling stopped until asked."""

    key: JobKey | None
    error: NorthflankError


CatalogWhat = Literal["projects", "jobs"]


@dataclass(frozen=True, slots=True)
class ProjectsLoaded:
    page: Page[Project]
    first: bool


@dataclass(frozen=True, slots=True)
class JobsLoaded:
    project_id: str
    page: Page[Job]
    first: bool


@dataclass(frozen=True, slots=True)
class CatalogFailed:
    """A page of projects or jobs could not be loaded."""

    what: CatalogWhat
    project_id: str | None
    error: NorthflankError


ActionWhat = Literal["start", "abort"]


@dataclass(frozen=True, slots=True)
class ActionDone:
    """A start or abort the user asked for finished; `error` is None when it worked."""

    what: ActionWhat
    key: JobKey
    run_id: str | None
    run_name: str | None
    error: NorthflankError | None = None


TaskKind = Literal["poll", "more", "projects", "jobs", "start", "abort", "board", "index"]


@dataclass(frozen=True, slots=True)
class EngineCrashed:
    """A task died of something unexpected (a bug, not an API error); the engine goes on."""

    what: TaskKind
    error: BaseException


@dataclass(frozen=True, slots=True)
class BoardChanged:
    """The board after a look: every row (in the order the jobs were added), the jobs the
    look was about, and what the board spent in the last rolling hour of its share."""

    summaries: tuple[JobSummary, ...]
    changed: tuple[JobKey, ...]
    spent_last_hour: int
    per_hour: int


@dataclass(frozen=True, slots=True)
class IndexChanged:
    """The global job index: loaded from the cache, or a walk began, progressed or ended.

    `complete`: the last listing covered every project and job (no failure, no cap);
    `fresh`: complete and younger than the TTL; `refreshing`: a walk is under way;
    `problem`: one line (a cache ignored, a project that failed, a cap), "" when all is well.
    """

    index: IndexSnapshot
    complete: bool
    fresh: bool
    refreshing: bool
    problem: str = ""


Event = (
    FeedChanged | RunsFailed | AccessLost | ProjectsLoaded | JobsLoaded | CatalogFailed
    | ActionDone | EngineCrashed | BoardChanged | IndexChanged
)
