"""An unexpected exception: one line on stderr, the whole story in a private file.

The report holds the traceback (no frame locals), versions and platform, never the token:
every registered secret, every token in the environment, and any `Authorization` header or
`Bearer` value is replaced before a byte is written. The file is created 0600 under the
platform's state directory, falling back to the cache directory, then the temp directory.

No Textual import: `nf-runs runs` and `nf-runs simulate` crash through here too.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path

from . import __version__
from .config import TOKEN_ENV_VARS, env_dir, home_dir
from .sanitize import printable

EXIT_CODE = 1
REPORT_LIMIT = 1024 * 1024  # characters of traceback kept in a report at most
MESSAGE_LIMIT = 200  # characters of the exception's message on the one line
KEEP_REPORTS = 20  # older crash-*.txt files in the report folder are removed
REDACTED = "[redacted]"

_secrets: set[str] = set()

# `Authorization: Bearer x`, `'authorization': 'x'`, `Authorization=x`: the value goes.
_AUTH_HEADER = re.compile(r"""(authorization['"]?\s*[:=]\s*['"]?)[^'"\r\n,}]*""", re.IGNORECASE)
_BEARER = re.compile(r"(bearer\s+)[^\s'\",}]+", re.IGNORECASE)


# What Textual's driver writes when it leaves: kitty keys, mouse, paste, focus reports off,
# line wrap on, normal screen, cursor shown.
_LEAVE_APPLICATION_MODE = (
    "\x1b[<u\x1b[?1000l\x1b[?1003l\x1b[?1015l\x1b[?1006l\x1b[?2004l\x1b[?1004l\x1b[?7h"
    "\x1b[?1049l\x1b[?25h"
)


def terminal_restorer() -> Callable[[], None]:
    """A function that puts the terminal back as it is now: tty modes, screen, cursor.

    For an exception that escaped Textual before its driver restored the terminal: it acts
    only when the tty modes differ from now (raw mode left on). A no-op when stdin/stderr are
    not terminals, or on Windows.
    """
    try:
        import termios

        stdin, stderr = sys.__stdin__, sys.__stderr__
        if stdin is None or stderr is None or not (stdin.isatty() and stderr.isatty()):
            return lambda: None
        fd, out = stdin.fileno(), stderr.fileno()
        modes = termios.tcgetattr(fd)
    except Exception:  # no termios (Windows), or termios.error: nothing to restore
        return lambda: None

    def restore() -> None:
        try:
            if termios.tcgetattr(fd) == modes:
                return  # Textual restored it, or never started: leave the screen alone
            termios.tcsetattr(fd, termios.TCSADRAIN, modes)
        except (OSError, ValueError, termios.error):
            return
        with contextlib.suppress(OSError, ValueError):
            os.write(out, _LEAVE_APPLICATION_MODE.encode("ascii"))

    return restore


def register_secret(value: str | None) -> None:
    """A string that must never appear in a crash report (the token)."""
    if value:
        _secrets.add(value)


def _all_secrets(env: Mapping[str, str]) -> list[str]:
    found = set(_secrets)
    for name in TOKEN_ENV_VARS:
        value = env.get(name, "")
        found.update(part for part in (value, value.strip()) if part)
    # repr() doubles backslashes: scrub that spelling too. Longest first, so that a secret
    # containing another is replaced whole.
    found.update(repr(secret)[1:-1] for secret in list(found))
    return sorted(found, key=len, reverse=True)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` without any of `secrets` nor any Authorization/Bearer value."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    text = _AUTH_HEADER.sub(lambda match: match.group(1) + REDACTED, text)
    return _BEARER.sub(lambda match: match.group(1) + REDACTED, text)


def root_error(error: BaseException) -> BaseException:
    """The exception a person should hear about: Textual's WorkerFailed wraps the real one."""
    inner = getattr(error, "error", None)
    if type(error).__name__ == "WorkerFailed" and isinstance(inner, BaseException):
        return inner
    return error


def one_line(error: BaseException, secrets: Iterable[str]) -> str:
    """`ExcType: message`, scrubbed, with no control character, at most MESSAGE_LIMIT long."""
    message = printable(scrub(str(error), secrets)).strip()
    if len(message) > MESSAGE_LIMIT:
        message = message[: MESSAGE_LIMIT - 1] + "…"
    name = type(error).__name__
    return f"{name}: {message}" if message else name


def report_text(error: BaseException, secrets: Iterable[str], now: datetime) -> str:
    """The full report: what ran where, then the traceback (causes included, no locals)."""
    secrets = list(secrets)
    try:
        import textual

        textual_version = str(textual.__version__)
    except Exception:  # a report must not fail on a missing package
        textual_version = "not importable"
    try:
        import httpx

        httpx_version = str(httpx.__version__)
    except Exception:
        httpx_version = "not importable"
    lines = [
        "nf-runs crash report",
        f"time: {now.isoformat(timespec='seconds')}",
        f"nf-runs: {__version__}",
        f"python: {platform.python_version()} ({platform.python_implementation()})",
        f"platform: {platform.platform()}",
        f"textual: {textual_version}",
        f"httpx: {httpx_version}",
        f"error: {one_line(root_error(error), secrets)}",
        "",
    ]
    story = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    inner = root_error(error)
    if inner is not error:
        story += "\nWrapped error:\n" + "".join(
            traceback.format_exception(type(inner), inner, inner.__traceback__)
        )
    if len(story) > REPORT_LIMIT:
        story = story[: REPORT_LIMIT // 2] + "\n[... cut ...]\n" + story[-REPORT_LIMIT // 2 :]
    body = "\n".join(lines) + "\n" + scrub(story, secrets)
    # Safe to `cat` on a terminal: every line's control characters made visible.
    return "\n".join(printable(line) for line in body.split("\n")) + "\n"


def report_dirs(env: Mapping[str, str] | None = None) -> list[Path]:
    """Where a report may go, best first (the temp directory is the caller's last resort)."""
    environ = os.environ if env is None else env
    home = home_dir(environ)
    found: list[Path | None]
    if sys.platform == "win32":
        found = [env_dir("LOCALAPPDATA", environ)]
    elif sys.platform == "darwin":
        found = [home / "Library" / "Logs" if home else None]
    else:
        found = [
            env_dir("XDG_STATE_HOME", environ) or (home / ".local" / "state" if home else None),
            env_dir("XDG_CACHE_HOME", environ) or (home / ".cache" if home else None),
        ]
    return [folder / "nf-runs" for folder in found if folder is not None]


def _write_private(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / name
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", errors="replace") as handle:
        handle.write(text)
    return path


def _prune(folder: Path, keep: int) -> None:
    with contextlib.suppress(OSError):
        reports = sorted(folder.glob("crash-*.txt"), key=lambda path: path.stat().st_mtime)
        for old in reports[:-keep]:
            old.unlink()


def write_report(text: str, now: datetime, env: Mapping[str, str] | None = None) -> Path:
    """Write the report to the first folder that takes it; OSError when none does."""
    name = f"crash-{now.strftime('%Y%m%dT%H%M%SZ')}-{os.getpid()}.txt"
    for folder in report_dirs(env):
        try:
            path = _write_private(folder, name, text)
        except OSError:
            continue
        _prune(folder, KEEP_REPORTS)
        return path
    # The temp directory is shared: mkstemp makes a new 0600 file no one else can plant.
    fd, temp_name = tempfile.mkstemp(prefix="nf-runs-crash-", suffix=".txt")
    with os.fdopen(fd, "w", encoding="utf-8", errors="replace") as handle:
        handle.write(text)
    return Path(temp_name)


def handle_crash(
    error: BaseException,
    *,
    env: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> int:
    """Report `error` (a file and one line on stderr) and give the exit code, EXIT_CODE."""
    environ = os.environ if env is None else env
    moment = now or datetime.now(timezone.utc)
    secrets = _all_secrets(environ)
    summary = "unknown error"
    try:
        summary = one_line(root_error(error), secrets)
        path = write_report(report_text(error, secrets, moment), moment, environ)
        where = f"a full report is in {printable(str(path))}"
    except Exception as failure:  # reporting must never crash in turn
        where = f"no report could be written ({type(failure).__name__})"
    with contextlib.suppress(Exception):
        stream = sys.stderr or sys.__stderr__
        if stream is not None:
            stream.write(f"nf-runs crashed: {summary}; {where}\n")
            stream.flush()
    return EXIT_CODE
