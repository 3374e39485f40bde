"""A screen that shows one job's runs as the engine watches them.

`JobScreen` opens a job (the scheduler watches it; the run list shows its feed's store) and
shows what the engine says (`EngineMessage`) on the job picker, run list and status line that
a subclass composes, one of each: `MainScreen` lays them out and binds the keys.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

from textual import on
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.timer import Timer

from ..api.errors import ForbiddenError, NotFoundError, UnauthorizedError
from ..api.models import Job
from ..formatting import printable
from ..messages import EngineMessage
from ..options import AppOptions
from ..textual_patches import hidden_under_opaque_screen
from ..toast import toast
from ..watch.events import (
    AccessLost,
    ActionDone,
    CatalogFailed,
    EngineCrashed,
    FeedChanged,
    IndexChanged,
    JobKey,
    JobsLoaded,
    ProjectsLoaded,
    RunsFailed,
)
from ..watch.feed import JobFeed
from ..watch.scheduler import Scheduler
from ..widgets.job_picker import JobPicker
from ..widgets.run_list import RunList
from ..widgets.status_line import StatusLine, feed_status
from .run_actions import RunActions

__all__ = ["JobScreen"]

# Projects that could not be listed are asked again after this, doubling up to the most.
PROJECTS_RETRY_FIRST = 5.0
PROJECTS_RETRY_MAX = 120.0


class JobScreen(Screen[None]):
    """The open job (`feed`, `job`) and the engine's events, shown on this screen's widgets."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("l", "open_log", "Log", show=False, id="open_log"),
    ]

    def __init__(
        self, scheduler: Scheduler, options: AppOptions, *, now: Callable[[], datetime]
    ) -> None:
        super().__init__()
        self.scheduler = scheduler
        self.options = options
        self.now = now
        self.feed: JobFeed | None = None
        self.job: Job | None = None
        self.run_actions = RunActions(self, scheduler, options)
        self._projects_retry = PROJECTS_RETRY_FIRST
        self._projects_timer: Timer | None = None
        # Without a job to open, the first job of the project shown is opened when it loads.
        # With the board, the user picks the job there.
        self._auto_open_first = not (options.project and options.job) and not options.board

    @property
    def key(self) -> JobKey | None:
        return None if self.feed is None else self.feed.key

    @property
    def run_list(self) -> RunList:
        return self.query_one(RunList)

    @property
    def picker(self) -> JobPicker:
        return self.query_one(JobPicker)

    @property
    def status(self) -> StatusLine:
        return self.query_one(StatusLine)

    # ----- the watched job ------------------------------------------------------------------

    def open_job(self, project_id: str, job_id: str) -> None:
        """Show a job's runs: its feed starts with a poll of the first page."""
        key = JobKey(project_id, job_id)
        if key == self.key:
            return
        if self.feed is not None:
            self.scheduler.unwatch(self.feed.key)
        self.feed = self.scheduler.watch(key)
        self.scheduler.focus_board(key)  # the board, if open, looks at this job first
        self.job = self.picker.find_job(project_id, job_id)
        self._auto_open_first = False
        self.run_list.show_store(self.feed.store, key)
        self.picker.set_current(project_id, job_id)
        if self.has_class("-narrow") and self.picker.display:
            # A narrow screen (MainScreen's layout) gives the runs of an open job its width.
            self.picker.display = False
            if self.picker.has_focus_within:
                self.run_list.focus()
        self.status.job_opened()
        self._update_title()
        seen_job = getattr(self.app, "seen_job", None)
        if callable(seen_job):
            seen_job(key)  # the board's news about this job is read

    def _update_title(self) -> None:
        if self.key is None:
            return
        project = self.picker.project(self.key.project_id)
        project_name = project.name if project else self.key.project_id
        job_name = self.job.name if self.job else self.key.job_id
        # The job first: a narrow header cuts from the end, and the host matters least.
        self.sub_title = (
            f"{printable(project_name)} / {printable(job_name)} · "
            f"{printable(self.options.host_label)}"
        )

    # ----- what the engine says -------------------------------------------------------------

    def on_engine_message(self, message: EngineMessage) -> None:
        event = message.event
        if isinstance(event, FeedChanged):
            self._feed_changed(event)
        elif isinstance(event, RunsFailed):
            if event.key == self.key:
                self.run_actions.runs_failed(event)
        elif isinstance(event, IndexChanged):
            self.picker.set_index(event.index)
            self._refresh_status()  # (its requests count in the API figure)
            if self.key is not None and self.job is None:
                self.job = self.picker.find_job(self.key.project_id, self.key.job_id)
                self._update_title()
        elif isinstance(event, ProjectsLoaded):
            self._projects_loaded(event)
        elif isinstance(event, JobsLoaded):
            self._jobs_loaded(event)
        elif isinstance(event, CatalogFailed):
            self._catalog_failed(event)
        elif isinstance(event, AccessLost):
            if event.key is None or event.key == self.key:
                self._access_lost(event)
        elif isinstance(event, ActionDone):
            self.run_actions.done(event)
        elif isinstance(event, EngineCrashed):
            toast(self.app, f"Unexpected error ({type(event.error).__name__}): {event.error}",
                  title="nf-runs", severity="error")

    def _feed_changed(self, event: FeedChanged) -> None:
        if event.key != self.key:
            return
        run_list = self.run_list
        state = event.state
        with self.app.batch_update():
            run_list.apply(event.changes)
            run_list.set_feed_state(has_more=state.has_more, loading_more=state.loading_more,
                                    problems=state.run_problems, walking=state.walking,
                                    answered=state.last_good is not None)
        if event.updated_runs:
            self._update_detail(event)
        self._refresh_status()

    def _catalog_failed(self, event: CatalogFailed) -> None:
        """The picker says why; the projects are asked again with back-off (a network down
        at start must not need `r`), and the first failure's whole message is toasted."""
        what = "projects" if event.what == "projects" else "jobs"
        message = f"Cannot load {what}: {event.error}"
        if event.what != "projects":
            self.picker.show_error(event.project_id, message)
            return
        wait = self._projects_retry
        self._projects_retry = min(PROJECTS_RETRY_MAX, wait * 2)
        self.picker.show_error(None, f"{message} (retrying in {wait:.0f} s)")
        if wait == PROJECTS_RETRY_FIRST:
            toast(self.app, message, title="Cannot load projects", severity="error",
                  timeout=10)
        if self._projects_timer is not None:
            self._projects_timer.stop()
        self._projects_timer = self.set_timer(wait, self.scheduler.load_projects)

    def _access_lost(self, event: AccessLost) -> None:
        error = event.error
        if isinstance(error, (UnauthorizedError, ForbiddenError, NotFoundError)):
            toast(self.app, str(error), title="API error", severity="error", timeout=10)
        self._refresh_status()

    def _projects_loaded(self, event: ProjectsLoaded) -> None:
        self._projects_retry = PROJECTS_RETRY_FIRST
        self.picker.add_projects(event.page, event.first)
        if event.first:
            wanted = self.options.project or (self.key.project_id if self.key else None)
            wanted = wanted or self.picker.first_project_id
            if wanted is not None and self.picker.project(wanted) is not None:
                self.picker.set_current(wanted, self.key.job_id if self.key else "")

    def _jobs_loaded(self, event: JobsLoaded) -> None:
        self.picker.add_jobs(event.project_id, event.page, event.first)
        if self.key is not None and self.key.project_id == event.project_id:
            job = self.picker.find_job(self.key.project_id, self.key.job_id)
            if job is not None:
                self.job = job
                self._update_title()
        elif (
            self._auto_open_first and self.key is None and event.page.items
            and event.project_id == (self.options.project or event.project_id)
        ):
            first = event.page.items[0]
            self.open_job(first.project_id or event.project_id, first.id)

    def _update_detail(self, event: FeedChanged) -> None:
        """A run detail open on top shows what this poll saw of its run."""
        from .detail import RunDetailScreen

        for screen in self.app.screen_stack:
            if isinstance(screen, RunDetailScreen) and screen.key == event.key:
                for run in event.updated_runs:
                    if run.id == screen.run.id:
                        screen.update_run(run)
                        break

    def action_open_log(self) -> None:
        """`l`: the highlighted run's log, full screen (live while the run runs)."""
        run = self.run_list.highlighted_run
        if self.key is None or run is None:
            return
        from .log_viewer import LogViewerScreen

        self.app.push_screen(LogViewerScreen(self.scheduler.client, self.key, run, now=self.now))

    @on(JobPicker.ProjectOpened)
    def _project_opened(self, message: JobPicker.ProjectOpened) -> None:
        self.scheduler.load_jobs(message.project_id)

    @on(JobPicker.MoreWanted)
    def _more_jobs_wanted(self, message: JobPicker.MoreWanted) -> None:
        if message.project_id is None:
            self.scheduler.load_projects(message.cursor)
        else:
            self.scheduler.load_jobs(message.project_id, message.cursor)

    @on(RunList.NeedMore)
    def _need_more(self) -> None:
        if self.key is not None:
            self.scheduler.want_more(self.key)

    @on(RunList.WalkToEnd)
    def _walk_to_end(self) -> None:
        """G: every older page, to the oldest run, within the walk's part of the budget."""
        feed = self.feed
        if feed is not None:
            feed.walk_to_end(self.scheduler.budget)
            self.scheduler.wake()
        self.run_list.walk_answered(feed is not None and feed.walk.active)
        self._refresh_status()

    def stop_walk(self) -> bool:
        """Esc while walking to the oldest run: no more pages. False if it was not walking."""
        feed = self.feed
        if feed is None or not feed.walk.active:
            return False
        feed.stop_walk()
        self.run_list.walk_answered(False)
        self._refresh_status()
        return True

    # ----- the clock ------------------------------------------------------------------------

    def _tick(self) -> None:
        self.scheduler.notice_time()
        if not self.is_current or hidden_under_opaque_screen(self):
            # Covered (the board, a detail on top): nothing of it is seen, and a repaint
            # under an opaque screen still costs a frame. on_screen_resume catches up.
            return
        self.run_list.tick()
        self._refresh_status()

    def on_screen_resume(self) -> None:
        self.run_list.tick()
        self._refresh_status()

    def _refresh_status(self) -> None:
        feed = self.feed
        budget = self.scheduler.budget.snapshot()
        if feed is None:
            self.status.update_state(budget=budget)
            return
        now = self.scheduler.clock.monotonic()
        walk_wait = None if feed.more_in_flight else feed.more_held_until - now
        self.status.show(feed_status(self.status.state, feed.state(), budget, now=now,
                                     stale=feed.is_stale(now), walk_wait=walk_wait))

    def poll_now(self) -> None:
        """Poll the open job now (`r`; after a start or abort the engine does it itself)."""
        if self.key is not None:
            self.scheduler.poll_now(self.key)
            self._refresh_status()
