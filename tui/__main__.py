"""The `nf-runs` command: the dashboard, `nf-runs simulate`, `runs`, and (tui.cli_commands,
tui.cli_watch) `projects`, `jobs` and `watch`.

Whatever happens, the command ends with an exit status and at most a line or two on stderr:
bad settings exit 2 with the reason, API errors exit 1, Ctrl-C exits 130, a closed pipe
(`nf-runs runs | head -1`) is quiet, and an unexpected exception writes a crash report
(tui.crash) and exits 1. No traceback reaches the terminal.

Only the standard library is imported at the top, so that a Ctrl-C while the rest loads is
caught by `main` like any other.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import warnings
from collections.abc import Callable, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

from . import __version__
from .cli_commands import OutputError as CommandOutputError
from .cli_commands import add_commands, jobs_command, projects_command
from .cli_config import add_config_command, add_settings_options, config_command

if TYPE_CHECKING:
    from datetime import datetime

    from .api.models import JobRun
    from .config import Settings

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports it
EXIT_USAGE = 2
MAX_REFRESH = 24 * 3600.0  # seconds: --refresh above a day is surely a typo
MAX_SPEED = 1e6  # simulated seconds per real second
TERMINAL_SIZE_RANGE = range(1, 1001)  # COLUMNS/LINES outside this are ignored
COLOR_SYSTEMS = ("auto", "standard", "256", "truecolor", "windows")  # TEXTUAL_COLOR_SYSTEM


def _watch(args: argparse.Namespace) -> int:
    from .cli_watch import watch_command

    return watch_command(args)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "projects": projects_command, "jobs": jobs_command, "watch": _watch,
    "config": config_command,
}


class OutputError(Exception):
    """Writing the command's output failed (not a closed pipe: a full disk, an I/O error)."""


# ----- argument types -----------------------------------------------------------------------


def _number(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not math.isfinite(number):
        raise argparse.ArgumentTypeError("must be a finite number")
    return number


MAX_GRACE_MINUTES = 24 * 60


def _percent(value: str) -> float:
    number = _number(value)
    if not 0 < number <= 100:
        raise argparse.ArgumentTypeError("must be a percentage in (0, 100]")
    return number


def _refresh(value: str) -> float:
    number = _number(value)
    if not 1 <= number <= MAX_REFRESH:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_REFRESH:.0f} seconds")
    return number


def _grace(value: str) -> float:
    number = _number(value)
    if not 1 <= number <= MAX_GRACE_MINUTES:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_GRACE_MINUTES} minutes")
    return number


def _speed(value: str) -> float:
    number = _number(value)
    if not 0 <= number <= MAX_SPEED:
        raise argparse.ArgumentTypeError(f"must be from 0 to {MAX_SPEED:g}")
    return number


def _whole(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None


def _positive(value: str) -> int:
    number = _whole(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def _port(value: str) -> int:
    number = _whole(value)
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError("must be a port from 0 to 65535")
    return number


def _subcommand_options(parser: argparse.ArgumentParser) -> None:
    _common_options(parser, suppress=True)


def _common_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """Options of the dashboard and every command that calls the API (not `simulate`),
    before or after the command's own arguments.

    The subcommands' copies default to SUPPRESS so that a value given before the subcommand
    is not overwritten by the subparser's default.
    """
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument("--api-url", metavar="URL", default=default,
                        help="API base URL (default: $NORTHFLANK_API_URL, the CLI context, "
                             "else https://api.northflank.com)")
    parser.add_argument("--token-file", metavar="PATH", default=default,
                        help="read the API token from this file")
    parser.add_argument("--team", metavar="TEAM", default=default,
                        help="team id, for org-scoped tokens (/v1/teams/TEAM/...)")
    parser.add_argument("--context", metavar="NAME", default=default,
                        help="the Northflank CLI context to use (default: $NF_RUNS_CONTEXT, "
                             "the settings file, else the CLI's current one)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nf-runs",
        description="A terminal dashboard for Northflank job runs.",
        epilog="Try it without an account: nf-runs --demo. The settings in force and where "
               "they come from: nf-runs config.",
    )
    parser.add_argument("--version", action="version", version=f"nf-runs {__version__}")
    _common_options(parser, suppress=False)
    parser.add_argument("--demo", action="store_true",
                        help="start the built-in API simulator and watch it (no account needed)")
    parser.add_argument("--project", metavar="P",
                        help="open on this project (with the board: show only its jobs)")
    parser.add_argument("--job", metavar="J", help="open on this job's runs")
    add_settings_options(parser, _refresh, _percent, suppress=False)
    parser.add_argument("--read-only", action="store_true",
                        help="never start or abort runs")
    parser.add_argument("--bell", action="store_true",
                        help="ring the terminal bell when a watched run fails")
    parser.add_argument("--board", action=argparse.BooleanOptionalAction, default=None,
                        help="open the status board: every job of every project (or of "
                             "--project) at a glance (--no-board: the job's runs; "
                             "$NF_RUNS_BOARD)")
    parser.add_argument("--notify", action="store_true",
                        help="desktop notifications (OSC 9, 777 and 99) when a job on the "
                             "board fails or misses a run")
    parser.add_argument("--grace", type=_grace, default=None, metavar="MINUTES",
                        help="how late a cron run may start before the board flags it MISSED "
                             "(default: 10%% of its interval, 2 to 15 min)")
    parser.add_argument("--seed", type=_whole, default=7, help=argparse.SUPPRESS)
    parser.add_argument("--speed", type=_speed, default=1.0, help=argparse.SUPPRESS)

    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    simulate = sub.add_parser("simulate", help="serve the simulated Northflank API")
    simulate.add_argument("--host", default="127.0.0.1",
                          help="address to listen on (default 127.0.0.1)")
    simulate.add_argument("--port", type=_port, default=8080,
                          help="port to listen on (default 8080; 0: any free port)")
    simulate.add_argument("--seed", type=_whole, default=7, dest="sim_seed", metavar="SEED",
                          help="seed of the simulated world (default 7)")
    simulate.add_argument("--speed", type=_speed, default=1.0, dest="sim_speed",
                          help="simulated seconds per real second (default 1)")
    simulate.add_argument("--token", default=None, help="token the simulator accepts")
    simulate.add_argument("--rate-limit", type=_positive, default=1000,
                          help="requests per simulated hour (default 1000)")
    simulate.add_argument("--world", choices=("demo", "board"), default="demo",
                          help="demo: a few jobs of every kind; board: 40 jobs in 3 projects "
                               "(cron every minute to daily, manual, suspended, missed runs)")

    runs = sub.add_parser("runs", help="list a job's runs (for scripts)")
    _common_options(runs, suppress=True)
    runs.add_argument("project", help="project id")
    runs.add_argument("job", help="job id")
    amount = runs.add_mutually_exclusive_group()
    amount.add_argument("--limit", type=_positive, default=50,
                        help="how many runs (default 50, at least 1)")
    amount.add_argument("--all", action="store_true", help="every run, page by page")
    runs.add_argument("--json", action="store_true", help="one JSON object per line")
    add_commands(sub, _subcommand_options, _refresh, _percent)
    add_config_command(sub, _subcommand_options, _refresh, _percent)
    return parser


# ----- helpers ------------------------------------------------------------------------------


def _say(line: str) -> None:
    """One line on stderr, if there is a stderr at all."""
    stream = sys.stderr
    if stream is None:
        return
    with contextlib.suppress(Exception):
        stream.write(line + "\n")
        stream.flush()


def _settings(args: argparse.Namespace) -> Settings:
    from .crash import register_secret
    from .settings import resolve_connection

    user, settings = resolve_connection(args)
    register_secret(settings.token)
    for warning in (*user.warnings, *settings.warnings):
        _say(f"nf-runs: warning: {warning}")
    return settings


def terminal_problem() -> str | None:
    """Why the dashboard cannot run here (Textual reads stdin and draws on stderr), or None.

    stdout may go elsewhere (`nf-runs > file`): Textual does not draw on it.
    """
    for name, stream in (("stdin", sys.__stdin__), ("stderr", sys.__stderr__)):
        if stream is None:
            return f"{name} is closed"
        try:
            if not os.isatty(stream.fileno()):
                return f"{name} is not a terminal"
        except (OSError, ValueError, AttributeError):
            return f"{name} is closed"
    return None


def _tty_size() -> os.terminal_size | None:
    """The size the terminal on stdout reports, if it can."""
    try:
        return os.get_terminal_size(sys.__stdout__.fileno())  # type: ignore[union-attr]
    except (OSError, ValueError, AttributeError):
        return None


def tidy_environment(
    environ: MutableMapping[str, str] = os.environ,
    tty_size: Callable[[], os.terminal_size | None] = _tty_size,
) -> None:
    """Drop variables Textual would trust blindly, before it is imported.

    COLUMNS/LINES override the terminal's own size, at start and after every resize. An
    exported value is a stale snapshot (pytest-xdist exports 80x24; so do some shells and
    wrappers), so where the terminal can tell its size they are dropped. Elsewhere an
    absurd value goes too: a huge one made Textual allocate a screen of that size (it hung
    at 100000x100000). An unknown TEXTUAL_COLOR_SYSTEM raises KeyError in Textual's App().
    """
    real_size = tty_size()
    for name in ("COLUMNS", "LINES"):
        value = environ.get(name)
        if value is not None and (
            real_size is not None
            or not (value.isdigit() and int(value) in TERMINAL_SIZE_RANGE)
        ):
            del environ[name]
    if environ.get("TEXTUAL_COLOR_SYSTEM", "auto") not in COLOR_SYSTEMS:
        del environ["TEXTUAL_COLOR_SYSTEM"]


def _quiet_stdout() -> None:
    """After EPIPE: point stdout at /dev/null so that the flush at exit says nothing."""
    with contextlib.suppress(Exception):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


# ----- commands -----------------------------------------------------------------------------


def _run_json(run: JobRun, now: datetime) -> dict[str, Any]:
    from .api.models import format_timestamp

    duration = run.duration(now)
    return {
        "id": run.id,
        "runName": run.run_name,
        "status": run.raw_status,
        "startedAt": format_timestamp(run.started_at) if run.started_at else None,
        "concludedAt": format_timestamp(run.concluded_at) if run.concluded_at else None,
        "durationSeconds": None if duration is None else int(duration.total_seconds()),
        "completions": run.completions,
        "backoffLimit": run.backoff_limit,
    }


def _write(text: str) -> None:
    try:
        sys.stdout.write(text)
    except BrokenPipeError:
        raise
    except OSError as error:
        raise OutputError(error.strerror or type(error).__name__) from None


# `runs --all` waits out the client's burst cap (at most a minute), not the hour's share.
CLI_MAX_BUDGET_WAIT = 60.0


async def _list_runs(args: argparse.Namespace) -> int:
    import asyncio
    import json

    from .api.client import NorthflankClient, walk_pages
    from .api.errors import BudgetExhaustedError
    from .api.models import Page, format_timestamp
    from .formatting import format_duration, printable

    settings = _settings(args)
    client = NorthflankClient(settings.require_token(), settings.api_url, team=settings.team)
    limit = None if args.all else args.limit
    per_page = 100 if limit is None or limit > 50 else limit
    header = "" if args.json else f"{'STATUS':<9} {'RUN':<44} {'STARTED (UTC)':<20} DURATION\n"

    async def fetch(cursor: str | None) -> Page[JobRun]:
        while True:
            try:
                return await client.get_job_runs(
                    args.project, args.job, per_page=per_page, cursor=cursor
                )
            except BudgetExhaustedError as error:
                # The burst cap paces a long walk (--all); the hour's share ends it.
                if error.retry_in > CLI_MAX_BUDGET_WAIT:
                    raise
                _say(f"nf-runs: {error}")
                await asyncio.sleep(error.retry_in)

    try:
        async for run in walk_pages(fetch, limit=limit):
            now = client.server_now()
            if header:
                # Written with the first row, so an error leaves stdout empty.
                _write(header)
                header = ""
            if args.json:
                _write(json.dumps(_run_json(run, now)) + "\n")
            else:
                started = format_timestamp(run.started_at) if run.started_at else "-"
                name = printable(run.run_name)
                status = printable(run.raw_status)
                _write(
                    f"{status:<9} {name:<44} {started:<20} {format_duration(run.duration(now))}\n"
                )
    finally:
        await client.aclose()
    _write(header)
    sys.stdout.flush()
    return 0


def _runs(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    if sys.stdout is None:
        _say("nf-runs: stdout is closed: nowhere to list the runs")
        return EXIT_USAGE

    def interrupted(_signum: int, _frame: object) -> None:
        # A read-only listing: what was printed is flushed, then out at once. Unwinding the
        # event loop could wait on a request the server never answers.
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        os._exit(EXIT_INTERRUPTED)

    with contextlib.suppress(ValueError, OSError):  # ValueError: not the main thread
        signal.signal(signal.SIGINT, interrupted)
    return asyncio.run(_list_runs(args))


def _simulate(args: argparse.Namespace) -> int:
    from .simulator import DEFAULT_TOKEN
    from .simulator.server import serve_forever_cli

    return serve_forever_cli(
        host=args.host, port=args.port, seed=args.sim_seed, speed=args.sim_speed,
        token=args.token or DEFAULT_TOKEN, rate_limit=args.rate_limit, preset=args.world,
    )


def _dashboard(args: argparse.Namespace) -> int:
    problem = terminal_problem()
    if problem:
        _say(f"nf-runs needs a terminal: {problem} (for scripts: nf-runs runs PROJECT JOB)")
        return EXIT_USAGE
    tidy_environment()
    from .app import run_app

    return run_app(args)


def _main(argv: Sequence[str] | None) -> int:
    from .api.errors import ConfigError, NorthflankError
    from .config import MissingTokenError
    from .sanitize import printable

    args = build_parser().parse_args(argv)
    try:
        if args.command == "simulate":
            return _simulate(args)
        if args.command == "runs":
            return _runs(args)
        if args.command in COMMANDS:
            return COMMANDS[args.command](args)
        return _dashboard(args)
    except MissingTokenError as error:
        _say(str(error))  # our own help text, several lines on purpose
        return EXIT_USAGE
    except NorthflankError as error:
        _say(f"nf-runs: {printable(str(error))}")
        return EXIT_USAGE if isinstance(error, ConfigError) else 1
    except (OutputError, CommandOutputError) as error:
        _say(f"nf-runs: cannot write the output: {error}")
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    # After a crash stops the app's loop, Python would print "coroutine
    # 'Header._on_mount.<locals>.set_title' was never awaited" on the terminal, under the
    # one line the crash is told in: Textual's pending work, nothing a user can act on.
    warnings.filterwarnings("ignore", message="coroutine .* was never awaited",
                            category=RuntimeWarning)
    try:
        return _main(argv)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _quiet_stdout()
        return 0
    except Exception as error:  # the last resort: a report, not a traceback
        try:
            from .crash import handle_crash
        except Exception:  # even the reporter cannot load
            _say(f"nf-runs crashed: {type(error).__name__}; no report could be written")
            return 1
        return handle_crash(error)


if __name__ == "__main__":
    sys.exit(main())
