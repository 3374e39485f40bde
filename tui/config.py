"""Token and settings resolution, with every file and variable checked before it is used.

The token comes from the first of: `--token-file PATH`, a Northflank CLI context named with
`--context` (or $NF_RUNS_CONTEXT, or `context` in settings.toml), env `NORTHFLANK_API_TOKEN`
(or `NF_API_TOKEN`), the current context of the Northflank CLI's `~/.northflank/config.json`,
then nf-runs' own config file. The base URL likewise from `--api-url`, the named context's
`host`, env `NORTHFLANK_API_URL`, the current context's `host`, nf-runs' config, else the
public API.

Everything here is outside input: a file may be huge, binary, a directory, a FIFO nobody
writes to, or JSON nested a million deep; a token may hold a newline (a second header line)
or a space. Each problem is a one-line `ConfigError` that says what is wrong and where, and
never shows the token.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import select
import stat
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from .api.client import DEFAULT_API_URL, check_base_url, is_loopback
from .api.errors import ConfigError
from .contexts import FIELDS, CliContexts, NorthflankContext, parse_contexts, shown_name
from .sanitize import printable

TOKEN_ENV_VARS = ("NORTHFLANK_API_TOKEN", "NF_API_TOKEN")
URL_ENV_VAR = "NORTHFLANK_API_URL"

TOKEN_FILE_LIMIT = 64 * 1024  # bytes read from a token file at most: a token is < 1 KiB
CONFIG_FILE_LIMIT = 1024 * 1024  # bytes read from a config.json at most
TOKEN_MAX_LENGTH = 8192  # characters; servers refuse header lines much longer than this
PIPE_DEADLINE = 5.0  # seconds to wait for a token piped in (`--token-file <(pass show nf)`)

NO_TOKEN_HELP = (
    "No Northflank API token found. Provide one of:\n"
    "  --token-file PATH               a file holding the token\n"
    "  NORTHFLANK_API_TOKEN=...        (or NF_API_TOKEN) in the environment\n"
    "  northflank login                the Northflank CLI's saved context\n"
    "  {config}  with {{\"token\": \"...\"}}\n"
    "or try the demo, no account needed:  nf-runs --demo"
)

Environ = Mapping[str, str]


class MissingTokenError(ConfigError):
    """No token anywhere: the dashboard shows its setup page for this one, not an error."""


class _Unreadable(Exception):
    """Why a file cannot be used, in a few words (the caller says which file)."""


# ----- where files are --------------------------------------------------------------------


def home_dir(env: Environ | None = None) -> Path | None:
    """The user's home directory, or None: never a relative path (that would be the cwd)."""
    environ = os.environ if env is None else env
    candidates = [environ.get("HOME", "")]
    if sys.platform == "win32":
        candidates.append(environ.get("USERPROFILE", ""))
    else:
        try:
            import pwd

            candidates.append(pwd.getpwuid(os.getuid()).pw_dir)
        except (ImportError, KeyError, OSError):
            pass
    for candidate in candidates:
        if candidate and os.path.isabs(candidate):
            return Path(candidate)
    return None


def env_dir(name: str, env: Environ | None = None) -> Path | None:
    """An XDG-style directory variable; a relative or empty value is ignored (XDG says so)."""
    value = (os.environ if env is None else env).get(name, "")
    return Path(value) if value and os.path.isabs(value) and "\0" not in value else None


def app_config_dir(env: Environ | None = None) -> Path | None:
    """The platform's config directory for nf-runs (None without a home directory)."""
    environ = os.environ if env is None else env
    home = home_dir(environ)
    if sys.platform == "win32":
        base = env_dir("APPDATA", environ) or (home / "AppData" / "Roaming" if home else None)
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support" if home else None
    else:
        base = env_dir("XDG_CONFIG_HOME", environ) or (home / ".config" if home else None)
    return base / "nf-runs" if base else None


def app_cache_dir(env: Environ | None = None) -> Path | None:
    """The platform's cache directory for nf-runs (None without a home directory)."""
    environ = os.environ if env is None else env
    home = home_dir(environ)
    if sys.platform == "win32":
        base = env_dir("LOCALAPPDATA", environ) or (home / "AppData" / "Local" if home else None)
    elif sys.platform == "darwin":
        base = home / "Library" / "Caches" if home else None
    else:
        base = env_dir("XDG_CACHE_HOME", environ) or (home / ".cache" if home else None)
    return base / "nf-runs" if base else None


def app_config_path(env: Environ | None = None) -> Path | None:
    folder = app_config_dir(env)
    return folder / "config.json" if folder else None


def northflank_cli_config_path(env: Environ | None = None) -> Path | None:
    home = home_dir(env)
    return home / ".northflank" / "config.json" if home else None


# ----- reading files ----------------------------------------------------------------------


def read_limited(path: Path, limit: int, *, allow_pipe: bool = False) -> bytes | None:
    """At most `limit` bytes of a file; None when it does not exist.

    Opened non-blocking, so a FIFO nobody writes to cannot hang the start; a pipe (when
    allowed) is read until EOF for at most PIPE_DEADLINE seconds.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except IsADirectoryError:
        raise _Unreadable("is a directory") from None
    except PermissionError:
        raise _Unreadable("cannot be read (permission denied)") from None
    except (OSError, ValueError) as error:
        raise _Unreadable(f"cannot be read ({_reason(error)})") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise _Unreadable("is a directory")
        is_pipe = stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)
        if not (stat.S_ISREG(mode) or (allow_pipe and is_pipe)):
            raise _Unreadable("is not a regular file")
        data = _read_fd(fd, limit, deadline=time.monotonic() + PIPE_DEADLINE)
    except OSError as error:
        raise _Unreadable(f"cannot be read ({_reason(error)})") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise _Unreadable(f"is larger than {limit // 1024} KiB")
    return data


def _read_fd(fd: int, limit: int, *, deadline: float) -> bytes:
    """Up to `limit + 1` bytes (one more tells "too large"), waiting on a pipe until `deadline`."""
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        try:
            chunk = os.read(fd, min(65536, limit + 1 - size))
        except BlockingIOError:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _Unreadable(f"gave no data within {PIPE_DEADLINE:.0f} s") from None
            select.select([fd], [], [], left)
            continue
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _reason(error: BaseException) -> str:
    text = error.strerror if isinstance(error, OSError) and error.strerror else type(error).__name__
    return printable(str(text))[:80]


def _load_json_object(path: Path) -> dict[str, Any] | None:
    """A JSON object from a file; None when the file does not exist."""
    data = read_limited(path, CONFIG_FILE_LIMIT)
    if data is None:
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _Unreadable("is not UTF-8 text") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise _Unreadable(f"is not valid JSON (line {error.lineno}, column {error.colno})"
                          ) from None
    except RecursionError:
        raise _Unreadable("is not valid JSON (nested too deeply)") from None
    except ValueError:  # e.g. an integer of more digits than Python converts
        raise _Unreadable("is not valid JSON") from None
    if not isinstance(value, dict):
        raise _Unreadable("is not a JSON object")
    return value


# ----- checking values --------------------------------------------------------------------


def check_token(value: str, where: str) -> str:
    """The token stripped of surrounding whitespace, or a ConfigError that never shows it.

    A token is one word of printable ASCII: anything else would be refused by the server
    as a different token, or (a newline) would end the Authorization header early.
    """
    token = value.strip()
    problem = None
    if not token:
        problem = "is empty"
    elif len(token) > TOKEN_MAX_LENGTH:
        problem = f"is longer than {TOKEN_MAX_LENGTH} characters"
    elif "\n" in token or "\r" in token:
        problem = "has more than one line"
    elif any(_is_control(char) for char in token):
        problem = "contains a control character"
    elif any(char.isspace() for char in token):
        problem = "contains whitespace"
    elif not token.isascii():
        problem = "contains a non-ASCII character"
    if problem:
        raise ConfigError(f"The token in {where} {problem}: it must be the token alone, "
                          "one word of printable ASCII")
    return token


def _is_control(char: str) -> bool:
    """C0 (but tab), DEL and C1: what a terminal or an HTTP header would act on."""
    code = ord(char)
    return (code < 0x20 and char != "\t") or 0x7F <= code < 0xA0


_HOST_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?", re.IGNORECASE)


def check_api_url(value: str, where: str) -> str:
    """A usable API base URL (https:// added when there is no scheme), or a ConfigError."""
    url = value.strip()

    def bad(problem: str) -> ConfigError:
        return ConfigError(f"The API URL in {where} {problem}")

    if not url:
        raise bad("is empty")
    if any(char.isspace() or not char.isprintable() for char in url):
        raise bad("contains a space or a control character")
    scheme_given = "://" in url
    if not scheme_given:
        url = "https://" + url
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        netloc = url.split("://", 1)[1].split("/", 1)[0]
        after_host = netloc.rpartition("]")[2] if "]" in netloc else netloc
        if "[" not in after_host and after_host.rpartition(":")[2].isdigit():
            raise bad("has a port out of range (1-65535)") from None
        raise bad("is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise bad("must start with https:// (or http:// for a server on this machine)")
    if "@" in parts.netloc:
        raise bad("must not contain a user name or password")
    if port == 0:
        raise bad("has a port out of range (1-65535)")
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise bad("must not have a query (?) or a fragment (#)")
    if not parts.hostname:
        raise bad("has no host name")
    try:
        raw_host = httpx.URL(url).raw_host.decode("ascii")
    except (httpx.InvalidURL, ValueError, UnicodeError):
        raise bad("is not a valid URL") from None
    if not _is_ip(raw_host):
        labels = raw_host.removesuffix(".").split(".")
        if len(raw_host) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
            raise bad(f"has an invalid host name ({printable(parts.hostname)[:80]})")
    if not scheme_given and is_loopback(raw_host):
        # A server on this machine may speak either (the simulator speaks http): guessing
        # https would only end in "Cannot connect".
        host = printable(url.split("://", 1)[1])[:200]
        raise bad(f"has no scheme: write http://{host} (or https://{host})")
    path = parts.path.rstrip("/")
    if path:
        base = printable(f"{parts.scheme}://{parts.netloc}")[:200]
        if path.lower() == "/v1":
            raise bad(f"ends in /v1: write {base} (nf-runs adds /v1 itself)")
        raise bad(f"has a path ({printable(path)[:60]}): write {base}, without a path")
    return check_base_url(url)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


# ----- the two config files ---------------------------------------------------------------


def _own_config(path: Path | None) -> dict[str, str]:
    """nf-runs' own config: ours, so any problem in it is an error."""
    if path is None:
        return {}
    try:
        config = _load_json_object(path)
    except _Unreadable as problem:
        raise ConfigError(f"The nf-runs config file {path} {problem}") from None
    settings: dict[str, str] = {}
    for key in ("token", "api_url", "team"):
        value = (config or {}).get(key)
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"The nf-runs config file {path}: \"{key}\" must be a string")
        if _text(value):
            settings[key] = str(value)
    return settings


def load_cli_contexts(path: Path | None) -> CliContexts:
    """The Northflank CLI's contexts (someone else's file: lenient; `problem` says why it
    could not be read at all)."""
    if path is None:
        return CliContexts()
    try:
        config = _load_json_object(path) or {}
    except _Unreadable as problem:
        return CliContexts(path, problem=f"The Northflank CLI config {path} {problem}")
    return parse_contexts(path, config)


# ----- resolution -------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """What the app and the CLI need to reach the API, and where each part came from.
    `repr` never shows the token."""

    api_url: str
    token: str | None
    token_source: str
    team: str | None = None
    project: str | None = None
    job: str | None = None
    warnings: tuple[str, ...] = ()
    context: str | None = None  # the Northflank CLI context whose token is used
    api_url_source: str = "default"
    team_source: str = "default"
    contexts: CliContexts = field(default_factory=CliContexts)

    def __repr__(self) -> str:
        token = "set" if self.token else "none"
        return (
            f"Settings(api_url={self.api_url!r}, token={token}, source={self.token_source!r}, "
            f"team={self.team!r}, project={self.project!r}, job={self.job!r}, "
            f"context={self.context!r})"
        )

    def require_token(self) -> str:
        if not self.token:
            config = app_config_path() or "an nf-runs config.json"
            raise MissingTokenError(NO_TOKEN_HELP.format(config=config))
        return self.token


def read_token_file(token_file: str) -> str:
    """The token in a file (or a pipe), checked; a ConfigError says what is wrong."""
    path = Path(token_file).expanduser()
    where = f"the token file {printable(token_file)[:200]}"
    try:
        data = read_limited(path, TOKEN_FILE_LIMIT, allow_pipe=True)
    except _Unreadable as problem:
        raise ConfigError(f"Cannot use {where}: it {problem}") from None
    if data is None:
        raise ConfigError(f"Cannot read {where}: no such file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"Cannot use {where}: it is not UTF-8 text") from None
    if not text.strip():
        raise ConfigError(f"Cannot use {where}: it is empty")
    return check_token(text, where)


def resolve_settings(
    *,
    api_url: str | None = None,
    token_file: str | None = None,
    team: str | None = None,
    context: str | None = None,
    context_from: str = "--context",
    env: dict[str, str] | None = None,
    cli_config: Path | None = None,
    app_config: Path | None = None,
) -> Settings:
    """Resolve the token, URL, team and default project/job; the first source found wins.

    A context named (`context`, from `context_from`: --context, $NF_RUNS_CONTEXT or the
    settings file) gives its token and host ahead of the environment's; the flags still win.
    An unknown name is an error from --context, a warning (the current context is used)
    from elsewhere.
    """
    environ = dict(os.environ) if env is None else env
    cli_path = cli_config or northflank_cli_config_path(environ)
    own_path = app_config or app_config_path(environ)
    contexts = load_cli_contexts(cli_path)
    own = _own_config(own_path)
    warnings: list[str] = []

    named: NorthflankContext | None = None
    if context is not None:
        named = contexts.get(context)
        if named is None or not named.token:
            problem = (contexts.unknown(context) if named is None else
                       f'The Northflank CLI context "{shown_name(context)}" has no token')
            if context_from == "--context":
                raise ConfigError(problem)
            warnings.append(f"{problem} ({context_from}); using the current context")
            named = None
    chosen = named or (None if contexts.problem else contexts.current_context)
    values = {} if chosen is None else {
        key: value for key in FIELDS if (value := getattr(chosen, key)) is not None
    }
    cli_where = f"the Northflank CLI config {cli_path}"
    context_source = f"Northflank CLI context {shown_name(chosen.name)}" if chosen else ""

    token: str | None = None
    source = "none"
    if token_file:
        token, source = read_token_file(token_file), f"token file {token_file}"
    if token is None and named is not None:
        token, source = check_token(values["token"], cli_where), context_source
    if token is None:
        for name in TOKEN_ENV_VARS:
            if _text(environ.get(name)):
                token, source = check_token(environ[name], f"${name}"), f"${name}"
                break
    if token is None and "token" in values:
        token, source = check_token(values["token"], cli_where), context_source
    if token is None and contexts.problem:
        # The user probably relies on `northflank login`: say why it did not count.
        raise ConfigError(contexts.problem)
    if token is None and "token" in own:
        token, source = check_token(own["token"], f"{own_path}"), str(own_path)
    if contexts.problem:
        warnings.append(f"{contexts.problem}; ignored it")
    if chosen is not None and chosen.ignored:
        fields = ", ".join(f'"{key}"' for key in chosen.ignored)
        warnings.append(f"{cli_where}: ignored {fields} of the "
                        f"{'named' if named else 'current'} context (not a string)")

    url, url_source = DEFAULT_API_URL, "default"
    candidates = [(api_url, "--api-url"), (environ.get(URL_ENV_VAR), f"${URL_ENV_VAR}"),
                  (values.get("host"), context_source), (own.get("api_url"), f"{own_path}")]
    if named is not None:  # a context asked for by name: its host before the environment's
        candidates[1], candidates[2] = candidates[2], candidates[1]
    for value, where in candidates:
        if value is not None and (value.strip() or where == "--api-url"):
            shown_where = cli_where if where == context_source else where
            url, url_source = check_api_url(value, shown_where), where
            break
    team_value, team_source = (_text(team), "--team") if _text(team) else (
        (own["team"], str(own_path)) if own.get("team") else (None, "default"))
    return Settings(
        api_url=url, token=token, token_source=source, team=team_value,
        project=values.get("project"), job=values.get("job"), warnings=tuple(warnings),
        context=chosen.name if chosen is not None and source == context_source else None,
        api_url_source=url_source, team_source=team_source, contexts=contexts,
    )
