"""The simulated Northflank world: projects, jobs and their runs on a simulated clock.

Nothing runs in the background. Every query first "catches up" to `now()` under one lock:
cron jobs start the runs their schedule made due (`schedule.py`: cron expressions in UTC,
missed fires, concurrency policies), manual jobs the runs "started by hand" at seeded random
times, and a run is concluded once its planned end has passed. Each run's random traits
(duration, outcome, id, name) are derived from a hash of (seed, project, job, sequence
number), so the world is the same for a given seed and start however often, and at whichever
moments, it is looked at.

Runs are stored as three parallel arrays per job (start, planned end, status code); ids and
names are computed on demand, so 100k runs cost a couple of megabytes.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
import uuid
from array import array
from collections import deque
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from .run_output import RunFacts, log_page
from .schedule import CONCURRENCY_POLICIES, Ticks, hand_gap, is_missed

DEFAULT_START = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)

JsonDict = dict[str, Any]

_SUCCESS = 0
_FAILED = 1
_ABORTED = 2  # shown as FAILED; kept apart so that the logs can tell
_MASK24 = (1 << 24) - 1
_MASK48 = (1 << 48) - 1
# Sequence numbers go negative when history is prepended; bias them into 48 unsigned bits.
_SEQ_BIAS = 1 << 47
_MANUAL_GAP = (300.0, 10800.0)  # idle time between two runs of a manual job, seconds
MAX_MISSED_KEPT = 1000  # missed fire times remembered per job
PRESETS = ("demo", "showcase", "board", "hostile", "empty")
# The demo's projects of names that try to break a terminal: in the demo and the tests, not
# in the README's first picture ("showcase": the demo without them).
EDGE_CASE_PROJECTS = ("sandbox", "markup-lab", "empty")


class NotFoundError(KeyError):
    """An unknown project, job or run."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def _date_time(ts: float) -> str:
    # By hand, not strftime: glibc writes year 1 as "1", and the API's years have 4 digits.
    t = time.gmtime(math.floor(ts))
    return (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"
        f"T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
    )


def format_ts(ts: float) -> str:
    """The API's timestamp format: UTC, whole seconds, `Z`."""
    return _date_time(ts) + "Z"


def _format_log_ts(ts: float) -> str:
    millis = int((ts - math.floor(ts)) * 1000)
    return _date_time(ts) + f".{millis:03d}Z"


def _to_ts(value: datetime) -> float:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()


def _job_key(seed: int, project_id: str, job_id: str) -> bytes:
    return hashlib.blake2b(f"{seed}\0{project_id}\0{job_id}".encode(), digest_size=32).digest()


def _draws(key: bytes, seq: int) -> tuple[float, float, float]:
    """Three uniform [0, 1) numbers fixed for one run."""
    digest = hashlib.blake2b(
        seq.to_bytes(8, "big", signed=True), key=key, digest_size=12, person=b"nf-draw"
    ).digest()
    scale = 1.0 / 4294967296.0
    return (
        int.from_bytes(digest[0:4], "big") * scale,
        int.from_bytes(digest[4:8], "big") * scale,
        int.from_bytes(digest[8:12], "big") * scale,
    )


def _feistel_round(key: bytes, index: int, half: int) -> int:
    digest = hashlib.blake2b(
        bytes((index,)) + half.to_bytes(3, "big"), key=key, digest_size=3, person=b"nf-perm"
    ).digest()
    return int.from_bytes(digest, "big")


def _permute(key: bytes, value: int) -> int:
    """A keyed bijection on 48 bits, so a run id can be turned back into its sequence."""
    left, right = value >> 24, value & _MASK24
    for index in range(4):
        left, right = right, left ^ _feistel_round(key, index, right)
    return (left << 24) | right


def _unpermute(key: bytes, value: int) -> int:
    left, right = value >> 24, value & _MASK24
    for index in reversed(range(4)):
        left, right = right ^ _feistel_round(key, index, left), left
    return (left << 24) | right


class _Job:
    """One job and its runs, oldest first; index i holds sequence number first_seq + i."""

    __slots__ = (
        "backoff_limit",
        "codes",
        "created",
        "description",
        "disabled_cd",
        "disabled_ci",
        "ends",
        "every",
        "extra_log_lines",
        "fail_rate",
        "first_seq",
        "id",
        "job_type",
        "job_type_label",
        "key",
        "log_every",
        "miss_rate",
        "missed",
        "name",
        "name_prefixes",
        "names",
        "next_cron",
        "next_hand",
        "pending_skips",
        "policy",
        "project_id",
        "run_duration",
        "run_id_prefix",
        "schedule_label",
        "starts",
        "succeeded_flag",
        "suspended",
        "tags",
        "ticks",
    )

    def __init__(
        self,
        key: bytes,
        project_id: str,
        job_id: str,
        name: str,
        job_type: str,
        ticks: Ticks | None,
        run_duration: tuple[float, float],
        fail_rate: float,
        tags: tuple[str, ...],
        description: str | None,
        suspended: bool,
        backoff_limit: int,
        disabled_ci: bool,
        disabled_cd: bool,
        name_prefixes: tuple[str, ...],
        succeeded_flag: bool,
        job_type_label: str | None = None,
        run_id_prefix: str = "",
        extra_log_lines: tuple[str, ...] = (),
    ) -> None:
        self.key = key
        self.project_id = project_id
        self.id = job_id
        self.name = name
        self.job_type = job_type
        self.ticks = ticks  # a cron job's fire times
        self.run_duration = run_duration
        self.fail_rate = fail_rate
        self.tags = tags
        self.description = description
        self.suspended = suspended
        self.backoff_limit = backoff_limit
        self.disabled_ci = disabled_ci
        self.disabled_cd = disabled_cd
        self.name_prefixes = name_prefixes
        self.succeeded_flag = succeeded_flag
        self.job_type_label = job_type_label  # the jobType shown, when not job_type
        self.run_id_prefix = run_id_prefix  # before every run and container id
        self.extra_log_lines = extra_log_lines  # written by every run after its first lines
        self.log_every: float | None = None  # seconds between body log lines (run_output)
        self.first_seq = 0
        self.starts: array[float] = array("d")
        self.ends: array[float] = array("d")  # planned end; +inf runs until aborted
        self.codes: array[int] = array("B")  # index into World._status_names
        self.names: dict[int, str] = {}  # the few runs started with an explicit name
        self.next_cron: float | None = None
        self.policy = "Allow"  # settings.cron.concurrencyPolicy
        self.miss_rate = 0.0  # share of fires that start no run
        self.pending_skips = 0  # the next fires that start no run
        self.missed: deque[float] = deque(maxlen=MAX_MISSED_KEPT)
        self.every: float | None = None  # a manual job's mean seconds between hand starts
        self.next_hand: float | None = None
        self.created = 0.0
        self.schedule_label: str | None = None  # the schedule shown, when not the real one

    def run_id(self, seq: int) -> str:
        head = _permute(self.key, (seq + _SEQ_BIAS) & _MASK48).to_bytes(6, "big")
        tail = hashlib.blake2b(head, key=self.key, digest_size=10, person=b"nf-uuid").digest()
        return self.run_id_prefix + str(uuid.UUID(bytes=head + tail, version=4))

    def index_of(self, run_id: str) -> int | None:
        """The array index of a run id, or None; O(1) because ids are invertible."""
        if not run_id.startswith(self.run_id_prefix):
            return None
        try:
            parsed = uuid.UUID(run_id[len(self.run_id_prefix) :])
        except (ValueError, TypeError):
            return None
        seq = _unpermute(self.key, int.from_bytes(parsed.bytes[:6], "big")) - _SEQ_BIAS
        index = seq - self.first_seq
        if not 0 <= index < len(self.starts) or self.run_id(seq) != run_id:
            return None
        return index

    def run_name(self, seq: int, start: float) -> str:
        name = self.names.get(seq)
        if name is not None:
            return name
        prefixes = self.name_prefixes or (self.id,)
        prefix = prefixes[seq % len(prefixes)]
        # Like Northflank's ObjectId-style suffix: 8 hex of the start time, 16 of noise.
        noise = hashlib.blake2b(
            seq.to_bytes(8, "big", signed=True), key=self.key, digest_size=8, person=b"nf-name"
        ).hexdigest()
        return f"{prefix}-{int(start) & 0xFFFFFFFF:08x}{noise}"


class World:
    """Projects, jobs and runs on a simulated clock; thread-safe."""

    def __init__(
        self,
        seed: int = 7,
        speed: float = 1.0,
        start: datetime | None = None,
        history: bool = True,
        hostile: bool = False,
        preset: str = "demo",
    ) -> None:
        """A seeded world: `preset` "demo" (`demo_world.py`), "showcase" (the demo without its
        edge-case projects, for the README's pictures), "board" (about 40 jobs of every
        kind, `board_world.py`) or "empty"; `hostile` (or "hostile"), instead, a small world
        whose every id and text carries terminal control sequences (`hostile.py`).
        """
        if speed < 0:
            raise ValueError("speed must be >= 0")
        if preset not in PRESETS:
            raise ValueError(f"preset must be one of {', '.join(PRESETS)}")
        self._lock = threading.RLock()
        self.seed = seed
        self.start = start if start is not None else DEFAULT_START
        self._base = _to_ts(self.start)
        self._anchor = time.monotonic()
        self._projects: dict[str, JsonDict] = {}
        self._jobs: dict[str, dict[str, _Job]] = {}
        self._status_names: list[str] = ["SUCCESS", "FAILED", "FAILED"]
        self._status_codes: dict[str, int] = {"SUCCESS": _SUCCESS, "FAILED": _FAILED}
        # Freeze the clock while seeding so that the seeded world never depends on how long
        # seeding took.
        self._speed = 0.0
        if hostile or preset == "hostile":
            from .hostile import seed_hostile

            seed_hostile(self)
        elif preset == "board":
            from .board_world import seed_board

            seed_board(self, history)
        elif preset in ("demo", "showcase"):
            from .demo_world import seed_demo

            seed_demo(self, history)
            if preset == "showcase":
                for project_id in EDGE_CASE_PROJECTS:
                    self._projects.pop(project_id, None)
                    self._jobs.pop(project_id, None)
        self._anchor = time.monotonic()
        self._speed = float(speed)

    # -- clock ----------------------------------------------------------------------------

    def _now_ts(self) -> float:
        with self._lock:
            return self._base + (time.monotonic() - self._anchor) * self._speed

    def now(self) -> datetime:
        """The simulated time."""
        return datetime.fromtimestamp(self._now_ts(), tz=timezone.utc)

    def now_ts(self) -> float:
        """The simulated time as a POSIX timestamp."""
        return self._now_ts()

    @property
    def speed(self) -> float:
        """Simulated seconds per real second (0 = frozen)."""
        return self._speed

    def set_speed(self, speed: float) -> None:
        """Change the clock rate from now on (0 freezes it; only advance() then moves it)."""
        if speed < 0:
            raise ValueError("speed must be >= 0")
        with self._lock:
            self._base = self._now_ts()
            self._anchor = time.monotonic()
            self._speed = float(speed)

    def advance(self, seconds: float) -> None:
        """Move the clock forward and apply everything due in between."""
        if seconds < 0:
            raise ValueError("the simulated clock only moves forward")
        with self._lock:
            self._base += seconds
            self._catch_up()

    def _catch_up(self) -> float:
        """Start every run due by now (cron fires, hand starts); returns now. Caller holds
        the lock."""
        now = self._now_ts()
        for jobs in self._jobs.values():
            for job in jobs.values():
                while job.next_cron is not None and job.next_cron <= now:
                    fire = job.next_cron
                    job.next_cron = job.ticks.after(fire) if job.ticks is not None else None
                    self._fire(job, fire)
                while job.next_hand is not None and job.next_hand <= now and job.every:
                    start = job.next_hand
                    seq = job.first_seq + self._append(job, start)
                    job.next_hand = start + hand_gap(job.key, seq + 1, job.every)
        return now

    def _fire(self, job: _Job, fire: float) -> None:
        """A cron fire: a new run, unless skipped, missed or forbidden by a running one."""
        running = bool(job.ends) and job.ends[-1] > fire
        if job.pending_skips > 0:
            job.pending_skips -= 1
        elif is_missed(job.key, fire, job.miss_rate) or (running and job.policy == "Forbid"):
            pass
        else:
            if running and job.policy == "Replace":
                job.ends[-1] = max(job.starts[-1], float(math.floor(fire)))
                job.codes[-1] = _ABORTED
            self._append(job, fire)
            return
        job.missed.append(fire)

    # -- building -------------------------------------------------------------------------

    def _code(self, status: str) -> int:
        code = self._status_codes.get(status)
        if code is None:
            if status == "RUNNING":
                raise ValueError("a concluded run cannot have status RUNNING")
            if len(self._status_names) >= 255:
                raise ValueError("too many distinct statuses")
            code = len(self._status_names)
            self._status_names.append(status)
            self._status_codes[status] = code
        return code

    def add_project(self, id: str, name: str, description: str | None = None) -> None:
        """Add (or replace the name of) a project."""
        with self._lock:
            project: JsonDict = {"id": id, "name": name}
            if description is not None:
                project["description"] = description
            self._projects[id] = project
            self._jobs.setdefault(id, {})

    def add_job(
        self,
        project_id: str,
        id: str,
        name: str,
        job_type: str = "manual",
        schedule_seconds: float | None = None,
        run_duration: tuple[float, float] = (10.0, 50.0),
        fail_rate: float = 0.0,
        *,
        tags: Sequence[str] = (),
        description: str | None = None,
        suspended: bool = False,
        backoff_limit: int = 0,
        disabled_ci: bool = False,
        disabled_cd: bool = False,
        run_name_prefixes: Sequence[str] = (),
        succeeded_flag: bool = True,
        history: int = 0,
        job_type_label: str | None = None,
        run_id_prefix: str = "",
        extra_log_lines: Sequence[str] = (),
        cron: str | None = None,
        concurrency_policy: str = "Allow",
        miss_rate: float = 0.0,
        started_every: float | None = None,
        schedule_label: str | None = None,
        log_every: float | None = None,
    ) -> None:
        """Add a job. A cron job fires by `cron` (a 5-field expression or @macro, in UTC) or
        else every `schedule_seconds` (default 60) at multiples of it, from now on unless
        suspended; `miss_rate` of its fires start no run, nor do fires that find a run going
        under concurrency_policy "Forbid" ("Replace" aborts that run). A manual job with
        `started_every` is started by hand about that often (seconds, at seeded random times).
        `history` prepends that many concluded runs.
        `succeeded_flag=False` reports `succeeded: 0` even on SUCCESS, like the doc's example.
        `job_type_label` is the jobType the API shows (default `job_type`), `schedule_label`
        the schedule; `run_id_prefix` goes before every run and container id;
        `extra_log_lines` are in every run's logs; with `log_every` its runs also write a
        line about that often (seconds; `run_output.py`).
        """
        if job_type not in ("manual", "cron"):
            raise ValueError("job_type must be 'manual' or 'cron'")
        low, high = run_duration
        if low < 0 or high < low:
            raise ValueError("run_duration must be (low, high) with 0 <= low <= high")
        policy = {name.lower(): name for name in CONCURRENCY_POLICIES}.get(
            concurrency_policy.lower())
        if policy is None:
            raise ValueError(f"concurrency_policy must be one of {CONCURRENCY_POLICIES}")
        if job_type == "manual" and (cron is not None or miss_rate):
            raise ValueError("only a cron job has a cron schedule or misses fires")
        if job_type == "cron" and started_every is not None:
            raise ValueError("only a manual job is started by hand")
        if started_every is not None and started_every <= 0:
            raise ValueError("started_every must be > 0")
        if cron is not None and schedule_seconds:
            raise ValueError("give cron or schedule_seconds, not both")
        ticks = None
        if job_type == "cron":
            ticks = Ticks(cron) if cron is not None else Ticks(
                interval=float(schedule_seconds) if schedule_seconds else 60.0)
        with self._lock:
            if project_id not in self._projects:
                raise NotFoundError(f"Project {project_id} not found")
            job = _Job(
                key=_job_key(self.seed, project_id, id),
                project_id=project_id,
                job_id=id,
                name=name,
                job_type=job_type,
                ticks=ticks,
                run_duration=(float(low), float(high)),
                fail_rate=float(fail_rate),
                tags=tuple(tags),
                description=description,
                suspended=suspended,
                backoff_limit=backoff_limit,
                disabled_ci=disabled_ci,
                disabled_cd=disabled_cd,
                name_prefixes=tuple(run_name_prefixes),
                succeeded_flag=succeeded_flag,
                job_type_label=job_type_label,
                run_id_prefix=run_id_prefix,
                extra_log_lines=tuple(extra_log_lines),
            )
            job.policy, job.miss_rate, job.schedule_label = policy, miss_rate, schedule_label
            job.log_every = _log_every(log_every)
            self._jobs[project_id][id] = job
            now = self._catch_up()
            job.created = float(math.floor(now))
            if ticks is not None and not suspended:
                # The first tick strictly after now: a job created now has not run yet.
                job.next_cron = ticks.after(now)
            if started_every is not None:
                job.every = float(started_every)
                job.next_hand = now + hand_gap(job.key, len(job.starts), job.every)
            if history:
                self._prepend(job, history, status=None)

    def _job(self, project_id: str, job_id: str) -> _Job:
        jobs = self._jobs.get(project_id)
        if jobs is None:
            raise NotFoundError(f"Project {project_id} not found")
        job = jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"Job {job_id} not found in project {project_id}")
        return job

    def _append(
        self,
        job: _Job,
        start: float,
        duration: float | None = None,
        outcome: str | None = None,
        name: str | None = None,
    ) -> int:
        """Add a run at the head; returns its index. Caller holds the lock."""
        seq = job.first_seq + len(job.starts)
        u_duration, u_outcome, _ = _draws(job.key, seq)
        if duration is None:
            low, high = job.run_duration
            duration = low + (high - low) * u_duration
        if outcome is None:
            code = _FAILED if u_outcome < job.fail_rate else _SUCCESS
        else:
            code = self._code(outcome)
        start = float(math.floor(start))
        end = start + max(0, round(duration)) if math.isfinite(duration) else math.inf
        job.starts.append(start)
        job.ends.append(end)
        job.codes.append(code)
        if name is not None:
            job.names[seq] = name
        return len(job.starts) - 1

    def _prepend(
        self,
        job: _Job,
        count: int,
        status: str | None,
        newest_start: float | None = None,
        clamp: bool = True,
    ) -> None:
        """Add `count` runs before the oldest. `status` None draws from fail_rate.
        With `clamp`, runs that would still be going at now are cut short (they are history).
        """
        if count <= 0:
            return
        now = self._now_ts()
        forced = None if status is None else self._code(status)
        low, high = job.run_duration
        span = high - low
        fail_rate = job.fail_rate
        ticks = job.ticks
        gap_low, gap_span = _MANUAL_GAP[0], _MANUAL_GAP[1] - _MANUAL_GAP[0]
        if job.starts:
            ref = job.starts[0]
        elif ticks is not None:
            ref = ticks.at_or_before(now) or float(math.floor(now))
        else:
            ref = float(math.floor(now))
        # A cron job's history: its fires before ref, newest first, less the missed ones.
        fires = ticks.before(ref) if ticks is not None else None
        starts: list[float] = []
        ends: list[float] = []
        codes: list[int] = []
        key = job.key
        first = job.first_seq
        floor_now = float(math.floor(now))
        for i in range(count):
            seq = first - 1 - i
            u_duration, u_outcome, u_gap = _draws(key, seq)
            duration = float(round(low + span * u_duration))
            if i == 0 and newest_start is not None:
                start = float(math.floor(newest_start))
                fires = ticks.before(start) if ticks is not None else None
            elif fires is not None:
                fire = next((f for f in fires if not is_missed(key, f, job.miss_rate)), None)
                if fire is None:
                    break  # a schedule that fired no earlier
                start = float(fire)
            else:
                start = float(math.floor(ref - duration - gap_low - gap_span * u_gap))
            end = start + duration
            if clamp and end > now:
                end = max(start, floor_now)
            code = (
                forced if forced is not None else (_FAILED if u_outcome < fail_rate else _SUCCESS)
            )
            starts.append(start)
            ends.append(end)
            codes.append(code)
            ref = start
        starts.reverse()
        ends.reverse()
        codes.reverse()
        job.starts = array("d", starts) + job.starts
        job.ends = array("d", ends) + job.ends
        job.codes = array("B", codes) + job.codes
        job.first_seq -= len(starts)

    # -- serialization --------------------------------------------------------------------

    def _run_json(self, job: _Job, index: int, now: float) -> JsonDict:
        seq = job.first_seq + index
        start = job.starts[index]
        end = job.ends[index]
        concluded = end <= now
        status = self._status_names[job.codes[index]] if concluded else "RUNNING"
        run: JsonDict = {
            "id": job.run_id(seq),
            "active": 0 if concluded else 1,
            "backoffLimit": job.backoff_limit,
            "completions": 1 if concluded else 0,
            "concluded": concluded,
            "failed": 1 if concluded and status == "FAILED" else 0,
            "runName": job.run_name(seq, start),
            "status": status,
            "succeeded": 1 if concluded and status == "SUCCESS" and job.succeeded_flag else 0,
            "startedAt": format_ts(start),
        }
        if concluded:
            run["concludedAt"] = format_ts(end)
        else:
            # The doc calls concludedAt required, but an active run has none: vary how that
            # looks so that clients meet all three forms.
            style = seq % 3
            if style == 0:
                run["concludedAt"] = ""
            elif style == 1:
                run["concludedAt"] = None
        return run

    @staticmethod
    def _job_json(job: _Job) -> JsonDict:
        data: JsonDict = {
            "id": job.id,
            "projectId": job.project_id,
            "appId": f"/sim-user/{job.project_id}/{job.id}",
            "name": job.name,
            "tags": list(job.tags),
        }
        if job.description is not None:
            data["description"] = job.description
        data["jobType"] = job.job_type if job.job_type_label is None else job.job_type_label
        data["disabledCI"] = job.disabled_ci
        data["disabledCD"] = job.disabled_cd
        if job.job_type == "cron":
            data["suspended"] = job.suspended
        return data

    @staticmethod
    def _details_json(job: _Job) -> JsonDict:
        """`GET .../jobs/{jobId}` (jobs-logs-metrics.md §1): the list's fields and more;
        `suspended` at the top level, the schedule and policy under settings.cron."""
        data = World._job_json(job)
        created = min(job.created, job.starts[0] - 60.0) if job.starts else job.created
        data["createdAt"] = _format_log_ts(created)
        data["suspended"] = job.suspended
        data["deployment"] = {"region": "europe-west", "docker": {"configType": "default"}}
        data["billing"] = {"deploymentPlan": "nf-compute-20"}
        settings: JsonDict = {"backoffLimit": job.backoff_limit}
        longest = job.run_duration[1]
        if math.isfinite(longest):  # else no limit: the field is left out
            settings["activeDeadlineSeconds"] = max(600, math.ceil(2 * longest))
        if job.ticks is not None:
            # An interval no cron expression can say has no schedule (the doc allows that).
            schedule = job.schedule_label if job.schedule_label is not None else (
                job.ticks.expression)
            cron: JsonDict = {} if schedule is None else {"schedule": schedule}
            cron["concurrencyPolicy"] = job.policy
            settings["cron"] = cron
        data["settings"] = settings
        data["cluster"] = {"id": "nf-europe-west", "name": "nf-europe-west"}
        return data

    # -- queries --------------------------------------------------------------------------

    @property
    def projects(self) -> list[JsonDict]:
        """Every project as the API shows it, in creation order."""
        with self._lock:
            return [dict(project) for project in self._projects.values()]

    def jobs(self, project_id: str) -> list[JsonDict]:
        """The jobs of a project as the API shows them."""
        with self._lock:
            jobs = self._jobs.get(project_id)
            if jobs is None:
                raise NotFoundError(f"Project {project_id} not found")
            return [self._job_json(job) for job in jobs.values()]

    def project_details(self, project_id: str) -> JsonDict:
        """`GET /v1/projects/{id}` (jobs-logs-metrics.md §2): every job, without pagination."""
        with self._lock:
            project = self._projects.get(project_id)
            if project is None:
                raise NotFoundError(f"Project {project_id} not found")
            jobs = []
            for job in self._jobs[project_id].values():
                short = self._job_json(job)
                jobs.append({key: short[key] for key in
                             ("id", "appId", "name", "description", "jobType") if key in short})
            return {**project, "deployment": {"region": "europe-west"},
                    "createdAt": format_ts(self._base - 365 * 86400), "services": [],
                    "jobs": jobs, "addons": []}

    def job(self, project_id: str, job_id: str) -> JsonDict:
        """One job as the API's list of jobs shows it."""
        with self._lock:
            return self._job_json(self._job(project_id, job_id))

    def job_details(self, project_id: str, job_id: str) -> JsonDict:
        """One job as `GET /v1/projects/{p}/jobs/{j}` shows it."""
        with self._lock:
            job = self._job(project_id, job_id)
            self._catch_up()
            return self._details_json(job)

    def run_count(self, project_id: str, job_id: str) -> int:
        """How many runs a job has now."""
        with self._lock:
            job = self._job(project_id, job_id)
            self._catch_up()
            return len(job.starts)

    def runs(self, project_id: str, job_id: str, limit: int | None = None) -> list[JsonDict]:
        """Runs newest first, exactly as the API returns them (all of them unless `limit`)."""
        items, _ = self.runs_page(project_id, job_id, limit if limit is not None else 1 << 62)
        return items

    def runs_page(
        self,
        project_id: str,
        job_id: str,
        per_page: int,
        *,
        offset: int = 0,
        from_seq: int | None = None,
    ) -> tuple[list[JsonDict], int | None]:
        """One page newest first, from `offset` below the head or from sequence `from_seq`
        (inclusive) down. Returns the runs and the sequence number of the next run, if any.
        O(per_page), not O(runs).
        """
        with self._lock:
            job = self._job(project_id, job_id)
            now = self._catch_up()
            size = len(job.starts)
            if from_seq is not None:
                top = min(from_seq - job.first_seq, size - 1)
            else:
                top = size - 1 - offset
            if top < 0:
                return [], None
            bottom = max(top - per_page + 1, 0)
            items = [self._run_json(job, index, now) for index in range(top, bottom - 1, -1)]
            next_seq = job.first_seq + bottom - 1 if bottom > 0 else None
            return items, next_seq

    def run(self, project_id: str, job_id: str, run_id: str) -> JsonDict:
        """One run as the API shows it; NotFoundError if unknown."""
        with self._lock:
            job = self._job(project_id, job_id)
            now = self._catch_up()
            index = job.index_of(run_id)
            if index is None:
                raise NotFoundError(f"Job run {run_id} not found")
            return self._run_json(job, index, now)

    # -- changes --------------------------------------------------------------------------

    def add_runs(
        self, project_id: str, job_id: str, count: int, status: str | None = "SUCCESS"
    ) -> None:
        """Add `count` concluded runs before the oldest one (None: outcome per fail_rate)."""
        with self._lock:
            job = self._job(project_id, job_id)
            self._catch_up()
            self._prepend(job, count, status=status)

    def seed_history(
        self,
        project_id: str,
        job_id: str,
        count: int,
        *,
        status: str | None = None,
        up_to: float | None = None,
    ) -> None:
        """Give a job without runs `count` runs up to `up_to` (POSIX seconds, default now):
        for a cron job the newest starts at its latest fire at or before then that was not
        missed (so it may still be RUNNING), for a manual job its longest duration before
        then. Outcomes by fail_rate unless `status`.
        """
        with self._lock:
            job = self._job(project_id, job_id)
            now = self._catch_up()
            if job.starts:
                raise ValueError("seed_history is for a job without runs (see add_runs)")
            until = now if up_to is None else min(float(up_to), now)
            newest = None
            if job.ticks is not None:
                newest = job.ticks.at_or_before(until)
                fires = job.ticks.before(newest) if newest is not None else iter(())
                for _ in range(MAX_MISSED_KEPT):  # a job missing every fire has no newest
                    if newest is None or not is_missed(job.key, newest, job.miss_rate):
                        break
                    newest = next(fires, None)
            if newest is None:
                newest = until - job.run_duration[1]
            self._prepend(job, count, status=status, newest_start=newest, clamp=False)

    def set_suspended(self, project_id: str, job_id: str, suspended: bool) -> None:
        """Suspend a cron job's schedule (no fires from now on) or resume it (fires after
        now)."""
        with self._lock:
            job = self._job(project_id, job_id)
            now = self._catch_up()
            if job.ticks is None:
                raise ValueError("only a cron job is suspended")
            job.suspended = suspended
            job.next_cron = None if suspended else job.ticks.after(now)

    def skip_fires(self, project_id: str, job_id: str, count: int = 1) -> None:
        """Make the next `count` fires of a cron job start no run (missed runs)."""
        with self._lock:
            job = self._job(project_id, job_id)
            self._catch_up()
            if job.ticks is None:
                raise ValueError("only a cron job has fires to skip")
            job.pending_skips += max(0, count)

    def missed_fires(self, project_id: str, job_id: str) -> list[datetime]:
        """The fire times of a cron job that started no run since it was added (the last
        MAX_MISSED_KEPT), oldest first."""
        with self._lock:
            job = self._job(project_id, job_id)
            self._catch_up()
            return [datetime.fromtimestamp(fire, tz=timezone.utc) for fire in job.missed]

    def start_run(
        self,
        project_id: str,
        job_id: str,
        run_name: str | None = None,
        duration: float | None = None,
        outcome: str | None = "SUCCESS",
    ) -> JsonDict:
        """Start a RUNNING run at the head and return it. `duration` None draws from the
        job's run_duration (math.inf runs until aborted); `outcome` None draws from the
        job's fail_rate.
        """
        with self._lock:
            job = self._job(project_id, job_id)
            now = self._catch_up()
            index = self._append(job, now, duration=duration, outcome=outcome, name=run_name)
            return self._run_json(job, index, now)

    def abort_run(self, project_id: str, job_id: str, run_id: str) -> bool:
        """Conclude a running run as FAILED now; False if it had already concluded."""
        with self._lock:
            job = self._job(project_id, job_id)
            now = self._catch_up()
            index = job.index_of(run_id)
            if index is None:
                raise NotFoundError(f"Job run {run_id} not found")
            if job.ends[index] <= now:
                return False
            job.ends[index] = max(job.starts[index], float(math.floor(now)))
            job.codes[index] = _ABORTED
            return True

    # -- logs, containers, metrics ----------------------------------------------------------

    def set_log_every(self, project_id: str, job_id: str, seconds: float | None) -> None:
        """Make every run of a job write a log line about every `seconds` (None: only the
        few fixed lines)."""
        with self._lock:
            self._job(project_id, job_id).log_every = _log_every(seconds)

    def run_facts(self, project_id: str, job_id: str, run_id: str | None = None) -> RunFacts:
        """What `run_output` needs of a run (the newest when run_id is None), as of now;
        NotFoundError if there is none."""
        with self._lock:
            job = self._job(project_id, job_id)
            now = self._catch_up()
            if run_id is None:
                if not job.starts:
                    raise NotFoundError(f"Job {job_id} has no runs")
                index = len(job.starts) - 1
            else:
                found = job.index_of(run_id)
                if found is None:
                    raise NotFoundError(f"Job run {run_id} not found")
                index = found
            seq = job.first_seq + index
            start = job.starts[index]
            end = job.ends[index]
            code = job.codes[index]
            return RunFacts(
                key=job.key, seq=seq, start=start, end=end, now=now,
                status=self._status_names[code] if end <= now else "RUNNING",
                aborted=code == _ABORTED, name=job.run_name(seq, start),
                container=self._container_id(job, index), backoff_limit=job.backoff_limit,
                extra_lines=job.extra_log_lines, log_every=job.log_every,
                records=_draws(job.key, seq)[2],
            )

    def log_page(
        self,
        project_id: str,
        job_id: str,
        run_id: str | None = None,
        line_limit: int = 100,
        direction: str = "forward",
        start_time: float | None = None,
        end_time: float | None = None,
    ) -> tuple[list[JsonDict], bool]:
        """A range query's lines (those written by now) and whether the window has more."""
        try:
            facts = self.run_facts(project_id, job_id, run_id)
        except NotFoundError:
            if run_id is None:
                self._job(project_id, job_id)  # an unknown job is still not found
                return [], False
            raise
        return log_page(facts, start_time, end_time, line_limit, direction == "backward")

    def logs(
        self,
        project_id: str,
        job_id: str,
        run_id: str | None = None,
        line_limit: int = 100,
        direction: str = "forward",
        start_time: float | None = None,
        end_time: float | None = None,
    ) -> list[JsonDict]:
        """A run's log lines (the newest run when run_id is None) written by now: the
        first `line_limit` in `direction` within the times given."""
        lines, _ = self.log_page(
            project_id, job_id, run_id, line_limit, direction, start_time, end_time
        )
        return lines

    @staticmethod
    def _container_id(job: _Job, index: int) -> str:
        digest = hashlib.blake2b(
            (job.first_seq + index).to_bytes(8, "big", signed=True),
            key=job.key,
            digest_size=8,
            person=b"nf-pod",
        ).hexdigest()
        return f"{job.run_id_prefix}{job.id}-{digest[:10]}-{digest[10:15]}"


def _log_every(seconds: float | None) -> float | None:
    if seconds is None:
        return None
    if not (math.isfinite(seconds) and seconds >= 0.001):
        raise ValueError("log_every must be at least 0.001 s")
    return float(seconds)
