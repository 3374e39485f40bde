"""A simulated Northflank API on loopback (stdlib `http.server`), for tests, demos and benchmarks.

It follows `API.md`: bearer auth, paginated lists with opaque cursors, the documented error
body, `x-ratelimit-*` headers and a per-hour quota, all on the `World`'s simulated clock,
plus the failures a real network produces (see `Faults`).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import http
import json
import math
import re
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import Message
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO, cast
from urllib.parse import parse_qs, unquote, urlsplit

from .faults import Fault, Faults
from .run_output import container, metrics
from .tail import serve_upgrade, tail_target
from .world import JsonDict, NotFoundError, World

DEFAULT_TOKEN = "nf-sim-token"
RATE_WINDOW = 3600.0  # simulated seconds; the quota window starts at its first request
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 50
DEFAULT_LINE_LIMIT = 100
MAX_LINE_LIMIT = 1000  # jobs-logs-metrics.md §3: lineLimit is at most 1000
METRIC_TYPES = (
    "cpu", "memory", "networkIngress", "networkEgress", "tcpConnectionsOpen", "diskUsage",
    "requests", "http4xxResponses", "http5xxResponses", "bandwidth", "bandwidthVolume",
)

_INT = re.compile(r"^[0-9]{1,9}$")
_JSON = "application/json"


# -- small value types -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Quota:
    """What the rate-limit headers say."""

    limit: int
    remaining: int
    reset: int


@dataclass(slots=True)
class _Response:
    status: int
    body: bytes
    quota: _Quota
    content_type: str = _JSON
    headers: list[tuple[str, str]] = field(default_factory=list)


class _HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _json_bytes(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _error_body(status: int, message: str) -> bytes:
    return _json_bytes({"error": {"status": status, "message": message}})


class _RateLimiter:
    """A fixed window of RATE_WINDOW simulated seconds starting at its first request."""

    def __init__(self, limit: int) -> None:
        self._lock = threading.Lock()
        self.limit = limit
        self._window_start: float | None = None
        self._used = 0

    def _roll(self, now: float) -> None:
        if self._window_start is not None and now >= self._window_start + RATE_WINDOW:
            self._window_start = None
            self._used = 0

    def _state(self, now: float) -> _Quota:
        reset = (
            math.ceil(self._window_start + RATE_WINDOW - now)
            if self._window_start is not None
            else int(RATE_WINDOW)
        )
        return _Quota(self.limit, max(self.limit - self._used, 0), max(reset, 1))

    def peek(self, now: float) -> _Quota:
        with self._lock:
            self._roll(now)
            return self._state(now)

    def spend(self, now: float) -> tuple[bool, _Quota]:
        """Spend one request; False (spending nothing) once the window's quota is gone."""
        with self._lock:
            self._roll(now)
            if self._window_start is None:
                self._window_start = now
            if self._used >= self.limit:
                return False, self._state(now)
            self._used += 1
            return True, self._state(now)

    def reset(self) -> None:
        with self._lock:
            self._window_start = None
            self._used = 0


# -- cursors ---------------------------------------------------------------------------------


def _encode_cursor(kind: str, position: int) -> str:
    raw = _json_bytes({"k": kind, "p": position})
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _decode_cursor(cursor: str, kind: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError):
        raise _HttpError(400, "Invalid cursor") from None
    if not isinstance(data, dict) or data.get("k") != kind:
        raise _HttpError(400, "Invalid cursor")
    position = data.get("p")
    if not isinstance(position, int) or isinstance(position, bool):
        raise _HttpError(400, "Invalid cursor")
    return position


# -- the API proper --------------------------------------------------------------------------


def _query_value(query: Mapping[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _int_param(query: Mapping[str, list[str]], name: str, low: int, high: int) -> int | None:
    value = _query_value(query, name)
    if value is None:
        return None
    if not _INT.match(value) or not low <= int(value) <= high:
        raise _HttpError(400, f"Invalid query: {name} must be an integer from {low} to {high}")
    return int(value)


def _time_param(query: Mapping[str, list[str]], name: str) -> float | None:
    value = _query_value(query, name)
    if value is None or value == "":
        return None
    if value.isascii() and value.isdigit():
        return int(value) / 1000.0  # epoch milliseconds
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise _HttpError(400, f"Invalid query: {name} is not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


@dataclass(frozen=True, slots=True)
class _Paging:
    per_page: int
    page: int
    cursor: int | None


def _paging(query: Mapping[str, list[str]], kind: str) -> _Paging:
    per_page = _int_param(query, "per_page", 1, MAX_PER_PAGE) or DEFAULT_PER_PAGE
    page = _int_param(query, "page", 1, 10**9) or 1
    raw_cursor = _query_value(query, "cursor")
    cursor = _decode_cursor(raw_cursor, kind) if raw_cursor else None
    return _Paging(per_page, page, cursor)


def _list_body(key: str, items: list[JsonDict], next_cursor: str | None) -> JsonDict:
    pagination: JsonDict = {"hasNextPage": next_cursor is not None, "count": len(items)}
    if next_cursor is not None:
        pagination["cursor"] = next_cursor
    return {"data": {key: items}, "pagination": pagination}


def _index_page(key: str, kind: str, items: list[JsonDict], paging: _Paging) -> JsonDict:
    """Paginate a short, append-only list by index."""
    start = paging.cursor if paging.cursor is not None else (paging.page - 1) * paging.per_page
    start = max(start, 0)
    chunk = items[start : start + paging.per_page]
    end = start + paging.per_page
    return _list_body(key, chunk, _encode_cursor(kind, end) if end < len(items) else None)


_FAULT_ERRORS = {
    "500": "Internal server error",
    "502": "Bad gateway",
    "503": "Service unavailable",
    "429": "Too many requests",
    "403": "Forbidden: this token lacks the permission for this action",
    "401": "Unauthorized",
}
_HTML = (
    b"<html><head><title>502 Bad Gateway</title></head>"
    b"<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center>"
    b"</body></html>\n"
)
_TRUNCATED = (
    b'{"data":{"runs":[{"id":"d34582a4-35bd-4c71-8e7c-e36999b88723","active":0,'
    b'"backoffLimit":0,"completions":1,"concluded":true,"failed":0,"runName":"exa'
)
_WRONG_SHAPE = b'{"data":"unexpected","pagination":7}'


# method, path parts after /v1 (and any team prefix), query, body -> status, JSON
_RouteHandler = Callable[[str, list[str], dict[str, list[str]], bytes], tuple[int, JsonDict]]


class Simulator:
    """The simulated API server; `start()` serves in a daemon thread until `stop()`."""

    def __init__(
        self,
        world: World | None = None,
        faults: Faults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str = DEFAULT_TOKEN,
        rate_limit: int = 1000,
    ) -> None:
        self.world = world if world is not None else World()
        self.faults = faults if faults is not None else Faults()
        self.host = host
        self.token = token
        self._port = port
        self._limiter = _RateLimiter(rate_limit)
        self._lock = threading.Lock()
        self._requests: list[tuple[str, str, datetime]] = []
        self.errors: list[str] = []  # tracebacks of simulator bugs (answered 500); tests check
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._tails: set[socket.socket] = set()
        self.tails_opened = 0  # WebSocket tails accepted so far (tests wait on it)

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port (the one picked by the OS after the first start() when 0 was asked)."""
        return self._port

    @property
    def url(self) -> str:
        """Base URL of the API, e.g. http://127.0.0.1:43121."""
        return f"http://{self.host}:{self._port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        """Listen (on the same port as before after a stop()) and serve in a daemon thread."""
        with self._lock:
            if self._server is not None:
                return
            server = _Server((self.host, self._port), self)
            self._port = int(server.server_address[1])
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"nf-simulator:{self._port}",
                daemon=True,
            )
            self._server, self._thread = server, thread
        thread.start()

    def stop(self) -> None:
        """Stop listening and cut every open connection (an outage, as clients see it)."""
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- observation ----------------------------------------------------------------------

    @property
    def requests(self) -> list[tuple[str, str, datetime]]:
        """(method, path with query, simulated time) of every request received."""
        with self._lock:
            return list(self._requests)

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self._requests)

    def reset_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def set_rate_limit(self, limit: int) -> None:
        """Change the quota per window (requests already spent stay spent)."""
        if limit < 0:
            raise ValueError("limit must be >= 0")
        self._limiter.limit = limit

    def reset_quota(self) -> None:
        """Forget the current window: the full quota is available again."""
        self._limiter.reset()

    def quota_remaining(self) -> int:
        return self._limiter.peek(self.world.now_ts()).remaining

    # -- log tails (tail.py) ----------------------------------------------------------------

    def tail_opened(self, sock: socket.socket) -> None:
        with self._lock:
            self._tails.add(sock)
            self.tails_opened += 1

    def tail_closed(self, sock: socket.socket) -> None:
        with self._lock:
            self._tails.discard(sock)

    @property
    def open_tails(self) -> int:
        with self._lock:
            return len(self._tails)

    def drop_tails(self) -> int:
        """Cut every open log tail without a close frame (a dropped connection, as clients
        see it); returns how many."""
        with self._lock:
            tails = list(self._tails)
        for sock in tails:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        return len(tails)

    def _record(self, method: str, path: str) -> None:
        at = self.world.now()  # outside our lock: never hold both locks at once
        with self._lock:
            self._requests.append((method, path, at))

    # -- answering ------------------------------------------------------------------------

    def _fault_response(self, fault: Fault) -> _Response:
        quota = self._limiter.peek(self.world.now_ts())
        kind = fault.kind
        if kind in _FAULT_ERRORS:
            status = int(kind)
            message = fault.message if fault.message is not None else _FAULT_ERRORS[kind]
            response = _Response(status, _error_body(status, message), quota)
            if fault.retry_after is not None:
                response.headers.append(("Retry-After", str(math.ceil(fault.retry_after))))
            return response
        if kind == "html":
            return _Response(200, _HTML, quota, content_type="text/html")
        if kind == "empty":
            return _Response(200, b"", quota)
        if kind == "wrong_shape":
            return _Response(200, _WRONG_SHAPE, quota)
        return _Response(200, _TRUNCATED, quota)  # "malformed", "truncated"

    def _authorized(self, header: str | None) -> bool:
        if header is None:
            return False
        scheme, _, credentials = header.strip().partition(" ")
        return scheme.lower() == "bearer" and credentials.strip() == self.token

    def answer(self, method: str, target: str, authorization: str | None, body: bytes) -> _Response:
        """The answer to one request (faults aside)."""
        now = self.world.now_ts()
        if not self._authorized(authorization):
            # Not counted against the quota: it is not known whose quota it would be.
            return _Response(401, _error_body(401, "Unauthorized"), self._limiter.peek(now))
        allowed, quota = self._limiter.spend(now)
        if not allowed:
            return _Response(
                429,
                _error_body(429, "Too many requests"),
                quota,
                headers=[("Retry-After", str(quota.reset))],
            )
        try:
            status, data = self._route(method, target, body)
        except _HttpError as error:
            return _Response(error.status, _error_body(error.status, error.message), quota)
        except NotFoundError as error:
            return _Response(404, _error_body(404, error.message), quota)
        except Exception:
            # A simulator bug: answer like a server would, keep the traceback for the tests.
            self.errors.append(traceback.format_exc())
            return _Response(500, _error_body(500, "Internal server error"), quota)
        return _Response(status, _json_bytes(data), quota)

    def _route(self, method: str, target: str, body: bytes) -> tuple[int, JsonDict]:
        url = urlsplit(target)
        query = parse_qs(url.query, keep_blank_values=True)
        parts = [unquote(part) for part in url.path.split("/")]
        if len(parts) > 2 and parts[-1] == "":
            parts.pop()  # a trailing slash
        if len(parts) < 3 or parts[0] != "" or parts[1] != "v1" or "" in parts[2:]:
            raise _HttpError(404, "Not found")
        rest = parts[2:]
        if rest[0] == "teams" and len(rest) >= 3:
            rest = rest[2:]  # org-scoped tokens: same API under /v1/teams/{teamId}
        handler, allowed = self._match(rest)
        if handler is None:
            raise _HttpError(404, "Not found")
        if method not in allowed:
            raise _HttpError(405, f"Method {method} not allowed")
        return handler(method, rest, query, body)

    def _match(self, rest: list[str]) -> tuple[_RouteHandler | None, tuple[str, ...]]:
        if rest == ["login"]:
            return self._login, ("GET",)
        if rest[0] != "projects":
            return None, ()
        shape = len(rest)
        if shape == 1:
            return self._list_projects, ("GET",)
        if shape == 2:
            return self._project, ("GET",)
        if shape == 3 and rest[2] == "jobs":
            return self._list_jobs, ("GET",)
        if shape == 4 and rest[2] == "jobs":
            return self._job_details, ("GET",)
        if shape == 5 and rest[2] == "jobs" and rest[4] == "runs":
            return self._runs, ("GET", "POST")
        if shape == 6 and rest[2] == "jobs" and rest[4] == "runs":
            return self._run, ("GET", "DELETE")
        if shape == 5 and rest[2] == "jobs" and rest[4] == "logs":
            return self._logs, ("GET",)
        if shape == 5 and rest[2] == "jobs" and rest[4] == "containers":
            return self._containers, ("GET",)
        if shape == 5 and rest[2] == "jobs" and rest[4] == "metrics":
            return self._metrics, ("GET",)
        return None, ()

    def _login(
        self, method: str, rest: list[str], query: dict[str, list[str]], body: bytes
    ) -> tuple[int, JsonDict]:
        """The CLI's token check (§7): any 2xx means the token is good; its body is unread."""
        return 200, {"data": {}}

    def _project(
        self, method: str, rest: list[str], query: dict[str, list[str]], body: bytes
    ) -> tuple[int, JsonDict]:
        """`GET /v1/projects/{id}` (§2): the project with every job in one answer."""
        return 200, {"data": self.world.project_details(rest[1])}

    def _list_projects(
        self, method: str, rest: list[str], query: dict[str, list[str]], body: bytes
    ) -> tuple[int, JsonDict]:
        paging = _paging(query, "projects")
        return 200, _index_page("projects", "projects", self.world.projects, paging)

    def _list_jobs(
        self, method: str, rest: list[str], query: dict[str, list[str]], body: bytes
    ) -> tuple[int, JsonDict]:
        project_id = rest[1]
        kind = f"jobs:{project_id}"
        paging = _paging(query, kind)
        return 200, _index_page("jobs", kind, self.world.jobs(project_id), paging)

    def _job_details(
        self, method: str, rest: list[str], query: dict[str, list[str]], body: bytes
    ) -> tuple[int, JsonDict]:
        return 200, {"data": self.world.job_details(rest[1], rest[3])}

    def _runs(
        self, method: str, rest: list[str], query: dict[str, list[str]], body: bytes
    ) -> tuple[int, JsonDict]:
        project_id, job_id = rest[1], rest[3]
        if method == "POST":
            if body.strip():
                try:
                    overrides = json.loads(body)
                except ValueError:
                    raise _HttpError(400, "Invalid request body: not JSON") from None
                if not isinstance(overrides, dict):
                    raise _HttpError(400, "Invalid request body: expected an object")
            run = self.world.start_run(project_id, job_id, outcome=None)
            return 200, {"data": {"id": run["id"], "runName": run["runName"]}}
        kind = f"runs:{project_id}/{job_id}"
        paging = _paging(query, kind)
        if paging.cursor is not None:
            items, next_seq = self.world.runs_page(
                project_id, job_id, paging.per_page, from_seq=paging.cursor
            )
        else:
            items, next_seq = self.world.runs_page(
                project_id, job_id, paging.per_page, offset=(paging.page - 1) * paging.per_page
            )
        cursor = _encode_cursor(kind, next_seq) if next_seq is not None else None
        return 200, _list_body("runs", items, cursor)

    def _run(
        self, method: str, rest: list[str], query: dict[str, list[str]], body: bytes
    ) -> tuple[int, JsonDict]:
        project_id, job_id, run_id = rest[1], rest[3], rest[5]
        if method == "DELETE":
            self.world.abort_run(project_id, job_id, run_id)
            return 200, {"data": {}}
        return 200, {"data": self.world.run(project_id, job_id, run_id)}

    def _logs(
        self, method: str, rest: list[str], query: dict[str, list[str]], body: bytes
    ) -> tuple[int, JsonDict]:
        project_id, job_id = rest[1], rest[3]
        query_type = _query_value(query, "queryType") or "range"
        if query_type not in ("range", "tail"):
            raise _HttpError(400, "Invalid query: queryType must be range or tail")
        direction = _query_value(query, "direction") or "forward"
        if direction not in ("forward", "backward"):
            raise _HttpError(400, "Invalid query: direction must be forward or backward")
        limit = _int_param(query, "lineLimit", 1, MAX_LINE_LIMIT) or DEFAULT_LINE_LIMIT
        start_time = _time_param(query, "startTime")
        end_time = _time_param(query, "endTime")
        duration = _int_param(query, "duration", 1, 10**9)
        if duration is not None:
            if start_time is not None and end_time is not None:
                raise _HttpError(400, "Invalid query: duration with both startTime and endTime")
            if start_time is not None:
                end_time = start_time + duration
            else:
                end_time = end_time if end_time is not None else self.world.now_ts()
                start_time = end_time - duration
        run_id = _query_value(query, "runId") or None
        if query_type == "tail":
            # The newest `limit` lines, still in time order.
            lines, more = self.world.log_page(
                project_id, job_id, run_id, limit, "backward", start_time, end_time
            )
            lines.reverse()
            return 200, {"data": lines}
        lines, more = self.world.log_page(
            project_id, job_id, run_id, limit, direction, start_time, end_time
        )
        answer: JsonDict = {"data": lines}
        if more and lines:
            # The CLI calls the cursor the timestamp the answer was cut at: the last line's
            # (24 characters, like every cursor the CLI accepts).
            answer["pagination"] = {"hasNextPage": True, "cursor": lines[-1]["ts"],
                                    "count": len(lines)}
        return 200, answer

    def _containers(
        self, method: str, rest: list[str], query: dict[str, list[str]], body: bytes
    ) -> tuple[int, JsonDict]:
        """`GET …/containers?runId=` (§5); without runId, the newest run's."""
        project_id, job_id = rest[1], rest[3]
        run_id = _query_value(query, "runId") or None
        kind = f"containers:{project_id}/{job_id}/{run_id}"
        paging = _paging(query, kind)
        try:
            facts = self.world.run_facts(project_id, job_id, run_id)
        except NotFoundError:
            if run_id is not None:
                raise
            self.world.job(project_id, job_id)
            return 200, {"data": {"containers": [], "runId": ""},
                         "pagination": {"hasNextPage": False, "count": 0}}
        page = _index_page("containers", kind, [container(facts)], paging)
        page["data"]["runId"] = run_id or self.world.runs(project_id, job_id, 1)[0]["id"]
        return 200, page

    def _metrics(
        self, method: str, rest: list[str], query: dict[str, list[str]], body: bytes
    ) -> tuple[int, JsonDict]:
        """`GET …/metrics?queryType=single|range` (§6): CPU and memory of the run's
        container; the other types answer no values. A single point is at `time` or
        `timestamp` (the docs and the clients disagree on the name), else now."""
        project_id, job_id = rest[1], rest[3]
        query_type = _query_value(query, "queryType") or "single"
        if query_type not in ("single", "range"):
            raise _HttpError(400, "Invalid query: queryType must be single or range")
        types = query.get("metricTypes") or ["cpu"]
        bad = [value for value in types if value not in METRIC_TYPES]
        if bad:
            raise _HttpError(400, f"Invalid query: unknown metricTypes {bad[0][:40]!r}")
        facts = self.world.run_facts(project_id, job_id, _query_value(query, "runId") or None)
        single = None
        low = high = None
        if query_type == "single":
            single = _time_param(query, "time")
            if single is None:
                single = _time_param(query, "timestamp")
            if single is None:
                single = facts.written_until
        else:
            low, high = _time_param(query, "startTime"), _time_param(query, "endTime")
            duration = _int_param(query, "duration", 1, 10**9)
            if duration is not None and low is None:
                high = high if high is not None else self.world.now_ts()
                low = high - duration
            elif duration is not None and low is not None:
                high = low + duration
            if low is None and high is None:
                low = self.world.now_ts() - 1200  # the docs: the past 20 minutes by default
        return 200, metrics(facts, list(dict.fromkeys(types)), low, high, single)


# -- HTTP plumbing ---------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sim: Simulator) -> None:
        self.sim = sim
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _RequestHandler)

    def track(self, connection: socket.socket, alive: bool) -> None:
        with self._connections_lock:
            if alive:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
            self._connections.clear()
        for connection in connections:
            with contextlib.suppress(OSError):  # already gone
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up is normal; anything else is a simulator bug for the tests to see.
        error = sys.exc_info()[1]
        if not isinstance(error, OSError):
            self.sim.errors.append(traceback.format_exc())


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nf-sim"
    sys_version = ""
    disable_nagle_algorithm = True  # headers and body go out in one write anyway
    timeout = 300  # idle keep-alive connections end eventually

    @property
    def sim(self) -> Simulator:
        return cast(_Server, self.server).sim

    def setup(self) -> None:
        super().setup()
        cast(_Server, self.server).track(self.connection, True)

    def finish(self) -> None:
        cast(_Server, self.server).track(self.connection, False)
        with contextlib.suppress(OSError):  # the client is gone; nothing to flush to
            super().finish()

    def handle(self) -> None:
        if self.sim.faults.offline:
            return  # closed without reading or answering
        with contextlib.suppress(OSError):  # connection reset, broken pipe, stop()
            super().handle()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # no per-request noise on stderr

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol-level errors (bad request line, unknown method) in the API's format."""
        text = message or http.HTTPStatus(code).phrase
        now = self.sim.world.now_ts()
        quota = self.sim._limiter.peek(now)
        self.close_connection = True
        self._send(_Response(code, _error_body(code, text), quota))

    def do_GET(self) -> None:
        if (self.headers.get("Upgrade") or "").strip().lower() == "websocket":
            self._serve_websocket()
            return
        self._serve("GET")

    def _serve_websocket(self) -> None:
        """A log tail (tail.py): this connection is a WebSocket from now on."""
        sim = self.sim
        sim._record("WS", self.path)
        self.close_connection = True
        target = tail_target(self.path, _time_param)
        serve_upgrade(sim, self.connection, self.requestline, list(self.headers.items()), target)

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def _read_body(self) -> bytes | None:
        headers: Message = self.headers
        length = headers.get("Content-Length")
        if length is not None:
            if not length.strip().isdigit():
                return None
            return self.rfile.read(int(length))
        if "chunked" in (headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size_line = self.rfile.readline(1024)
                try:
                    size = int(size_line.split(b";")[0].strip(), 16)
                except ValueError:
                    return None
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
        return b""

    def _serve(self, method: str) -> None:
        sim = self.sim
        faults = sim.faults
        if faults.offline:
            self.close_connection = True
            return
        body = self._read_body()
        sim._record(method, self.path)
        if body is None:
            self.send_error(400, "Invalid request body")
            return
        if faults.latency:
            time.sleep(faults.latency)
        fault = faults.next_fault()
        if fault is not None and fault.kind == "drop":
            self.close_connection = True
            return
        if fault is not None and fault.kind == "slow":
            time.sleep(faults.slow_delay)
            fault = None
        if fault is not None:
            response = sim._fault_response(fault)
        else:
            response = sim.answer(method, self.path, self.headers.get("Authorization"), body)
        self._send(response)

    def _send(self, response: _Response) -> None:
        sim = self.sim
        date = formatdate(sim.world.now_ts() + sim.faults.clock_offset, usegmt=True)
        try:
            reason = http.HTTPStatus(response.status).phrase
        except ValueError:
            reason = "Unknown"
        lines = [
            f"HTTP/1.1 {response.status} {reason}",
            f"Server: {self.server_version}",
            f"Date: {date}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(response.body)}",
            f"x-ratelimit-limit: {response.quota.limit}",
            f"x-ratelimit-remaining: {response.quota.remaining}",
            f"x-ratelimit-reset: {response.quota.reset}",
        ]
        lines.extend(f"{name}: {value}" for name, value in response.headers)
        lines.append("Connection: close" if self.close_connection else "Connection: keep-alive")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        payload = head if self.command == "HEAD" else head + response.body
        try:
            self.wfile.write(payload)
        except OSError:
            self.close_connection = True


# -- entry points ----------------------------------------------------------------------------


@contextmanager
def run_simulator(
    seed: int = 7,
    speed: float = 1.0,
    token: str = DEFAULT_TOKEN,
    rate_limit: int = 1000,
    port: int = 0,
    start: datetime | None = None,
    history: bool = True,
    faults: Faults | None = None,
    host: str = "127.0.0.1",
    preset: str = "demo",
) -> Iterator[Simulator]:
    """A started Simulator on a free port (by default), stopped on exit; `preset` names the
    world ("demo", "board", "empty": see `World`)."""
    world = World(seed=seed, speed=speed, start=start, history=history, preset=preset)
    sim = Simulator(world, faults, host=host, port=port, token=token, rate_limit=rate_limit)
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


def serve_forever_cli(
    host: str = "127.0.0.1",
    port: int = 8080,
    seed: int = 7,
    speed: float = 1.0,
    token: str = DEFAULT_TOKEN,
    rate_limit: int = 1000,
    *,
    start: datetime | None = None,
    out: TextIO | None = None,
    preset: str = "demo",
) -> int:
    """Serve the simulator until Ctrl-C (exit status 0), printing how to point nf-runs at it.

    `start` None starts the simulated clock at the wall clock's now, so a demo looks live.
    Returns 1 if the port cannot be bound.
    """
    stream = out if out is not None else sys.stdout
    if start is None:
        start = datetime.now(timezone.utc).replace(microsecond=0)
    world = World(seed=seed, speed=speed, start=start, preset=preset)
    sim = Simulator(world, host=host, port=port, token=token, rate_limit=rate_limit)
    try:
        sim.start()
    except OSError as error:
        print(f"nf-runs simulator: cannot listen on {host}:{port}: {error}", file=sys.stderr)
        return 1
    print(
        f"nf-runs simulator on {sim.url}\n"
        f"  token: {token}\n"
        f"  try: NORTHFLANK_API_TOKEN={token} nf-runs --api-url {sim.url}\n"
        f"  ({preset} world, seed {seed}, speed {speed:g}x, {rate_limit} requests/hour; "
        "Ctrl-C to stop)",
        file=stream,
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C while stopping: the threads are daemons anyway.
        with contextlib.suppress(KeyboardInterrupt):
            sim.stop()
    print("simulator stopped", file=stream, flush=True)
    return 0
