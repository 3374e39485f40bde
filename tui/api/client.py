"""The async Northflank API client: one keep-alive `httpx.AsyncClient`, typed calls, retries.

GETs are retried on 429, 5xx and network faults with exponential backoff and full jitter,
honouring `Retry-After`; POST and DELETE never are. Every answer feeds the rate-limit budget
and the clock-skew estimate.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import httpx

from .. import __version__
from .errors import (
    ApiStatusError,
    ApiTimeoutError,
    BadResponseError,
    ConfigError,
    ForbiddenError,
    NetworkError,
    NotFoundError,
    RateLimitedError,
    RequestError,
    ServerError,
    UnauthorizedError,
)
from .models import Job, JobRun, LogLine, Page, Project
from .ratelimit import RateLimitBudget

T = TypeVar("T")

DEFAULT_API_URL = "https://api.northflank.com"
USER_AGENT = f"nf-runs/{__version__}"
DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
# A Retry-After longer than this is not slept inside one call: the error surfaces and the
# caller (a poller) reschedules itself instead of hanging a worker for an hour.
MAX_RETRY_WAIT = 30.0

_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}

Sleep = Callable[[float], Awaitable[None]]


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1."""
    host = host.strip("[]").lower()
    return host in _LOOPBACK_HOSTS or host.startswith("127.") or host == "::1"


def check_base_url(base_url: str) -> str:
    """Validate an API base URL; a token never goes over plain http except to loopback."""
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"Not an http(s) URL: {base_url!r}")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigError(
            f"Refusing to send the API token over plain http to {parts.hostname}: use https"
        )
    return base_url.strip().rstrip("/")


def _parse_retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _server_message(body: object) -> str | None:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            message: str = error["message"]
            return message[:300]
    return None


def error_for_status(
    status: int, body: object, headers: Mapping[str, str], what: str
) -> ApiStatusError:
    """The error for an HTTP status, with a message a person understands."""
    server = _server_message(body)
    detail = f": {server}" if server else ""
    if status == 401:
        return UnauthorizedError(
            f"The API token was refused (401){detail}. Check NORTHFLANK_API_TOKEN, "
            "--token-file or your Northflank CLI login.",
            status, server,
        )
    if status == 403:
        return ForbiddenError(
            f"The API token lacks permission for {what} (403){detail}.", status, server
        )
    if status == 404:
        return NotFoundError(f"Not found: {what} (404){detail}.", status, server)
    if status == 429:
        retry_after = _parse_retry_after(headers.get("retry-after"))
        if retry_after is None:
            retry_after = _parse_retry_after(headers.get("x-ratelimit-reset"))
        when = f", retry in {retry_after:.0f} s" if retry_after is not None else ""
        return RateLimitedError(
            f"Rate limited by the API (429){when}.", status, server, retry_after
        )
    if status >= 500:
        return ServerError(f"The API failed ({status}){detail}.", status, server)
    return RequestError(f"The API refused the request ({status}){detail}.", status, server)


class ClockSkew:
    """Offset between the server's `Date` header and the local clock, in seconds.

    `Date` has one-second precision and is truncated, so each sample is a lower bound of the
    true offset: the estimate is the largest of the recent samples.
    """

    def __init__(self, samples: int = 8) -> None:
        self._samples: deque[float] = deque(maxlen=samples)

    def observe(self, date_header: str | None, local: datetime) -> None:
        if not date_header:
            return
        try:
            server = email.utils.parsedate_to_datetime(date_header)
        except (TypeError, ValueError):
            return
        if server.tzinfo is None:
            server = server.replace(tzinfo=timezone.utc)
        self._samples.append((server - local).total_seconds())

    @property
    def seconds(self) -> float:
        return max(self._samples) if self._samples else 0.0


class NorthflankClient:
    """Typed async calls to the Northflank API (only the ones nf-runs uses)."""

    def __init__(
        self,
        token: str,
        base_url: str = DEFAULT_API_URL,
        *,
        team: str | None = None,
        budget: RateLimitBudget | None = None,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        backoff_cap: float = 20.0,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.base_url = check_base_url(base_url)
        self.team = team
        self.budget = budget or RateLimitBudget()
        self.skew = ClockSkew()
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.request_count = 0
        self.last_error: Exception | None = None
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={
                "Authorization": f"Bearer {token}",
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
            },
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"NorthflankClient(base_url={self.base_url!r}, team={self.team!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> NorthflankClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ----- time -----------------------------------------------------------------------------

    def server_now(self) -> datetime:
        """The current time on the server's clock (local clock corrected by the skew)."""
        return datetime.now(timezone.utc) + timedelta(seconds=self.skew.seconds)

    # ----- paths ----------------------------------------------------------------------------

    def _path(self, *parts: str) -> str:
        prefix = f"/v1/teams/{quote(self.team, safe='')}" if self.team else "/v1"
        return prefix + "".join("/" + quote(part, safe="") for part in parts)

    # ----- transport ------------------------------------------------------------------------

    async def _send_once(
        self, method: str, path: str, what: str, params: Mapping[str, Any] | None,
        body: object | None,
    ) -> Any:
        self.budget.note_request()
        self.request_count += 1
        try:
            response = await self._http.request(
                method, path, params=params, json=body if method == "POST" else None
            )
            content = await response.aread()
        except httpx.ConnectTimeout:
            raise NetworkError(f"Cannot connect to {self._host()} (timed out).") from None
        except httpx.TimeoutException:
            raise ApiTimeoutError(f"The API did not answer in time ({what}).") from None
        except httpx.ConnectError:
            raise NetworkError(f"Cannot connect to {self._host()}.") from None
        except (httpx.TransportError, httpx.StreamError):
            raise NetworkError(f"The connection to {self._host()} was lost.") from None
        self.budget.observe(response.headers)
        self.skew.observe(response.headers.get("date"), datetime.now(timezone.utc))
        try:
            parsed: object = json.loads(content) if content else None
        except (ValueError, UnicodeDecodeError):
            parsed = None
            if response.status_code == 200:
                raise BadResponseError(
                    f"Unexpected API answer for {what}: not JSON."
                ) from None
        if response.status_code != 200:
            raise error_for_status(response.status_code, parsed, response.headers, what)
        if parsed is None:
            raise BadResponseError(f"Unexpected API answer for {what}: empty body.")
        return parsed

    def _host(self) -> str:
        return urlsplit(self.base_url).netloc

    def _retry_delay(self, attempt: int, error: Exception) -> float | None:
        """Seconds to wait before retrying, or None to give up now."""
        if attempt >= self.max_retries:
            return None
        if isinstance(error, RateLimitedError):
            if error.retry_after is not None:
                if error.retry_after > MAX_RETRY_WAIT:
                    return None
                return error.retry_after + self._rng.uniform(0, 0.25)
        elif not isinstance(error, (ServerError, NetworkError)):
            return None
        return self._rng.uniform(0, min(self.backoff_cap, self.backoff_base * 2**attempt))

    async def _request(
        self, method: str, path: str, what: str, params: Mapping[str, Any] | None = None,
        body: object | None = None,
    ) -> Any:
        attempt = 0
        while True:
            try:
                result = await self._send_once(method, path, what, params, body)
            except (ApiStatusError, NetworkError) as error:
                delay = self._retry_delay(attempt, error) if method == "GET" else None
                if delay is None:
                    self.last_error = error
                    raise
                attempt += 1
                await self._sleep(delay)
            else:
                self.last_error = None
                return result

    # ----- calls ----------------------------------------------------------------------------

    @staticmethod
    def _page_params(per_page: int, cursor: str | None, page: int | None) -> dict[str, Any]:
        if not 1 <= per_page <= 100:
            raise ValueError("per_page must be between 1 and 100")
        params: dict[str, Any] = {"per_page": per_page}
        if cursor:
            params["cursor"] = cursor
        elif page is not None:
            params["page"] = page
        return params

    async def list_projects(
        self, per_page: int = 50, cursor: str | None = None, page: int | None = None
    ) -> Page[Project]:
        body = await self._request(
            "GET", self._path("projects"), "the project list",
            self._page_params(per_page, cursor, page),
        )
        return Page.from_json(body, "projects", Project.from_json)

    async def list_jobs(
        self, project_id: str, per_page: int = 50, cursor: str | None = None,
        page: int | None = None,
    ) -> Page[Job]:
        body = await self._request(
            "GET", self._path("projects", project_id, "jobs"), f"project {project_id}",
            self._page_params(per_page, cursor, page),
        )
        return Page.from_json(body, "jobs", lambda item: Job.from_json(item, project_id))

    async def get_job_runs(
        self, project_id: str, job_id: str, per_page: int = 50, cursor: str | None = None,
        page: int | None = None,
    ) -> Page[JobRun]:
        """One page of a job's runs, newest first."""
        body = await self._request(
            "GET", self._path("projects", project_id, "jobs", job_id, "runs"),
            f"job {project_id}/{job_id}", self._page_params(per_page, cursor, page),
        )
        return Page.from_json(body, "runs", JobRun.from_json)

    async def get_job_run(self, project_id: str, job_id: str, run_id: str) -> JobRun:
        body = await self._request(
            "GET", self._path("projects", project_id, "jobs", job_id, "runs", run_id),
            f"run {run_id}",
        )
        if not isinstance(body, dict):
            raise BadResponseError("Unexpected API answer: not an object.")
        return JobRun.from_json(body.get("data"))

    async def start_job_run(self, project_id: str, job_id: str) -> tuple[str, str]:
        """Start a run as configured; returns (run id, run name). Never retried."""
        body = await self._request(
            "POST", self._path("projects", project_id, "jobs", job_id, "runs"),
            f"job {project_id}/{job_id}", body={},
        )
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise BadResponseError("Unexpected API answer: the started run has no id.")
        name = data.get("runName")
        return data["id"], name if isinstance(name, str) else data["id"]

    async def abort_job_run(self, project_id: str, job_id: str, run_id: str) -> None:
        """Abort a run. Never retried."""
        await self._request(
            "DELETE", self._path("projects", project_id, "jobs", job_id, "runs", run_id),
            f"run {run_id}",
        )

    async def get_run_logs(
        self, project_id: str, job_id: str, run_id: str, line_limit: int = 200
    ) -> list[LogLine]:
        """A run's last log lines, oldest first."""
        body = await self._request(
            "GET", self._path("projects", project_id, "jobs", job_id, "logs"),
            f"logs of run {run_id}",
            {"queryType": "range", "runId": run_id, "lineLimit": line_limit,
             "direction": "backward"},
        )
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise BadResponseError("Unexpected API answer: logs are not a list.")
        lines = [LogLine.from_json(item) for item in data]
        epoch = datetime.min.replace(tzinfo=timezone.utc)
        lines.sort(key=lambda line: line.ts or epoch)
        return lines


async def walk_pages(
    fetch: Callable[[str | None], Awaitable[Page[T]]], limit: int | None = None
) -> AsyncIterator[T]:
    """Yield the items of a cursor-paginated list page by page, up to `limit` items."""
    cursor: str | None = None
    seen = 0
    while True:
        page = await fetch(cursor)
        for item in page.items:
            if limit is not None and seen >= limit:
                return
            seen += 1
            yield item
        if not page.has_next_page or not page.cursor or page.cursor == cursor:
            return
        cursor = page.cursor
