"""The job index on disk: one JSON file per account in the user's cache directory.

The file is outside input like any other: it may be missing, cut short, huge, nested a
million deep, of the wrong version, copied from another account, or written by someone else
with ids that would steer a request elsewhere. Each of these is one `CacheProblem` (a short
reason); the caller ignores the file and lists again. The token is never in the file: the
file is named by a hash of the API base URL and the team.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import stat
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..api.errors import BadResponseError
from ..api.models import Job, Project
from ..api.urls import id_problem

CACHE_VERSION = 1
# Bytes read from a cache file at most: 20 000 jobs take about 3 MB.
MAX_CACHE_BYTES = 5 * 1024 * 1024


class CacheProblem(Exception):
    """Why a cache file cannot be used, in a few words."""


@dataclass(frozen=True, slots=True)
class CachedProject:
    project: Project
    jobs: tuple[Job, ...]
    stale: bool  # its jobs could not be listed last time: they are from an earlier listing


@dataclass(frozen=True, slots=True)
class CachedIndex:
    listed_at: float  # wall seconds of the last full listing
    truncated: bool  # a cap cut the listing
    projects: tuple[CachedProject, ...]


def account_key(base_url: str, team: str | None) -> str:
    """What names an account's file: a hash of where it lives, never of the token."""
    text = f"{base_url.rstrip('/')}\n{team or ''}"
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:32]


def cache_file(folder: Path, account: str) -> Path:
    return folder / f"jobs-{account}.json"


# ----- writing ------------------------------------------------------------------------------


def _job_json(job: Job) -> dict[str, Any]:
    return {
        "id": job.id, "name": job.name, "jobType": job.job_type, "appId": job.app_id,
        "description": job.description, "tags": list(job.tags), "disabledCI": job.disabled_ci,
        "disabledCD": job.disabled_cd, "suspended": job.suspended,
    }


def encode(index: CachedIndex, account: str) -> bytes:
    body = {
        "version": CACHE_VERSION,
        "account": account,
        "listedAt": index.listed_at,
        "truncated": index.truncated,
        "projects": [
            {"id": entry.project.id, "name": entry.project.name,
             "description": entry.project.description, "stale": entry.stale,
             "jobs": [_job_json(job) for job in entry.jobs]}
            for entry in index.projects
        ],
    }
    # ASCII only: a name holding a lone surrogate (JSON "\ud800") still encodes.
    return json.dumps(body, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def write(path: Path, data: bytes) -> None:
    """Replace the file atomically (a temp file renamed over it), readable by the user only.

    Raises CacheProblem when it cannot be written (a read-only disk, a full one)."""
    if len(data) > MAX_CACHE_BYTES:
        raise CacheProblem(f"it would be larger than {MAX_CACHE_BYTES // (1024 * 1024)} MB")
    temp: str | None = None
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".jobs-", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as out:  # mkstemp: mode 0600 and O_EXCL
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
        temp = None
    except OSError as error:
        raise CacheProblem(_reason(error)) from None
    finally:
        if temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp)


def _reason(error: OSError) -> str:
    return (error.strerror or type(error).__name__)[:80]


# ----- reading ------------------------------------------------------------------------------


def read(path: Path) -> bytes | None:
    """At most MAX_CACHE_BYTES of the file; None when there is none."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) \
        | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as error:  # a symlink (ELOOP), no permission
        raise CacheProblem(f"it cannot be read ({_reason(error)})") from None
    except ValueError:  # a NUL in the path
        raise CacheProblem("it cannot be read (a bad path)") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise CacheProblem("it is not a regular file")  # a FIFO would hang the start
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_CACHE_BYTES:
            chunk = os.read(fd, min(1 << 20, MAX_CACHE_BYTES + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as error:
        raise CacheProblem(f"it cannot be read ({_reason(error)})") from None
    finally:
        os.close(fd)
    if size > MAX_CACHE_BYTES:
        raise CacheProblem(f"it is larger than {MAX_CACHE_BYTES // (1024 * 1024)} MB")
    return b"".join(chunks)


def _checked_id(value: object, what: str) -> str:
    problem = id_problem(value)
    if problem is not None:
        raise CacheProblem(f"a {what} id is unusable ({problem})")
    assert isinstance(value, str)
    return value


def _list(value: object, what: str, cap: int) -> Sequence[object]:
    if not isinstance(value, list):
        raise CacheProblem(f"{what} is not a list")
    if len(value) > cap:
        raise CacheProblem(f"it holds more than {cap} {what}")
    return value


def _project(item: object, max_jobs: int) -> CachedProject:
    if not isinstance(item, Mapping):
        raise CacheProblem("a project is not an object")
    project = Project.from_json(item)
    _checked_id(project.id, "project")
    stale = item.get("stale", False)
    if not isinstance(stale, bool):
        raise CacheProblem("a project's 'stale' is not a boolean")
    jobs: list[Job] = []
    seen: set[str] = set()
    for raw in _list(item.get("jobs"), "jobs", max_jobs):
        if isinstance(raw, Mapping) and "projectId" in raw:
            raise CacheProblem("a job names its own project")  # never written: not ours
        job = Job.from_json(raw, project.id)
        if _checked_id(job.id, "job") in seen:
            raise CacheProblem("a job is listed twice")
        seen.add(job.id)
        jobs.append(job)
    return CachedProject(project, tuple(jobs), stale)


def decode(
    data: bytes, account: str, *, max_projects: int, max_jobs: int, max_project_jobs: int
) -> CachedIndex:
    """The index in a file's bytes, checked as strictly as an API answer; CacheProblem if any
    part is not what this program writes."""
    try:
        body = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise CacheProblem("it is not UTF-8 text") from None
    except RecursionError:
        raise CacheProblem("it is not valid JSON (nested too deeply)") from None
    except ValueError:  # JSONDecodeError, or an integer of more digits than Python converts
        raise CacheProblem("it is not valid JSON") from None
    if not isinstance(body, dict):
        raise CacheProblem("it is not a JSON object")
    if body.get("version") != CACHE_VERSION or isinstance(body.get("version"), bool):
        raise CacheProblem("it was written by another version")
    if body.get("account") != account:
        raise CacheProblem("it belongs to another account")
    listed_at = body.get("listedAt")
    if isinstance(listed_at, bool) or not isinstance(listed_at, (int, float)) \
            or not math.isfinite(listed_at):
        raise CacheProblem("its listing time is not a number")
    truncated = body.get("truncated", False)
    if not isinstance(truncated, bool):
        raise CacheProblem("its 'truncated' is not a boolean")
    projects: list[CachedProject] = []
    seen: set[str] = set()
    total = 0
    try:
        for item in _list(body.get("projects"), "projects", max_projects):
            entry = _project(item, max_project_jobs)
            if entry.project.id in seen:
                raise CacheProblem("a project is listed twice")
            seen.add(entry.project.id)
            total += len(entry.jobs)
            if total > max_jobs:
                raise CacheProblem(f"it holds more than {max_jobs} jobs")
            projects.append(entry)
    except BadResponseError as error:  # a field of the wrong type, in the models' words
        text = str(error).removeprefix("Unexpected API answer: ")
        raise CacheProblem(text) from None
    return CachedIndex(float(listed_at), truncated, tuple(projects))
