"""`python -m tui.bench board`: the board's planner over a simulated day (no Textual, no HTTP).

The 40-job board world (`World(preset="board")`: 2 cron jobs every minute, 8 every 15 min,
10 hourly or daily, 10 manual ones started by hand about every 2 h, 10 suspended or idle) is
watched for a simulated day on a fake clock at the board's share of the default budget (50 %
of 1000/h), twice, each on a world of its own with the same seed:

- by `tui.watch.planner.BoardPlanner`, as the app's scheduler drives it (a look reads the
  job's first page of 20 runs at that instant and takes no time; details looks read the job);
- by a naive round-robin at the same rate: one job after another, looks evenly spaced (its
  boards know every schedule for free; it never reads details).

For each run started after the start: the delay from its start to the first look that sees it,
and from its conclusion to the first look that sees it concluded; for each fire of the job
that misses runs, the delay to the first look whose row (`tui.watch.board.summarize`) says
MISSED. Same seed, same numbers: the clock is fake and the world is seeded.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Protocol

from .api.models import Job, JobDetails, JobRun
from .api.ratelimit import WINDOW_SECONDS, RateLimitBudget
from .simulator import World
from .simulator.board_world import JOBS, MISSING_JOB
from .watch.board import summarize
from .watch.clock import FakeClock
from .watch.cron import CronSchedule, CronState, parse_schedule
from .watch.events import JobKey
from .watch.planner import BoardPlanner, LookWhy, board_per_hour

START = datetime(2026, 11, 29, 12, 0, 0, tzinfo=timezone.utc)
DAY = 86400.0
SEED = 7
PAGE = 20  # runs per look: the board's first page
BUDGET_SHARE = 0.5  # the app's default --budget 50, of the default 1000/h
SPIN_LIMIT = 5  # "due now" answers in a row without a look: the planner spins

# Targets (issue 10).
CRON_START_P95_S = 20.0
CRON_END_P95_S = 60.0
MANUAL_START_P95_S = 300.0
MISSED_SLACK_S = 60.0  # after the grace
ROUND_ROBIN_FACTOR = 5.0

CLASS_NAMES = {
    "minute": "every-minute cron",
    "quarter": "15-minute cron",
    "hourly": "hourly/daily cron",
    "manual": "manual",
    "idle": "idle/suspended",
}
CRON_CLASSES = ("minute", "quarter", "hourly")


def board_share() -> int:
    """The board's looks per hour at the default budget (read from the planner)."""
    return board_per_hour(RateLimitBudget(share=BUDGET_SHARE, clock=lambda: 0.0))


def job_class(spec: object) -> str:
    """A board-world job's class: "minute", "quarter", "hourly", "manual" or "idle"."""
    cron, suspended, by_hand = (getattr(spec, name) for name in ("cron", "suspended", "by_hand"))
    if suspended or (cron is None and not by_hand):
        return "idle"
    if cron is None:
        return "manual"
    schedule = parse_schedule(cron)
    interval = schedule.shortest_interval(START) if isinstance(schedule, CronSchedule) else None
    if interval is None:
        raise ValueError(f"the board world's schedule {cron!r} is unusable")
    return {60: "minute", 900: "quarter"}.get(int(interval.total_seconds()), "hourly")


CLASSES = {JobKey(spec.project, spec.id): job_class(spec) for spec in JOBS}


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest rank: the smallest value with at least `share` of them at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def p95(values: Sequence[float]) -> float:
    return percentile(values, 0.95)


def most_in_any_hour(times: Sequence[float]) -> int:
    """The most looks within any rolling hour (t - 3600, t]."""
    ordered = sorted(times)
    most, first = 0, 0
    for last, at in enumerate(ordered):
        while ordered[first] <= at - WINDOW_SECONDS:
            first += 1
        most = max(most, last - first + 1)
    return most


# ----- reading the world --------------------------------------------------------------------


class Pages:
    """Each job's first page of runs, as `JobRun.from_json(world.runs(p, j, PAGE))` would give
    it, reading only the runs that can have changed since the job's last look: those started
    since, and those that were not concluded then. (The world only adds runs at the head
    within a day, and a concluded run never changes.) `verify` reads the whole page as well
    and raises if the two differ."""

    def __init__(self, world: World, per_page: int = PAGE, *, verify: bool = False) -> None:
        self._world = world
        self._per_page = per_page
        self._verify = verify
        self._seen: dict[JobKey, tuple[int, list[JobRun]]] = {}  # count, page (newest first)

    def read(self, key: JobKey) -> list[JobRun]:
        world, size = self._world, self._per_page
        count = world.run_count(key.project_id, key.job_id)
        before, cached = self._seen.get(key, (0, []))
        added = count - before
        if added < 0:  # runs went away (not in a board world's day): read the page again
            added, cached = count, []
        changing = max((index + 1 for index, run in enumerate(cached)
                        if run.is_active or not run.concluded), default=0)
        fresh = min(count, size, added + changing)
        head = [JobRun.from_json(item) for item in
                world.runs(key.project_id, key.job_id, fresh)] if fresh else []
        page = (head + cached[max(0, fresh - added):])[:size]
        self._seen[key] = (count, page)
        if self._verify:
            whole = [JobRun.from_json(item)
                     for item in world.runs(key.project_id, key.job_id, size)]
            if whole != page:
                raise RuntimeError(f"cached page of {key} differs from the world's")
        return page


# ----- what a day of looks saw ----------------------------------------------------------------


@dataclass
class DayOfLooks:
    """What one way of looking did over a simulated span of the board world."""

    looks: list[tuple[float, JobKey, str, LookWhy]] = field(default_factory=list)
    start_delay: dict[str, list[float]] = field(default_factory=dict)  # class -> seconds
    end_delay: dict[str, list[float]] = field(default_factory=dict)
    missed_flagged: dict[datetime, float] = field(default_factory=dict)  # fire -> delay
    missed_fires: list[datetime] = field(default_factory=list)
    grace: timedelta = timedelta(0)
    zero_steps: int = 0
    started: dict[str, int] = field(default_factory=dict)  # class -> runs started in the span
    seconds: float = DAY
    per_hour: int = 0
    planner_cpu: float = 0.0  # process seconds in the planner's calls (planner days only)

    def look_times(self, key: JobKey | None = None) -> list[float]:
        """Every look's time, or the times of one job's runs looks."""
        return [t for t, k, what, _ in self.looks if key is None or (k == key and what == "runs")]


class _Observer:
    """Notes the first look that sees each run, and its end, and flags missed fires."""

    def __init__(self, day: DayOfLooks) -> None:
        self.day = day
        self.first_seen: set[str] = set()
        self.end_seen: set[str] = set()
        self.done: set[str] = set()  # nothing more to note: ended and seen so, or history
        self.missing = JobKey(*MISSING_JOB)

    def saw(self, now: float, key: JobKey, runs: Sequence[JobRun],
            details: JobDetails | None) -> None:
        day = self.day
        wall = START + timedelta(seconds=now)
        kind = CLASSES[key]
        for seen in runs:
            if seen.id in self.done:
                continue
            if seen.started_at is None or seen.started_at <= START:
                self.done.add(seen.id)
                continue
            if seen.id not in self.first_seen:
                self.first_seen.add(seen.id)
                delay = (wall - seen.started_at).total_seconds()
                day.start_delay.setdefault(kind, []).append(delay)
            if seen.concluded_at is not None and seen.id not in self.end_seen:
                self.end_seen.add(seen.id)
                self.done.add(seen.id)
                delay = (wall - seen.concluded_at).total_seconds()
                day.end_delay.setdefault(kind, []).append(delay)
        if key != self.missing or details is None:
            return
        check = summarize(details, runs, now=wall, looked_at=wall).missed
        schedule = parse_schedule(details.cron_schedule or "")
        if check is None or check.state is not CronState.MISSED \
                or check.first_missed is None or not isinstance(schedule, CronSchedule):
            return
        day.grace = check.grace
        fires = (check.first_missed,
                 *schedule.next_fires(check.first_missed, check.missed_count - 1))
        for fire in fires:
            day.missed_flagged.setdefault(fire, (wall - fire).total_seconds())

    def finish(self, world: World) -> None:
        """The missed fires whose grace (and 5 min) ended within the span; runs started."""
        day = self.day
        end = START + timedelta(seconds=day.seconds)
        day.missed_fires = [fire for fire in world.missed_fires(*MISSING_JOB)
                            if fire + day.grace + timedelta(minutes=5) < end]
        for key, kind in CLASSES.items():
            starts = [JobRun.from_json(item).started_at
                      for item in world.runs(key.project_id, key.job_id)]
            day.started[kind] = day.started.get(kind, 0) + sum(
                1 for moment in starts if moment is not None and moment > START)


def _board_world(seed: int) -> tuple[World, list[Job]]:
    world = World(seed=seed, speed=0.0, start=START, preset="board")
    jobs = [Job.from_json(item, project["id"])
            for project in world.projects for item in world.jobs(project["id"])]
    return world, jobs


def planner_day(per_hour: int | None = None, seconds: float = DAY, seed: int = SEED,
                *, verify: bool = False) -> DayOfLooks:
    """The planner at `per_hour` (default: the board's share) over `seconds` of the board
    world: each look reads the world's first page at that instant (a look takes no time)."""
    share = board_share() if per_hour is None else per_hour
    clock = FakeClock(now=0.0, wall_offset=START.timestamp())
    world, jobs = _board_world(seed)
    planner = BoardPlanner(share, clock=clock)
    day = DayOfLooks(seconds=seconds, per_hour=share)
    observer, pages = _Observer(day), Pages(world, verify=verify)
    details: dict[JobKey, JobDetails] = {}
    cpu = 0.0
    for job in jobs:
        planner.add(job)
    zeros = 0
    while clock.now < seconds:
        began = time.process_time()
        look = planner.next_look()
        due = planner.next_due() if look is None else None
        cpu += time.process_time() - began
        if look is None:
            step = seconds - clock.now if due is None else due - clock.now
            if step <= 0:
                zeros += 1
                day.zero_steps = max(day.zero_steps, zeros)
                if zeros >= SPIN_LIMIT:
                    raise RuntimeError(f"the planner spins at {clock.now}")
                continue
            zeros = 0
            step = min(step, seconds - clock.now + 1)
            clock.advance(step)
            world.advance(step)
            continue
        zeros = 0
        key = look.key
        day.looks.append((clock.now, key, look.what, look.why))
        if look.what == "details":
            got = JobDetails.from_json(world.job_details(key.project_id, key.job_id))
            details[key] = got
            began = time.process_time()
            planner.details_read(got)
            cpu += time.process_time() - began
            continue
        runs = pages.read(key)
        began = time.process_time()
        planner.looked(key, runs)
        cpu += time.process_time() - began
        observer.saw(clock.now, key, runs, details.get(key))
    observer.finish(world)
    day.planner_cpu = cpu
    return day


def round_robin_day(per_hour: int | None = None, seconds: float = DAY, seed: int = SEED,
                    *, verify: bool = False) -> DayOfLooks:
    """A naive board at the same rate: job after job in the world's order, a look every
    3600 / per_hour s (rounded up to the microsecond, so that float sums never put one look
    too many in an hour), the jobs' details known from the start."""
    share = board_share() if per_hour is None else per_hour
    world, jobs = _board_world(seed)
    keys = [JobKey(job.project_id, job.id) for job in jobs]
    details = {key: JobDetails.from_json(world.job_details(key.project_id, key.job_id))
               for key in keys}
    day = DayOfLooks(seconds=seconds, per_hour=share)
    observer, pages = _Observer(day), Pages(world, verify=verify)
    step = math.ceil(WINDOW_SECONDS * 1e6 / share) / 1e6
    now, index = 0.0, 0
    while (at := index * step) < seconds:
        world.advance(at - now)
        now = at
        key = keys[index % len(keys)]
        day.looks.append((now, key, "runs", LookWhy.ROUND))
        observer.saw(now, key, pages.read(key), details[key])
        index += 1
    world.advance(max(0.0, seconds - now))
    observer.finish(world)
    return day


# ----- the report -----------------------------------------------------------------------------


class Reporter(Protocol):
    """Where the figures go (`tui.bench.Report`)."""

    def add(self, figure: str, value: str, target: str = "", ok: bool | None = None) -> None: ...

    def note(self, text: str) -> None: ...


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value >= 100 else f"{value:.1f} s"


def _p50_p95(values: Sequence[float]) -> str:
    if not values:
        return "no runs"
    return f"p50 {_seconds(percentile(values, 0.5))}, p95 {_seconds(p95(values))}"


@dataclass(frozen=True)
class BoardFigures:
    """Both days, for whoever wants more than the printed report."""

    planner: DayOfLooks
    round_robin: DayOfLooks
    cpu_seconds: float


def title(seconds: float = DAY, per_hour: int | None = None) -> str:
    share = board_share() if per_hour is None else per_hour
    span = "a simulated day" if seconds == DAY else f"{seconds / 3600:g} simulated hours"
    return (f"The board: 40 jobs of the board world (seed {SEED}) over {span} at {share} "
            f"looks/h (its part of {BUDGET_SHARE:.0%} of 1000/h),\n   the planner against a "
            "naive round-robin at the same rate (fake clock, no HTTP)")


def report_board(report: Reporter, seconds: float = DAY) -> BoardFigures:
    """Simulate both days and add their figures, with targets, to `report`."""
    began = time.process_time()
    plan, naive = planner_day(seconds=seconds), round_robin_day(seconds=seconds)
    cpu = time.process_time() - began
    report.note("start seen: a run's start to the first look that sees it (RUNNING, or done "
                "if it was shorter than the wait); end seen: its end to the first look that "
                "sees it concluded. Each figure's second line is the round-robin's.")
    share = plan.per_hour
    busiest = most_in_any_hour(plan.look_times())
    report.add("board looks in any rolling hour", f"at most {busiest}", f"<= {share}",
               busiest <= share)
    details = sum(1 for _, _, what, _ in plan.looks if what == "details")
    report.note(f"{len(plan.looks)} looks in all ({details} of them job details); "
                f"round-robin {len(naive.looks)}, at most "
                f"{most_in_any_hour(naive.look_times())} in an hour (details free)")
    for kind, name in CLASS_NAMES.items():
        if not plan.started.get(kind) and not naive.started.get(kind):
            keys = [key for key, job_kind in CLASSES.items() if job_kind == kind]
            report.add(f"{name}: runs", "none started in the span")
            report.note(f"the longest wait between two looks at one of its {len(keys)} jobs "
                        f"(how stale a row gets): {_gap(plan, keys) / 60:.0f} min; "
                        f"round-robin {_gap(naive, keys) / 60:.0f} min")
            continue
        for part, ours, theirs in (("start seen", plan.start_delay, naive.start_delay),
                                   ("end seen", plan.end_delay, naive.end_delay)):
            values, naive_values = ours.get(kind, []), theirs.get(kind, [])
            target, ok = _target(kind, part, values)
            report.add(f"{name}: {part}", _p50_p95(values), target, ok)
            report.note(f"round-robin {_p50_p95(naive_values)}; runs seen {len(values)} of "
                        f"{plan.started.get(kind, 0)} started (round-robin {len(naive_values)})")
    _report_missed(report, plan, naive)
    for kind in CRON_CLASSES:
        for part, ours, theirs in (("start", plan.start_delay, naive.start_delay),
                                   ("end", plan.end_delay, naive.end_delay)):
            values, naive_values = ours.get(kind, []), theirs.get(kind, [])
            figure = f"{CLASS_NAMES[kind]}: {part} p95 vs round-robin"
            if not values or not naive_values:
                report.add(figure, "no runs")
                continue
            factor = p95(naive_values) / max(p95(values), 1e-9)
            report.add(figure, f"{factor:.1f}x better", f">= {ROUND_ROBIN_FACTOR:.0f}x",
                       factor >= ROUND_ROBIN_FACTOR)
    report.note(f"planner decisions: {plan.planner_cpu:.2f} s CPU for the span "
                f"({100 * plan.planner_cpu / seconds:.3f} % of a core; no HTTP, no drawing); "
                f"both days simulated in {cpu:.1f} s CPU")
    return BoardFigures(plan, naive, cpu)


def _target(kind: str, part: str, values: Sequence[float]) -> tuple[str, bool | None]:
    if kind in CRON_CLASSES:
        limit = CRON_START_P95_S if part == "start seen" else CRON_END_P95_S
    elif kind == "manual" and part == "start seen":
        limit = MANUAL_START_P95_S
    else:
        return "", None
    return f"p95 <= {limit:.0f} s", bool(values) and p95(values) <= limit


def _gap(day: DayOfLooks, keys: Sequence[JobKey]) -> float:
    """The longest time between two runs looks at one of `keys` (or to the span's end)."""
    longest = 0.0
    for key in keys:
        times = [0.0, *day.look_times(key), day.seconds]
        longest = max(longest, *(later - earlier for earlier, later in itertools.pairwise(times)))
    return longest


def _report_missed(report: Reporter, plan: DayOfLooks, naive: DayOfLooks) -> None:
    grace = (plan.grace or naive.grace).total_seconds()
    limit = grace + MISSED_SLACK_S
    target = f"<= {limit:.0f} s (grace + {MISSED_SLACK_S:.0f})"
    fires = plan.missed_fires
    if not fires:
        report.add("missed cron runs flagged after", "no missed fire in the span")
        return
    delays = [plan.missed_flagged[fire] for fire in fires if fire in plan.missed_flagged]
    report.add("missed cron runs flagged after", _max_p95(delays), target,
               len(delays) == len(fires) and max(delays) <= limit)
    early = sum(1 for delay in delays if delay < grace)
    naive_delays = [naive.missed_flagged[fire] for fire in naive.missed_fires
                    if fire in naive.missed_flagged]
    report.note(f"round-robin {_max_p95(naive_delays)}; flagged {len(delays)} of the "
                f"{len(fires)} missed fires of {'/'.join(MISSING_JOB)} (round-robin "
                f"{len(naive_delays)} of {len(naive.missed_fires)}), {early} before its "
                f"grace of {grace:.0f} s")


def _max_p95(delays: Sequence[float]) -> str:
    return f"max {_seconds(max(delays))}, p95 {_seconds(p95(delays))}" if delays \
        else "none flagged"
