"""Saving a loaded log to a file: where (~/Downloads, else the working directory), under what
name (the run's, made safe for a file name), never over an existing file, and in what form
(one line per log line, control characters made visible: safe to `cat`)."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..api.models import LogLine
from ..api.run_models import format_ms
from ..sanitize import printable

__all__ = ["log_file_lines", "safe_file_stem", "save_folder", "write_new_file"]

MAX_STEM = 100  # characters of a run name kept in a file name
MAX_SUFFIX = 10_000  # name-1 … name-9999: then something is wrong with the folder
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def save_folder(home: Path | None = None, cwd: Path | None = None) -> Path:
    """~/Downloads when it is a folder, else the working directory (as screenshots do)."""
    try:
        downloads = (home or Path.home()) / "Downloads"
    except (RuntimeError, KeyError):  # no home directory to be found
        return cwd or Path.cwd()
    return downloads if downloads.is_dir() else (cwd or Path.cwd())


def safe_file_stem(run_name: str) -> str:
    """The run's name as a file name: letters, digits, '.', '_' and '-' only (a name from the
    API can hold '/', '..', control characters or markup), never hidden, never empty."""
    stem = _UNSAFE.sub("-", run_name).strip("-.")[:MAX_STEM].strip("-.")
    return stem or "run"


def log_file_lines(lines: Iterable[LogLine]) -> Iterable[str]:
    """Each line as "time  container  text\\n": the time in ISO UTC, the text made visible
    (a newline or an escape inside a log line must not break or drive a terminal that shows
    the file), tabs kept."""
    for line in lines:
        when = format_ms(line.ts) if line.ts is not None else "-"
        text = "\t".join(printable(part) for part in line.log.split("\t"))
        yield f"{when}  {printable(line.container_id) or '-'}  {text}\n"


def write_new_file(folder: Path, stem: str, lines: Sequence[LogLine],
                   suffix: str = ".log") -> Path:
    """Write `lines` to folder/stem.log, or stem-1.log, stem-2.log … whichever does not exist
    yet (mode 0600, created exclusively: a file that appears meanwhile is not overwritten either).
    Raises OSError when the folder cannot be written."""
    for number in range(MAX_SUFFIX):
        name = f"{stem}{suffix}" if number == 0 else f"{stem}-{number}{suffix}"
        path = folder / name
        try:
            # Only the user may read it (0600, as settings.toml): logs carry secrets at times.
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        handle = os.fdopen(descriptor, "w", encoding="utf-8", newline="\n")
        try:
            with handle:
                handle.writelines(log_file_lines(lines))
        except BaseException:
            # A half-written file would pass for the log: remove it and say why.
            with contextlib.suppress(OSError):
                os.unlink(path)
            raise
        return path
    raise FileExistsError(f"{MAX_SUFFIX} files named {stem}-N{suffix} already exist in {folder}")

