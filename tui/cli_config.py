"""`nf-runs config`: the settings file's path and every setting in force, with where it came
from (a flag, the environment, the file, the default); the token only as "set" or "not set"
and its source. `--json` for scripts. Also the settings' own flags, shared with the dashboard.

Only the standard library is imported at the top (tui.__main__ imports this before it can
catch a Ctrl-C).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from .cli_commands import say, write

if TYPE_CHECKING:
    from collections.abc import Callable

    from .config import Settings
    from .settings import Resolved

TIME_MODES = ("relative", "local", "utc")  # (tui.settings.TIME_MODES, without its imports)


def _theme(value: str) -> str:
    from textual.theme import BUILTIN_THEMES

    if value not in BUILTIN_THEMES:
        raise argparse.ArgumentTypeError(
            f"not a theme: {value!r} (one of {', '.join(sorted(BUILTIN_THEMES))})")
    return value


def add_settings_options(
    parser: argparse.ArgumentParser,
    refresh: Callable[[str], float],
    percent: Callable[[str], float],
    *,
    suppress: bool,
) -> None:
    """The flags of the settings kept in settings.toml: given, each beats its variable and
    the file. Their defaults are None (or SUPPRESS in a subcommand): "not given"."""
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument("--refresh", type=refresh, default=default, metavar="SECONDS",
                        help="wished-for refresh interval of active runs (default 5, min 1; "
                             "$NF_RUNS_REFRESH)")
    parser.add_argument("--budget", type=percent, default=default, metavar="PERCENT",
                        help="share of the hourly API quota nf-runs may use (default 50; "
                             "$NF_RUNS_BUDGET)")
    parser.add_argument("--theme", type=_theme, default=default, metavar="NAME",
                        help="colour theme, e.g. textual-dark, nord, gruvbox "
                             "(default textual-dark; $NF_RUNS_THEME)")
    parser.add_argument("--time-mode", choices=TIME_MODES, default=default,
                        help="how start times show (default relative; $NF_RUNS_TIME_MODE)")


def add_config_command(
    sub: Any,  # argparse's _SubParsersAction, private in typeshed
    common_options: Callable[[argparse.ArgumentParser], None],
    refresh: Callable[[str], float],
    percent: Callable[[str], float],
) -> None:
    config = sub.add_parser(
        "config", help="show the settings file and the settings in force",
        description="Print the path of the settings file and every setting in force with "
                    "where it came from: a flag, the environment (NF_RUNS_*), the file, or "
                    "the default. The token is shown only as set or not set.",
    )
    common_options(config)
    add_settings_options(config, refresh, percent, suppress=True)
    config.add_argument("--board", action=argparse.BooleanOptionalAction,
                        default=argparse.SUPPRESS, help="as the dashboard's --board")
    config.add_argument("--project", default=argparse.SUPPRESS, metavar="P",
                        help="as the dashboard's --project (the board's project)")
    config.add_argument("--json", action="store_true", help="one JSON object")


def _json_value(value: object) -> object:
    from .settings import LastJob

    if isinstance(value, LastJob):
        return {"project": value.project, "job": value.job, "context": value.context}
    return value


def _rows(user: Resolved, connection: Settings) -> list[tuple[str, object, str, str]]:
    """(name, value for JSON, value as shown, source) of every setting, then the connection."""
    from .contexts import shown_name
    from .sanitize import printable
    from .settings import KEYS, shown_value

    rows = []
    for key in KEYS:
        value = getattr(user.settings, key.name)
        source = user.sources[key.name]
        if key.name == "context" and value is None and connection.context is not None:
            value, source = connection.context, "Northflank CLI (its current context)"
        shown = shown_name(value) if key.name == "context" and value else shown_value(value)
        rows.append((key.name, _json_value(value), shown, source))
    token = "set" if connection.token else "not set"
    token_source = connection.token_source if connection.token else "none found"
    rows += [
        ("api_url", connection.api_url, printable(connection.api_url),
         connection.api_url_source),
        ("team", connection.team, printable(connection.team or "-"), connection.team_source),
        ("token", token, token, token_source),
    ]
    return [(name, value, shown, printable(source)) for name, value, shown, source in rows]


def config_command(args: argparse.Namespace) -> int:
    """`nf-runs config [--json]`."""
    from .contexts import shown_name
    from .crash import register_secret
    from .sanitize import printable
    from .settings import resolve_connection

    user, connection = resolve_connection(args)
    register_secret(connection.token)
    warnings = [*user.warnings, *connection.warnings]
    for warning in warnings:
        say(f"nf-runs: warning: {printable(warning)}")
    rows = _rows(user, connection)
    contexts = connection.contexts
    path = user.path
    if args.json:
        document = {
            "file": str(path) if path else None,
            "fileExists": user.file.exists,
            "settings": {name: {"value": value, "source": source}
                         for name, value, _shown, source in rows},
            "contexts": list(contexts.names),
            "currentContext": contexts.current,
            "warnings": warnings,
        }
        write(json.dumps(document) + "\n")
        sys.stdout.flush()
        return 0
    state = "" if user.file.exists else " (not created yet: nf-runs writes it as you go)"
    lines = [f"Settings file: {printable(str(path))}{state}" if path else
             "Settings file: none (no home directory)"]
    width = max(len(name) for name, *_rest in rows)
    value_width = min(40, max(len(shown) for _name, _value, shown, _source in rows))
    lines += ["", f"{'SETTING':<{width}}  {'VALUE':<{value_width}}  FROM"]
    lines += [f"{name:<{width}}  {shown:<{value_width}}  {source}"
              for name, _value, shown, source in rows]
    if contexts.contexts:
        names = ", ".join(shown_name(name) + (" (current)" if name == contexts.current else "")
                          for name in contexts.names)
        lines += ["", f"Northflank CLI contexts ({printable(str(contexts.path))}): {names}"]
    write("\n".join(lines) + "\n")
    sys.stdout.flush()
    return 0
