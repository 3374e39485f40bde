"""The simulator's live log tail: the WebSocket of jobs-logs-metrics.md §4, on the API's own
port, as the official client finds it (the logs URL with `ws:` and `queryType=tail`).

The HTTP server is a threaded `http.server`: each connection has its own thread, so a GET
asking to upgrade is handed here with its socket and served until it ends. The WebSocket
itself (handshake, frames, close, pings) is the `websockets` library's sans-I/O
`ServerProtocol`, fed from that socket: no framing of our own.

The protocol, as the official client speaks it: the client sends
`{"type":"init","data":{"auth":{"type":"apiToken","apiToken":…}}}`; the server answers
`{"type":"init","data":{"auth":"successful"}}` and then `{"type":"log-lines","data":[…]}`
batches, at most one per simulated second while the run runs (the newest `lineLimit`, default
10, of the last 30 minutes first), and closes (1000) once the run has concluded and its last
lines are sent. A wrong token gets `{"type":"error","data":{"message":…}}` and a close.
"""

from __future__ import annotations

import contextlib
import json
import logging
import select
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol

from .run_output import RunFacts, log_page
from .world import NotFoundError

if TYPE_CHECKING:
    from .server import Simulator

TAIL_DEFAULT_LINES = 10
TAIL_DEFAULT_SPAN = 1800.0  # simulated seconds before now that the first batch looks back
MAX_TAIL_LINES = 1000
BATCH_BYTES = 32_700  # the docs: a batch goes out when it reaches 32.7 kB or every second
POLL_SECONDS = 0.05  # real seconds between looks at the socket and the simulated clock
INIT_TIMEOUT = 10.0  # real seconds a client has to send its init message
_LOG = logging.getLogger("nf-simulator.tail")
_LOG.setLevel(logging.WARNING)  # never log frames (the init carries the token)


@dataclass(frozen=True, slots=True)
class TailTarget:
    project_id: str
    job_id: str
    run_id: str | None
    line_limit: int
    start_time: float | None


def tail_target(target: str, parse_time: Callable[[Mapping[str, list[str]], str], float | None]
                ) -> TailTarget | None:
    """The job and run a WebSocket request path names, or None if it is not a tail."""
    url = urlsplit(target)
    parts = [unquote(part) for part in url.path.split("/")]
    if len(parts) < 3 or parts[:2] != ["", "v1"]:
        return None
    rest = parts[2:]
    if len(rest) >= 3 and rest[0] == "teams":
        rest = rest[2:]
    if len(rest) != 5 or rest[0] != "projects" or rest[2] != "jobs" or rest[4] != "logs":
        return None
    query = parse_qs(url.query, keep_blank_values=True)
    if (query.get("queryType") or [""])[-1] != "tail":
        return None
    raw_limit = (query.get("lineLimit") or [""])[-1]
    limit = int(raw_limit) if raw_limit.isdigit() and len(raw_limit) < 6 else TAIL_DEFAULT_LINES
    try:
        start = parse_time(query, "startTime")
    except Exception:  # a bad time is the default, as for a tail the docs describe
        start = None
    run_id = (query.get("runId") or [""])[-1] or None
    return TailTarget(rest[1], rest[3], run_id, min(limit, MAX_TAIL_LINES), start)


def _message(kind: str, data: Any) -> str:
    return json.dumps({"type": kind, "data": data}, separators=(",", ":"), ensure_ascii=False)


class TailSession:
    """One WebSocket client, served on its connection's thread until either side closes."""

    def __init__(self, sim: Simulator, sock: socket.socket, target: TailTarget | None) -> None:
        self.sim = sim
        self.sock = sock
        self.target = target
        self.protocol = ServerProtocol(max_size=65536, logger=_LOG)
        self.authed = False
        self.sent_until_ms: int | None = None  # every line up to here has gone out
        self.next_batch: float = 0.0  # simulated time of the next batch
        self.closing = False

    # -- plumbing ------------------------------------------------------------------------

    def _flush(self) -> bool:
        """Send what the protocol has to send; False once the TCP side should close."""
        for data in self.protocol.data_to_send():
            if not data:
                return False
            self.sock.sendall(data)
        return True

    def _close(self, code: int, reason: str) -> None:
        if self.protocol.state is State.OPEN:
            self.protocol.send_close(code, reason)
        self.closing = True

    def _send(self, kind: str, data: Any) -> None:
        if self.protocol.state is State.OPEN:
            self.protocol.send_text(_message(kind, data).encode("utf-8"))

    # -- serving -------------------------------------------------------------------------

    def serve(self, raw_request: bytes) -> None:
        """The handshake (from the request http.server already read), then the session."""
        self.protocol.receive_data(raw_request)
        request = next(
            (event for event in self.protocol.events_received() if isinstance(event, Request)),
            None,
        )
        if request is None:
            return
        if self.target is None:
            response = self.protocol.reject(404, "Not found: not a log tail\n")
        else:
            response = self.protocol.accept(request)
        self.protocol.send_response(response)
        if not self._flush() or response.status_code != 101:
            return
        self.sim.tail_opened(self.sock)
        try:
            self._loop()
        finally:
            self.sim.tail_closed(self.sock)

    def _loop(self) -> None:
        opened = time.monotonic()
        closing_since: float | None = None
        while self.protocol.state is not State.CLOSED:
            readable, _, _ = select.select([self.sock], [], [], POLL_SECONDS)
            if readable:
                data = self.sock.recv(65536)
                if data:
                    self.protocol.receive_data(data)
                else:
                    self.protocol.receive_eof()
            for event in self.protocol.events_received():
                if isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                    self._on_text(bytes(event.data))
            if not self.authed and time.monotonic() - opened > INIT_TIMEOUT:
                self._close(1008, "no init message")
            if self.authed and not self.closing:
                self._tick()
            if not self._flush():
                return
            if self.closing:
                closing_since = closing_since or time.monotonic()
                if time.monotonic() - closing_since > 5.0:
                    return  # the client never answered the close: drop the connection

    def _on_text(self, data: bytes) -> None:
        if self.authed or self.closing:
            return  # the official client sends nothing after init
        try:
            message = json.loads(data)
        except ValueError:
            message = None
        auth = message.get("data", {}).get("auth") if isinstance(message, dict) and isinstance(
            message.get("data"), dict) else None
        if not (isinstance(message, dict) and message.get("type") == "init"
                and isinstance(auth, dict) and auth.get("type") == "apiToken"):
            self._send("error", {"message": "Log tail initialization failed: expected init"})
            self._close(1008, "expected init")
            return
        if auth.get("apiToken") != self.sim.token:
            self._send("error", {"message": "Unauthorized: the API token was refused"})
            self._close(1008, "unauthorized")
            return
        assert self.target is not None  # only an accepted tail gets here
        try:
            facts = self._facts()
        except NotFoundError as error:
            self._send("error", {"message": str(error)})
            self._close(1008, "not found")
            return
        self.authed = True
        self._send("init", {"auth": "successful"})
        self._first_batch(facts)

    def _facts(self) -> RunFacts:
        target = self.target
        assert target is not None
        return self.sim.world.run_facts(target.project_id, target.job_id, target.run_id)

    def _first_batch(self, facts: RunFacts) -> None:
        target = self.target
        assert target is not None
        now = facts.now
        since = target.start_time if target.start_time is not None else now - TAIL_DEFAULT_SPAN
        lines, _ = log_page(facts, since, now, target.line_limit, backward=True)
        lines.reverse()
        self._send_lines(lines)
        self.sent_until_ms = int(now * 1000)
        self.next_batch = now + 1.0

    def _tick(self) -> None:
        """A batch of the lines written since the last one, once per simulated second; the
        close once the run has concluded and everything is out."""
        now = self.sim.world.now_ts()
        if now < self.next_batch:
            return
        try:
            facts = self._facts()
        except NotFoundError:
            self._close(1000, "job run gone")
            return
        self.next_batch = now + 1.0
        low_ms = (self.sent_until_ms or 0) + 1
        high = facts.written_until
        for _ in range(20):  # a backlog goes out over a few ticks, not at once
            lines, more = log_page(facts, low_ms / 1000, high, MAX_TAIL_LINES, backward=False)
            if more and lines:
                # Never split a millisecond between two batches: the rest of it goes next.
                last = lines[-1]["ts"]
                whole = [line for line in lines if line["ts"] != last]
                lines = whole or lines
            self._send_lines(lines)
            if not lines:
                break
            low_ms = _ts_ms(lines[-1]["ts"]) + 1
            if not more:
                break
        else:
            self.sent_until_ms = low_ms - 1
            return
        self.sent_until_ms = max(low_ms - 1, int(high * 1000))
        if facts.concluded:
            self._close(1000, "job run concluded")

    def _send_lines(self, lines: list[dict[str, Any]]) -> None:
        batch: list[dict[str, Any]] = []
        size = 0
        for line in lines:
            cost = len(line["log"]) + 100
            if batch and size + cost > BATCH_BYTES:
                self._send("log-lines", batch)
                batch, size = [], 0
            batch.append(line)
            size += cost
        if batch:
            self._send("log-lines", batch)


def _ts_ms(text: str) -> int:
    return round(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def serve_upgrade(sim: Simulator, sock: socket.socket, request_line: str,
                  headers: list[tuple[str, str]], target: TailTarget | None) -> None:
    """Serve one WebSocket upgrade on `sock` (http.server has read its request)."""
    head = request_line + "\r\n" + "".join(f"{name}: {value}\r\n" for name, value in headers)
    session = TailSession(sim, sock, target)
    with contextlib.suppress(OSError):  # the client went away, or the simulator stopped
        session.serve((head + "\r\n").encode("latin-1"))
