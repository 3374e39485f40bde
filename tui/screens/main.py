"""The main screen: job picker, run list, status line; it owns the refresh loop.

Workers fetch and post messages (`tui/messages.py`); the handlers here update the widgets.
The next poll is scheduled only when the previous one has finished, at the interval the
`PollPolicy` gives (refresh wish, idle back-off, rate-limit budget, faults).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Header, Input
from textual.worker import Worker, WorkerState

from ..api.client import NorthflankClient
from ..api.errors import (
    ApiTimeoutError,
    ForbiddenError,
    NorthflankError,
    NotFoundError,
    RateLimitedError,
    UnauthorizedError,
)
from ..api.models import Job, JobRun, RunStatus
from ..formatting import TimeMode, printable
from ..messages import (
    ApiFailed,
    JobKey,
    JobsLoaded,
    ProjectsLoaded,
    RunsPageLoaded,
    RunsPolled,
)
from ..options import AppOptions
from ..polling import PollPolicy
from ..widgets.job_picker import JobPicker
from ..widgets.run_list import RunList
from ..widgets.status_line import StatusLine

if TYPE_CHECKING:
    from ..app import NfRunsApp

# A page of runs is fetched this many times at most while looking for where a fresh head
# meets the loaded list (after a long sleep); past that the list restarts from the head.
MAX_GAP_PAGES = 4
NARROW_WIDTH = 100
# A poll that answers faster than this does not flash "refreshing…" in the status line: two
# repaints of a full terminal line per poll, every few seconds, for a state nobody can read.
REFRESHING_DELAY = 0.25

STATUS_FILTERS: dict[str, frozenset[RunStatus] | None] = {
    "all": None,
    "running": frozenset({RunStatus.RUNNING}),
    "failed": frozenset({RunStatus.FAILED}),
    "succeeded": frozenset({RunStatus.SUCCESS}),
}


class MainScreen(Screen[None]):
    """Picker on the left, runs on the right, status line and key bar below."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "refresh", "Refresh", id="refresh"),
        Binding("slash", "filter", "Filter", id="filter"),
        Binding("t", "time_mode", "Time", id="time_mode"),
        Binding("1", "status_filter('all')", "All", show=False, id="filter_all"),
        Binding("2", "status_filter('running')", "Running", show=False, id="filter_running"),
        Binding("3", "status_filter('failed')", "Failed", show=False, id="filter_failed"),
        Binding("4", "status_filter('succeeded')", "Succeeded", show=False,
                id="filter_succeeded"),
        Binding("p", "toggle_picker", "Jobs", id="toggle_picker"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("s", "start_run", "Start run", show=False, id="start_run"),
        Binding("x", "abort_run", "Abort run", show=False, id="abort_run"),
    ]

    def __init__(self, client: NorthflankClient, options: AppOptions) -> None:
        super().__init__()
        self.client = client
        self.options = options
        self.key: JobKey | None = None
        self.job: Job | None = None
        self.policy = PollPolicy(
            client.budget, refresh=options.refresh, idle_interval=options.idle_interval
        )
        self._next_cursor: str | None = None
        self._has_more = False
        self._requested_cursors: set[str] = set()
        self._more_cursor: str | None = None  # the older page on its way, if any
        self._more_blocked_until = 0.0
        self._poll_timer: Timer | None = None
        self._refreshing_timer: Timer | None = None
        self._polling = False
        self._poll_due: float | None = None
        self._last_good: float | None = None
        self._good_interval = options.refresh  # the interval planned after the last good poll
        self._last_tick = time.monotonic()
        self._last_tick_wall = time.time()
        self._stopped_reason = ""
        self._status_filter = "all"
        self._text_filter = ""
        # Without a job to open, the first job of the project shown is opened when it loads.
        self._auto_open_first = not (options.project and options.job)

    @property
    def nf_app(self) -> NfRunsApp:
        from ..app import NfRunsApp

        assert isinstance(self.app, NfRunsApp)
        return self.app

    # ----- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header(icon="▤")
        with Horizontal(id="body"):
            yield JobPicker(id="picker")
            with Vertical(id="runs-pane"):
                yield Input(placeholder="filter runs by name…  (Esc clears)", id="run-filter")
                yield RunList(now=self.nf_app.now, id="run-list")
        yield StatusLine(id="status")
        yield Footer()

    @property
    def run_list(self) -> RunList:
        return self.query_one(RunList)

    @property
    def picker(self) -> JobPicker:
        return self.query_one(JobPicker)

    @property
    def status(self) -> StatusLine:
        return self.query_one(StatusLine)

    def on_mount(self) -> None:
        self.sub_title = self.options.host_label
        self.query_one("#run-filter").display = False
        self.set_class(self.app.size.width < NARROW_WIDTH, "-narrow")
        self.load_projects()
        if self.options.project and self.options.job:
            self.open_job(self.options.project, self.options.job)
            self.run_list.focus()
        else:
            self.picker.job_tree.focus()
        self.set_interval(self.options.tick, self._tick, name="tick")

    def on_resize(self) -> None:
        narrow = self.app.size.width < NARROW_WIDTH
        if narrow != self.has_class("-narrow"):
            self.set_class(narrow, "-narrow")
            # Narrow terminals give the runs the whole width once a job is open; `p` shows
            # the picker again.
            self.picker.display = not (narrow and self.key is not None)

    # ----- projects and jobs ----------------------------------------------------------------

    @work(group="projects", exclusive=True, exit_on_error=False)
    async def load_projects(self, cursor: str | None = None) -> None:
        try:
            page = await self.client.list_projects(cursor=cursor)
        except NorthflankError as error:
            self.post_message(ApiFailed("projects", error))
            return
        self.post_message(ProjectsLoaded(page, first=cursor is None))

    @work(exclusive=False, exit_on_error=False)
    async def load_jobs(self, project_id: str, cursor: str | None = None) -> None:
        try:
            page = await self.client.list_jobs(project_id, cursor=cursor)
        except NorthflankError as error:
            self.post_message(ApiFailed("jobs", error, JobKey(project_id, "")))
            return
        self.post_message(JobsLoaded(project_id, page, first=cursor is None))

    def on_projects_loaded(self, message: ProjectsLoaded) -> None:
        self.picker.add_projects(message.page, message.first)
        self._refresh_status()
        if message.first:
            wanted = self.options.project or (self.key.project_id if self.key else None)
            wanted = wanted or self.picker.first_project_id
            if wanted is not None and self.picker.project(wanted) is not None:
                self.picker.set_current(wanted, self.key.job_id if self.key else "")

    def on_jobs_loaded(self, message: JobsLoaded) -> None:
        self.picker.add_jobs(message.project_id, message.page, message.first)
        self._refresh_status()
        if self.key is not None and self.key.project_id == message.project_id:
            job = self.picker.find_job(self.key.project_id, self.key.job_id)
            if job is not None:
                self.job = job
                self._update_title()
        elif (
            self._auto_open_first and self.key is None and message.page.items
            and message.project_id == (self.options.project or message.project_id)
        ):
            self._auto_open_first = False
            first = message.page.items[0]
            self.open_job(first.project_id or message.project_id, first.id)

    @on(JobPicker.ProjectOpened)
    def _project_opened(self, message: JobPicker.ProjectOpened) -> None:
        self.load_jobs(message.project_id)

    @on(JobPicker.MoreWanted)
    def _more_wanted(self, message: JobPicker.MoreWanted) -> None:
        if message.project_id is None:
            self.load_projects(message.cursor)
        else:
            self.load_jobs(message.project_id, message.cursor)

    @on(JobPicker.JobChosen)
    def _job_chosen(self, message: JobPicker.JobChosen) -> None:
        job = message.job
        self.open_job(job.project_id, job.id)
        if self.has_class("-narrow"):
            self.picker.display = False
        self.run_list.focus()

    # ----- the watched job ------------------------------------------------------------------

    def open_job(self, project_id: str, job_id: str) -> None:
        """Show a job's runs: clear, load the first page, then poll."""
        key = JobKey(project_id, job_id)
        if key == self.key:
            return
        self.key = key
        self.job = self.picker.find_job(project_id, job_id)
        self._auto_open_first = False
        self._next_cursor = None
        self._has_more = False
        self._requested_cursors.clear()
        self._last_good = None
        self._stopped_reason = ""
        self.policy.failures = 0
        self.workers.cancel_group(self, "more")
        self._more_cursor = None
        self.run_list.clear_runs()
        self.picker.set_current(project_id, job_id)
        if self.has_class("-narrow") and self.picker.display:
            self.picker.display = False
            if self.picker.has_focus_within:
                self.run_list.focus()
        self.status.update_state(
            loaded=0, shown=0, has_more=False, end_reached=False, problem="", retry_in=None,
            last_refresh_age=None, stale=False, interval=None,
        )
        self._update_title()
        self.poll_now()

    def _update_title(self) -> None:
        if self.key is None:
            return
        project = self.picker.project(self.key.project_id)
        project_name = project.name if project else self.key.project_id
        job_name = self.job.name if self.job else self.key.job_id
        self.sub_title = (
            f"{self.options.host_label} · {printable(project_name)} / {printable(job_name)}"
        )

    def poll_now(self) -> None:
        """Poll the visible job now (a poll in flight is replaced)."""
        if self.key is None:
            return
        if self._poll_timer is not None:
            self._poll_timer.stop()
            self._poll_timer = None
        self._poll_due = None
        self._polling = True
        if self._refreshing_timer is not None:
            self._refreshing_timer.stop()
        self._refreshing_timer = self.set_timer(
            REFRESHING_DELAY, self._show_refreshing, name="refreshing"
        )
        run_list = self.run_list
        known = frozenset(run.id for run in run_list.runs[: self.options.page_size * 2])
        active = [run.id for run in run_list.active_runs]
        self._poll(self.key, known, active, bool(run_list.loaded_count))

    def _show_refreshing(self) -> None:
        self._refreshing_timer = None
        if self._polling:
            self.status.update_state(refreshing=True)

    @work(group="poll", exclusive=True, exit_on_error=False)
    async def _poll(
        self, key: JobKey, known: frozenset[str], active: list[str], have_runs: bool
    ) -> None:
        client = self.client
        per_page = self.options.page_size
        try:
            page = await client.get_job_runs(key.project_id, key.job_id, per_page=per_page)
            head = list(page.items)
            cursor, has_more, replace = page.cursor, page.has_next_page, not have_runs
            if have_runs and head and not any(run.id in known for run in head):
                # Many runs arrived since the last poll: walk on to where the list meets
                # what is loaded, so nothing between them goes missing.
                replace = True
                for _ in range(MAX_GAP_PAGES):
                    if not has_more or not cursor:
                        break
                    more = await client.get_job_runs(
                        key.project_id, key.job_id, per_page=per_page, cursor=cursor
                    )
                    head.extend(more.items)
                    cursor, has_more = more.cursor, more.has_next_page
                    if any(run.id in known for run in more.items):
                        replace = False
                        break
            head_ids = {run.id for run in head}
            updated: list[JobRun] = []
            gone: list[str] = []
            off_head = [run_id for run_id in active if run_id not in head_ids]
            # Active runs off the first page cost a request each: only what the budget allows.
            for run_id in off_head[: max(0, client.budget.available() - 1)]:
                try:
                    updated.append(await client.get_job_run(key.project_id, key.job_id, run_id))
                except NotFoundError:
                    gone.append(run_id)
        except NorthflankError as error:
            self.post_message(ApiFailed("poll", error, key))
            return
        self.post_message(RunsPolled(key, head, updated, replace, cursor, has_more, gone))

    def on_runs_polled(self, message: RunsPolled) -> None:
        if message.key != self.key:
            return
        run_list = self.run_list
        with self.app.batch_update():
            if message.replace:
                # An older page on its way belongs to the old list: drop it.
                self.workers.cancel_group(self, "more")
                self._more_cursor = None
                run_list.clear_runs()
                run_list.append_page(message.head, message.has_more)
                self._next_cursor = message.cursor
                self._has_more = message.has_more
                self._requested_cursors.clear()
                changes: list[tuple[JobRun, JobRun]] = []
            else:
                changes = run_list.update_runs(message.head)
                run_list.merge_head(message.head)
                changes += run_list.update_runs(message.updated)
                # A run fetched by id and answered 404 no longer exists: stop following it.
                run_list.remove_runs(message.gone)
        self._notify_failures(changes)
        self._update_detail([*message.head, *message.updated])
        self._polling = False
        self._last_good = time.monotonic()
        self._stopped_reason = ""
        active = len(run_list.active_runs)
        head_ids = {run.id for run in message.head}
        off_head = sum(1 for run in run_list.active_runs if run.id not in head_ids)
        plan = self.policy.after_success(active, 1 + off_head)
        self._good_interval = plan.delay
        self._schedule_poll(plan.delay)
        self.status.update_state(
            refreshing=False, problem="", problem_kind="", retry_in=None,
            interval=plan.delay, interval_reason=plan.reason,
        )
        self._refresh_status()

    def _notify_failures(self, changes: list[tuple[JobRun, JobRun]]) -> None:
        for old, new in changes:
            if old.is_active and new.status is RunStatus.FAILED:
                self.app.notify(
                    f"Run {printable(new.run_name)} failed.", title="Run failed",
                    severity="error", markup=False,
                )
                if self.options.bell:
                    self.app.bell()

    def _update_detail(self, runs: list[JobRun]) -> None:
        """A run detail open on top shows what this poll saw of its run."""
        from .detail import RunDetailScreen

        for screen in self.app.screen_stack:
            if isinstance(screen, RunDetailScreen) and screen.key == self.key:
                for run in runs:
                    if run.id == screen.run.id:
                        screen.update_run(run)
                        break

    def _schedule_poll(self, delay: float) -> None:
        if self._poll_timer is not None:
            self._poll_timer.stop()
        self._poll_due = time.monotonic() + delay
        self._poll_timer = self.set_timer(delay, self.poll_now, name="poll")

    # ----- older pages ----------------------------------------------------------------------

    @on(RunList.NeedMore)
    def _need_more(self) -> None:
        self._load_more_if_due()

    def _load_more_if_due(self) -> None:
        cursor = self._next_cursor
        if (
            self.key is None or not self._has_more or not cursor
            or cursor in self._requested_cursors
        ):
            return
        if self._stopped_reason:
            # The token or the job is refused: no request. Re-arm the list, so the next key
            # press asks again (after `r`).
            self.run_list.set_loading_more(False)
            return
        hold = self._more_blocked_until - time.monotonic()
        if hold > 0:
            # Held back (a failed page, a Retry-After): ask again when the hold ends.
            self.set_timer(hold + 0.05, self._load_more_if_due)
            return
        self._requested_cursors.add(cursor)
        self._more_cursor = cursor
        self.run_list.set_loading_more(True)
        self._load_more(self.key, cursor)

    @work(group="more", exclusive=True, exit_on_error=False)
    async def _load_more(self, key: JobKey, cursor: str) -> None:
        try:
            page = await self.client.get_job_runs(
                key.project_id, key.job_id, per_page=self.options.page_size, cursor=cursor
            )
        except NorthflankError as error:
            self._requested_cursors.discard(cursor)
            self.post_message(ApiFailed("more", error, key))
            return
        self.post_message(RunsPageLoaded(key, page, first=False))

    def on_runs_page_loaded(self, message: RunsPageLoaded) -> None:
        if message.key != self.key or self._more_cursor is None:
            return  # another job, or a page of a list that restarted since it was asked
        self._more_cursor = None
        self._next_cursor = message.page.cursor
        self._has_more = message.page.has_next_page
        # Append first: the list checks whether it needs yet more against the grown list.
        self.run_list.append_page(message.page.items, message.page.has_next_page)
        self.run_list.set_loading_more(False)
        self._refresh_status()

    # ----- failures -------------------------------------------------------------------------

    def on_api_failed(self, message: ApiFailed) -> None:
        error = message.error
        if message.what == "projects":
            self.picker.show_error(None, f"Cannot load projects: {error}")
            self._fatal_notice(error)
            return
        if message.what == "jobs":
            project_id = message.key.project_id if message.key else None
            self.picker.show_error(project_id, f"Cannot load jobs: {error}")
            self._fatal_notice(error)
            return
        if message.key != self.key:
            return
        retry_after = error.retry_after if isinstance(error, RateLimitedError) else None
        if message.what == "more":
            if self._more_cursor is None:
                return  # a page of a list that restarted since it was asked
            self._more_cursor = None
            self.run_list.set_loading_more(False)
            hold = max(5.0, retry_after or 0.0)
            self._more_blocked_until = time.monotonic() + hold
            if retry_after is not None and not self._polling and self._poll_due is not None \
                    and self._poll_due < self._more_blocked_until:
                # No poll before the Retry-After either.
                self._schedule_poll(self.policy.after_failure(error).delay)
            self.status.update_state(problem=f"Cannot load more runs: {error}",
                                     problem_kind="warning", retry_in=None)
            self.set_timer(hold + 0.2, self._load_more_if_due)
            return
        # A failed poll: keep everything shown, say what happens, try again later.
        self._polling = False
        if isinstance(error, (UnauthorizedError, ForbiddenError, NotFoundError)):
            if isinstance(error, NotFoundError):
                text = "This job or project is gone (404). Pick another job."
            else:
                text = str(error)
            self._stopped_reason = text
            self.status.update_state(refreshing=False, problem=text, problem_kind="error",
                                     retry_in=None, interval=None)
            self._fatal_notice(error)
            return
        plan = self.policy.after_failure(error)
        self._schedule_poll(plan.delay)
        if retry_after is not None:
            # Older pages wait for the Retry-After too.
            self._more_blocked_until = max(self._more_blocked_until, self._poll_due or 0.0)
        if isinstance(error, ApiTimeoutError):
            text = "the API is not answering"  # reachable, so not "offline"
        elif plan.reason == "offline":
            text = "offline"
        elif isinstance(error, RateLimitedError):
            text = "rate limited by the API"
        else:
            text = str(error).rstrip(".")
        self.status.update_state(refreshing=False, problem=text, problem_kind="warning",
                                 retry_in=plan.delay, interval=None)
        self._refresh_status()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A worker died of something unexpected (a bug, not an API error): say so, keep
        the data, and keep the refresh loop alive."""
        if event.state is not WorkerState.ERROR:
            return
        error = event.worker.error
        self.app.notify(
            f"Unexpected error ({type(error).__name__}): {printable(str(error))[:200]}",
            title="nf-runs", severity="error", markup=False,
        )
        if event.worker.group == "poll":
            self._polling = False
            self.status.update_state(refreshing=False)
            self._schedule_poll(max(self.options.refresh, self.options.idle_interval))
        elif event.worker.group == "more":
            self.run_list.set_loading_more(False)

    def _fatal_notice(self, error: NorthflankError) -> None:
        if isinstance(error, (UnauthorizedError, ForbiddenError, NotFoundError)):
            self.app.notify(str(error), title="API error", severity="error", markup=False,
                            timeout=10)

    # ----- the clock ------------------------------------------------------------------------

    def _tick(self) -> None:
        now, wall = time.monotonic(), time.time()
        gap = now - self._last_tick
        drift = abs((wall - self._last_tick_wall) - gap)
        self._last_tick, self._last_tick_wall = now, wall
        if (gap > 3 * self.options.tick + 2 or drift > 5) and not self._polling and \
                not self._stopped_reason and self.key is not None:
            # Suspended (SIGSTOP, laptop lid): catch up with one poll now, not a burst.
            self.poll_now()
        self.run_list.tick()
        self._refresh_status()

    def _refresh_status(self) -> None:
        now = time.monotonic()
        run_list = self.run_list
        age = None if self._last_good is None else now - self._last_good
        # Stale: older than twice the interval the data was meant to refresh at (a failed
        # poll clears the shown interval, not that promise).
        stale = age is not None and age > 2 * max(self._good_interval, self.options.refresh) + 1
        retry_in = None
        if self.status.state.problem and self._poll_due is not None and not self._polling:
            retry_in = max(0.0, self._poll_due - now)
        self.status.update_state(
            loaded=run_list.loaded_count,
            shown=run_list.shown_count,
            has_more=self._has_more,
            end_reached=run_list.loaded_count > 0 and not self._has_more,
            last_refresh_age=age,
            stale=stale,
            retry_in=retry_in,
            budget=self.client.budget.snapshot(),
        )

    # ----- actions --------------------------------------------------------------------------

    def action_refresh(self) -> None:
        if self._stopped_reason:
            self._stopped_reason = ""
            self.status.update_state(problem="")
        if self.key is None:
            self.load_projects()
            return
        self.poll_now()

    def action_time_mode(self) -> None:
        modes = list(TimeMode)
        run_list = self.run_list
        run_list.time_mode = modes[(modes.index(run_list.time_mode) + 1) % len(modes)]
        self.notify(f"Times: {run_list.time_mode.value}", timeout=2)

    def action_filter(self) -> None:
        run_filter = self.query_one("#run-filter", Input)
        run_filter.display = True
        run_filter.focus()

    def action_clear_filter(self) -> None:
        run_filter = self.query_one("#run-filter", Input)
        if run_filter.value:
            run_filter.value = ""
        run_filter.display = False
        self.run_list.focus()

    def action_status_filter(self, which: str) -> None:
        self._status_filter = which
        self._apply_filter()

    def action_toggle_picker(self) -> None:
        """`p`: go to the job picker (showing it if hidden); from the picker, hide it."""
        picker = self.picker
        if picker.display and not picker.has_focus_within:
            picker.job_tree.focus()  # on a wide screen it is already shown: go there
            return
        picker.display = not picker.display
        if picker.display:
            picker.job_tree.focus()
        else:
            self.run_list.focus()

    def action_start_run(self) -> None:
        if self.options.read_only:
            self.notify("Read-only mode: runs are not started from here.", timeout=3)
            return
        if self.key is None:
            return
        from .confirm import ConfirmScreen

        key = self.key
        name = self.job.name if self.job else key.job_id

        def answered(yes: bool | None) -> None:
            if yes:
                self._start_run(key)

        self.app.push_screen(ConfirmScreen(f"Start a run of {printable(name)}?"), answered)

    @work(group="actions", exit_on_error=False)
    async def _start_run(self, key: JobKey) -> None:
        try:
            _run_id, run_name = await self.client.start_job_run(key.project_id, key.job_id)
        except NorthflankError as error:
            self.notify(str(error), title="Cannot start the run", severity="error",
                        markup=False)
            return
        self.notify(f"Started {printable(run_name)}", markup=False, timeout=3)
        if key == self.key:
            self.poll_now()

    def action_abort_run(self) -> None:
        run = self.run_list.highlighted_run
        if self.options.read_only:
            self.notify("Read-only mode: runs are not aborted from here.", timeout=3)
            return
        if run is None or self.key is None or not run.is_active:
            self.notify("Highlight a running run to abort it.", timeout=3)
            return
        from .confirm import ConfirmScreen

        key, run_id = self.key, run.id

        def answered(yes: bool | None) -> None:
            if yes:
                self._abort_run(key, run_id)

        self.app.push_screen(ConfirmScreen(f"Abort run {printable(run.run_name)}?"), answered)

    @work(group="actions", exit_on_error=False)
    async def _abort_run(self, key: JobKey, run_id: str) -> None:
        try:
            await self.client.abort_job_run(key.project_id, key.job_id, run_id)
        except NorthflankError as error:
            self.notify(str(error), title="Cannot abort the run", severity="error",
                        markup=False)
            return
        self.notify("Run aborted.", timeout=3)
        if key == self.key:
            self.poll_now()

    @on(Input.Changed, "#run-filter")
    def _run_filter_changed(self, event: Input.Changed) -> None:
        self._text_filter = event.value
        self._apply_filter()

    @on(Input.Submitted, "#run-filter")
    def _run_filter_submitted(self) -> None:
        self.run_list.focus()

    def _apply_filter(self) -> None:
        self.run_list.set_filter(self._text_filter, STATUS_FILTERS[self._status_filter])
        label = self._text_filter
        if self._status_filter != "all":
            label = f"{self._status_filter} {label}".strip()
        self.status.update_state(filter_text=label)
        self._refresh_status()

    @on(RunList.RunSelected)
    def _run_selected(self, message: RunList.RunSelected) -> None:
        if self.key is None:
            return
        from .detail import RunDetailScreen

        self.app.push_screen(RunDetailScreen(self.client, self.key, message.run))
