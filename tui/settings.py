"""The user's settings: `settings.toml` in the platform's config directory, the environment
(`NF_RUNS_*`) and the command line, the stronger first: flags > environment > file > defaults.

The file is the user's, edited by hand too, so it never stops the app: a value that does
not fit is a one-line warning (the file, the key, what is used instead), an unknown key
likewise, and a file that is not TOML one line and the defaults. The app writes it back when
the user changes the theme or the time mode, opens a job or the board (`SettingsFile.save`):
what the file held, with the change, never what a flag or a variable said, never a token.

No Textual here (the theme names are looked up lazily, only to check a theme given).
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .api.urls import id_problem
from .config import (
    CONFIG_FILE_LIMIT,
    Environ,
    Settings,
    _Unreadable,
    app_config_dir,
    read_limited,
)
from .options import DEFAULT_BUDGET_PERCENT, DEFAULT_REFRESH
from .sanitize import printable
from .toml_writer import Table, dumps

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 (pyproject: tomli; python_version < '3.11')
    import tomli as tomllib  # type: ignore[import-not-found]

SETTINGS_FILE = "settings.toml"
DEFAULT_THEME = "textual-dark"
TIME_MODES = ("relative", "local", "utc")
MAX_REFRESH = 24 * 3600.0
MAX_NAME = 200  # characters of a theme or context name
FILE_HEADER = (
    "nf-runs settings (see `nf-runs config`). nf-runs rewrites this file when you change\n"
    "the theme or the time mode, open a job or the board: comments are not kept."
)
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class LastJob:
    """The job last opened, and the Northflank CLI context it was opened in."""

    project: str
    job: str
    context: str | None = None


@dataclass(frozen=True)
class UserSettings:
    """Every setting, each with its default."""

    theme: str = DEFAULT_THEME
    time_mode: str = "relative"
    refresh: float = DEFAULT_REFRESH
    budget: float = DEFAULT_BUDGET_PERCENT
    board: bool = False  # open on the status board
    board_project: str | None = None  # the board's scope: one project, or None for all
    context: str | None = None  # the Northflank CLI context; None: the CLI's current one
    last_job: LastJob | None = None


class Invalid(ValueError):
    """Why a value does not fit its setting, in a few words ("must be ...")."""


# ----- checking each value ------------------------------------------------------------------


def _theme(value: object) -> str:
    if not isinstance(value, str):
        raise Invalid("must be a string")
    from textual.theme import BUILTIN_THEMES  # (only when a theme is given)

    if value not in BUILTIN_THEMES:
        raise Invalid("must be a Textual theme such as textual-dark, nord or gruvbox "
                      "(all: nf-runs --theme help)")
    return value


def _time_mode(value: object) -> str:
    if value not in TIME_MODES:
        raise Invalid(f"must be one of {', '.join(TIME_MODES)}")
    return str(value)


def _number(low: float, high: float, *, low_open: bool, unit: str) -> Callable[[object], float]:
    def check(value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value) or value > high \
                or (value <= low if low_open else value < low):
            raise Invalid(f"must be a number {span}")
        return float(value)

    span = f"in ({low:g}, {high:g}]{unit}" if low_open else f"from {low:g} to {high:g}{unit}"
    return check


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise Invalid("must be true or false")
    return value


def _number_text(text: str) -> object:
    """A variable's number (what is not one is left for the check to refuse)."""
    try:
        return float(text)
    except ValueError:
        return text


def _bool_text(text: str) -> object:
    word = text.lower()
    return word in _TRUE if word in _TRUE + _FALSE else text


def _id(value: object) -> str:
    problem = id_problem(value)
    if problem is not None:
        raise Invalid(f"must be a project id ({problem})")
    return str(value)


def _name(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME:
        raise Invalid(f"must be a name of 1 to {MAX_NAME} characters")
    return value


def _last_job(value: object) -> LastJob:
    if not isinstance(value, dict):
        raise Invalid("must be a table with project and job")
    project, job, context = value.get("project"), value.get("job"), value.get("context")
    if id_problem(project) or id_problem(job):
        raise Invalid("must have a project id and a job id")
    if context is not None and not isinstance(context, str):
        raise Invalid("must name its context as a string")
    return LastJob(str(project), str(job), context)


@dataclass(frozen=True)
class Key:
    """One setting: how its value is checked, and its flag and variable if it has them."""

    name: str
    check: Callable[[object], Any]
    flag: str | None = None
    env: str | None = None
    about: str = ""
    from_env: Callable[[str], object] = str  # a variable's text as the check takes it


KEYS: tuple[Key, ...] = (
    Key("theme", _theme, "--theme", "NF_RUNS_THEME", "Textual theme (the palette's Theme)"),
    Key("time_mode", _time_mode, "--time-mode", "NF_RUNS_TIME_MODE",
        "how start times show: relative, local or utc (the t key)"),
    Key("refresh", _number(1, MAX_REFRESH, low_open=False, unit=" seconds"), "--refresh",
        "NF_RUNS_REFRESH", "wished-for seconds between polls of active runs", _number_text),
    Key("budget", _number(0, 100, low_open=True, unit=" percent"), "--budget",
        "NF_RUNS_BUDGET", "share of the hourly API quota nf-runs may use", _number_text),
    Key("board", _bool, "--board", "NF_RUNS_BOARD", "open on the status board (true or false)",
        _bool_text),
    Key("board_project", _id, "--project", None, "the board's project (none: all)"),
    Key("context", _name, "--context", "NF_RUNS_CONTEXT",
        "Northflank CLI context (none: the CLI's current one)"),
    Key("last_job", _last_job, None, None, "the job opened last (project, job, context)"),
)
KEY_NAMES = tuple(key.name for key in KEYS)
ENV_VARS = {key.env: key.name for key in KEYS if key.env}
# A token is never read from (or written to) this file: say where it goes instead.
SECRET_HINT = "is not read from here (a token goes in --token-file, NORTHFLANK_API_TOKEN or " \
              "`northflank login`)"


def shown_value(value: object) -> str:
    """A setting's value as `nf-runs config` and the warnings show it."""
    if isinstance(value, LastJob):  # (opened again only in its context)
        where = f" ({printable(value.context)[:40]})" if value.context else ""
        return f"{printable(value.project)} / {printable(value.job)}{where}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return "-" if value is None else printable(str(value))


# ----- the file ------------------------------------------------------------------------------


def settings_path(env: Environ | None = None) -> Path | None:
    """`settings.toml` in the platform's config directory (None without a home directory)."""
    folder = app_config_dir(env)
    return folder / SETTINGS_FILE if folder else None


@dataclass(frozen=True)
class FileLayer:
    """What the file says: the values that fit, and its problems."""

    values: Mapping[str, Any]
    problems: tuple[tuple[str | None, str], ...] = ()  # (key or None: the file, reason)
    exists: bool = False


def _parse(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The TOML document of the file ({} when there is none), or None and why not."""
    try:
        data = read_limited(path, CONFIG_FILE_LIMIT)
    except _Unreadable as problem:
        return None, str(problem)
    if data is None:
        return {}, None
    try:
        return tomllib.loads(data.decode("utf-8-sig")), None
    except UnicodeDecodeError:
        return None, "is not UTF-8 text"
    except tomllib.TOMLDecodeError as error:
        return None, f"is not valid TOML ({printable(str(error))[:120]})"
    except (RecursionError, ValueError):  # nested too deeply, a number too long
        return None, "is not valid TOML"


def read_file(path: Path | None) -> FileLayer:
    if path is None:
        return FileLayer({})
    document, problem = _parse(path)
    if document is None:
        return FileLayer({}, ((None, problem or "cannot be read"),), exists=True)
    values: dict[str, Any] = {}
    problems: list[tuple[str | None, str]] = []
    for name, value in document.items():
        key = next((key for key in KEYS if key.name == name), None)
        if "token" in name.lower():
            problems.append((name, SECRET_HINT))
        elif key is None:
            problems.append((name, "is not a setting"))
        else:
            try:
                values[name] = key.check(value)
            except Invalid as reason:
                problems.append((name, str(reason)))
    return FileLayer(values, tuple(problems), exists=path.exists())


# ----- resolution ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Resolved:
    """The settings in force, where each came from ("flag --x", "env NF_RUNS_X", "file",
    "default"), the file's path and the warnings to show."""

    settings: UserSettings
    sources: Mapping[str, str]
    path: Path | None
    file: FileLayer
    warnings: tuple[str, ...] = ()


def resolve(
    flags: Mapping[str, object] | None = None,
    env: Environ | None = None,
    path: Path | None = None,
    *,
    no_file: bool = False,
) -> Resolved:
    """Each setting from the first of: `flags[name]` (not None), its variable, the file
    (`path`, else the platform's; none with `no_file`), its default."""
    environ = os.environ if env is None else env
    file_path = None if no_file else (path or settings_path(environ))
    layer = read_file(file_path)
    shown_path = printable(str(file_path))
    defaults = UserSettings()
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    warnings: list[str] = []
    for key in KEYS:
        flag = (flags or {}).get(key.name)
        if flag is not None:
            values[key.name], sources[key.name] = flag, f"flag {key.flag}"
            continue
        text = environ.get(key.env) if key.env else None
        if text is not None and text.strip():
            try:
                values[key.name] = key.check(key.from_env(text.strip()))
                sources[key.name] = f"env {key.env}"
                continue
            except Invalid as error:
                warnings.append(f"${key.env} {error}; ignored it")
        if key.name in layer.values:
            values[key.name], sources[key.name] = layer.values[key.name], "file"
        else:
            values[key.name], sources[key.name] = getattr(defaults, key.name), "default"
    for name, reason in layer.problems:
        if name is None:
            warnings.append(f"The settings file {shown_path} {reason}; using the defaults")
            continue
        what = f'The settings file {shown_path}: "{printable(name)[:60]}"'
        if name not in KEY_NAMES:
            warnings.append(f"{what} {reason}; ignored it")
        elif sources[name] == "default":
            default = shown_value(getattr(defaults, name))
            warnings.append(f"{what} {reason}; using the default ({default})")
        else:
            warnings.append(f"{what} {reason}; ignored it ({sources[name]} is used)")
    settings = replace(defaults, **values)
    return Resolved(settings, sources, file_path, layer, tuple(warnings))


def flags_from(args: Any) -> dict[str, object]:
    """The settings' flags of parsed CLI arguments (absent or None: not given). A command's
    PROJECT argument is not the board's --project."""
    dashboard = getattr(args, "command", None) in (None, "config")
    return {
        "theme": getattr(args, "theme", None),
        "time_mode": getattr(args, "time_mode", None),
        "refresh": getattr(args, "refresh", None),
        "budget": getattr(args, "budget", None),
        "board": getattr(args, "board", None),
        "board_project": getattr(args, "project", None) if dashboard else None,
        "context": getattr(args, "context", None),
    }


def context_from(source: str, path: Path | None) -> str:
    """Where a context's name came from, as resolve_settings says it (--context: strict)."""
    if source.startswith("flag "):
        return "--context"
    if source.startswith("env "):
        return "$NF_RUNS_CONTEXT"
    return f"the settings file {printable(str(path))}"


def resolve_connection(args: Any, env: Environ | None = None) -> tuple[Resolved, Settings]:
    """The settings in force and the connection (token, URL, team, context) they pick, from
    parsed CLI arguments. A ConfigError says what is wrong with the token, URL or context."""
    from .config import resolve_settings

    user = resolve(flags_from(args), env)
    connection = resolve_settings(
        api_url=getattr(args, "api_url", None), token_file=getattr(args, "token_file", None),
        team=getattr(args, "team", None), context=user.settings.context,
        context_from=context_from(user.sources["context"], user.path),
        env=None if env is None else dict(env),
    )
    return user, connection


# ----- writing -------------------------------------------------------------------------------


class SettingsFile:
    """The app's handle on the file: `save(...)` writes changes over what it holds now."""

    def __init__(self, path: Path | None, *, only: tuple[str, ...] | None = None) -> None:
        self.path = path
        self.only = only  # the settings it may change (the demo: theme and time mode)

    def save(self, **changes: object) -> str | None:
        """Write `changes` (settings' names; None removes one) over the file as it is now
        (another nf-runs may have written it); None when done, else why not (one line)."""
        path = self.path
        if self.only is not None:
            changes = {name: value for name, value in changes.items() if name in self.only}
            if not changes:
                return None
        if path is None:
            return "there is no home directory to keep settings in"
        document, problem = _parse(path)
        if document is None:
            return f"the settings file {printable(str(path))} {problem}: not changed"
        for name, value in changes.items():
            if name not in KEY_NAMES:
                raise ValueError(f"not a setting: {name}")
            if value is None:
                document.pop(name, None)
            elif isinstance(value, LastJob):
                table: Table = {"project": value.project, "job": value.job}
                if value.context is not None:
                    table["context"] = value.context
                document[name] = table
            else:
                document[name] = value
        for name in [name for name in document if "token" in name.lower()]:
            del document[name]
        try:
            write_atomically(path, dumps(document, header=FILE_HEADER))
        except OSError as error:
            reason = printable(error.strerror or type(error).__name__)
            return f"cannot write the settings file {printable(str(path))}: {reason}"
        return None


def write_atomically(path: Path, text: str) -> None:
    """`text` in `path` whole or not at all (a temporary file renamed over it), mode 0600;
    a symbolic link is followed (a dotfiles manager's link stays a link)."""
    import tempfile

    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temporary = tempfile.mkstemp(prefix=".settings-", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as stream:
            if hasattr(os, "fchmod"):
                os.fchmod(stream.fileno(), 0o600)
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
