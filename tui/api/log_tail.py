"""The live log tail of a running run, over the WebSocket the official client uses
(jobs-logs-metrics.md §4), with what that client lacks: reconnects with back-off, the gap
filled by a range query, and an end when the run concludes.

The URL is the logs URL with the scheme swapped (`https:` to `wss:`, `http:` to `ws:`) and
`queryType=tail`; the token goes in the first message (`init`), never in the URL or a
header. Plain `ws://` goes only to loopback, as plain http does (`urls.check_base_url`).

Library: `websockets` (asyncio-native, maintained for over a decade, no dependencies, typed).
It also has a sans-I/O server protocol, so the simulator serves the same tail on its own
threaded HTTP port with the same library; `httpx-ws` would ride on our httpx but brings
anyio/wsproto and a far smaller user base, and nothing for the simulator's side.

No Textual here: the UI iterates `LogTail.events()` in a worker and posts what it yields.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx
import websockets
from websockets.asyncio.client import connect as ws_connect

from .errors import ConfigError, NorthflankError
from .logs import LogLoader
from .models import JobRun, LogLine
from .run_models import MAX_LINE_LIMIT, oldest_first
from .urls import check_id, is_loopback

# One message at most this big (the docs: batches of 32.7 kB); lines of one batch kept.
MAX_MESSAGE_BYTES = 1 << 20
MAX_BATCH_LINES = 5000
TAIL_LINE_LIMIT = 10  # the first batch's lines (the documented default)
BACKOFF_BASE = 1.0
BACKOFF_CAP = 30.0
# Failed connections in a row before the tail gives up (each costs a range query and a run
# check when it had been live): ~2 minutes of trying at the cap.
MAX_ATTEMPTS = 8
# Protocol breaches (text that is not JSON) in one connection before it is dropped.
MAX_BAD_MESSAGES = 3

# websockets logs frames at DEBUG: the init frame carries the token. Its own logger, never
# below INFO, whatever the root logger says.
_WS_LOG = logging.getLogger("nf-runs.log-tail")
_WS_LOG.setLevel(logging.INFO)


class TailSocket(Protocol):
    """What the tail needs of a WebSocket connection (websockets' ClientConnection)."""

    async def send(self, message: str) -> None: ...

    async def recv(self) -> str | bytes: ...


Connect = Callable[[str], AbstractAsyncContextManager[Any]]


def default_connect(url: str) -> AbstractAsyncContextManager[Any]:
    """websockets' client, bounded: 1 MiB a message, 16 queued, pings every 20 s (a dead
    connection is noticed), 10 s to open."""
    return ws_connect(
        url, max_size=MAX_MESSAGE_BYTES, max_queue=16, open_timeout=10, logger=_WS_LOG,
        user_agent_header="nf-runs",
    )


def tail_url(base_url: str, path: str, run_id: str, line_limit: int = TAIL_LINE_LIMIT) -> str:
    """The tail's URL from the API's: `https` to `wss`, `http` (loopback only) to `ws`."""
    url = httpx.URL(base_url)
    if url.scheme == "https":
        scheme = "wss"
    elif url.scheme == "http" and is_loopback(url.host):
        scheme = "ws"
    else:
        raise ConfigError("Refusing a plain ws:// log tail to a host that is not loopback.")
    query = urlencode({"queryType": "tail",
                       "lineLimit": max(0, min(line_limit, MAX_LINE_LIMIT)),
                       "runId": check_id("run", run_id)})
    netloc = url.netloc.decode("ascii")
    return f"{scheme}://{netloc}{path}?{query}"


# ----- events ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TailLines:
    """New lines, already appended to the loader's `lines` (repeats dropped)."""

    lines: tuple[LogLine, ...]


@dataclass(frozen=True, slots=True)
class TailState:
    """Where the tail is: "connecting", "live", or "reconnecting" (attempt n, in `retry_in`
    seconds, because of `reason`)."""

    state: str
    attempt: int = 0
    retry_in: float | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class TailEnded:
    """The tail is over: the run concluded (`concluded`), the server refused it (`error`),
    it gave up reconnecting, or it was stopped. `reason` is one line for the user."""

    reason: str
    concluded: bool = False
    error: bool = False


TailEvent = TailLines | TailState | TailEnded


class _Dropped(Exception):
    """The connection ended or broke; a reconnect may help."""


class _Fatal(Exception):
    """The server refused the tail; a reconnect would not help."""


class LogTail:
    """Follows one run's log into its `LogLoader` until the run concludes."""

    def __init__(
        self,
        loader: LogLoader,
        *,
        connect: Connect = default_connect,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        backoff_base: float = BACKOFF_BASE,
        backoff_cap: float = BACKOFF_CAP,
        max_attempts: int = MAX_ATTEMPTS,
        line_limit: int = TAIL_LINE_LIMIT,
    ) -> None:
        self.loader = loader
        client = loader.client
        self.url = tail_url(
            client.base_url, client.log_tail_path(loader.project_id, loader.job_id),
            loader.run.id, line_limit,
        )
        self._connect = connect
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_attempts = max_attempts
        self.connections = 0
        self._wake = asyncio.Event()
        self._stopped = False
        self._concluded: JobRun | None = None

    def __repr__(self) -> str:
        return f"LogTail(url={self.url!r})"  # the token is never part of it

    # ----- control --------------------------------------------------------------------------

    def stop(self) -> None:
        """End the tail at once (the iterator yields TailEnded "stopped")."""
        self._stopped = True
        self._wake.set()

    def note_run(self, run: JobRun) -> None:
        """The UI's poll saw the run: once it has concluded, the tail loads the last lines and
        ends, even if the server keeps the socket open."""
        if run.id != self.loader.run.id:
            return
        self.loader.update_run(run)
        if not run.is_active:
            self._concluded = run
            self._wake.set()

    # ----- the loop -------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[TailEvent]:
        """Connect, stream, reconnect; ends with exactly one TailEnded."""
        attempt = 0
        reason: str | None = None
        while True:
            if self._stopped:
                yield TailEnded("The live tail was stopped.")
                return
            if self._concluded is not None:
                async for event in self._finish(self._concluded):
                    yield event
                return
            yield TailState("connecting" if attempt == 0 else "reconnecting", attempt)
            try:
                async for event in self._session():
                    if isinstance(event, TailState) and event.state == "live":
                        attempt = 0
                    yield event
                reason = "the connection was closed"
            except _Fatal as error:
                yield TailEnded(str(error), error=True)
                return
            except _Dropped as error:
                reason = str(error)
            if self._stopped or self._concluded is not None:
                continue
            run = await self._check_run()
            if run is not None and not run.is_active:
                async for event in self._finish(run):
                    yield event
                return
            attempt += 1
            if attempt > self.max_attempts:
                yield TailEnded(f"The live tail gave up after {self.max_attempts} attempts "
                                f"({reason}).", error=True)
                return
            delay = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
            delay *= 0.5 + self._rng.random() / 2
            yield TailState("reconnecting", attempt, delay, reason)
            await self._pause(delay)

    async def _pause(self, seconds: float) -> None:
        """Sleep, unless stop() or note_run() wakes the tail first."""
        sleeper = asyncio.ensure_future(self._sleep(seconds))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, waker):
                task.cancel()

    async def _check_run(self) -> JobRun | None:
        loader = self.loader
        try:
            run = await loader.client.get_job_run(loader.project_id, loader.job_id, loader.run.id)
        except NorthflankError:
            return None  # unknown: keep trying
        loader.update_run(run)
        return run

    async def _finish(self, run: JobRun) -> AsyncIterator[TailEvent]:
        """The run concluded: its last lines by range query, then the end."""
        self.loader.update_run(run)
        new = await self._gap_fill()
        if new:
            yield TailLines(new)
        yield TailEnded(f"The run concluded ({run.raw_status}): the live tail has ended.",
                        concluded=True)

    async def _gap_fill(self) -> tuple[LogLine, ...]:
        """The lines written while no socket was listening (a request or a few)."""
        loader = self.loader
        try:
            change = await loader.load_all_newer(max_pages=5)
        except NorthflankError:
            return ()  # the socket goes on; the next reconnect tries again
        # Appended lines are the last ones (trimming only ever drops the oldest here).
        count = min(change.appended, len(loader.lines))
        return tuple(loader.lines[len(loader.lines) - count:]) if count else ()

    async def _session(self) -> AsyncIterator[TailEvent]:
        """One connection: init, the gap fill, then batches until it ends."""
        loader = self.loader
        try:
            async with self._connect(self.url) as socket:
                self.connections += 1
                await socket.send(loader.client.log_tail_init())
                new = await self._gap_fill()  # the first: the latest page
                if new:
                    yield TailLines(new)
                bad = 0
                while True:
                    message = await self._receive(socket)
                    if message is None:
                        return  # woken: stop() or the run concluded
                    event = self._handle(message)
                    if event is None:
                        bad += 1
                        if bad >= MAX_BAD_MESSAGES:
                            raise _Dropped("the server sent messages that are not JSON")
                        continue
                    if isinstance(event, TailEnded):
                        raise _Fatal(event.reason)
                    if not isinstance(event, TailLines) or event.lines:
                        yield event
        except (_Fatal, _Dropped):
            raise
        except websockets.InvalidStatus as error:
            status = error.response.status_code
            if status in (401, 403, 404):
                raise _Fatal(f"The API refused the live tail ({status}).") from None
            raise _Dropped(f"the API answered {status}") from None
        except websockets.ConnectionClosed as error:
            code = error.rcvd.code if error.rcvd is not None else None
            raise _Dropped("the connection was closed" + (f" ({code})" if code else "")) \
                from None
        except (OSError, asyncio.TimeoutError, websockets.WebSocketException):
            raise _Dropped("the connection failed") from None

    async def _receive(self, socket: TailSocket) -> str | bytes | None:
        """The next message, or None when stop() or note_run() wakes the tail."""
        if self._wake.is_set():
            return None
        receiver = asyncio.ensure_future(socket.recv())
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            done, _ = await asyncio.wait({receiver, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waker.cancel()
            if not receiver.done():
                receiver.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await receiver
        if receiver in done and not receiver.cancelled():
            return receiver.result()
        return None

    def _handle(self, message: str | bytes) -> TailEvent | None:
        """One server message as an event; None for one that is not JSON at all."""
        try:
            parsed = json.loads(message)
        except (ValueError, RecursionError):
            return None
        if not isinstance(parsed, dict):
            return TailLines(())
        kind, data = parsed.get("type"), parsed.get("data")
        if kind == "init":
            auth = data.get("auth") if isinstance(data, dict) else None
            if auth == "successful":
                return TailState("live")
            detail = data.get("message") if isinstance(data, dict) else None
            return TailEnded("Log tail initialization failed: "
                             + (detail[:200] if isinstance(detail, str) else "reason unknown"),
                             error=True)
        if kind == "error":
            detail = data.get("message") if isinstance(data, dict) else None
            return TailEnded("The API ended the live tail: "
                             + (detail[:200] if isinstance(detail, str) else "no reason given"),
                             error=True)
        if kind == "log-lines" and isinstance(data, list):
            lines = oldest_first([LogLine.from_json_lenient(item)
                                  for item in data[:MAX_BATCH_LINES]])
            return TailLines(self.loader.add_newer(lines))
        return TailLines(())  # a message type no doc names: ignored, not fatal
