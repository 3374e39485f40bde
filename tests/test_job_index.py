"""The global job index: walked by cursor through the scheduler's gate, cached on disk with a
TTL, refreshed in the background, searched by name or id.

Driven on a fake clock against the simulator over loopback (the "board" world: 3 projects,
40 jobs), with a `ScriptedTransport` for the failures and hostile answers.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import stat
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tui.api.client import NorthflankClient
from tui.api.models import Job, Project
from tui.api.ratelimit import BURST_WINDOW, RateLimitBudget
from tui.config import app_cache_dir
from tui.simulator import run_simulator
from tui.watch import index_cache
from tui.watch.clock import FakeClock
from tui.watch.events import CatalogFailed, IndexChanged, JobKey, JobsLoaded, ProjectsLoaded
from tui.watch.index_cache import CachedIndex, CachedProject
from tui.watch.job_index import INDEX_SHARE, INDEX_TTL, RETRY_MIN, JobIndex
from tui.watch.scheduler import Scheduler

from .engine_harness import START, Engine, ScriptedTransport, path_is
from .test_scheduler import most_in_any_hour

PAGE = 2  # small pages: every list takes several, walked by cursor
PROJECTS = ("storefront", "data", "platform")
# Requests of a whole walk at PAGE: 2 pages of projects, then ceil(jobs / PAGE) per project.
WALK = 2 + 7 + 8 + 6


@contextlib.asynccontextmanager
async def index_engine(
    *, rate_limit: int = 1_000_000, share: float = 1.0, preset: str = "board"
) -> AsyncIterator[Engine]:
    """As `engine_harness.engine`, on the board world (the harness's is the demo world)."""
    with run_simulator(seed=7, speed=0.0, start=START, rate_limit=rate_limit, history=False,
                       preset=preset) as sim:
        clock = FakeClock()
        holder: list[Engine] = []

        def advance(seconds: float) -> None:
            holder[0].advance(seconds)

        async def sleep(seconds: float) -> None:
            advance(seconds)

        transport = ScriptedTransport(clock.monotonic, advance)
        client = NorthflankClient(
            sim.token, sim.url, transport=transport, sleep=sleep,
            budget=RateLimitBudget(share=share, clock=clock.monotonic),
            max_retries=1, backoff_base=0.05, rng=random.Random(7),
        )
        scheduler = Scheduler(client, clock=clock, rng=random.Random(7))
        state = Engine(sim, clock, transport, client, scheduler)
        holder.append(state)
        scheduler.subscribe(state.hear)
        try:
            yield state
            state.assert_healthy()
        finally:
            await scheduler.aclose()
            await client.aclose()


def open_index(h: Engine, folder: Path, **options: float) -> JobIndex:
    return h.scheduler.open_index(cache_dir=folder, page_size=PAGE, **options)  # type: ignore[arg-type]


def index_events(h: Engine) -> list[IndexChanged]:
    return h.events_of(IndexChanged)


def server_jobs(h: Engine, project_id: str) -> tuple[Job, ...]:
    return tuple(Job.from_json(item, project_id) for item in h.world.jobs(project_id))


def cache_path(h: Engine, folder: Path) -> Path:
    return index_cache.cache_file(folder, index_cache.account_key(h.client.base_url, None))


def write_cache(h: Engine, folder: Path, data: bytes) -> Path:
    path = cache_path(h, folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def old_cache(h: Engine, listed_at: float, *, stale: bool = False) -> bytes:
    """A cache of one project with one job the server no longer has."""
    project = Project("data", "Data pipelines")
    entry = CachedProject(project, (Job("old-job", "Old job", "data"),), stale)
    account = index_cache.account_key(h.client.base_url, None)
    return index_cache.encode(CachedIndex(listed_at, False, (entry,)), account)


async def walked(h: Engine, folder: Path) -> JobIndex:
    index = open_index(h, folder)
    await h.settle()
    assert index.snapshot().complete, index.problem
    return index


# ----- the walk -----------------------------------------------------------------------------


async def test_a_walk_lists_every_project_and_job_by_cursor(tmp_path: Path) -> None:
    async with index_engine() as h:
        index = open_index(h, tmp_path)
        first = index_events(h)[0]
        assert (len(first.index), first.complete, first.fresh, first.problem) == (0, False,
                                                                                  False, "")
        await h.settle()
        assert len(h.requests) == WALK
        assert all(r.method == "GET" and f"per_page={PAGE}" in r.target for r in h.requests)
        assert sum("cursor=" in r.target for r in h.requests) == WALK - 4  # all but 1st pages
        snap = index.snapshot()
        assert [p.id for p in snap.projects] == list(PROJECTS)
        for project in PROJECTS:
            assert tuple(e.job for e in snap.jobs_of(project)) == server_jobs(h, project)
        assert len(snap) == 40
        last = index_events(h)[-1]
        assert (last.complete, last.fresh, last.refreshing, last.problem) == (True, True,
                                                                              False, "")
        assert last.index.listed_at == h.clock.wall()
        # A first walk tells its progress (search works before it ends): after the project
        # list and after each project's jobs; never through the picker's events.
        sizes = [len(event.index) for event in index_events(h)]
        assert sizes == [0, 0, 0, 13, 28, 40], sizes
        assert not h.events_of(ProjectsLoaded) and not h.events_of(JobsLoaded)


async def test_search_finds_jobs_in_projects_the_picker_never_loaded(tmp_path: Path) -> None:
    async with index_engine() as h:
        snap = (await walked(h, tmp_path)).snapshot()
        platform = server_jobs(h, "platform")
        target = platform[-1]
        # By id (exact first), by part of the name in any case, and "project/job".
        assert snap.search(target.id)[0].job == target
        assert target in [e.job for e in snap.search(target.name[2:].upper())]
        hits = snap.search(f"platf/{target.name[:3]}")
        assert hits and all(e.project.id == "platform" for e in hits)
        assert target.name[:3].casefold() in hits[0].job.name.casefold()
        entry = snap.job(JobKey("platform", target.id))
        assert entry is not None and entry.project.name == "Platform"
        assert snap.search("no-such-job-anywhere") == []
        assert len(snap.search("", limit=5)) == 5
        assert len(snap.search("e", limit=3)) == 3
        assert snap.job(JobKey("platform", "nope")) is None


async def test_one_walk_at_a_time(tmp_path: Path) -> None:
    async with index_engine() as h:
        gate = h.transport.hold(lambda request: request.url.path == "/v1/projects")
        index = open_index(h, tmp_path)
        h.scheduler.start_due()
        await h.until_io(gate.arrived, "the first page of projects")
        assert index.walking
        assert not h.scheduler.refresh_index(force=True)
        assert h.scheduler.in_flight.count("index") == 1
        gate.release()
        await h.settle()
        assert len(h.requests) == WALK
        assert [e.refreshing for e in index_events(h)].count(True) == 4  # start + progress


# ----- the cache ----------------------------------------------------------------------------


async def test_the_cache_is_written_safely_and_read_back_without_a_request(
    tmp_path: Path,
) -> None:
    async with index_engine() as h:
        index = await walked(h, tmp_path)
        path = cache_path(h, tmp_path)
        assert path.parent == tmp_path
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left
        data = path.read_bytes()
        assert h.sim.token.encode() not in data
        assert json.loads(data)["listedAt"] == h.clock.wall()
        before = index.snapshot()
        # A new session on the same account: the same index at once, and no request.
        h.scheduler.close_index()
        mark = h.mark()
        again = open_index(h, tmp_path)
        assert again is not index
        snap = again.snapshot()
        assert [e.job for e in snap.entries] == [e.job for e in before.entries]
        assert snap.projects == before.projects
        event = index_events(h)[-1]
        assert (event.fresh, event.complete, event.problem) == (True, True, "")
        await h.run_for(INDEX_TTL - 1)
        assert h.requests_since(mark) == []


async def test_a_fresh_cache_waits_for_its_ttl_then_refreshes(tmp_path: Path) -> None:
    async with index_engine() as h:
        write_cache(h, tmp_path, old_cache(h, h.clock.wall() - 600))
        index = open_index(h, tmp_path, ttl=1200.0)
        await h.run_for(599)
        assert h.requests == []
        assert [e.job.id for e in index.snapshot().entries] == ["old-job"]
        await h.run_for(2)
        assert len(h.requests) == WALK
        assert len(index.snapshot()) == 40
        assert index_events(h)[-1].fresh


async def test_a_stale_cache_is_shown_at_once_then_refreshed(tmp_path: Path) -> None:
    async with index_engine() as h:
        write_cache(h, tmp_path, old_cache(h, h.clock.wall() - INDEX_TTL - 1))
        seen: list[tuple[int, IndexChanged]] = []

        def hear(event: object) -> None:
            if isinstance(event, IndexChanged):
                seen.append((len(h.requests), event))

        h.scheduler.subscribe(hear)
        open_index(h, tmp_path)
        requests, shown = seen[0]
        assert requests == 0
        assert [e.job.id for e in shown.index.entries] == ["old-job"]
        assert (shown.fresh, shown.refreshing) == (False, False)
        await h.settle()
        # A walk over a listing tells only its start and its end, not each project.
        assert [e.refreshing for _, e in seen] == [False, True, False]
        final = seen[-1][1]
        assert final.fresh and "old-job" not in [e.job.id for e in final.index.entries]
        assert len(final.index) == 40


async def test_a_cache_from_the_future_is_stale(tmp_path: Path) -> None:
    async with index_engine() as h:
        write_cache(h, tmp_path, old_cache(h, h.clock.wall() + 10 * INDEX_TTL))
        open_index(h, tmp_path)
        assert not index_events(h)[0].fresh
        await h.settle()
        assert len(h.requests) == WALK


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _symlink(path: Path) -> None:
    target = path.with_name("elsewhere.json")
    target.write_bytes(b"{}")
    path.symlink_to(target)


def _hostile_cache(change: Callable[[dict[str, object]], object]) -> Callable[[Engine],
                                                                               bytes]:
    def build(h: Engine) -> bytes:
        body = json.loads(old_cache(h, h.clock.wall()))
        change(body)
        return json.dumps(body).encode()

    return build


def _job(body: dict[str, object]) -> dict[str, object]:
    return body["projects"][0]["jobs"][0]  # type: ignore[index, no-any-return]


def _project(body: dict[str, object]) -> dict[str, object]:
    return body["projects"][0]  # type: ignore[index, no-any-return]


HOSTILE: dict[str, Callable[[Engine], bytes] | Callable[[Path], None]] = {
    "empty": lambda h: b"",
    "not JSON": lambda h: b"\x00\xffgarbage",
    "cut short": lambda h: old_cache(h, h.clock.wall())[:-20],
    "nested too deeply": lambda h: b"[" * 200_000,
    "a huge integer": lambda h: b'{"version": ' + b"9" * 5000 + b"}",
    "oversized": lambda h: b" " * (index_cache.MAX_CACHE_BYTES + 1),
    "a list": lambda h: b"[]",
    "another version": _hostile_cache(lambda b: b.update(version=2)),
    "a version of true": _hostile_cache(lambda b: b.update(version=True)),
    "another account": _hostile_cache(lambda b: b.update(account="0" * 32)),
    "a time as text": _hostile_cache(lambda b: b.update(listedAt="yesterday")),
    "an infinite time": lambda h: old_cache(h, h.clock.wall()).replace(
        b'"listedAt":', b'"listedAt":1e999,"x":'),
    "projects not a list": _hostile_cache(lambda b: b.update(projects={"a": 1})),
    "a job name of a number": _hostile_cache(lambda b: _job(b).update(name=7)),
    "tags not strings": _hostile_cache(lambda b: _job(b).update(tags=[1])),
    "a path in a job id": _hostile_cache(lambda b: _job(b).update(id="../../runs")),
    "a slash in a project id": _hostile_cache(lambda b: _project(b).update(id="a/b")),
    "an escape in an id": _hostile_cache(lambda b: _job(b).update(id="\x1b[2J")),
    "an empty id": _hostile_cache(lambda b: _project(b).update(id="")),
    "a job of another project": _hostile_cache(lambda b: _job(b).update(projectId="x")),
    "a job twice": _hostile_cache(lambda b: _project(b).update(jobs=[_job(b), _job(b)])),
    "stale as text": _hostile_cache(lambda b: _project(b).update(stale="yes")),
    "too many projects": _hostile_cache(lambda b: b.update(projects=[{}] * 1001)),
    "a directory": lambda path: path.mkdir(),
    "a FIFO": _fifo,
    "a symlink": _symlink,
}


@pytest.mark.parametrize("what", list(HOSTILE))
async def test_a_bad_cache_file_is_ignored_with_a_one_line_warning(
    tmp_path: Path, what: str
) -> None:
    if what in ("a FIFO", "a symlink") and sys.platform == "win32":
        pytest.skip("POSIX only")
    async with index_engine() as h:
        make = HOSTILE[what]
        path = cache_path(h, tmp_path)
        if what in ("a directory", "a FIFO", "a symlink"):
            tmp_path.mkdir(exist_ok=True)
            make(path)  # type: ignore[arg-type]
        else:
            write_cache(h, tmp_path, make(h))  # type: ignore[arg-type]
        index = open_index(h, tmp_path)
        event = index_events(h)[0]
        assert event.problem.startswith("The job index cache was ignored ("), event.problem
        assert "\n" not in event.problem and "\x1b" not in event.problem
        assert event.problem.isprintable() and len(event.problem) < 200
        assert len(event.index) == 0 and not event.fresh
        await h.settle()  # listed again, as if there were no cache
        assert len(index.snapshot()) == 40
        if what != "a directory":
            assert index_events(h)[-1].problem == ""  # and written anew
            assert json.loads(path.read_bytes())["version"] == index_cache.CACHE_VERSION


async def test_names_with_escapes_are_kept_as_sent(tmp_path: Path) -> None:
    """A name is data, not an id: it stays as the API sent it (the UI sanitises it)."""
    async with index_engine() as h:
        name = "\x1b]0;pwned\x07\x1b[31mred\u202e"
        write_cache(h, tmp_path, _hostile_cache(lambda b: _job(b).update(name=name))(h))
        index = open_index(h, tmp_path)
        assert index_events(h)[0].problem == ""
        assert index.snapshot().entries[0].job.name == name
        assert index.snapshot().search("RED")[0].job.name == name


async def test_a_cache_that_cannot_be_written_is_a_warning(tmp_path: Path) -> None:
    async with index_engine() as h:
        blocker = tmp_path / "file"
        blocker.write_text("not a directory")
        index = open_index(h, blocker)
        await h.settle()
        assert len(index.snapshot()) == 40
        assert index.snapshot().complete
        problem = index_events(h)[-1].problem
        assert problem.startswith("the job index cache could not be written ("), problem


# ----- failures and the budget --------------------------------------------------------------


async def test_a_failing_project_keeps_its_old_jobs_and_is_retried_alone(
    tmp_path: Path,
) -> None:
    async with index_engine() as h:
        index = await walked(h, tmp_path)
        data_jobs = index.snapshot().jobs_of("data")
        h.world.add_job("data", "new-ingest", "New ingest")
        h.world.add_job("platform", "new-platform-job", "New platform job")
        fault = h.transport.fail(path_is("/v1/projects/data/jobs"), 500)
        assert h.scheduler.refresh_index(force=True)
        await h.settle()
        snap = index.snapshot()
        assert snap.jobs_of("data") == data_jobs  # kept, and said
        assert snap.job(JobKey("platform", "new-platform-job")) is not None  # others went on
        assert snap.stale_projects == {"data"} and not snap.complete
        event = index_events(h)[-1]
        assert not event.complete and not event.fresh
        assert "Jobs of 1 project could not be listed (data: The API failed (500)" \
            in event.problem
        assert json.loads(cache_path(h, tmp_path).read_bytes())["projects"][1]["stale"]
        # Retried after RETRY_MIN, alone: no project list, no other project.
        h.transport.faults.remove(fault)
        mark = h.mark()
        await h.run_for(RETRY_MIN - 1)
        assert h.requests_since(mark) == []
        await h.run_for(2)
        paths = {r.path for r in h.requests_since(mark)}
        assert paths == {"/v1/projects/data/jobs"}
        assert index.snapshot().complete
        assert index.snapshot().job(JobKey("data", "new-ingest")) is not None
        assert index_events(h)[-1].problem == ""


async def test_a_project_list_that_fails_keeps_the_index_and_backs_off(
    tmp_path: Path,
) -> None:
    async with index_engine() as h:
        write_cache(h, tmp_path, old_cache(h, h.clock.wall() - INDEX_TTL - 1))
        h.transport.offline = True
        index = open_index(h, tmp_path)
        await h.settle()
        assert [e.job.id for e in index.snapshot().entries] == ["old-job"]
        problem = index_events(h)[-1].problem
        assert problem.startswith("The job index could not be refreshed: Cannot connect")
        assert not index.walking
        mark = h.mark()
        await h.run_for(RETRY_MIN - 1)
        assert h.requests_since(mark) == []
        h.transport.offline = False
        await h.run_for(2)
        assert len(index.snapshot()) == 40


async def test_a_refused_token_stops_the_walk(tmp_path: Path) -> None:
    async with index_engine() as h:
        h.transport.fail(path_is("/v1/projects/data/jobs"), 401)
        index = open_index(h, tmp_path)
        await h.settle()
        # storefront listed; data refused; platform never asked (it would fail alike).
        assert not any(r.path == "/v1/projects/platform/jobs" for r in h.requests)
        assert index.snapshot().stale_projects == {"data", "platform"}
        assert len(index.snapshot().jobs_of("storefront")) == 13
        assert "The job index stopped: The API token was refused" \
            in index_events(h)[-1].problem


async def test_a_walk_stays_within_its_part_of_the_budget(tmp_path: Path) -> None:
    """On a tight quota the walk takes its quarter of the share, paced, and the run list
    open beside it keeps polling with the rest."""
    quota, share = 40, 0.5  # 20 requests an hour for this process; the walk gets 5
    async with index_engine(rate_limit=quota, share=share) as h:
        feed = h.watch(JobKey("storefront", "sync-inventory"))
        index = open_index(h, tmp_path)
        took = await h.run_until(lambda: index.snapshot().complete, 6 * 3600, "a whole walk")
        assert took >= 4 * 3600  # 23 requests at 5 an hour
        walk = [r.at for r in h.requests if r.path.startswith("/v1/projects") and
                (r.path == "/v1/projects" or r.path.endswith("/jobs"))]
        assert len(walk) == WALK
        assert most_in_any_hour(walk) <= math.floor(quota * share * INDEX_SHARE)
        assert all(sum(1 for t in walk if at <= t < at + BURST_WINDOW)
                   <= h.client.budget.burst_limit() // 2 for at in walk)
        everything = [r.at for r in h.requests]
        assert most_in_any_hour(everything) <= quota * share
        assert {r.outcome for r in h.requests} == {"200"}
        polls = [at for at in everything if at not in walk]
        assert most_in_any_hour(polls) >= 10, "the run list starved"
        assert feed.problem == ""
        assert index_events(h)[-1].problem == ""  # a pace, not a problem


async def test_the_walk_leaves_room_for_the_user(tmp_path: Path) -> None:
    """While the walk spends, what the user asks for is never refused by the gate."""
    async with index_engine(rate_limit=200, share=0.5) as h:  # 100 an hour, 10 a minute
        index = open_index(h, tmp_path)
        for _ in range(60):  # a request every 10 s, and the walk's 5 a minute
            await h.run_for(10)
            h.scheduler.load_jobs("platform")
            await h.settle()
        assert index.snapshot().complete
        assert len(h.events_of(JobsLoaded)) == 60
        assert not h.events_of(CatalogFailed)


async def test_hostile_answers_are_left_out_or_kept_as_sent(tmp_path: Path) -> None:
    async with index_engine() as h:
        name = "\x1b[31mred\x1b[0m"
        body = {"data": {"projects": [
            {"id": "../../etc", "name": "path"}, {"id": "ok", "name": name},
            {"id": "ok", "name": "twice"}, {"id": "loop", "name": "Loop"},
        ]}}
        h.transport.fail(lambda r: r.url.path == "/v1/projects", 200,
                         body=json.dumps(body).encode())
        jobs = {"data": {"jobs": [{"id": "a/b"}, {"id": "j1", "name": name},
                                  {"id": "j2", "projectId": "elsewhere"}]}}
        h.transport.fail(path_is("/v1/projects/ok/jobs"), 200, body=json.dumps(jobs).encode())
        loop = {"data": {"jobs": [{"id": "x"}]},
                "pagination": {"hasNextPage": True, "cursor": "same"}}
        h.transport.fail(path_is("/v1/projects/loop/jobs"), 200,
                         body=json.dumps(loop).encode())
        index = h.scheduler.open_index(cache_dir=tmp_path)  # pages of 100: the whole body
        await h.settle()
        snap = index.snapshot()
        assert [(p.id, p.name) for p in snap.projects] == [("ok", name), ("loop", "Loop")]
        assert [e.job.id for e in snap.entries] == ["j1"]
        assert snap.entries[0].job.name == name  # as sent
        assert snap.stale_projects == {"loop"}  # a cursor that came back
        problem = index_events(h)[-1].problem
        assert "inconsistent page list" in problem and "3 projects or jobs" in problem
        assert problem.isprintable()
        assert len([r for r in h.requests if r.path == "/v1/projects/loop/jobs"]) == 2


async def test_caps_bound_the_index(tmp_path: Path) -> None:
    async with index_engine() as h:
        h.scheduler.index = JobIndex.for_client(h.client, tmp_path, page_size=PAGE,
                                                max_projects=2, max_jobs=20)
        index = h.scheduler.index
        await h.settle()
        snap = index.snapshot()
        assert [p.id for p in snap.projects] == ["storefront", "data"]
        assert len(snap) == 20 and snap.truncated and not snap.complete
        assert "Only the first 2 projects and 20 jobs" in index.problem
        # Truncated is not stale: nothing is retried before the TTL.
        mark = h.mark()
        await h.run_for(INDEX_TTL - 1)
        assert h.requests_since(mark) == []


def test_the_cache_directory_follows_xdg(tmp_path: Path) -> None:
    if sys.platform in ("win32", "darwin"):
        pytest.skip("XDG is for the other platforms")
    env = {"HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    assert app_cache_dir(env) == tmp_path / "xdg" / "nf-runs"
    env["XDG_CACHE_HOME"] = "relative/dir"  # ignored, as XDG says
    assert app_cache_dir(env) == tmp_path / ".cache" / "nf-runs"


def test_the_file_is_named_by_account_never_by_token() -> None:
    one = index_cache.account_key("https://api.northflank.com", None)
    assert one != index_cache.account_key("https://api.northflank.com", "team-a")
    assert one != index_cache.account_key("http://127.0.0.1:9", None)
    assert len(one) == 32 and all(c in "0123456789abcdef" for c in one)
