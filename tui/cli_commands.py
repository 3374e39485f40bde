"""`nf-runs projects`, `nf-runs jobs PROJECT` and the parsers of the commands for scripts.

The lists are walked page by page (by cursor, through the client's gate, pacing on its burst
cap like `nf-runs runs --all`); a table is sanitised for the terminal, `--json` writes one
object per line with the API's strings as JSON strings. `nf-runs watch` is in tui.cli_watch.

Only the standard library is imported at the top: `tui.__main__` imports this module before
it can catch a Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from .api.client import NorthflankClient
    from .api.models import Job, Page, Project

T = TypeVar("T")

EXIT_INTERRUPTED = 130
EXIT_USAGE = 2
# A walk waits out the client's burst cap (at most a minute), not the hour's share.
MAX_BUDGET_WAIT = 60.0
# Rows a table holds back to size its columns; later rows keep those widths.
TABLE_SIZING_ROWS = 500
# A column is padded to at most this many characters (a longer value overflows, uncut:
# an id is for copying).
MAX_COLUMN = 40
PAGE_SIZE = 100  # the API's largest page: one request per hundred items


class OutputError(Exception):
    """Writing the command's output failed (not a closed pipe: a full disk, an I/O error)."""


def say(line: str) -> None:
    """One line on stderr, if there is a stderr at all."""
    stream = sys.stderr
    if stream is None:
        return
    with contextlib.suppress(Exception):
        stream.write(line + "\n")
        stream.flush()


def write(text: str) -> None:
    """Text on stdout; a closed pipe propagates (main is quiet about it), other errors are
    an OutputError."""
    try:
        sys.stdout.write(text)
    except BrokenPipeError:
        raise
    except OSError as error:
        raise OutputError(error.strerror or type(error).__name__) from None


# ----- the parsers --------------------------------------------------------------------------


def add_commands(
    sub: Any,  # argparse's _SubParsersAction, private in typeshed
    common_options: Callable[[argparse.ArgumentParser], None],
    refresh: Callable[[str], float],
    percent: Callable[[str], float],
) -> None:
    """The `projects`, `jobs` and `watch` subcommands, each with only the options it takes."""
    projects = sub.add_parser("projects", help="list the projects and their ids")
    common_options(projects)
    projects.add_argument("--json", action="store_true", help="one JSON object per line")

    jobs = sub.add_parser("jobs", help="list a project's jobs and their ids")
    common_options(jobs)
    jobs.add_argument("project", help="project id (see: nf-runs projects)")
    jobs.add_argument("--json", action="store_true", help="one JSON object per line")

    watch = sub.add_parser(
        "watch", help="follow a run until it concludes (exit 0 on SUCCESS, 1 on FAILED)",
        description="Follow a run until it concludes, printing its progress. Exit status: "
                    "0 when it succeeded, 1 when it failed, 2 on an error (bad arguments, "
                    "not found, refused token, the API unreachable after retries), 130 on "
                    "Ctrl-C.",
    )
    common_options(watch)
    watch.add_argument("project", help="project id")
    watch.add_argument("job", help="job id")
    watch.add_argument("run", nargs="?", default=None,
                       help="run id (default: the job's newest run)")
    watch.add_argument("--wait-for-start", action="store_true",
                       help="follow the next run to start after the command began")
    watch.add_argument("--interval", type=refresh, default=None, metavar="SECONDS",
                       help="seconds between checks (default 5, min 1; stretched to stay "
                            "within the budget)")
    watch.add_argument("--budget", type=percent, default=argparse.SUPPRESS, metavar="PERCENT",
                       help="share of the hourly API quota it may use (default 50)")


# ----- shared by the commands ---------------------------------------------------------------


def make_client(
    args: argparse.Namespace, clock: Callable[[], float] | None = None, **kwargs: Any
) -> NorthflankClient:
    """A client from the resolved settings (warnings on stderr, the token kept secret), its
    budget the share the settings give (`--budget` first), on `clock` (default: the
    monotonic clock)."""
    from .api.client import NorthflankClient
    from .api.ratelimit import RateLimitBudget
    from .crash import register_secret
    from .sanitize import printable
    from .settings import resolve_connection

    user, settings = resolve_connection(args)
    register_secret(settings.token)
    for warning in (*user.warnings, *settings.warnings):
        say(f"nf-runs: warning: {printable(warning)}")
    share = user.settings.budget / 100  # --budget, $NF_RUNS_BUDGET, the file, the default
    budget = RateLimitBudget(share=share) if clock is None else RateLimitBudget(share, clock=clock)
    return NorthflankClient(settings.require_token(), settings.api_url, team=settings.team,
                            budget=budget, **kwargs)


def run_listing(main: Callable[[], Coroutine[Any, Any, int]]) -> int:
    """Run a read-only command's coroutine; Ctrl-C flushes what was printed and exits 130 at
    once (unwinding could wait on a request the server never answers)."""
    import asyncio
    import signal

    if sys.stdout is None:
        say("nf-runs: stdout is closed: nowhere to write the list")
        return EXIT_USAGE

    def interrupted(_signum: int, _frame: object) -> None:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        os._exit(EXIT_INTERRUPTED)

    with contextlib.suppress(ValueError, OSError):  # ValueError: not the main thread
        signal.signal(signal.SIGINT, interrupted)
    return asyncio.run(main())


async def paced_walk(
    fetch: Callable[[str | None], Awaitable[Page[T]]],
) -> AsyncIterator[T]:
    """Every item of a cursor-paginated list; a page the burst cap holds back is asked
    again when the cap allows, a refusal of the hour's share ends the walk."""
    import asyncio

    from .api.client import walk_pages
    from .api.errors import BudgetExhaustedError

    async def page(cursor: str | None) -> Page[T]:
        while True:
            try:
                return await fetch(cursor)
            except BudgetExhaustedError as error:
                if error.retry_in > MAX_BUDGET_WAIT:
                    raise
                say(f"nf-runs: {error}")
                await asyncio.sleep(error.retry_in)

    async for item in walk_pages(page):
        yield item


class Table:
    """A table on stdout: the first rows size the columns, the last column is not padded.

    Nothing is written before the first row is known, so an error leaves stdout empty.
    """

    def __init__(self, headers: tuple[str, ...]) -> None:
        self.headers = headers
        self._held: list[tuple[str, ...]] | None = []
        self._widths: list[int] = []

    def add(self, cells: tuple[str, ...]) -> None:
        if self._held is None:
            self._write_row(cells)
            return
        self._held.append(cells)
        if len(self._held) >= TABLE_SIZING_ROWS:
            self.flush()

    def flush(self) -> None:
        if self._held is None:
            return
        rows, self._held = self._held, None
        self._widths = [
            min(MAX_COLUMN, max(len(row[column]) for row in [self.headers, *rows]))
            for column in range(len(self.headers) - 1)
        ]
        for row in [self.headers, *rows]:
            self._write_row(row)

    def _write_row(self, cells: tuple[str, ...]) -> None:
        padded = [cell.ljust(width) for cell, width in zip(cells[:-1], self._widths, strict=True)]
        write("  ".join([*padded, cells[-1]]).rstrip() + "\n")


# ----- projects and jobs --------------------------------------------------------------------


def project_json(project: Project) -> dict[str, Any]:
    return {"id": project.id, "name": project.name, "description": project.description}


def job_json(job: Job) -> dict[str, Any]:
    return {"id": job.id, "name": job.name, "projectId": job.project_id,
            "jobType": job.job_type, "suspended": job.suspended}


def job_type_text(job: Job) -> str:
    """The job's type as the list gives it, and "suspended" where the list says so."""
    return f"{job.job_type} (suspended)" if job.suspended else job.job_type


async def _list(
    args: argparse.Namespace,
    fetch: Callable[[NorthflankClient, str | None], Awaitable[Page[Any]]],
    as_json: Callable[[Any], dict[str, Any]],
    headers: tuple[str, ...],
    cells: Callable[[Any], tuple[str, ...]],
) -> int:
    import json

    from .sanitize import printable

    client = make_client(args)
    table = Table(headers)
    try:
        async for item in paced_walk(lambda cursor: fetch(client, cursor)):
            if args.json:
                write(json.dumps(as_json(item)) + "\n")
            else:
                table.add(tuple(printable(cell) for cell in cells(item)))
    finally:
        await client.aclose()
    if not args.json:
        table.flush()
    sys.stdout.flush()
    return 0


def projects_command(args: argparse.Namespace) -> int:
    """`nf-runs projects`: every project's id and name."""
    def fetch(client: NorthflankClient, cursor: str | None) -> Awaitable[Page[Project]]:
        return client.list_projects(per_page=PAGE_SIZE, cursor=cursor)

    return run_listing(lambda: _list(
        args, fetch, project_json, ("ID", "NAME"),
        lambda project: (project.id, project.name),
    ))


def jobs_command(args: argparse.Namespace) -> int:
    """`nf-runs jobs PROJECT`: every job's id, type and name."""
    def fetch(client: NorthflankClient, cursor: str | None) -> Awaitable[Page[Job]]:
        return client.list_jobs(args.project, per_page=PAGE_SIZE, cursor=cursor)

    return run_listing(lambda: _list(
        args, fetch, job_json, ("ID", "TYPE", "NAME"),
        lambda job: (job.id, job_type_text(job), job.name),
    ))
