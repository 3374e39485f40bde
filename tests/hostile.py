"""A hostile Northflank API on loopback, for tests: a small valid world and many ways to lie.

Stdlib only (http.server, one thread per connection), bound to 127.0.0.1. It serves what the
client uses: GET /v1/projects, /v1/projects/{p}/jobs, /v1/projects/{p}/jobs/{j}/runs (with
`cursor` and `per_page`), .../runs/{r}, .../logs, POST .../runs and DELETE .../runs/{r} (also
under /v1/teams/{t}/). `behaviour` selects what every following request gets (settable while
it runs, thread-safe); `BEHAVIOURS` holds each by name with a one-line description.

    with HostileServer() as server:
        server.reset("gzip_bomb")
        ...  # point a client at server.url with token TOKEN
"""

from __future__ import annotations

import http.server
import json
import select
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from email.utils import formatdate
from functools import cache
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

TOKEN = "hostile-secret-token-0123456789abcdef"
PROJECT = "hostile-project"
JOB = "hostile-job"
RUN_IDS = tuple(f"6f1c2b9e-0000-4000-8000-00000000000{n}" for n in range(1, 6))
VICTIM = RUN_IDS[2]  # the run that behaviours about one run single out (index 2)
# OSC 52 (write the clipboard), OSC 2 (retitle), clear screen, a C1 CSI, DEL, BEL.
ESCAPES = "\x1b]52;c;aGFja2Vk\x07\x1b]2;pwned\x07\x1b[2J\x9b31m\x7f\x07"
BOMB_BYTES = 256 * 1024 * 1024

Headers = Sequence[tuple[str, str]]


def run_json(run_id: str, n: int, **changes: object) -> dict[str, Any]:
    """A valid run object (n == 0 is running, the others succeeded)."""
    run: dict[str, Any] = {
        "id": run_id, "active": 1 if n == 0 else 0, "backoffLimit": 0,
        "completions": 0 if n == 0 else 1, "concluded": n != 0, "failed": 0,
        "runName": f"hostile-job-{n}", "status": "RUNNING" if n == 0 else "SUCCESS",
        "succeeded": 0 if n == 0 else 1, "startedAt": f"2026-01-01T00:0{n % 10}:00Z",
        "concludedAt": "" if n == 0 else f"2026-01-01T00:0{n % 10}:30Z",
    }
    run.update(changes)
    return run


def world_runs(**replace: object) -> list[dict[str, Any]]:
    """The world's runs, newest first; `replace` sets fields of the VICTIM run."""
    return [run_json(rid, n, **(replace if rid == VICTIM else {}))
            for n, rid in enumerate(RUN_IDS)]


def page(key: str, items: list[Any], cursor: str | None = None, has_next: bool = False,
         ) -> dict[str, Any]:
    pagination: dict[str, Any] = {"hasNextPage": has_next, "count": len(items)}
    if cursor is not None:
        pagination["cursor"] = cursor
    return {"data": {key: items}, "pagination": pagination}


@cache
def zeros_compressed(wbits: int, size: int = BOMB_BYTES) -> bytes:
    """`size` zero bytes compressed (gzip for wbits 31, zlib for 15): about 1/1000 the size."""
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    block = bytes(1024 * 1024)
    return b"".join(packer.compress(block) for _ in range(size // len(block))) + packer.flush()


def compress(data: bytes, wbits: int = 31) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, wbits)
    return packer.compress(data) + packer.flush()


class Exchange:
    """One request and the means to answer it, politely or not."""

    def __init__(self, handler: _Handler, server: HostileServer) -> None:
        self.handler = handler
        self.server = server
        self.method = handler.command
        parts = urlsplit(handler.path)
        self.query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        segments = [unquote(part) for part in parts.path.split("/")[1:]]
        if segments[:1] == ["v1"]:
            segments = segments[1:]
            if segments[:1] == ["teams"] and len(segments) > 1:
                segments = segments[2:]
        else:
            segments = ["?"]  # not under /v1
        self.segments = segments

    @property
    def endpoint(self) -> str:
        """"projects", "jobs", "runs", "run", "logs", or "" for anything else."""
        seg = self.segments
        if seg == ["projects"]:
            return "projects"
        if len(seg) < 3 or seg[0] != "projects" or seg[2] != "jobs":
            return ""
        if len(seg) == 3:
            return "jobs"
        shape = (len(seg), seg[4])
        return {(5, "runs"): "runs", (6, "runs"): "run", (5, "logs"): "logs"}.get(shape, "")

    # ----- the world ------------------------------------------------------------------------

    def world(self, runs: list[dict[str, Any]] | None = None,
              projects: list[dict[str, Any]] | None = None,
              jobs: list[dict[str, Any]] | None = None) -> tuple[int, Any]:
        """The correct answer (status, JSON) for this request in the default world."""
        if self.handler.headers.get("Authorization") != f"Bearer {TOKEN}":
            return 401, {"error": {"status": 401, "message": "Unauthorized"}}
        runs = world_runs() if runs is None else runs
        endpoint, seg = self.endpoint, self.segments
        if endpoint == "projects" and self.method == "GET":
            return 200, page("projects", projects or [{"id": PROJECT, "name": "Hostile"}])
        if endpoint == "jobs" and self.method == "GET":
            return 200, page("jobs", jobs or [{"id": JOB, "name": "hostile job",
                                               "projectId": PROJECT, "jobType": "manual"}])
        if endpoint == "runs" and self.method == "POST":
            return 200, {"data": {"id": RUN_IDS[0], "runName": "hostile-job-0"}}
        if endpoint == "runs" and self.method == "GET":
            per_page = int(self.query.get("per_page", "50"))
            start = int(self.query.get("cursor", "0") or 0)
            chunk = runs[start:start + per_page]
            more = start + per_page < len(runs)
            return 200, page("runs", chunk, str(start + per_page) if more else None, more)
        if endpoint == "run":
            match = [run for run in runs if run.get("id") == seg[5]]
            if not match:
                return 404, {"error": {"status": 404, "message": "run not found"}}
            return 200, ({"data": {}} if self.method == "DELETE" else {"data": match[0]})
        if endpoint == "logs":
            return 200, {"data": [{"containerId": "c1", "log": "hello",
                                   "ts": "2026-01-01T00:00:01Z"}]}
        return 404, {"error": {"status": 404, "message": "not found"}}

    # ----- answering --------------------------------------------------------------------------

    def start(self, status: int, headers: Headers = (), *, rate_limits: bool = True,
              length: int | None = None, content_type: str = "application/json") -> None:
        """The status line and headers: Date and x-ratelimit-* unless given or turned off."""
        handler = self.handler
        handler.send_response_only(status)
        names = {name.lower() for name, _ in headers}
        if "date" not in names:
            handler.send_header("Date", formatdate(time.time(), usegmt=True))
        if rate_limits and not any(name.startswith("x-ratelimit-") for name in names):
            for name, value in (("limit", "1000"), ("remaining", "900"), ("reset", "3000")):
                handler.send_header(f"x-ratelimit-{name}", value)
        if content_type and "content-type" not in names:
            handler.send_header("Content-Type", content_type)
        if length is not None and "content-length" not in names \
                and "transfer-encoding" not in names:
            handler.send_header("Content-Length", str(length))
        for name, value in headers:
            handler.send_header(name, value)
        handler.end_headers()

    def send(self, status: int, body: bytes, headers: Headers = (), **options: Any) -> None:
        self.start(status, headers, length=len(body), **options)
        self.write(body)

    def json(self, status: int, value: Any, headers: Headers = (), **options: Any) -> None:
        self.send(status, json.dumps(value).encode(), headers, **options)

    def answer(self, headers: Headers = (), **world: Any) -> None:
        """The world's answer, with extra headers."""
        status, value = self.world(**world)
        self.json(status, value, headers)

    def error(self, status: int, message: object, headers: Headers = (), **options: Any) -> None:
        self.json(status, {"error": {"status": status, "message": message}}, headers, **options)

    def write(self, data: bytes) -> None:
        self.handler.wfile.write(data)
        self.handler.wfile.flush()

    def raw(self, data: bytes) -> None:
        """Bytes on the socket as they are, then no more on this connection."""
        self.handler.close_connection = True
        self.write(data)

    def reset_connection(self) -> None:
        """Close with RST instead of FIN."""
        self.handler.close_connection = True
        sock = self.handler.connection
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; False (stop now) once the client hung up or the server stops."""
        deadline = time.monotonic() + seconds
        sock = self.handler.connection
        while not self.server.stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return True
            readable, _, _ = select.select([sock], [], [], min(left, 0.05))
            if readable:
                try:
                    if sock.recv(1, socket.MSG_PEEK) == b"":
                        return False
                except OSError:
                    return False
                self.server.stopping.wait(min(left, 0.05))
        return False

    def stream(self, chunks: Iterator[bytes], *, chunked: bool, headers: Headers = (),
               length: int | None = None) -> None:
        """A 200 whose body is `chunks`, until they end or the client hangs up."""
        self.handler.close_connection = True
        framing = [("Transfer-Encoding", "chunked")] if chunked else []
        self.start(200, [*framing, *headers], length=length)
        for chunk in chunks:
            if self.server.stopping.is_set():
                return
            self.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
        if chunked:
            self.write(b"0\r\n\r\n")


@dataclass(frozen=True, slots=True)
class Behaviour:
    """One way of answering every request, documented in one line."""

    name: str
    description: str
    respond: Callable[[Exchange], None]


BEHAVIOURS: dict[str, Behaviour] = {}


def behaviour(name: str, description: str) -> Callable[[Callable[[Exchange], None]],
                                                       Callable[[Exchange], None]]:
    def register(respond: Callable[[Exchange], None]) -> Callable[[Exchange], None]:
        assert name not in BEHAVIOURS and "\n" not in description
        BEHAVIOURS[name] = Behaviour(name, description, respond)
        return respond
    return register


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(min(length, 1 << 20))
        hostile = self.server.hostile
        exchange = Exchange(self, hostile)
        respond = hostile._note(exchange)
        try:
            respond(exchange)
        except OSError:  # the client hung up (as it should, on a bomb or a dribble)
            self.close_connection = True

    do_GET = do_POST = do_DELETE = do_PUT = _handle


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    hostile: HostileServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        return None  # a client closing mid-answer is what these behaviours are for


class HostileServer:
    """The hostile API on 127.0.0.1 (a free port); `behaviour` picks what it does."""

    def __init__(self, behaviour: str = "normal") -> None:
        self._lock = threading.Lock()
        self._behaviour = behaviour
        self._requests: list[tuple[str, str]] = []
        self._counters: dict[str, int] = {}
        self.stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.hostile = self
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def behaviour(self) -> str:
        with self._lock:
            return self._behaviour

    @behaviour.setter
    def behaviour(self, name: str) -> None:
        if name not in BEHAVIOURS:
            raise KeyError(f"no such behaviour: {name}")
        with self._lock:
            self._behaviour = name

    def reset(self, behaviour: str = "normal") -> None:
        """Switch behaviour and forget the requests and counters so far."""
        self.behaviour = behaviour
        with self._lock:
            self._requests.clear()
            self._counters.clear()

    @property
    def requests(self) -> list[tuple[str, str]]:
        """(method, path with query) of every request received, in order."""
        with self._lock:
            return list(self._requests)

    def count(self, key: str) -> int:
        """A per-behaviour counter: 0, 1, 2, ... on successive calls."""
        with self._lock:
            value = self._counters.get(key, 0)
            self._counters[key] = value + 1
            return value

    def _note(self, exchange: Exchange) -> Callable[[Exchange], None]:
        with self._lock:
            self._requests.append((exchange.method, exchange.handler.path))
            return BEHAVIOURS[self._behaviour].respond

    def start(self) -> HostileServer:
        # Build the big payloads now, so that no answer waits on building one.
        zeros_compressed(31), zeros_compressed(15), many_runs(100_000), many_runs(5000)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

# ===== the behaviours =========================================================================

Respond = Callable[[Exchange], None]


def _define(name: str, description: str, respond: Respond) -> None:
    behaviour(name, description)(respond)


def _only(endpoint: str, respond: Respond, method: str = "GET") -> Respond:
    """`respond` for one endpoint, the correct answer for the rest."""
    def answer(ex: Exchange) -> None:
        if ex.endpoint == endpoint and ex.method == method:
            respond(ex)
        else:
            ex.answer()
    return answer


def _world_bytes(ex: Exchange) -> tuple[int, bytes]:
    status, value = ex.world()
    return status, json.dumps(value).encode()


def _dribble(ex: Exchange) -> None:
    status, body = _world_bytes(ex)
    ex.start(status, length=len(body))
    for index in range(len(body)):
        ex.write(body[index:index + 1])
        if not ex.wait(1.0):
            return


def _forever(block: bytes) -> Iterator[bytes]:
    while True:
        yield block


_define("normal", "the default world, answered correctly (the control)", lambda ex: ex.answer())

# ----- 4. bodies ------------------------------------------------------------------------------
_define("gzip_bomb", "200, Content-Encoding gzip: ~256 KiB on the wire inflating to 256 MiB",
        lambda ex: ex.send(200, zeros_compressed(31), [("Content-Encoding", "gzip")]))
_define("gzip_bomb_stacked", "Content-Encoding 'gzip, gzip': a gzipped gzip bomb (ratios multiply)",
        lambda ex: ex.send(200, compress(zeros_compressed(31)),
                           [("Content-Encoding", "gzip, gzip")]))
_define("deflate_bomb", "Content-Encoding deflate: a zlib stream inflating to 256 MiB",
        lambda ex: ex.send(200, zeros_compressed(15), [("Content-Encoding", "deflate")]))
_define("endless_chunked", "200, chunked, an endless body of spaces at full speed",
        lambda ex: ex.stream(_forever(b" " * 65536), chunked=True))
_define("endless_content_length", "200 claiming Content-Length 1 TB, then bytes at full speed",
        lambda ex: ex.stream(_forever(b"[" * 65536), chunked=False, length=10**12))
_define("one_byte_a_second", "200 and its headers at once, then the body one byte a second",
        _dribble)
_define("slow_headers", "reads the request, then sends nothing for a minute",
        lambda ex: ex.answer() if ex.wait(60.0) else None)
_define("broken_gzip", "Content-Encoding gzip over bytes that are not gzip",
        lambda ex: ex.send(200, b"not gzip at all " * 8, [("Content-Encoding", "gzip")]))


def _truncated_gzip(ex: Exchange) -> None:
    status, body = _world_bytes(ex)
    packed = compress(body)
    ex.send(status, packed[: len(packed) // 2], [("Content-Encoding", "gzip")])


_define("truncated_gzip", "a correct answer gzipped, cut off halfway (Content-Length fits)",
        _truncated_gzip)
_define("unknown_encoding", "Content-Encoding br (never asked for) over garbage",
        lambda ex: ex.send(200, b"\x0b\x02\x80garbage", [("Content-Encoding", "br")]))


def _gzip_ok(ex: Exchange) -> None:
    status, body = _world_bytes(ex)
    ex.send(status, compress(body), [("Content-Encoding", "gzip")])


_define("gzip_ok", "the correct answer, gzipped (the control for compression)", _gzip_ok)

# ----- the connection ---------------------------------------------------------------------------
_define("connection_reset", "reads the request, then resets the connection (RST)",
        lambda ex: ex.reset_connection())
_define("close_without_answer", "reads the request, then closes without a byte",
        lambda ex: setattr(ex.handler, "close_connection", True))


def _short_body(ex: Exchange) -> None:
    ex.handler.close_connection = True
    ex.start(200, length=1000)
    ex.write(b'{"data": {')


_define("short_body", "Content-Length 1000, then 10 bytes and close", _short_body)
_define("not_http", "answers with bytes that are not HTTP",
        lambda ex: ex.raw(b"SSH-2.0-OpenSSH_9.6\r\n\r\n"))
_define("huge_headers", "200 with one header of 1 MiB",
        lambda ex: ex.send(200, _world_bytes(ex)[1], [("X-Padding", "a" * (1 << 20))]))
_define("many_headers", "200 with 20,000 headers",
        lambda ex: ex.send(200, _world_bytes(ex)[1],
                           [(f"X-H{i}", "v" * 40) for i in range(20000)]))
_define("redirect_other_host", "302 to http://evil.example/ (must not be followed)",
        lambda ex: ex.send(302, b"", [("Location", "http://evil.example/v1/projects")]))
_define("redirect_same_host", "307 to the same path (not followed either)",
        lambda ex: ex.send(307, b"", [("Location", ex.handler.path)]))
_define("status_204", "204 No Content to everything",
        lambda ex: ex.start(204, content_type=""))
_define("status_600", "status 600 (outside HTTP's range) with a correct body",
        lambda ex: ex.send(600, _world_bytes(ex)[1]))

# ----- 5. numbers in headers ----------------------------------------------------------------------
RETRY_AFTERS = {
    "retry_after_inf": "inf", "retry_after_1e400": "1e400", "retry_after_nan": "nan",
    "retry_after_garbage": "soon", "retry_after_0": "0", "retry_after_negative": "-5",
    "retry_after_past_date": "Mon, 01 Jan 2001 00:00:00 GMT", "retry_after_99999999": "99999999",
    "retry_after_year_9999": "Fri, 31 Dec 9999 23:59:59 GMT", "retry_after_2": "2",
}


def _retry_after(value: str) -> Respond:
    return lambda ex: ex.error(429, "slow down", [("Retry-After", value)], rate_limits=False)


for _name, _value in RETRY_AFTERS.items():
    _define(_name, f"429 to everything with Retry-After: {_value} (no x-ratelimit-*)",
            _retry_after(_value))
_define("ratelimit_reset_on_429", "429 without Retry-After, x-ratelimit-reset: 120",
        lambda ex: ex.error(429, "slow down", [("x-ratelimit-limit", "1000"),
                                               ("x-ratelimit-remaining", "0"),
                                               ("x-ratelimit-reset", "120")]))


def _rate_limits(limit: str, remaining: str, reset: str) -> Respond:
    return lambda ex: ex.answer([("x-ratelimit-limit", limit), ("x-ratelimit-remaining", remaining),
                                 ("x-ratelimit-reset", reset)])


_define("ratelimit_inf", "correct answers with x-ratelimit-limit/remaining/reset: inf",
        _rate_limits("inf", "inf", "inf"))
_define("ratelimit_nan_negative", "correct answers with x-ratelimit-* nan, -5 and -1",
        _rate_limits("nan", "-5", "-1"))
_define("ratelimit_absurd", "correct answers with x-ratelimit-* 1e12, 99999999999 and 1e9 s",
        _rate_limits("1e12", "99999999999", "1e9"))
_define("date_year_9999", "correct answers with Date: Fri, 31 Dec 9999 23:59:59 GMT",
        lambda ex: ex.answer([("Date", "Fri, 31 Dec 9999 23:59:59 GMT")]))
_define("date_1970", "correct answers with Date: Thu, 01 Jan 1970 00:00:00 GMT (decades off)",
        lambda ex: ex.answer([("Date", "Thu, 01 Jan 1970 00:00:00 GMT")]))
_define("date_garbage", "correct answers with Date: the day after tomorrow",
        lambda ex: ex.answer([("Date", "the day after tomorrow")]))
_define("date_two_hours_ahead", "correct answers with a Date two hours ahead (a real skew)",
        lambda ex: ex.answer([("Date", formatdate(time.time() + 7200, usegmt=True))]))

# ----- 7. pagination (the runs list) --------------------------------------------------------------


def _full_page(ex: Exchange, cursor: str) -> None:
    n = ex.server.count("page")
    per_page = int(ex.query.get("per_page", "50"))
    runs = [run_json(f"run-{n}-{i}", i + 1) for i in range(per_page)]
    ex.json(200, page("runs", runs, cursor, True))


_define("empty_pages_fresh_cursors", "runs: empty pages, hasNextPage and a new cursor each time",
        _only("runs", lambda ex: ex.json(200, page("runs", [], f"fresh-{ex.server.count('c')}",
                                                   True))))
_define("cursors_a_b_a", "runs: full pages whose cursors go A, B, A, B, ...",
        _only("runs", lambda ex: _full_page(ex, "AB"[ex.server.count("c") % 2])))
_define("cursor_repeats", "runs: full pages that always give the same cursor",
        _only("runs", lambda ex: _full_page(ex, "same")))
_define("endless_full_pages", "runs: full pages of new runs with a new cursor, forever",
        _only("runs", lambda ex: _full_page(ex, f"next-{ex.server.count('c')}")))
_define("next_without_cursor", "runs: hasNextPage true but no cursor",
        _only("runs", lambda ex: ex.json(200, page("runs", world_runs(), None, True))))
_define("huge_cursor", "runs: a 1 MiB cursor",
        _only("runs", lambda ex: ex.json(200, page("runs", world_runs(), "c" * (1 << 20), True))))
_define("cursor_escapes", "runs: a cursor made of escape sequences",
        _only("runs", lambda ex: ex.json(200, page("runs", world_runs(), ESCAPES, True))))

# ----- 8. one bad run ---------------------------------------------------------------------------


def _victim(status: int, message: str) -> Respond:
    def respond(ex: Exchange) -> None:
        if ex.endpoint == "run" and ex.segments[5] == VICTIM:
            ex.error(status, message)
        else:
            ex.answer()
    return respond


_define("forbidden_one_run", "403 for the one run VICTIM, correct answers for the rest",
        _victim(403, "you may not see this run"))
_define("error_500_one_run", "500 for the one run VICTIM, correct answers for the rest",
        _victim(500, "internal error"))
_define("malformed_run_in_page", "the VICTIM run has status [\"RUNNING\"] (a list)",
        lambda ex: ex.answer(runs=world_runs(status=["RUNNING"])))


def _without_id(ex: Exchange) -> None:
    runs = world_runs()
    del runs[2]["id"]
    ex.answer(runs=runs)


_define("run_without_id", "the VICTIM run has no id at all", _without_id)


def _huge_numbers(ex: Exchange) -> None:
    status, value = ex.world(runs=world_runs(completions="@HUGE@", backoffLimit="@DIGITS@"))
    text = json.dumps(value).replace('"@HUGE@"', "1e400").replace('"@DIGITS@"', "9" * 5000)
    ex.send(status, text.encode())


_define("huge_numbers", "the VICTIM run has completions 1e400 and a 5000-digit backoffLimit",
        _huge_numbers)

# ----- 2. ids that would steer a request ----------------------------------------------------------
BAD_RUN_IDS = {
    "run_id_dotdot": "..", "run_id_dot": ".", "run_id_slash": "../../jobs/hostile-job",
    "run_id_percent": "%2e%2e", "run_id_query": "x?per_page=100", "run_id_fragment": "x#top",
    "run_id_escapes": ESCAPES, "run_id_space": "a b", "run_id_surrogate": "\ud800",
    "run_id_empty": "", "run_id_too_long": "a" * 1000,
}


def _victim_id(value: str) -> Respond:
    return lambda ex: ex.answer(runs=world_runs(id=value))


for _name, _value in BAD_RUN_IDS.items():
    _define(_name, f"the VICTIM run's id is {_value[:30]!r} (in pages and by id)",
            _victim_id(_value))
_define("project_id_dotdot", "the project list holds a project with id '..'",
        lambda ex: ex.answer(projects=[{"id": "..", "name": "dots"}]))
_define("job_id_slash", "the job list holds a job with id 'a/../b'",
        lambda ex: ex.answer(jobs=[{"id": "a/../b", "name": "slash", "projectId": PROJECT}]))

# ----- 9. cost driven by content ------------------------------------------------------------------


@cache
def many_runs(count: int) -> bytes:
    runs = [run_json(f"{n:08x}-0000-4000-8000-000000000000", n + 1) for n in range(count)]
    return json.dumps(page("runs", runs)).encode()


_define("per_page_ignored_100k", "runs: 100,000 runs in one page (~25 MB), ignoring per_page",
        _only("runs", lambda ex: ex.send(200, many_runs(100_000))))
_define("per_page_ignored_5000", "runs: 5,000 runs in one page (~1.3 MB), ignoring per_page",
        _only("runs", lambda ex: ex.send(200, many_runs(5000))))
_define("deep_json", "200 with arrays nested 100,000 deep",
        lambda ex: ex.send(200, b"[" * 100_000 + b"]" * 100_000))
_define("deep_json_in_run", "runs: one run with a field nested 100,000 deep",
        _only("runs", lambda ex: ex.send(200, b'{"data": {"runs": [{"id": "r", "x": '
                                         + b"[" * 100_000 + b"]" * 100_000 + b"}]}}")))
_define("long_names", "every run name is 100,000 characters long",
        lambda ex: ex.answer(runs=[run_json(rid, n, runName=f"{n}" * 100_000)
                                   for n, rid in enumerate(RUN_IDS)]))


def _escapes_everywhere(ex: Exchange) -> None:
    runs = [run_json(rid, n, runName=ESCAPES, status=ESCAPES) for n, rid in enumerate(RUN_IDS)]
    ex.answer(runs=runs, projects=[{"id": PROJECT, "name": ESCAPES, "description": ESCAPES}],
              jobs=[{"id": JOB, "name": ESCAPES, "projectId": PROJECT, "jobType": ESCAPES,
                     "description": ESCAPES, "tags": [ESCAPES]}])


_define("escapes_everywhere", "escape sequences in every name, status, type and description",
        _escapes_everywhere)

# ----- 1. error messages ----------------------------------------------------------------------
_define("error_with_escapes", "403 to everything, its message escape sequences",
        lambda ex: ex.error(403, ESCAPES + " forbidden"))
_define("unauthorized_with_escapes", "401 to everything, its message escape sequences",
        lambda ex: ex.error(401, ESCAPES))
_define("huge_error_message", "500 to everything with a 1 MiB message",
        lambda ex: ex.error(500, "x" * (1 << 20) + ESCAPES))
_define("error_message_not_text", "400 to everything with error.message an object",
        lambda ex: ex.error(400, {"nested": [ESCAPES]}))
_define("error_html_502", "502 to everything with a proxy's HTML page",
        lambda ex: ex.send(502, b"<html><h1>Bad Gateway</h1></html>", content_type="text/html"))

# ----- other broken answers ---------------------------------------------------------------------
_define("html_body", "200 with an HTML login page",
        lambda ex: ex.send(200, b"<html><body>Log in</body></html>", content_type="text/html"))
_define("wrong_content_type", "correct JSON sent as text/html (accepted: the body is checked)",
        lambda ex: ex.send(*_world_bytes(ex), content_type="text/html"))


def _truncated_json(ex: Exchange) -> None:
    status, body = _world_bytes(ex)
    ex.send(status, body[: len(body) // 2])


_define("truncated_json", "correct JSON cut in half (Content-Length fits the cut)",
        _truncated_json)
_define("empty_200", "200 with an empty body", lambda ex: ex.send(200, b""))
_define("json_array_top", "200 with a top-level JSON array", lambda ex: ex.json(200, [1, 2]))
_define("invalid_utf8", "200 with bytes that are not UTF-8",
        lambda ex: ex.send(200, b'{"data": "\xff\xfe\xfd"}'))
_define("null_data", "200 with {\"data\": null}", lambda ex: ex.json(200, {"data": None}))
