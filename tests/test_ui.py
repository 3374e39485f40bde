"""The whole app driven by Textual's Pilot against the simulator over real loopback HTTP.

The simulated clock is frozen (speed 0) and the app reads its time from it (`now=`), so
durations and "ago" texts are exact; a test moves time with `world.advance()`. Intervals are
small (refresh 1 s, tick 0.2 s) and the tests wait on conditions, never on fixed sleeps, except
where they check that nothing happens. The quota of the simulator is made generous unless a
test is about the budget: at the default 1000/h the budget would stretch polling to minutes.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from rich.console import Console
from textual.binding import Binding
from textual.widgets import Footer, Log, Static
from textual.widgets._header import HeaderTitle
from textual.widgets._toast import Toast

from tui.api.client import NorthflankClient
from tui.api.models import JobRun
from tui.api.ratelimit import RateLimitBudget
from tui.app import NfRunsApp
from tui.options import AppOptions
from tui.screens.detail import RunDetailScreen
from tui.screens.help import HelpScreen
from tui.screens.main import MainScreen
from tui.screens.setup import SetupScreen
from tui.simulator import Simulator, run_simulator
from tui.simulator.world import NotFoundError
from tui.watch.job_index import INDEX_PAGE
from tui.widgets.run_list import RunList
from tui.widgets.text_line import TextLine

from . import harness

PROJECT, JOB = "payments", "settle-ledger"  # cron every minute: 3000 runs, one RUNNING
HOST = "sim.test"
BADGE = re.compile(r"^ (✔ SUCCESS|● RUNNING|✘ FAILED|\? \S+)\s")


# ----- harness ----------------------------------------------------------------------------------


@dataclass
class Board(harness.Board):
    """The board, with what the UI tests ask of it."""

    async def idle(self, *, index_listed: bool = True) -> None:
        """No poll and no older page in flight (and, unless told, the job index listed)."""
        main = self.main
        scheduler = main.scheduler

        def jobs_listed() -> bool:
            # The picker asks for the open project's jobs once the projects are in: that
            # request belongs to the start, not to what a test does next.
            key = main.key
            return key is None or main.picker.find_job(key.project_id, key.job_id) is not None

        await self.wait(
            # (The job index walks every project's jobs once at the start: its requests,
            # like the picker's, belong to the start, not to what a test does next.)
            lambda: jobs_listed() and not scheduler.busy and not self.run_list.loading_more
            and (not index_listed or scheduler.index is None or not scheduler.index.walking),
            "the board to be idle",
        )

    async def press(self, *keys: str) -> None:
        await self.pilot.press(*keys)
        await self.pilot.pause()

    def notifications(self) -> list[str]:
        return [f"{n.title}: {n.message}" for n in self.app._notifications]

    def runs_requests(self, project: str = PROJECT, job: str = JOB) -> list[dict[str, str]]:
        """Queries of every `GET .../runs` (the list, not one run) of the job, in order."""
        path = f"/v1/projects/{project}/jobs/{job}/runs"
        found = []
        for method, target, _at in self.sim.requests:
            url = urlsplit(target)
            if method == "GET" and url.path == path:
                found.append({k: v[-1] for k, v in parse_qs(url.query).items()})
        return found

    def cursors(self, project: str = PROJECT, job: str = JOB) -> list[str]:
        return [q["cursor"] for q in self.runs_requests(project, job) if "cursor" in q]

    def first_pages(self, project: str = PROJECT, job: str = JOB) -> int:
        return sum(1 for q in self.runs_requests(project, job) if "cursor" not in q)


def make_client(sim: Simulator, token: str | None = None, share: float = 1.0,
                **kwargs: Any) -> NorthflankClient:
    kwargs.setdefault("max_retries", 0)  # the app's own back-off is what is tested
    return NorthflankClient(token or sim.token, sim.url, budget=RateLimitBudget(share=share),
                            **kwargs)


@contextlib.asynccontextmanager
async def board(
    sim: Simulator,
    *,
    project: str | None = PROJECT,
    job: str | None = JOB,
    client: NorthflankClient | None = None,
    now: Callable[[], datetime] | bool | None = True,
    size: tuple[int, int] = (120, 24),
    generous_quota: bool = True,
    wait_first_page: bool = True,
    **options: Any,
) -> AsyncIterator[Board]:
    """The app opened on `project/job` (the CLI's --project/--job), on the frozen clock."""
    if generous_quota:
        sim.set_rate_limit(1_000_000)
    options.setdefault("refresh", 1.0)
    options.setdefault("tick", 0.2)
    options.setdefault("idle_interval", 2.0)
    options.setdefault("tty_check", 0)
    clock = sim.world.now if now is True else (now or None)
    app = NfRunsApp(
        client or make_client(sim),
        AppOptions(host_label=HOST, project=project, job=job, **options),
        now=clock,  # type: ignore[arg-type]
    )
    async with harness.run_board(
        app, size, lambda pilot, errors: Board(app, pilot, sim, errors),
        wait_first_page=wait_first_page,
    ) as state:
        yield state


def server_runs(sim: Simulator, count: int, project: str = PROJECT, job: str = JOB
                ) -> list[JobRun]:
    return [JobRun.from_json(item) for item in sim.world.runs(project, job, count)]


def server_ids(sim: Simulator, count: int, project: str = PROJECT, job: str = JOB) -> list[str]:
    return [item["id"] for item in sim.world.runs(project, job, count)]


def row_of(b: Board, name: str) -> str:
    """The visible row of the run named `name`."""
    rows = [row for row in b.run_list.visible_text() if f"  {name}  " in row]
    assert len(rows) == 1, (name, b.run_list.visible_text())
    return rows[0]


def list_lines(run_list: RunList) -> list[str]:
    """Every line the run list paints (header, rows, footer), as text."""
    height = run_list.scrollable_content_region.height
    return [run_list.render_line(y).text.rstrip() for y in range(height)]


def screen_text(b: Board) -> str:
    """What the terminal shows, as text."""
    return "\n".join(strip.text for strip in b.app.screen._compositor.render_strips())


def rich_text(renderable: object, width: int = 200) -> str:
    console = Console(width=width, record=True, color_system=None, file=io.StringIO())
    console.print(renderable)
    return "\n".join(line.rstrip() for line in console.export_text().splitlines())


# The labels the detail puts after another field on the same row ("status FAILED   concluded
# true   active 0 ...", tui.screens.detail.FIELD_ROWS), and the badge after the run's name.
PAIRED = re.compile(r"   (?=(?:concluded|active|succeeded|failed|backoffLimit|started) |[✔✘●?] )")


def detail_fields(detail: RunDetailScreen) -> str:
    """The detail's fields as shown, one "label value" a line (the detail packs several on a
    row): the table, then the duration on its own line."""
    table = rich_text(detail.query_one("#detail-fields", Static).content)
    table = PAIRED.sub("\n", table)
    return table + "\n" + detail.query_one("#detail-duration", TextLine).text.plain


def header_text(b: Board) -> str:
    return b.app.screen.query_one(HeaderTitle).render().plain  # type: ignore[union-attr]


def badges(rows: Iterable[str]) -> list[str]:
    found = []
    for row in rows:
        match = BADGE.match(row)
        assert match, f"no badge (symbol + word) in {row!r}"
        found.append(match.group(1))
    return found


def add_job(sim: Simulator, project: str, job: str, *, runs: int = 0,
            name: str | None = None, project_name: str | None = None,
            **kwargs: Any) -> None:
    """A manual job of our own (no cron: nothing starts unless the test starts it)."""
    if project not in {p["id"] for p in sim.world.projects}:
        sim.world.add_project(project, project_name or project.title())
    sim.world.add_job(project, job, name or job.title(), "manual", None, **kwargs)
    if runs:
        sim.world.add_runs(project, job, runs)


# ----- 1. opening on --project/--job ------------------------------------------------------------


async def test_opens_on_project_and_job_with_the_first_page(sim: Simulator) -> None:
    async with board(sim, refresh=60, idle_interval=60) as b:
        await b.wait(lambda: b.main.picker.find_job(PROJECT, JOB), "the jobs in the picker")
        await b.pilot.pause(0.3)
        screen = b.screen
        # The first page and nothing more: 50 rows, as the server lists them.
        assert b.run_list.loaded_count == 50
        assert b.ids == server_ids(sim, 50)
        assert b.first_pages() == 1 and b.cursors() == []
        rows = b.run_list.visible_text()
        assert len(rows) == b.run_list._rows_visible()
        shown = badges(rows)
        assert shown[0] == "● RUNNING" and "✔ SUCCESS" in shown
        assert "50 runs · more" in b.status
        # The picker lists the projects, and the job under its project.
        labels = [node.label.plain for node in screen.picker.job_tree.root.children]
        assert labels == [p["name"] for p in sim.world.projects]
        payments = screen.picker.job_tree.root.children[0]
        assert payments.is_expanded
        assert payments.children[0].label.plain.startswith("Settle ledger")
        # The header names the project and job, then the host (cut first when narrow).
        assert screen.sub_title == f"Payments / Settle ledger · {HOST}"
        assert f"Payments / Settle ledger · {HOST}" in header_text(b)
        assert b.run_list.has_focus


# ----- 2. lazy loading --------------------------------------------------------------------------


async def test_end_walks_the_older_pages_one_at_a_time_to_the_oldest(sim: Simulator) -> None:
    add_job(sim, "lazy", "small", runs=130)
    async with board(sim, project="lazy", job="small", refresh=60, idle_interval=60) as b:
        await b.idle()
        run_list = b.run_list
        assert run_list.loaded_count == 50 and b.cursors("lazy", "small") == []
        # A slow page, so that the walk can be seen and keys pressed meanwhile.
        sim.faults.slow_delay = 1.2
        sim.faults.queue("slow", 1)
        await b.press("end")
        await b.wait(lambda: run_list.loading_more, "loading more")
        # The footer says so, on screen under the highlighted last row.
        footer = list_lines(run_list)[-1].strip()
        assert footer.startswith("loading older runs: 50 loaded, the oldest from "), footer
        assert footer.endswith("… Esc to stop")
        highlighted = run_list.highlighted_run
        assert highlighted is not None and highlighted.id == b.ids[49]
        # While the page loads: no second request. PgDn moves the cursor (as far as it
        # goes): it no longer follows the end, and the walk goes on without it.
        await b.press("end", "end", "pagedown")
        await b.wait(lambda: run_list.loaded_count == 130, "every page")
        await b.idle()
        assert len(b.cursors("lazy", "small")) == 2
        # The selection stayed on its run when the pages arrived.
        assert run_list.highlighted_run is not None
        assert run_list.highlighted_run.id == highlighted.id
        assert not run_list.has_more
        assert "130 runs · all" in b.status
        # At the end nothing more is asked for, however hard one presses.
        await b.press("end", "pagedown", "pagedown", "G")
        await b.pilot.pause(0.3)
        assert list_lines(run_list)[-1].strip() == "end of runs — 130 loaded"
        assert run_list.highlighted_run == run_list.runs[-1]
        cursors = b.cursors("lazy", "small")
        assert len(cursors) == 2 and len(set(cursors)) == 2
        assert b.first_pages("lazy", "small") == 1
        assert len(set(b.ids)) == 130
        assert b.ids == server_ids(sim, 130, "lazy", "small")


async def test_page_down_loads_a_page_only_when_near_the_end(sim: Simulator) -> None:
    async with board(sim, refresh=60, idle_interval=60) as b:
        await b.idle()
        run_list = b.run_list
        rows = run_list._rows_visible()
        for _ in range(12):
            await b.press("pagedown")
            await b.idle()
            highlighted = run_list.highlighted_run
            assert highlighted is not None
            cursor = b.ids.index(highlighted.id)
            pages = run_list.loaded_count // 50
            # One request per page beyond the first, each cursor once.
            cursors = b.cursors()
            assert len(cursors) == pages - 1 and len(set(cursors)) == len(cursors)
            # Pages load ahead by at most a screen (plus the page that covered it).
            assert run_list.loaded_count - 1 - cursor <= 2 * rows + 50, (cursor, pages)
            assert run_list.loaded_count - 1 - cursor > rows or run_list.loading_more
            assert len(set(b.ids)) == len(b.ids)
        assert run_list.loaded_count >= 12 * rows
        assert b.ids == server_ids(sim, run_list.loaded_count)
        assert b.first_pages() == 1


# ----- 3. new runs while paging and polling ------------------------------------------------------


async def test_new_runs_arrive_on_top_without_duplicates(sim: Simulator) -> None:
    add_job(sim, "lazy", "busy", runs=120, run_duration=(10, 50))
    async with board(sim, project="lazy", job="busy", refresh=60, idle_interval=60) as b:
        await b.idle()
        run_list = b.run_list
        await b.press("down", "down", "down", "down", "down")
        watched = run_list.highlighted_run
        assert watched is not None and watched.id == b.ids[5]
        # Two runs start; a poll brings them to the top; the cursor stays on its run.
        new = [sim.world.start_run("lazy", "busy") for _ in range(2)]
        b.main.poll_now()
        await b.wait(lambda: run_list.loaded_count == 52, "the new runs")
        assert b.ids[:2] == [new[1]["id"], new[0]["id"]]
        assert run_list.highlighted_run is not None
        assert run_list.highlighted_run.id == watched.id
        # More runs start while an older page is in flight (End walks to the oldest), and a
        # poll lands meanwhile.
        sim.faults.slow_delay = 1.2
        sim.faults.queue("slow", 1)
        await b.press("end")
        await b.wait(lambda: run_list.loading_more, "loading more")
        more = [sim.world.start_run("lazy", "busy") for _ in range(3)]
        b.main.poll_now()
        await b.wait(lambda: b.ids[0] == more[-1]["id"], "the newest run")
        await b.idle()
        await b.wait(lambda: not run_list.has_more, "every page")
        assert run_list.loaded_count == 125
        assert len(set(b.ids)) == len(b.ids)
        assert b.ids == server_ids(sim, 125, "lazy", "busy")
        assert b.first_pages("lazy", "busy") == 3
        # One more start and poll: still the server's list, once each.
        sim.world.start_run("lazy", "busy")
        await b.press("r")
        await b.wait(lambda: run_list.loaded_count == 126, "one more run")
        assert b.ids == server_ids(sim, 126, "lazy", "busy")
        assert list(run_list.runs) == server_runs(sim, 126, "lazy", "busy")


# ----- 4. running runs conclude ------------------------------------------------------------------


async def test_running_runs_turn_into_success_and_failure(sim: Simulator) -> None:
    add_job(sim, "ops", "deploy", runs=20, project_name="Ops")
    world = sim.world
    # An active run that ends up off the first page: 55 instant runs start after it.
    deep = world.start_run("ops", "deploy", run_name="deep-run", duration=100,
                           outcome="FAILED")
    for _ in range(55):
        world.start_run("ops", "deploy", duration=0)
    ok = world.start_run("ops", "deploy", run_name="ok-run", duration=30, outcome="SUCCESS")
    bad = world.start_run("ops", "deploy", run_name="bad-run", duration=40, outcome="FAILED")
    async with board(sim, project="ops", job="deploy") as b:
        run_list = b.run_list
        await b.idle()
        assert "● RUNNING" in row_of(b, "ok-run") and "● RUNNING" in row_of(b, "bad-run")
        await b.press("end")  # loads the page holding the deep run
        await b.wait(lambda: deep["id"] in b.ids, "the page with the deep run")
        await b.idle()
        assert {r.id for r in run_list.active_runs} == {deep["id"], ok["id"], bad["id"]}
        await b.press("home")
        mark = len(sim.requests)
        world.advance(120)
        await b.wait(lambda: not run_list.active_runs, "every run concluded")
        assert badges([row_of(b, "ok-run")]) == ["✔ SUCCESS"]
        assert badges([row_of(b, "bad-run")]) == ["✘ FAILED"]
        runs = {run.id: run for run in run_list.runs}
        assert runs[deep["id"]].raw_status == "FAILED"
        # The deep run was fetched on its own; the first page by the poll.
        paths = [path for _, path, _ in sim.requests[mark:]]
        assert f"/v1/projects/ops/jobs/deploy/runs/{deep['id']}" in paths
        # Both failures seen while watched are announced.
        await b.wait(lambda: "bad-run" in str(b.notifications())
                     and "deep-run" in str(b.notifications()), "the failure notifications")
        failed = "\n".join(b.notifications())
        assert "bad-run" in failed and "deep-run" in failed
        assert "ok-run" not in failed
        # Failures seen in one poll share one toast ("2 runs failed: …").
        assert len([n for n in b.notifications() if "failed" in n]) <= 2
        # Durations are now fixed: the server's concludedAt - startedAt.
        assert " 30s " in row_of(b, "ok-run") and " 40s " in row_of(b, "bad-run")
        # No active runs: the board polls at the idle interval.
        await b.wait(lambda: b.main.status.state.interval_reason == "idle", "idle polling")


# ----- 5. clock skew ----------------------------------------------------------------------------


async def test_running_durations_use_the_server_clock() -> None:
    """The server's clock is 5 minutes behind ours. A run it started just now is 0-2 s old,
    not 5 minutes: the app measures durations on the server's clock (the `Date` header).

    (`faults.clock_offset` moves only the `Date` header away from the simulated clock: that
    is a server contradicting its own data, not a skewed local clock; here the whole server,
    data and `Date`, runs behind.)

    The bounds are loose on purpose: a loaded machine may take many seconds to start the app,
    and what is checked is "seconds, not the 5 minutes of skew".
    """
    behind = timedelta(minutes=5)
    slack = 60  # seconds: far from the 300 of the skew, whatever the machine's speed
    with run_simulator(seed=7, speed=1.0, history=False,
                       start=datetime.now(timezone.utc) - behind) as sim:
        add_job(sim, "ops", "skewed")
        sim.world.start_run("ops", "skewed", run_name="live-run", duration=3600)
        client = make_client(sim)
        async with board(sim, project="ops", job="skewed", client=client, now=None) as b:
            await b.idle()
            assert abs(client.skew.seconds + behind.total_seconds()) < slack, client.skew.seconds
            row = row_of(b, "live-run")
            duration = re.search(r"(\S+)\s+\d+ of \d+$", row)
            assert duration, row
            assert re.fullmatch(r"\d+s", duration.group(1)), row
            assert int(duration.group(1)[:-1]) < slack, row
            assert re.search(r"just now|an? seconds? ago|\d+s ago", row), row
            # And it keeps counting on the server's clock.
            await b.pilot.pause(1.3)
            row = row_of(b, "live-run")
            later = re.search(r"(\S+)\s+\d+ of \d+$", row)
            assert later and re.fullmatch(r"\d+s", later.group(1)), row
            assert int(later.group(1)[:-1]) < slack


# ----- 6. filters -------------------------------------------------------------------------------


async def test_filters_by_name_and_status(small_sim: Simulator) -> None:
    sim = small_sim
    add_job(sim, "ops", "mixed")
    names = {
        "deploy-api": ("SUCCESS", 0), "deploy-web": ("FAILED", 0),
        "migrate-db": ("SUCCESS", 3600), "backup-nightly": ("FAILED", 0),
        "deploy-worker": ("SUCCESS", 3600), "cleanup": ("SUCCESS", 0),
    }
    for name, (outcome, duration) in names.items():
        sim.world.start_run("ops", "mixed", run_name=name, duration=duration, outcome=outcome)
    async with board(sim, project="ops", job="mixed") as b:
        await b.idle()
        run_list = b.run_list

        def shown() -> set[str]:
            rows = run_list.visible_text()
            return {name for name in names if any(f"  {name}  " in row for row in rows)}

        def shown_badges() -> set[str]:
            return set(badges(run_list.visible_text()))

        assert len(run_list.visible_text()) == 6
        await b.press("slash")
        assert b.main.query_one("#run-filter").has_focus
        await b.press(*"DEPLOY")
        await b.wait(lambda: len(run_list.visible_text()) == 3, "the name filter")
        assert all("deploy-" in row for row in run_list.visible_text())
        assert shown() == {"deploy-api", "deploy-web", "deploy-worker"}
        assert "3/6 runs" in b.status and "filter: DEPLOY" in b.status
        await b.press("escape")
        await b.wait(lambda: len(run_list.visible_text()) == 6, "the filter cleared")
        assert not b.main.query_one("#run-filter").display
        assert run_list.has_focus
        assert "filter:" not in b.status
        await b.press("2")
        assert shown() == {"migrate-db", "deploy-worker"}
        assert shown_badges() == {"● RUNNING"}
        await b.press("3")
        assert shown() == {"deploy-web", "backup-nightly"}
        assert shown_badges() == {"✘ FAILED"}
        await b.press("4")
        assert shown() == {"deploy-api", "cleanup"}
        assert shown_badges() == {"✔ SUCCESS"}
        assert "filter: succeeded" in b.status
        # Name and status together; Enter goes back to the list with the filter kept.
        await b.press("3", "slash", *"deploy", "enter")
        assert shown() == {"deploy-web"}
        assert run_list.has_focus
        await b.press("1")
        assert shown() == {"deploy-api", "deploy-web", "deploy-worker"}
        await b.press("slash", "escape")
        assert len(run_list.visible_text()) == 6
        assert shown() == set(names)


# ----- 7. time format ---------------------------------------------------------------------------


async def test_t_cycles_relative_local_utc(sim: Simulator) -> None:
    async with board(sim, refresh=60, idle_interval=60) as b:
        await b.idle()
        run_list = b.run_list
        second = b.run_list.runs[1]
        assert second.started_at is not None
        local = second.started_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
        utc = second.started_at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")

        def header() -> str:
            return list_lines(run_list)[0]

        rows = run_list.visible_text()
        assert "1m ago" in rows[1] and "Started " in header()
        assert all("ago" in row or "just now" in row for row in rows)
        await b.press("t")
        rows = run_list.visible_text()
        assert local in rows[1] and utc not in rows[1] and "ago" not in rows[1]
        assert "Started (local)" in header()
        await b.press("t")
        rows = run_list.visible_text()
        assert utc in rows[1] and "ago" not in rows[1]
        assert all(re.search(r"\d\d:\d\d:\d\dZ", row) for row in rows)
        assert "Started (UTC)" in header()
        await b.press("t")
        assert "1m ago" in run_list.visible_text()[1]
        assert "Started " in header() and "(" not in header()


# ----- 8. run detail ----------------------------------------------------------------------------


async def test_enter_opens_every_field_and_the_logs(sim: Simulator) -> None:
    async with board(sim, project="payments", job="reconcile-legacy", size=(120, 40),
                     refresh=60, idle_interval=60) as b:
        await b.idle()
        run = b.run_list.highlighted_run
        assert run is not None
        await b.press("enter")
        await b.wait(lambda: isinstance(b.app.screen, RunDetailScreen), "the detail screen")
        detail = b.app.screen
        assert isinstance(detail, RunDetailScreen)
        log = detail.query_one("#logs", Log)
        await b.wait(lambda: log.line_count > 0, "the logs")
        fields = detail_fields(detail)
        for label in ("id", "runName", "status", "active", "concluded", "succeeded", "failed",
                      "completions", "backoffLimit", "startedAt", "concludedAt", "duration"):
            assert re.search(rf"^{label}\s", fields, re.M), (label, fields)
        assert run.id in fields and run.run_name in fields
        assert re.search(r"^status\s+FAILED$", fields, re.M)
        assert re.search(r"^failed\s+1$", fields, re.M)
        assert re.search(r"^concluded\s+true$", fields, re.M)
        assert "✘ FAILED" in fields
        logs = list(log.lines)
        assert any("[INFO] loading configuration (backoffLimit=0)" in line for line in logs)
        assert any("[ERROR] step 'load' failed" in line for line in logs)
        await b.wait(lambda: "[ERROR] step" in screen_text(b), "the logs on screen")
        text = screen_text(b)
        assert "[INFO] loading configuration" in text and "[ERROR] step" in text
        assert run.id in text
        await b.press("c")
        assert b.app.clipboard == run.id
        assert any(run.id in n for n in b.notifications())
        await b.press("escape")
        assert isinstance(b.app.screen, MainScreen)
        assert b.run_list.highlighted_run is not None
        assert b.run_list.highlighted_run.id == run.id


async def test_detail_of_a_run_that_ended_hours_ago_shows_its_logs(sim: Simulator) -> None:
    """The logs are asked for over the run's own window: without one the API answers with the
    last 30 minutes only ("Logs: none for this run" for anything older)."""
    async with board(sim, size=(120, 40)) as b:
        await b.idle()
        await b.press(*["down"] * 90)  # settle-ledger runs every minute: 90 minutes back
        run = b.run_list.highlighted_run
        assert run is not None and run.concluded_at is not None
        assert (sim.world.now() - run.concluded_at).total_seconds() > 3600
        await b.press("enter")
        detail = b.app.screen
        assert isinstance(detail, RunDetailScreen)
        await b.wait(lambda: detail.query_one(Log).line_count > 0, "the run's log lines")
        logs = [target for _, target, _ in sim.requests if "/logs" in target]
        assert logs and "startTime=" in logs[-1] and "endTime=" in logs[-1], logs[-1:]


async def test_detail_of_a_running_run_follows_it_to_the_end(small_sim: Simulator) -> None:
    sim = small_sim
    add_job(sim, "ops", "live", runs=3)
    sim.world.start_run("ops", "live", run_name="live-run", duration=30, outcome="SUCCESS")
    async with board(sim, project="ops", job="live", size=(120, 40)) as b:
        await b.idle()
        await b.press("enter")
        detail = b.app.screen
        assert isinstance(detail, RunDetailScreen)

        def fields() -> str:
            return detail_fields(detail)

        assert re.search(r"^status\s+RUNNING$", fields(), re.M)
        assert re.search(r"^duration\s+0s  \(running\)$", fields(), re.M), fields()
        sim.world.advance(45)
        # The board keeps polling under the detail, and the detail shows what it saw.
        await b.wait(lambda: "SUCCESS" in fields(), "the run to conclude in the detail")
        assert re.search(r"^status\s+SUCCESS$", fields(), re.M)
        assert re.search(r"^concluded\s+true$", fields(), re.M)
        assert re.search(r"^duration\s+30s$", fields(), re.M), fields()
        assert "✔ SUCCESS" in fields()
        await b.press("escape")
        assert badges([row_of(b, "live-run")]) == ["✔ SUCCESS"]


async def test_detail_of_a_running_run_repaints_only_its_duration_each_second(
    small_sim: Simulator, monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim = small_sim
    add_job(sim, "ops", "long", runs=2)
    sim.world.start_run("ops", "long", run_name="long-run", duration=3600)
    async with board(sim, project="ops", job="long", size=(120, 40), refresh=0.3) as b:
        await b.idle()
        await b.press("enter")
        detail = b.app.screen
        assert isinstance(detail, RunDetailScreen)
        table = detail.query_one("#detail-fields", Static)
        duration = detail.query_one("#detail-duration", TextLine)
        table_updates: list[object] = []
        monkeypatch.setattr(table, "update", lambda *a, **k: table_updates.append(a))
        regions = harness.spy_refresh(duration, monkeypatch)
        for _ in range(3):  # polls keep coming (every 0.3 s) with the same run
            before = duration.text.plain
            sim.world.advance(1)
            await b.wait(lambda old=before: duration.text.plain != old, "the duration to tick")
        assert table_updates == []  # the table of fields did not repaint
        assert regions and all(len(r) == 1 and r[0].width <= 2 for r in regions), regions
        assert re.search(r"^duration\s+\d+s  \(running\)$", detail_fields(detail), re.M)


# ----- 9. markup in names -----------------------------------------------------------------------


MARKUP_NAMES = ["[bold]x[/]", "[/]", "[link=http://x]y[/link]", "\x1b[31mred"]


async def test_markup_in_names_is_shown_literally(small_sim: Simulator) -> None:
    sim = small_sim
    project_name, job_name = "[bold]proj[/] [/]", "[link=http://x]job[/link] \x1b[31m[/]"
    add_job(sim, "tricky", "names", name=job_name, project_name=project_name)
    for name in MARKUP_NAMES:
        sim.world.start_run("tricky", "names", run_name=name, duration=0)
    boom = sim.world.start_run("tricky", "names", run_name="[bold]boom[/] [/]", duration=5,
                               outcome="FAILED")
    async with board(sim, project="tricky", job="names") as b:
        await b.idle()
        shown_title = f"{project_name} / [link=http://x]job[/link] ␛[31m[/]"
        # What the user sees: the header drawn with the job's name (not only the job known).
        await b.wait(lambda: shown_title in header_text(b), "the job's name in the header")
        rows = b.run_list.visible_text()
        text = "\n".join(rows)
        for name in ["[bold]x[/]", "[/]", "[link=http://x]y[/link]", "␛[31mred"]:
            assert f"  {name}  " in text, (name, rows)
        assert "\x1b" not in text
        projects = [node.label.plain for node in b.main.picker.job_tree.root.children]
        assert project_name in projects
        tricky = b.main.picker.job_tree.root.children[projects.index(project_name)]
        assert tricky.children[0].label.plain.startswith("[link=http://x]job[/link] ␛[31m[/]")
        screen = screen_text(b)
        assert "[link=http://x]y[/link]" in screen and "[bold]proj[/]" in screen
        # A failure toast with markup in the run's name.
        sim.world.advance(10)
        await b.wait(lambda: any("boom" in n for n in b.notifications()), "the failure toast")
        await b.wait(lambda: b.app.screen.query(Toast), "the toast on screen")
        toasts = [toast.render().plain for toast in b.app.screen.query(Toast)]  # type: ignore[union-attr]
        assert any("Run [bold]boom[/] [/] failed." in toast for toast in toasts), toasts
        assert boom["id"] in b.ids
        # The run detail and its header show the names as they are too.
        link = next(run for run in b.run_list.runs if run.run_name == "[link=http://x]y[/link]")
        b.run_list.select_run_id(link.id)
        await b.press("enter")
        await b.wait(lambda: isinstance(b.app.screen, RunDetailScreen), "the detail")
        assert "run [link=http://x]y[/link]" in header_text(b)
        fields = rich_text(b.app.screen.query_one("#detail-fields", Static).content)
        assert re.search(r"^runName\s+\[link=http://x\]y\[/link\]   ✔ SUCCESS$", fields,
                         re.M), fields


# ----- 10. errors keep the data -----------------------------------------------------------------


async def test_refused_token_says_how_to_fix_it_and_keeps_rows(sim: Simulator) -> None:
    async with board(sim, refresh=60, idle_interval=60) as b:
        await b.idle()
        before = b.ids
        sim.token = "revoked"
        await b.press("r")
        await b.wait(lambda: b.main.status.state.problem, "the problem shown")
        assert "refused (401)" in b.status and "NORTHFLANK_API_TOKEN" in b.status, b.status
        assert b.main.status.state.problem_kind == "error"
        assert any("NORTHFLANK_API_TOKEN" in n for n in b.notifications())
        assert b.ids == before and b.run_list.visible_text()
        # No hammering with a refused token: polling stops until `r`.
        mark = len(sim.requests)
        await b.pilot.pause(1.2)
        assert len(sim.requests) == mark


async def test_wrong_token_from_the_start(sim: Simulator) -> None:
    client = make_client(sim, token="not-the-token")
    async with board(sim, client=client, wait_first_page=False) as b:
        await b.wait(lambda: b.main.status.state.problem, "the problem shown")
        assert "NORTHFLANK_API_TOKEN" in b.status
        await b.wait(lambda: any("NORTHFLANK_API_TOKEN" in n for n in b.notifications()),
                     "the notification")
        assert b.run_list.loaded_count == 0


async def test_deleted_job_says_it_is_gone_and_keeps_rows(sim: Simulator) -> None:
    add_job(sim, "ops", "doomed", runs=5)
    async with board(sim, project="ops", job="doomed", refresh=60, idle_interval=60) as b:
        await b.idle()
        before = b.ids
        with sim.world._lock:  # no API to delete a job: the world forgets it
            del sim.world._jobs["ops"]["doomed"]
        await b.press("r")
        await b.wait(lambda: b.main.status.state.problem, "the problem shown")
        assert "This job or project is gone (404)" in b.status, b.status
        assert b.ids == before and len(b.run_list.visible_text()) == 5


class RunGoneTransport(httpx.AsyncBaseTransport):
    """Loopback to the simulator, except one run's own URL answers 404 (the simulator has
    no way to lose a single run: the API cannot delete one)."""

    def __init__(self, run_path: str) -> None:
        self.run_path = run_path
        self.asked = 0
        self._real = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == self.run_path:
            self.asked += 1
            return httpx.Response(404, json={"error": {"status": 404, "message": "not found"}})
        return await self._real.handle_async_request(request)

    async def aclose(self) -> None:
        await self._real.aclose()


async def test_an_active_run_that_is_gone_leaves_the_list_and_is_not_asked_again(
    small_sim: Simulator,
) -> None:
    sim = small_sim
    add_job(sim, "ops", "flaky")
    doomed = sim.world.start_run("ops", "flaky", run_name="doomed-run", duration=3600)
    for _ in range(12):  # newer runs push it off the first page (of 10 here)
        sim.world.start_run("ops", "flaky", duration=1)
    sim.world.advance(5)
    transport = RunGoneTransport(f"/v1/projects/ops/jobs/flaky/runs/{doomed['id']}")
    client = make_client(sim, transport=transport)
    async with board(sim, project="ops", job="flaky", client=client, page_size=10,
                     refresh=0.3, idle_interval=0.3) as b:
        await b.wait(lambda: transport.asked, "the run fetched by id")
        await b.wait(lambda: doomed["id"] not in b.ids, "the gone run dropped")
        assert b.run_list.active_runs == []
        assert len(b.ids) == 12 and "doomed-run" not in "\n".join(b.run_list.visible_text())
        polls = b.first_pages("ops", "flaky")
        await b.wait(lambda: b.first_pages("ops", "flaky") >= polls + 3, "three more polls")
        assert transport.asked == 1
        assert b.main.status.state.problem == "", b.status


async def test_network_failure_says_offline_and_recovers_by_itself(sim: Simulator) -> None:
    async with board(sim) as b:
        await b.idle()
        before = b.ids
        sim.stop()
        await b.wait(lambda: "offline, retrying in" in b.status, "offline")
        assert re.search(r"offline, retrying in \d+ s", b.status), b.status
        assert b.ids == before and b.run_list.visible_text()
        new = sim.world.start_run(PROJECT, JOB, duration=600)
        sim.start()
        await b.wait(lambda: b.ids[0] == new["id"], "recovery")
        await b.wait(lambda: not b.main.status.state.problem, "the problem cleared")
        assert "offline" not in b.status
        assert b.ids[1:] == before


@pytest.mark.parametrize(
    ("kind", "count", "said"),
    [
        ("429", 2, "rate limited by the API, retrying in "),
        ("503", 2, "The API failed (503)"),
        ("500", 1, "The API failed (500)"),
    ],
)
async def test_bursts_of_errors_keep_rows(sim: Simulator, kind: str, count: int,
                                          said: str) -> None:
    async with board(sim) as b:
        await b.idle()
        before = b.ids
        sim.faults.queue(kind, count, retry_after=1 if kind == "429" else None)
        b.main.poll_now()
        await b.wait(lambda: said in b.status, "the problem shown")
        assert ", retrying in " in b.status
        assert b.ids == before and b.run_list.visible_text()
        await b.wait(lambda: sim.faults.pending == 0 and not b.main.status.state.problem,
                     "recovery", 15)
        assert b.ids == before


async def test_malformed_bodies_change_nothing(sim: Simulator) -> None:
    async with board(sim, refresh=60, idle_interval=60) as b:
        await b.idle()
        before = list(b.run_list.runs)
        for kind in ("malformed", "html", "empty", "wrong_shape"):
            sim.faults.queue(kind)
            await b.press("r")
            await b.wait(lambda: "Unexpected API answer" in b.status, f"{kind}: the problem")
            assert list(b.run_list.runs) == before
            assert b.run_list.visible_text()
            b.assert_healthy()
            await b.press("r")
            await b.wait(lambda: not b.main.status.state.problem, f"{kind}: recovery")
        assert list(b.run_list.runs) == before


# ----- 11. help ---------------------------------------------------------------------------------


# How help.py writes a key.
KEY_TEXT = {
    "up": "↑", "down": "↓", "pageup": "PgUp", "pagedown": "PgDn", "home": "Home", "end": "End",
    "enter": "Enter", "escape": "Esc", "slash": "/", "question_mark": "?",
}


async def test_help_lists_every_bound_key(sim: Simulator) -> None:
    async with board(sim, refresh=60, idle_interval=60) as b:
        await b.press("question_mark")
        assert isinstance(b.app.screen, HelpScreen)
        text = rich_text(b.app.screen.query_one("#help-keys", Static).content)
        lines = text.splitlines()
        # The keys are the first column: up to where the descriptions start.
        column = next(line for line in lines if "move the cursor" in line).index("move the")
        key_cells = {token for line in lines for token in line[:column].split()}
        bindings = [*MainScreen.BINDINGS, *RunList.BINDINGS, *NfRunsApp.BINDINGS,
                    *RunDetailScreen.BINDINGS]
        for binding in bindings:
            assert isinstance(binding, Binding)
            for key in binding.key.split(","):
                shown = KEY_TEXT.get(key, key)
                assert shown in key_cells, (key, binding.description, text)
        # Every action is described, not only its key.
        for words in ("refresh", "times", "filter", "show all, running, failed, succeeded",
                      "job picker", "start a run", "abort", "copy the run id", "quit"):
            assert words in text, words
        await b.press("question_mark")
        assert isinstance(b.app.screen, MainScreen)
        await b.press("question_mark", "escape")
        assert isinstance(b.app.screen, MainScreen)


# ----- 12. no token -----------------------------------------------------------------------------


async def test_no_token_shows_setup_and_q_quits() -> None:
    message = "No API token found. Set NORTHFLANK_API_TOKEN or log in with the Northflank CLI."
    app = NfRunsApp(None, AppOptions(tty_check=0), setup_message=message)
    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, SetupScreen)
        shown = app.screen.query_one("#setup-message", Static).render()
        assert message in shown.plain  # type: ignore[union-attr]
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0
    assert app._exception is None


# ----- 13. the API budget -----------------------------------------------------------------------


async def test_small_quota_stretches_polling_to_fit_the_budget(sim: Simulator) -> None:
    sim.set_rate_limit(100)
    client = make_client(sim, share=0.5)
    async with board(sim, client=client, generous_quota=False) as b:
        # (On this quota the job index walks at a few requests an hour: not waited for.)
        await b.idle(index_listed=False)
        screen = b.main
        await b.wait(lambda: "to fit the API budget" in b.status, "the budget notice")
        assert re.search(r"polling every \d+ s to fit the API budget", b.status), b.status
        state = screen.status.state
        assert state.interval_reason == "budget"
        assert state.interval is not None and state.interval > screen.options.refresh * 10
        feed = screen.feed
        assert feed is not None
        assert screen.scheduler.budget.interval_for(1, screen.options.refresh) > feed.policy.refresh
        assert state.budget is not None and state.budget.limit == 100
        assert "API 9" in b.status and "/100" in b.status
        # And it does poll that slowly.
        polls = b.first_pages()
        await b.pilot.pause(2.5)
        assert b.first_pages() == polls


# ----- 14. a small terminal ---------------------------------------------------------------------


async def test_a_resize_to_narrow_never_leaves_the_keys_with_a_hidden_picker(
    sim: Simulator,
) -> None:
    async with board(sim, size=(200, 40), refresh=60, idle_interval=60) as b:
        await b.idle()
        await b.press("p")  # the picker has the keys
        assert b.main.picker.has_focus_within
        await b.pilot.resize_terminal(80, 24)
        await b.wait(lambda: not b.main.picker.display, "the picker hidden")
        focused = b.app.focused
        assert focused is not None and not b.main.picker.has_focus_within
        before = b.run_list.highlighted_run
        await b.press("down")
        assert b.run_list.highlighted_run != before  # the keys do something


async def test_usable_at_80x24(sim: Simulator) -> None:
    async with board(sim, size=(80, 24), refresh=60, idle_interval=60) as b:
        await b.idle()
        screen = b.main
        rows = b.run_list.visible_text()
        assert len(rows) >= 15
        # The header keeps the job's name whole; the host is what gets cut.
        assert "Payments / Settle ledger" in header_text(b)
        badges(rows)
        assert all(len(row) <= 80 for row in rows)
        assert not screen.picker.display  # the runs take the width
        assert b.run_list.region.width >= 78
        footer = screen.query_one(Footer)
        assert footer.region.height == 1 and footer.region.y == 23
        await b.wait(lambda: "Quit" in screen_text(b).splitlines()[-1], "the footer's keys")
        text = screen_text(b).splitlines()
        assert "Quit" in text[-1] and "Help" in text[-1] and "Jobs" in text[-1], text[-1]
        assert "RUNNING" in "\n".join(text)
        await b.press("p")
        assert screen.picker.display
        assert screen.picker.has_focus_within
        await b.pilot.pause()
        assert "Payments" in screen_text(b)
        await b.press("p")
        assert not screen.picker.display
        assert b.run_list.has_focus
        assert b.run_list.visible_text()


async def test_p_on_a_wide_screen_goes_to_the_picker_before_hiding_it(sim: Simulator) -> None:
    async with board(sim, size=(160, 40), refresh=60, idle_interval=60) as b:
        await b.idle()
        screen = b.main
        assert screen.picker.display and b.run_list.has_focus
        await b.press("p")  # shown already: go there, do not hide it
        assert screen.picker.display and screen.picker.job_tree.has_focus
        await b.press("p")  # from the picker: hide it, back to the runs
        assert not screen.picker.display and b.run_list.has_focus
        await b.press("p")
        assert screen.picker.display and screen.picker.job_tree.has_focus


async def test_filter_searches_a_few_older_pages_per_key_press(sim: Simulator) -> None:
    """A filter with few matches on a job of 3000 runs loads a few pages to fill the screen,
    then waits for a key: it does not walk all 60 pages (the hourly quota) by itself. End
    does, when asked: to the oldest run that matches."""
    total = sim.world.run_count(PROJECT, JOB)
    async with board(sim, refresh=60, idle_interval=60) as b:
        await b.idle()
        run_list = b.run_list
        await b.press("slash", *"zzz")
        await b.pilot.pause(0.5)
        await b.idle()
        assert run_list.loaded_count == 250 and len(b.cursors()) == 4
        assert list_lines(run_list)[1].strip() == (
            "No runs match the filter in 250 loaded — End searches older runs"
        )
        # The status filter: one RUNNING run among 250; a key press searches further.
        await b.press("slash", "escape", "2")
        await b.pilot.pause(0.5)
        await b.idle()
        assert run_list.loaded_count == 450 and len(b.cursors()) == 8
        assert badges(run_list.visible_text()) == ["● RUNNING"]
        assert list_lines(run_list)[2].strip() == (
            "no more matches in 450 loaded — End searches older runs"
        )
        # End: every older page, to the oldest match (the only one).
        await b.press("end")
        await b.wait(lambda: not run_list.has_more, "the oldest run", 60)
        await b.idle()
        assert run_list.loaded_count == total
        assert badges(run_list.visible_text()) == ["● RUNNING"]
        assert list_lines(run_list)[2].strip() == f"end of runs — {total:,} loaded"
        await b.press("1")
        assert len(run_list.visible_text()) == run_list._rows_visible()
        cursors = b.cursors()
        assert len(set(cursors)) == len(cursors) == -(-(total - 50) // 50)
        assert b.ids == server_ids(sim, total)


async def test_projects_that_cannot_be_listed_at_start_are_asked_again(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API down at start: the picker says why and when it retries, the whole message is
    toasted once, and the projects come by themselves when it is back (no `r`)."""
    from tui.screens import job_screen

    monkeypatch.setattr(job_screen, "PROJECTS_RETRY_FIRST", 0.2)
    down = [True]
    world_type = type(sim.world)
    original = world_type.projects

    def projects(world: Any) -> list[dict[str, Any]]:
        if down[0]:
            raise NotFoundError("The API is being deployed, come back in a minute")
        return original.fget(world)  # type: ignore[attr-defined,no-any-return]

    monkeypatch.setattr(world_type, "projects", property(projects))
    async with board(sim, wait_first_page=False) as b:
        picker = b.main.picker

        def labels() -> list[str]:
            return [node.label.plain for node in picker.job_tree.root.children]

        await b.wait(lambda: any("retrying in" in label for label in labels()), "the retry")
        await b.wait(lambda: any("come back in a minute" in n.message
                                 for n in b.app._notifications), "the whole message")
        down[0] = False
        await b.wait(lambda: "Payments" in labels(), "the projects, by themselves")


async def test_a_project_whose_jobs_fail_is_asked_again_only_when_the_user_asks(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every change rebuilds the picker's tree and expands the open projects again: that must
    # not count as the user asking, or a failing project is asked again after each failure.
    sim.world.add_project("broken", "Broken project")
    world_jobs = sim.world.jobs

    def jobs(project_id: str) -> list[dict[str, Any]]:
        if project_id == "broken":
            raise NotFoundError("Project broken is being moved")
        return world_jobs(project_id)

    monkeypatch.setattr(sim.world, "jobs", jobs)
    path = "/v1/projects/broken/jobs"

    def asked(index: bool = False) -> int:
        """The picker's requests for the project's jobs (the global job index's, in pages
        of INDEX_PAGE, with `index`)."""
        return sum(
            1 for _, target, _ in sim.requests if urlsplit(target).path == path
            and (parse_qs(urlsplit(target).query).get("per_page") == [str(INDEX_PAGE)])
            == index
        )

    async with board(sim) as b:
        await b.idle()
        picker = b.main.picker
        tree = picker.job_tree

        def broken_node() -> Any:
            return next(node for node in tree.root.children
                        if node.data is not None and node.data.project_id == "broken")

        def shown_error() -> bool:
            return any("being moved" in child.label.plain for child in broken_node().children)

        broken_node().expand()
        await b.wait(shown_error, "the project's error under it")
        for _ in range(30):  # many turns of the event loop: rebuilds, expansions, messages
            await b.pilot.pause()
        assert asked() == 1
        assert shown_error()
        # The user closes and opens it again: that is a retry.
        broken_node().collapse()
        await b.pilot.pause()
        broken_node().expand()
        await b.wait(lambda: asked() == 2, "the retry")
        await b.wait(shown_error, "the error again")
        for _ in range(30):
            await b.pilot.pause()
        assert asked() == 2
        # The index asked once too, and waits minutes before it asks again.
        assert asked(index=True) == 1
