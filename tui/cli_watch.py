"""`nf-runs watch PROJECT JOB [RUN]`: follow one run until it concludes, for scripts and CI.

Exit status: 0 when the run succeeded, 1 when it concluded otherwise (FAILED, or a status no
doc names), 2 on an error (bad arguments, not found, a refused token, the API unreachable
after retries), 130 on Ctrl-C.

One request per check (the run by id; while waiting for a run to start, the job's first
page), every `--interval` seconds (default 5) stretched by the budget so that a watch of any
length stays within the process's share of the hour's quota; the client's gate is the
backstop. A failed check is retried by the client (429, 5xx, network), then here after a
growing pause, MAX_FAILED_CHECKS times in a row at most.

On a terminal the progress is one line rewritten in place (a carriage return, never an
escape sequence); elsewhere a plain line per change of status.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, TextIO, TypeVar

from .cli_commands import EXIT_INTERRUPTED, EXIT_USAGE, make_client, say

if TYPE_CHECKING:
    from .api.client import NorthflankClient
    from .api.models import JobRun, Page

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
Monotonic = Callable[[], float]

EXIT_SUCCESS = 0
EXIT_FAILED = 1
EXIT_ERROR = 2
# Failed checks in a row (each already retried by the client) before the watch gives up.
MAX_FAILED_CHECKS = 4
MAX_CHECK_BACKOFF = 60.0  # seconds between failed checks at most
# A Retry-After (or a budget hold) is waited out, but never longer than an hour at a time.
MAX_HOLD = 3600.0
# Runs of the job's first page remembered by --wait-for-start: a run not among them is new.
FIRST_PAGE = 20
# How often the live line redraws its running duration between checks (no request).
REDRAW = 1.0

# Injected by tests: the watch's sleep and clock (a simulator's clock moves with them).
SLEEP: Sleep = asyncio.sleep
MONOTONIC: Monotonic = time.monotonic
WALL_CLOCK: Callable[[], datetime] = lambda: datetime.now(timezone.utc)  # noqa: E731


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (ValueError, OSError, AttributeError):
        return False


def run_done(run: JobRun) -> bool:
    """Concluded: nothing about it changes any more."""
    from .api.models import RunStatus

    return not run.is_active and (run.concluded or run.status in (RunStatus.SUCCESS,
                                                                  RunStatus.FAILED))


class Progress:
    """What the watch shows: a live line on a terminal, plain lines elsewhere."""

    def __init__(self, out: TextIO, *, live: bool,
                 width: Callable[[], int] = lambda: shutil.get_terminal_size().columns) -> None:
        self.out = out
        self.live = live
        self._width = width
        self._shown = 0  # characters of the live line on screen now (0: none)
        self._last_plain: str | None = None
        self._last_warning: str | None = None
        self._longest: dict[str, timedelta] = {}

    def _duration(self, run: JobRun, now: datetime) -> str:
        from .formatting import format_duration

        duration = run.duration(now)
        if duration is None:
            return "-"
        if not run.is_active:
            return format_duration(duration)  # the API's own start and end
        # A skew estimate that moves must not make a running duration step back.
        longest = max(duration, self._longest.get(run.id, timedelta(0)))
        self._longest = {run.id: longest}
        return format_duration(longest)

    def _run_text(self, run: JobRun, now: datetime) -> tuple[str, str]:
        """The status and name (cut first on a narrow terminal), and the duration."""
        from .sanitize import printable

        return (f"{printable(run.raw_status):<8} {printable(run.run_name)}",
                f"  {self._duration(run, now)}")

    def note(self, text: str) -> None:
        """A message that is not a run's state (waiting, holding back, retrying)."""
        self._show(text, key=text)

    def warn(self, text: str) -> None:
        """A problem the watch rides out (a retry, a hold): on the live line on a terminal,
        else on stderr (stdout keeps to the run's progress), once per distinct message."""
        from .sanitize import printable

        if self.live:
            self._show(text, key=text)
        elif text != self._last_warning:
            self._last_warning = text
            say(f"nf-runs: {printable(text)}")

    def update(self, run: JobRun, now: datetime) -> None:
        from .sanitize import printable

        self._show(*self._run_text(run, now), key=f"{run.id}\0{printable(run.raw_status)}")

    def finish(self, run: JobRun, now: datetime) -> None:
        """The run's last state, on a line of its own."""
        self._show(*self._run_text(run, now), key=None)
        self.close()

    def _show(self, text: str, tail: str = "", *, key: str | None) -> None:
        from .sanitize import printable

        text = printable(text)  # an error's text may quote the server
        if self.live:
            width = max(20, self._width() - 1)  # a wrapped line could not be rewritten
            room = max(1, width - len(tail))
            line = (text if len(text) <= room else text[: room - 1] + "…") + tail
            self.out.write("\r" + line.ljust(min(self._shown, width)))
            self._shown = len(line)
        elif key is None or key != self._last_plain:
            self._last_plain = key
            self.out.write(text + tail + "\n")
        self.out.flush()

    def close(self) -> None:
        """End the live line, so that what comes next starts on a fresh one."""
        if self.live and self._shown:
            self.out.write("\n")
            self.out.flush()
        self._shown = 0


class Watch:
    """Finds the run to follow and follows it; `run()` returns the exit status."""

    def __init__(
        self, client: NorthflankClient, project: str, job: str, run_id: str | None,
        *, wait_for_start: bool, interval: float, progress: Progress,
        sleep: Sleep, monotonic: Monotonic,
    ) -> None:
        self.client = client
        self.project, self.job, self.run_id = project, job, run_id
        self.wait_for_start = wait_for_start
        self.interval = interval
        self.progress = progress
        self._sleep, self._monotonic = sleep, monotonic
        self._failures = 0
        self._last_check: float | None = None

    async def run(self) -> int:
        from .api.models import RunStatus

        run = await self._first_run()
        run_id = run.id

        def check() -> Awaitable[JobRun]:
            return self.client.get_job_run(self.project, self.job, run_id)

        while not run_done(run):
            self.progress.update(run, self.client.server_now())
            run = await self._check(check, run)
        self.progress.finish(run, self.client.server_now())
        return EXIT_SUCCESS if run.status is RunStatus.SUCCESS else EXIT_FAILED

    async def _first_run(self) -> JobRun:
        from .api.errors import NorthflankError

        if self.run_id is not None:
            return await self._check(lambda: self.client.get_job_run(
                self.project, self.job, self.run_id or ""), None)
        if self.wait_for_start:
            return await self._next_started()
        page = await self._check(lambda: self.client.get_job_runs(
            self.project, self.job, per_page=1), None)
        if not page.items:
            raise NorthflankError("The job has no runs yet: give --wait-for-start to wait "
                                  "for the next one.")
        return self._usable(page.items[0])

    async def _next_started(self) -> JobRun:
        from .sanitize import printable

        def first_page() -> Awaitable[Page[JobRun]]:
            return self.client.get_job_runs(self.project, self.job, per_page=FIRST_PAGE)

        page = await self._check(first_page, None)
        known = {run.id for run in page.items}
        self.progress.note(f"Waiting for the next run of {printable(self.job)} to start…")
        while True:
            page = await self._check(first_page, None)
            new = [run for run in page.items if run.id not in known]
            if new:
                return self._usable(new[-1])  # newest first: the last new one started first

    @staticmethod
    def _usable(run: JobRun) -> JobRun:
        from .api.errors import BadResponseError
        from .api.urls import id_problem

        if run.unreadable is not None and id_problem(run.id) is not None:
            raise BadResponseError(f"Unexpected API answer: the run cannot be read "
                                   f"({run.unreadable}).")
        return run

    async def _check(self, request: Callable[[], Awaitable[T]], shown: JobRun | None) -> T:
        """One check, when the cadence allows; transient failures are waited out a few
        times, anything else (not found, refused) is raised."""
        from .api.errors import (
            BadResponseError,
            BudgetExhaustedError,
            InconsistentPagesError,
            NetworkError,
            RateLimitedError,
            ServerError,
        )

        while True:
            await self._pause(shown)
            self._last_check = self._monotonic()
            try:
                result = await request()
            except BudgetExhaustedError as error:
                self.progress.warn(str(error))
                await self._hold(error.retry_in, shown)
                continue
            except RateLimitedError as error:
                if error.retry_after is None:
                    self._failed(error)
                self.progress.warn(str(error))
                await self._hold(error.retry_after or self._backoff(), shown)
                continue
            except InconsistentPagesError:
                raise
            except (NetworkError, ServerError, BadResponseError) as error:
                self._failed(error)
                self.progress.warn(f"{error} Trying again…")
                await self._hold(self._backoff(), shown)
                continue
            self._failures = 0
            return result

    def _failed(self, error: Exception) -> None:
        self._failures += 1
        if self._failures >= MAX_FAILED_CHECKS:
            raise error

    def _backoff(self) -> float:
        return min(MAX_CHECK_BACKOFF, self.interval * 2.0 ** max(0, self._failures - 1))

    def _cadence(self) -> float:
        """Seconds between checks: the interval, stretched so the share lasts the hour."""
        return max(self.interval, self.client.budget.interval_for(1, self.interval))

    async def _pause(self, shown: JobRun | None) -> None:
        if self._last_check is None:
            return
        due = self._last_check + self._cadence()
        await self._wait_until(due, shown)

    async def _hold(self, seconds: float, shown: JobRun | None) -> None:
        await self._wait_until(self._monotonic() + min(max(seconds, 1.0), MAX_HOLD), shown)
        self._last_check = None  # the hold was the pause

    async def _wait_until(self, due: float, shown: JobRun | None) -> None:
        while (left := due - self._monotonic()) > 0:
            # On a terminal the running duration moves on between checks.
            await self._sleep(min(left, REDRAW) if self.progress.live else left)
            if shown is not None and self.progress.live:
                self.progress.update(shown, self.client.server_now())



async def _watch(args: argparse.Namespace, progress: Progress) -> int:
    from .api.errors import NorthflankError
    from .options import DEFAULT_REFRESH
    from .sanitize import printable

    client = make_client(args, clock=MONOTONIC, sleep=SLEEP, wall_clock=WALL_CLOCK)
    watch = Watch(
        client, args.project, args.job, args.run, wait_for_start=args.wait_for_start,
        interval=args.interval or DEFAULT_REFRESH, progress=progress,
        sleep=SLEEP, monotonic=MONOTONIC,
    )
    try:
        return await watch.run()
    except NorthflankError as error:
        progress.close()
        say(f"nf-runs: {printable(str(error))}")
        return EXIT_ERROR
    finally:
        progress.close()
        await client.aclose()


def watch_command(args: argparse.Namespace) -> int:
    """`nf-runs watch`: its exit status says how the run concluded."""
    if args.run is not None and args.wait_for_start:
        say("nf-runs: watch: give a RUN or --wait-for-start, not both")
        return EXIT_USAGE
    if sys.stdout is None:
        say("nf-runs: stdout is closed: nowhere to show the run")
        return EXIT_USAGE
    progress = Progress(sys.stdout, live=is_terminal(sys.stdout))

    def interrupted(_signum: int, _frame: object) -> None:
        # Out at once, the live line ended: unwinding could wait on an unanswered request.
        with contextlib.suppress(Exception):
            progress.close()
            sys.stdout.flush()
        os._exit(EXIT_INTERRUPTED)

    with contextlib.suppress(ValueError, OSError):  # ValueError: not the main thread
        signal.signal(signal.SIGINT, interrupted)
    return asyncio.run(_watch(args, progress))
