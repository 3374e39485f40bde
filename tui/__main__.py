"""The `nf-runs` command: the dashboard, `nf-runs simulate` and `nf-runs runs`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from . import __version__
from .api.client import NorthflankClient, walk_pages
from .api.errors import BudgetExhaustedError, ConfigError, NorthflankError
from .api.models import JobRun, Page, format_timestamp
from .config import Settings, resolve_settings
from .formatting import format_duration, printable

# `runs --all` waits out the client's burst cap (at most a minute), not the hour's share.
CLI_MAX_BUDGET_WAIT = 60.0


def _common_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """Options every command takes, before or after its own arguments.

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


def _percent(value: str) -> float:
    number = float(value)
    if not 0 < number <= 100:
        raise argparse.ArgumentTypeError("must be a percentage in (0, 100]")
    return number


def _at_least_one(value: str) -> float:
    number = float(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1 second")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nf-runs",
        description="A terminal dashboard for Northflank job runs.",
        epilog="Try it without an account: nf-runs --demo",
    )
    parser.add_argument("--version", action="version", version=f"nf-runs {__version__}")
    _common_options(parser, suppress=False)
    parser.add_argument("--demo", action="store_true",
                        help="start the built-in API simulator and watch it (no account needed)")
    parser.add_argument("--project", metavar="P", help="open on this project")
    parser.add_argument("--job", metavar="J", help="open on this job's runs")
    parser.add_argument("--refresh", type=_at_least_one, default=5.0, metavar="SECONDS",
                        help="wished-for refresh interval of active runs (default 5, min 1)")
    parser.add_argument("--budget", type=_percent, default=50.0, metavar="PERCENT",
                        help="share of the hourly API quota nf-runs may use (default 50)")
    parser.add_argument("--read-only", action="store_true",
                        help="never start or abort runs")
    parser.add_argument("--bell", action="store_true",
                        help="ring the terminal bell when a watched run fails")
    parser.add_argument("--seed", type=int, default=7, help=argparse.SUPPRESS)
    parser.add_argument("--speed", type=float, default=1.0, help=argparse.SUPPRESS)

    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    simulate = sub.add_parser("simulate", help="serve the simulated Northflank API")
    _common_options(simulate, suppress=True)
    simulate.add_argument("--host", default="127.0.0.1")
    simulate.add_argument("--port", type=int, default=8080)
    simulate.add_argument("--seed", type=int, default=7, dest="sim_seed")
    simulate.add_argument("--speed", type=float, default=1.0, dest="sim_speed",
                          help="simulated seconds per real second (default 1)")
    simulate.add_argument("--token", default=None, help="token the simulator accepts")
    simulate.add_argument("--rate-limit", type=int, default=1000,
                          help="requests per simulated hour (default 1000)")

    runs = sub.add_parser("runs", help="list a job's runs (for scripts)")
    _common_options(runs, suppress=True)
    runs.add_argument("project", help="project id")
    runs.add_argument("job", help="job id")
    amount = runs.add_mutually_exclusive_group()
    amount.add_argument("--limit", type=int, default=50, help="how many runs (default 50)")
    amount.add_argument("--all", action="store_true", help="every run, page by page")
    runs.add_argument("--json", action="store_true", help="one JSON object per line")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    return resolve_settings(api_url=args.api_url, token_file=args.token_file, team=args.team)


def _run_json(run: JobRun, now: datetime) -> dict[str, Any]:
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


async def _list_runs(args: argparse.Namespace) -> int:
    settings = _settings(args)
    client = NorthflankClient(settings.require_token(), settings.api_url, team=settings.team)
    limit = None if args.all else max(0, args.limit)
    per_page = 100 if limit is None or limit > 50 else max(1, limit)
    out = sys.stdout
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
                print(f"nf-runs: {error}", file=sys.stderr)
                await asyncio.sleep(error.retry_in)

    try:
        async for run in walk_pages(fetch, limit=limit):
            now = client.server_now()
            if header:
                # Written with the first row, so an error leaves stdout empty.
                out.write(header)
                header = ""
            if args.json:
                out.write(json.dumps(_run_json(run, now)) + "\n")
            else:
                started = format_timestamp(run.started_at) if run.started_at else "-"
                name = printable(run.run_name)
                status = printable(run.raw_status)
                out.write(
                    f"{status:<9} {name:<44} {started:<20} {format_duration(run.duration(now))}\n"
                )
    finally:
        await client.aclose()
    out.write(header)
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from .simulator import DEFAULT_TOKEN
    from .simulator.server import serve_forever_cli

    return serve_forever_cli(
        host=args.host, port=args.port, seed=args.sim_seed, speed=args.sim_speed,
        token=args.token or DEFAULT_TOKEN, rate_limit=args.rate_limit,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "simulate":
            return _simulate(args)
        if args.command == "runs":
            return asyncio.run(_list_runs(args))
        from .app import run_app

        return run_app(args)
    except NorthflankError as error:
        print(f"nf-runs: {error}", file=sys.stderr)
        return 2 if isinstance(error, ConfigError) else 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
