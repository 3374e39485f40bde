"""Frozen dataclasses for the API objects nf-runs shows.

Each `from_json` checks the fields it needs and their types, ignores unknown fields, and
raises `BadResponseError` (never anything else) on a wrong shape. A page of runs is read
leniently: one malformed run becomes an "unreadable run" in its place, the rest still show.

Strings are kept as sent, however long (the body cap bounds them: 4 MiB in all); whoever
draws one sanitises and cuts it.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Generic, TypeVar

from .errors import BadResponseError
from .urls import id_problem

T = TypeVar("T")

# A cursor is an opaque token the client sends back in a query string: it has to be text
# that can be sent, and short (Northflank's are base64 of a few dozen bytes).
MAX_CURSOR_LENGTH = 4096
UNREADABLE_STATUS = "UNREADABLE"
UNREADABLE_NAME = "unreadable run"


class RunStatus(str, enum.Enum):
    """A run's status; anything the docs do not name becomes UNKNOWN."""

    SUCCESS = "SUCCESS"
    RUNNING = "RUNNING"
    FAILED = "FAILED"
    UNKNOWN = "UNKNOWN"

    @classmethod
    def parse(cls, value: str) -> RunStatus:
        try:
            return cls(value.upper())
        except ValueError:
            return cls.UNKNOWN


_TIMESTAMP = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(Z|z|[+-]\d{2}:?\d{2})?$"
)


def parse_timestamp(value: str) -> datetime:
    """Parse an ISO 8601 timestamp (fraction optional, `Z` or offset) into an aware UTC datetime.

    A timestamp without any zone is taken as UTC, as the API documents.
    """
    match = _TIMESTAMP.match(value.strip())
    if match is None:
        raise ValueError(f"not an ISO 8601 timestamp: {value[:40]!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    tz = timezone.utc
    if zone and zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    parsed = datetime(
        int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=tz
    )
    return parsed.astimezone(timezone.utc)


def format_timestamp(value: datetime) -> str:
    """The API's own format: UTC, second precision, `Z` (by hand: strftime writes year 1 as
    "1" on glibc)."""
    utc = value.astimezone(timezone.utc) if value.tzinfo is not None else value
    return (f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T"
            f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}Z")


class _Fields:
    """Typed access to one JSON object, raising BadResponseError with the object's name."""

    def __init__(self, data: object, what: str) -> None:
        if not isinstance(data, Mapping):
            raise BadResponseError(f"Unexpected API answer: {what} is not an object")
        self.data: Mapping[str, Any] = data
        self.what = what

    def _bad(self, key: str, expected: str) -> BadResponseError:
        return BadResponseError(f"Unexpected API answer: {self.what}.{key} is not {expected}")

    def text(self, key: str) -> str:
        value = self.data.get(key)
        if not isinstance(value, str):
            raise self._bad(key, "a string")
        return value

    def opt_text(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._bad(key, "a string")
        return value

    def integer(self, key: str, default: int = 0) -> int:
        value = self.data.get(key, default)
        if value is None:
            return default
        # JSON has no int/bool split that every server respects; accept both.
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise self._bad(key, "an integer")

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.data.get(key, default)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise self._bad(key, "a boolean")

    def opt_flag(self, key: str) -> bool | None:
        if self.data.get(key) is None:
            return None
        return self.flag(key)

    def timestamp(self, key: str) -> datetime | None:
        """Empty, null or missing means "not set"."""
        value = self.data.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise self._bad(key, "a timestamp string")
        try:
            return parse_timestamp(value)
        except (ValueError, OverflowError) as error:
            raise self._bad(key, "an ISO 8601 timestamp") from error

    def text_list(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self._bad(key, "a list of strings")
        return tuple(value)


@dataclass(frozen=True, slots=True)
class Project:
    """A Northflank project."""

    id: str
    name: str
    description: str | None = None

    @classmethod
    def from_json(cls, data: object) -> Project:
        fields = _Fields(data, "project")
        return cls(
            id=fields.text("id"),
            name=fields.opt_text("name") or fields.text("id"),
            description=fields.opt_text("description"),
        )


@dataclass(frozen=True, slots=True)
class Job:
    """A job (cron or manual) in a project."""

    id: str
    name: str
    project_id: str
    job_type: str = "manual"
    app_id: str | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()
    disabled_ci: bool = False
    disabled_cd: bool = False
    suspended: bool | None = None

    @classmethod
    def from_json(cls, data: object, project_id: str | None = None) -> Job:
        fields = _Fields(data, "job")
        return cls(
            id=fields.text("id"),
            name=fields.opt_text("name") or fields.text("id"),
            project_id=fields.opt_text("projectId") or project_id or "",
            job_type=fields.opt_text("jobType") or "manual",
            app_id=fields.opt_text("appId"),
            description=fields.opt_text("description"),
            tags=fields.text_list("tags"),
            disabled_ci=fields.flag("disabledCI"),
            disabled_cd=fields.flag("disabledCD"),
            suspended=fields.opt_flag("suspended"),
        )


class ConcurrencyPolicy(str, enum.Enum):
    """A cron job's `settings.cron.concurrencyPolicy`: GET answers "Allow", the write calls
    "allow"; compared without regard to case, anything else is UNKNOWN."""

    ALLOW = "Allow"
    FORBID = "Forbid"
    REPLACE = "Replace"
    UNKNOWN = "Unknown"

    @classmethod
    def parse(cls, value: str) -> ConcurrencyPolicy:
        for policy in (cls.ALLOW, cls.FORBID, cls.REPLACE):
            if value.strip().lower() == policy.value.lower():
                return policy
        return cls.UNKNOWN


# Job settings are small counts and seconds; a value past this is clamped, not trusted.
MAX_JOB_SETTING = 10**9


def _object(fields: _Fields, key: str) -> _Fields:
    """A nested object; null or missing reads as an empty one."""
    value = fields.data.get(key)
    return _Fields({} if value is None else value, f"{fields.what}.{key}")


def _setting(fields: _Fields, key: str) -> int | None:
    """A non-negative integer setting; null or missing is None."""
    if fields.data.get(key) is None:
        return None
    return max(0, min(fields.integer(key), MAX_JOB_SETTING))


@dataclass(frozen=True, slots=True)
class JobDetails:
    """One job as `GET /v1/projects/{p}/jobs/{j}` describes it (jobs-logs-metrics.md §1).

    `suspended` is the top-level field (a `settings.suspended` is not Northflank's and is
    ignored). `cron_schedule` is the expression exactly as sent: `tui.watch.cron` checks it.
    """

    id: str
    name: str
    project_id: str
    job_type: str = "manual"  # as sent: "manual", "cron", or a value no doc names
    app_id: str | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()
    created_at: datetime | None = None
    suspended: bool = False
    disabled_ci: bool = False
    disabled_cd: bool = False
    cron_schedule: str | None = None
    concurrency_policy: ConcurrencyPolicy | None = None
    backoff_limit: int = 0
    active_deadline_seconds: int | None = None  # None: no time limit given

    @property
    def is_cron(self) -> bool:
        """A cron job, by its jobType ("cron" in any case); other values are not."""
        return self.job_type.strip().lower() == "cron"

    @property
    def runs_on_schedule(self) -> bool:
        """Its schedule starts runs: a cron job, not suspended, with a schedule."""
        return self.is_cron and not self.suspended and bool(self.cron_schedule)

    def as_job(self) -> Job:
        """The same job as a list of jobs shows it."""
        return Job(
            id=self.id, name=self.name, project_id=self.project_id, job_type=self.job_type,
            app_id=self.app_id, description=self.description, tags=self.tags,
            disabled_ci=self.disabled_ci, disabled_cd=self.disabled_cd,
            suspended=self.suspended if self.is_cron else None,
        )

    @classmethod
    def from_json(cls, data: object, project_id: str | None = None) -> JobDetails:
        fields = _Fields(data, "job")
        settings = _object(fields, "settings")
        cron = _object(settings, "cron")
        policy = cron.opt_text("concurrencyPolicy")
        deadline = _setting(settings, "activeDeadlineSeconds")
        return cls(
            id=fields.text("id"),
            name=fields.opt_text("name") or fields.text("id"),
            project_id=fields.opt_text("projectId") or project_id or "",
            job_type=fields.opt_text("jobType") or "manual",
            app_id=fields.opt_text("appId"),
            description=fields.opt_text("description"),
            tags=fields.text_list("tags"),
            created_at=fields.timestamp("createdAt"),
            suspended=fields.flag("suspended"),
            disabled_ci=fields.flag("disabledCI"),
            disabled_cd=fields.flag("disabledCD"),
            cron_schedule=cron.opt_text("schedule") or None,
            concurrency_policy=None if policy is None else ConcurrencyPolicy.parse(policy),
            backoff_limit=_setting(settings, "backoffLimit") or 0,
            # At least 1 s by the docs: 0 is no limit, not an instant one.
            active_deadline_seconds=deadline or None,
        )


@dataclass(frozen=True, slots=True)
class JobRun:
    """One run of a job, as `GET .../jobs/{jobId}/runs` describes it."""

    id: str
    run_name: str
    status: RunStatus
    raw_status: str
    active: bool
    concluded: bool
    succeeded: bool
    failed: bool
    completions: int
    backoff_limit: int
    started_at: datetime | None
    concluded_at: datetime | None
    # Why the API's object for this run could not be read; None for a readable run.
    unreadable: str | None = None

    @classmethod
    def from_json(cls, data: object) -> JobRun:
        fields = _Fields(data, "run")
        raw_status = fields.text("status")
        concluded_at = fields.timestamp("concludedAt")
        return cls(
            id=fields.text("id"),
            run_name=fields.text("runName"),
            status=RunStatus.parse(raw_status),
            raw_status=raw_status,
            active=fields.flag("active"),
            concluded=fields.flag("concluded", default=concluded_at is not None),
            succeeded=fields.flag("succeeded"),
            failed=fields.flag("failed"),
            completions=fields.integer("completions"),
            backoff_limit=fields.integer("backoffLimit"),
            started_at=fields.timestamp("startedAt"),
            concluded_at=concluded_at,
        )

    @classmethod
    def from_json_or_unreadable(cls, data: object) -> JobRun:
        """The run, or an "unreadable run" placeholder saying why it is not one."""
        try:
            return cls.from_json(data)
        except BadResponseError as error:
            return cls.unreadable_placeholder(data, error.message)

    @classmethod
    def unreadable_placeholder(cls, data: object, reason: str) -> JobRun:
        """A run that shows that the API sent something unreadable, and why.

        Its id is the object's own when that is a usable id; else a synthetic one starting
        with "?" (which no request path accepts), stable for the same object.
        """
        raw_id = data.get("id") if isinstance(data, Mapping) else None
        if isinstance(raw_id, str) and id_problem(raw_id) is None:
            run_id = raw_id
        else:
            run_id = "?" + _digest(data)
        return cls(
            id=run_id, run_name=UNREADABLE_NAME, status=RunStatus.UNKNOWN,
            raw_status=UNREADABLE_STATUS, active=False, concluded=False, succeeded=False,
            failed=False, completions=0, backoff_limit=0, started_at=None, concluded_at=None,
            unreadable=reason,
        )

    @property
    def is_active(self) -> bool:
        """Still able to change: running, or marked active and not concluded."""
        if self.status is RunStatus.RUNNING:
            return True
        return self.active and not self.concluded

    def duration(self, now: datetime) -> timedelta | None:
        """concludedAt - startedAt; while active, now - startedAt. Never negative."""
        if self.started_at is None:
            return None
        end = self.concluded_at
        if end is None:
            if not self.is_active:
                return None
            end = now
        return max(end - self.started_at, timedelta(0))


# One log line's text is kept up to this many characters (the rest is cut, saying how much):
# a 4 MiB line would cost the viewer as much as thousands of ordinary ones.
MAX_LOG_CHARS = 16_384
# A container id (a pod name) is shown and sent back as a query value: longer is not one.
MAX_CONTAINER_ID = 256


def log_text(value: object) -> str:
    """A line's `log` as text: a string as sent, null as "", anything else as compact JSON
    (the API types it `any`); cut to MAX_LOG_CHARS."""
    if value is None:
        text = ""
    elif isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        except (RecursionError, ValueError, TypeError):
            text = f"(a log value that cannot be shown: {type(value).__name__})"
    if len(text) > MAX_LOG_CHARS:
        more = len(text) - MAX_LOG_CHARS
        text = text[:MAX_LOG_CHARS] + f"… ({more} more characters cut)"
    return text


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line of a run's logs. `log` is text whatever JSON type the API sent (see
    `log_text`); `ts` is None when the line had no readable timestamp."""

    container_id: str
    log: str
    ts: datetime | None

    @classmethod
    def from_json(cls, data: object) -> LogLine:
        """Strict about the object and its `ts`; `log` of any type; a containerId that is
        not a short string reads as "" (it only labels the line)."""
        fields = _Fields(data, "log line")
        container = fields.data.get("containerId")
        if not isinstance(container, str) or len(container) > MAX_CONTAINER_ID:
            container = ""
        return cls(
            container_id=container,
            log=log_text(fields.data.get("log")),
            ts=fields.timestamp("ts"),
        )

    @classmethod
    def from_json_lenient(cls, data: object) -> LogLine:
        """The line, or one saying why the API's item was unreadable (never raises): one bad
        line does not cost the whole page."""
        try:
            return cls.from_json(data)
        except BadResponseError as error:
            if isinstance(data, Mapping):
                return cls(container_id="", log=log_text(data.get("log")), ts=None)
            return cls(container_id="", log=f"(unreadable log line: {error.message})", ts=None)

    @property
    def key(self) -> tuple[datetime | None, str, str]:
        """What makes two lines the same line (for dropping repeats at page boundaries)."""
        return (self.ts, self.container_id, self.log)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a cursor-paginated list."""

    items: tuple[T, ...]
    has_next_page: bool
    cursor: str | None
    count: int

    @classmethod
    def from_json(
        cls, body: object, key: str, parse: Callable[[object], T], per_page: int | None = None
    ) -> Page[T]:
        """Read one page. A page with more than `per_page` items (a server ignoring it) is cut
        to the first `per_page`, before any is parsed: cost follows what was asked for."""
        top = _Fields(body, "response")
        data = _Fields(top.data.get("data"), "data")
        raw_items = data.data.get(key)
        if not isinstance(raw_items, list):
            raise BadResponseError(f"Unexpected API answer: data.{key} is not a list")
        cut = per_page is not None and len(raw_items) > per_page
        if per_page is not None and cut:
            raw_items = raw_items[:per_page]
        items = tuple(parse(item) for item in raw_items)
        pagination = top.data.get("pagination")
        if pagination is None:
            return cls(items=items, has_next_page=False, cursor=None, count=len(items))
        pages = _Fields(pagination, "pagination")
        cursor = _cursor(pages.opt_text("cursor"))
        has_next = pages.flag("hasNextPage", default=cursor is not None)
        count = len(items) if cut else pages.integer("count", default=len(items))
        # A next page without a cursor cannot be walked; treat it as the end.
        return cls(items=items, has_next_page=has_next and cursor is not None, cursor=cursor,
                   count=count)


def _cursor(value: str | None) -> str | None:
    if not value:
        return None
    if len(value) > MAX_CURSOR_LENGTH or not value.isprintable():
        raise BadResponseError("Unexpected API answer: pagination.cursor is not a usable cursor")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadResponseError(
            "Unexpected API answer: pagination.cursor is not a usable cursor"
        ) from None
    return value


def _digest(data: object) -> str:
    """A short stable digest of a JSON value (its repr), for a synthetic id."""
    try:
        text = repr(data)
    except RecursionError:
        text = type(data).__name__
    return hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=8).hexdigest()
