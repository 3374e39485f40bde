"""The async Northflank API client: one keep-alive `httpx.AsyncClient`, typed calls, retries.

GETs are retried on 429, 5xx and network faults with exponential backoff and full jitter,
honouring `Retry-After`; POST and DELETE never are. Every request passes one gate
(`_send_once`): the rate-limit budget admits it or nothing is sent; every id in its path is
checked; its answer is read under a size cap and an overall deadline. Every answer feeds the
budget and the clock-skew estimate.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from .. import __version__
from .body import ACCEPT_ENCODING, MAX_BODY_BYTES, parse_json, read_capped, too_large
from .errors import (
    MAX_SERVER_MESSAGE,
    ApiStatusError,
    ApiTimeoutError,
    BadResponseError,
    BudgetExhaustedError,
    ConfigError,
    ForbiddenError,
    InconsistentPagesError,
    NetworkError,
    NorthflankError,
    NotFoundError,
    RateLimitedError,
    RequestError,
    ServerError,
    UnauthorizedError,
)
from .headers import ClockSkew, retry_after
from .models import Job, JobDetails, JobRun, LogLine, Page, Project
from .ratelimit import RateLimitBudget
from .run_models import (
    MAX_CONTAINERS,
    MAX_LINE_LIMIT,
    METRIC_TYPES,
    Container,
    ContainerPage,
    LogPage,
    LogWindow,
    RunMetrics,
    format_ms,
    oldest_first,
)
from .urls import check_base_url, check_id, is_loopback, shown_id

__all__ = [
    "DEFAULT_API_URL", "MAX_BODY_BYTES", "MAX_EMPTY_PAGES", "MAX_LISTED_JOBS", "REQUEST_DEADLINE",
    "NorthflankClient", "check_base_url", "error_for_status", "is_loopback", "walk_pages",
]

T = TypeVar("T")

DEFAULT_API_URL = "https://api.northflank.com"
USER_AGENT = f"nf-runs/{__version__}"
DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
# Connect, headers and the whole body of one request within this many seconds: a read
# timeout alone restarts with every byte, so a server dribbling a byte a second never ends.
REQUEST_DEADLINE = 30.0
# A Retry-After longer than this is not slept inside one call: the error surfaces and the
# caller (a poller) reschedules itself instead of hanging a worker for an hour.
MAX_RETRY_WAIT = 30.0
# Empty pages in a row that each claim a next page, before a walk gives up.
MAX_EMPTY_PAGES = 3
# The server time holds (rather than going back) for a step back up to this; a larger one
# (the local clock was set back) is taken as it is.
MAX_HOLD_BACK = timedelta(minutes=5)
# Jobs of one project that `list_all_jobs` keeps: memory stays bounded whatever a server says.
MAX_LISTED_JOBS = 2000

Sleep = Callable[[float], Awaitable[None]]
WallClock = Callable[[], datetime]


def _sendable_token(token: str) -> bool:
    """Visible ASCII only: what a header can carry and what Northflank's tokens are made of."""
    return all("!" <= char <= "~" for char in token)


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _server_message(body: object) -> str | None:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            message: str = error["message"]
            return message[:MAX_SERVER_MESSAGE]
    return None


def _wait_text(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def error_for_status(
    status: int, body: object, headers: Mapping[str, str], what: str,
    now: datetime | None = None,
) -> NorthflankError:
    """The error for an HTTP status other than 200, with a message a person understands."""
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
        wait = retry_after(headers, now or _utc_now())
        when = f", retry in {_wait_text(wait)}" if wait is not None else ""
        return RateLimitedError(f"Rate limited by the API (429){when}.", status, server, wait)
    if 500 <= status <= 599:
        return ServerError(f"The API failed ({status}){detail}.", status, server)
    if 400 <= status <= 499:
        return RequestError(f"The API refused the request ({status}){detail}.", status, server)
    if 300 <= status <= 399:
        # Never followed: a redirect could take the token to another host.
        return BadResponseError(
            f"Unexpected API answer for {what}: a redirect ({status}), not followed."
        )
    return BadResponseError(f"Unexpected API answer for {what}: status {status}, not 200.")


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
        deadline: float = REQUEST_DEADLINE,
        max_body: int = MAX_BODY_BYTES,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        wall_clock: WallClock = _utc_now,
    ) -> None:
        self.base_url = check_base_url(base_url)
        if not _sendable_token(token):
            # Never echoed: a token with a newline would fail in the HTTP layer as "connection
            # lost", and one with other bytes as a crash.
            raise ConfigError(
                "The API token has characters a token cannot have (spaces, control or "
                "non-ASCII characters): check the token file or variable."
            )
        self.team = team
        self._token = token  # for the log tail's init message only; never shown
        self.budget = budget or RateLimitBudget()
        self.skew = ClockSkew()
        self._last_server_now: datetime | None = None
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.deadline = deadline
        self.max_body = max_body
        self.request_count = 0
        self.last_error: Exception | None = None
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._wall_clock = wall_clock
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={
                "Authorization": f"Bearer {token}",
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
                "Accept-Encoding": ACCEPT_ENCODING,
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
        """The current time on the server's clock (local clock corrected by the skew).

        Never raises: a skew beyond a day is ignored (see `clock_warning`). Never goes back:
        when the skew estimate moves the other way (a slower answer), the time holds until
        the clock catches up, so a running duration on screen never counts down.
        """
        now = self.skew.server_now(self._wall_clock())
        last = self._last_server_now
        if last is not None and now < last and last - now < MAX_HOLD_BACK:
            return last
        self._last_server_now = now
        return now

    @property
    def clock_warning(self) -> str | None:
        """Set once when an answer's `Date` was more than a day off: "the API's clock looks
        wrong (...)". Its times are then ignored and the local clock is used."""
        return self.skew.warning

    # ----- paths ----------------------------------------------------------------------------

    def _path(self, *parts: str | tuple[str, str]) -> str:
        """The request path from literal segments and (kind, id) pairs.

        The one place ids enter a URL: each is checked (InvalidIdError before anything is
        sent), then percent-encoded as a single segment.
        """
        segments = ["v1"]
        if self.team:
            segments += ["teams", check_id("team", self.team)]
        for part in parts:
            segments.append(check_id(*part) if isinstance(part, tuple) else part)
        return "".join("/" + quote(segment, safe="") for segment in segments)

    # ----- transport ------------------------------------------------------------------------

    async def _exchange(
        self, method: str, path: str, what: str, params: Mapping[str, Any] | None,
        body: object | None,
    ) -> tuple[httpx.Response, bytes]:
        """Send one request and read its whole body, capped; the response is closed on every
        path (a cap, a deadline, a dropped connection)."""
        request = self._http.build_request(
            method, path, params=params, json=body if method == "POST" else None
        )
        response = await self._http.send(request, stream=True)
        try:
            if response.is_stream_consumed:
                # Built in memory (a mock transport's `content=`): httpx has read it already.
                content = response.content
                if len(content) > self.max_body:
                    raise too_large(what, self.max_body)
            else:
                content = await read_capped(
                    response.aiter_raw(), response.headers.get("content-encoding"),
                    self.max_body, what,
                )
        finally:
            await response.aclose()
        return response, content

    async def _send_once(
        self, method: str, path: str, what: str, params: Mapping[str, Any] | None,
        body: object | None,
    ) -> Any:
        """The gate: every request, retries included, is admitted by the budget here or not
        sent at all (BudgetExhaustedError)."""
        self.budget.admit()
        self.request_count += 1
        try:
            response, content = await asyncio.wait_for(
                self._exchange(method, path, what, params, body), self.deadline
            )
        except asyncio.TimeoutError:
            raise ApiTimeoutError(
                f"The API did not answer in time ({what}, {self.deadline:g} s)."
            ) from None
        except httpx.ConnectTimeout:
            raise NetworkError(f"Cannot connect to {self._host()} (timed out).") from None
        except httpx.TimeoutException:
            raise ApiTimeoutError(f"The API did not answer in time ({what}).") from None
        except httpx.ConnectError:
            raise NetworkError(f"Cannot connect to {self._host()}.") from None
        except httpx.HTTPError:
            raise NetworkError(f"The connection to {self._host()} was lost.") from None
        self.budget.observe(response.headers)
        local = self._wall_clock()
        self.skew.observe(response.headers.get("date"), local)
        status = response.status_code
        if status != 200:
            try:
                parsed: object = parse_json(content, what) if content else None
            except BadResponseError:
                parsed = None  # an error page from a proxy: the status says enough
            raise error_for_status(status, parsed, response.headers, what, local)
        if not content:
            raise BadResponseError(f"Unexpected API answer for {what}: empty body.")
        return parse_json(content, what)

    def _host(self) -> str:
        return httpx.URL(self.base_url).netloc.decode("ascii", "replace")

    def _retry_delay(self, attempt: int, error: Exception) -> float | None:
        """Seconds to wait before retrying, or None to give up now."""
        if attempt >= self.max_retries or isinstance(error, BudgetExhaustedError):
            return None
        if isinstance(error, RateLimitedError):
            if error.retry_after is not None:
                if error.retry_after > MAX_RETRY_WAIT:
                    return None
                # Retry-After is at least 1 s (headers.RETRY_AFTER_FLOOR); jitter on top.
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
            except NorthflankError as error:
                self.last_error = error
                raise
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
        return Page.from_json(body, "projects", Project.from_json, per_page)

    async def list_jobs(
        self, project_id: str, per_page: int = 50, cursor: str | None = None,
        page: int | None = None,
    ) -> Page[Job]:
        body = await self._request(
            "GET", self._path("projects", ("project", project_id), "jobs"),
            f"project {shown_id(project_id)}", self._page_params(per_page, cursor, page),
        )
        return Page.from_json(
            body, "jobs", lambda item: Job.from_json(item, project_id), per_page
        )

    async def list_all_jobs(self, project_id: str, limit: int = MAX_LISTED_JOBS) -> list[Job]:
        """Every job of a project, at most `limit`: pages of 100 walked by cursor (one
        request per 100 jobs)."""
        async def page(cursor: str | None) -> Page[Job]:
            return await self.list_jobs(project_id, per_page=100, cursor=cursor)

        return [job async for job in walk_pages(page, limit)]

    def _job_path(self, project_id: str, job_id: str, *rest: str | tuple[str, str]) -> str:
        return self._path("projects", ("project", project_id), "jobs", ("job", job_id), *rest)

    async def get_job(self, project_id: str, job_id: str) -> JobDetails:
        """One job's details: its cron schedule and whether it is suspended."""
        body = await self._request(
            "GET", self._job_path(project_id, job_id),
            f"job {shown_id(project_id)}/{shown_id(job_id)}",
        )
        if not isinstance(body, dict):
            raise BadResponseError("Unexpected API answer: not an object.")
        return JobDetails.from_json(body.get("data"), project_id)

    async def get_job_runs(
        self, project_id: str, job_id: str, per_page: int = 50, cursor: str | None = None,
        page: int | None = None,
    ) -> Page[JobRun]:
        """One page of a job's runs, newest first. A malformed run is an "unreadable run"
        (`JobRun.unreadable` says why) in its place; the others are read as usual."""
        body = await self._request(
            "GET", self._job_path(project_id, job_id, "runs"),
            f"job {shown_id(project_id)}/{shown_id(job_id)}",
            self._page_params(per_page, cursor, page),
        )
        return Page.from_json(body, "runs", JobRun.from_json_or_unreadable, per_page)

    async def get_job_run(self, project_id: str, job_id: str, run_id: str) -> JobRun:
        body = await self._request(
            "GET", self._job_path(project_id, job_id, "runs", ("run", run_id)),
            f"run {shown_id(run_id)}",
        )
        if not isinstance(body, dict):
            raise BadResponseError("Unexpected API answer: not an object.")
        return JobRun.from_json(body.get("data"))

    async def start_job_run(self, project_id: str, job_id: str) -> tuple[str, str]:
        """Start a run as configured; returns (run id, run name). Never retried."""
        body = await self._request(
            "POST", self._job_path(project_id, job_id, "runs"),
            f"job {shown_id(project_id)}/{shown_id(job_id)}", body={},
        )
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise BadResponseError("Unexpected API answer: the started run has no id.")
        name = data.get("runName")
        return data["id"], name if isinstance(name, str) else data["id"]

    async def abort_job_run(self, project_id: str, job_id: str, run_id: str) -> None:
        """Abort a run. Never retried."""
        await self._request(
            "DELETE", self._job_path(project_id, job_id, "runs", ("run", run_id)),
            f"run {shown_id(run_id)}",
        )

    async def get_run_logs(
        self, project_id: str, job_id: str, run_id: str, line_limit: int = 200,
        window: LogWindow | None = None,
    ) -> list[LogLine]:
        """A run's last log lines (at most `line_limit`, even if more come), oldest first.

        Pass the run's `window` (`run_models.run_log_window`): without one the API answers
        only the last ~30 minutes. For paging through a whole log see `logs.LogLoader`.
        """
        limit = max(0, min(line_limit, MAX_LINE_LIMIT))
        params: dict[str, Any] = {"queryType": "range"}
        params.update(self._window_params(window))
        params.update({"runId": check_id("run", run_id), "lineLimit": limit,
                       "direction": "backward"})
        body = await self._request(
            "GET", self._job_path(project_id, job_id, "logs"), f"logs of run {shown_id(run_id)}",
            params,
        )
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise BadResponseError("Unexpected API answer: logs are not a list.")
        return list(oldest_first([LogLine.from_json_lenient(item) for item in data[:limit]]))

    @staticmethod
    def _window_params(window: LogWindow | None) -> dict[str, str]:
        params: dict[str, str] = {}
        if window is not None and window.start is not None:
            params["startTime"] = format_ms(window.start)
        if window is not None and window.end is not None:
            params["endTime"] = format_ms(window.end)
        return params

    async def get_log_page(
        self, project_id: str, job_id: str, run_id: str, window: LogWindow, *,
        direction: str = "backward", line_limit: int = MAX_LINE_LIMIT,
    ) -> LogPage:
        """One range query over `window` (jobs-logs-metrics.md §3), parameters in the official
        client's order. "backward" answers the newest lines of the window, "forward" the
        oldest; either way the page's lines come oldest first."""
        if direction not in ("forward", "backward"):
            raise ValueError("direction must be forward or backward")
        limit = max(1, min(line_limit, MAX_LINE_LIMIT))
        params: dict[str, Any] = {"queryType": "range", **self._window_params(window),
                                  "lineLimit": limit, "runId": check_id("run", run_id),
                                  "direction": direction}
        body = await self._request(
            "GET", self._job_path(project_id, job_id, "logs"), f"logs of run {shown_id(run_id)}",
            params,
        )
        return LogPage.from_json(body, limit)

    async def get_run_containers(
        self, project_id: str, job_id: str, run_id: str, per_page: int = 50,
        cursor: str | None = None,
    ) -> ContainerPage:
        """One page of a run's containers (`GET …/containers?runId=`, §5)."""
        params = {"runId": check_id("run", run_id), **self._page_params(per_page, cursor, None)}
        body = await self._request(
            "GET", self._job_path(project_id, job_id, "containers"),
            f"containers of run {shown_id(run_id)}", params,
        )
        return ContainerPage.from_json(body, per_page)

    async def list_run_containers(
        self, project_id: str, job_id: str, run_id: str, limit: int = MAX_CONTAINERS
    ) -> list[Container]:
        """Every container of a run (at most `limit`), pages of 100 walked by cursor: one
        request for any ordinary run."""
        found: list[Container] = []
        cursor: str | None = None
        seen: set[str] = set()
        while len(found) < limit:
            page = await self.get_run_containers(project_id, job_id, run_id, 100, cursor)
            found += page.containers[: limit - len(found)]
            if not page.has_next_page or page.cursor is None or page.cursor in seen:
                break
            cursor = page.cursor
            seen.add(cursor)
        return found

    async def get_run_metrics(
        self, project_id: str, job_id: str, run_id: str, window: LogWindow,
        metric_types: tuple[str, ...] = ("cpu", "memory"),
    ) -> RunMetrics:
        """A run's metrics over `window` (`queryType=range`, §6); the server picks the
        resolution. Unknown metric types are refused before anything is sent."""
        unknown = [metric for metric in metric_types if metric not in METRIC_TYPES]
        if unknown or not metric_types:
            raise ValueError(f"unknown metric types: {unknown}")
        params: dict[str, Any] = {"queryType": "range", **self._window_params(window),
                                  "metricTypes": list(metric_types),
                                  "runId": check_id("run", run_id)}
        body = await self._request(
            "GET", self._job_path(project_id, job_id, "metrics"),
            f"metrics of run {shown_id(run_id)}", params,
        )
        return RunMetrics.from_json(body, metric_types)

    def log_tail_path(self, project_id: str, job_id: str) -> str:
        """The path of a job's logs (checked ids), for the tail's WebSocket URL."""
        return self._job_path(project_id, job_id, "logs")

    def log_tail_init(self) -> str:
        """The tail's first message (§4): the token goes here, never into the URL."""
        return json.dumps(
            {"type": "init", "data": {"auth": {"type": "apiToken", "apiToken": self._token}}}
        )


async def walk_pages(
    fetch: Callable[[str | None], Awaitable[Page[T]]], limit: int | None = None
) -> AsyncIterator[T]:
    """Yield the items of a cursor-paginated list page by page, up to `limit` items.

    A list that cannot end ends with InconsistentPagesError: a cursor that came before (any
    earlier one: A, B, A loops as surely as A, A), or MAX_EMPTY_PAGES empty pages in a row
    that each claim a next page. A page with no next page or no cursor is the end.
    """
    cursor: str | None = None
    seen_cursors: set[str] = set()
    empty_in_a_row = 0
    seen = 0
    while True:
        page = await fetch(cursor)
        for item in page.items:
            if limit is not None and seen >= limit:
                return
            seen += 1
            yield item
        if limit is not None and seen >= limit:
            return
        if not page.has_next_page or not page.cursor:
            return
        empty_in_a_row = 0 if page.items else empty_in_a_row + 1
        if page.cursor in seen_cursors:
            raise InconsistentPagesError(
                "The API returned an inconsistent page list (a cursor came back)."
            )
        if empty_in_a_row >= MAX_EMPTY_PAGES:
            raise InconsistentPagesError(
                f"The API returned an inconsistent page list ({empty_in_a_row} empty pages "
                "in a row, each claiming another)."
            )
        cursor = page.cursor
        seen_cursors.add(cursor)
