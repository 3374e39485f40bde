"""Starting and aborting runs from the main screen: ask first, then say how it went.

The engine sends the requests (`Scheduler.start_run`, `Scheduler.abort_run`) and answers with
`ActionDone`. A run the user aborted is remembered: that it then failed is no news.
"""

from __future__ import annotations

from textual.screen import Screen

from ..api.models import Job, JobRun
from ..formatting import printable
from ..options import AppOptions
from ..toast import clip, toast
from ..watch.events import ActionDone, JobKey, RunsFailed
from ..watch.scheduler import Scheduler
from .confirm import ConfirmScreen

__all__ = ["TOAST_NAMES", "RunActions"]

# A failure toast names this many runs at most ("… and 7 more").
TOAST_NAMES = 3


class RunActions:
    """What the `s` and `x` keys of `screen` do, and the toasts about runs that ended."""

    def __init__(self, screen: Screen[None], scheduler: Scheduler, options: AppOptions) -> None:
        self._screen = screen
        self._scheduler = scheduler
        self._options = options
        self._aborted: set[str] = set()  # runs the user aborted: their failure is no news

    def start(self, key: JobKey | None, job: Job | None) -> None:
        """Ask, then start a run of the open job (`key`; `job` once the picker knows it)."""
        screen = self._screen
        if self._options.read_only:
            screen.notify("Read-only mode: runs are not started from here.", timeout=3)
            return
        if key is None:
            return
        name = job.name if job else key.job_id

        def answered(yes: bool | None) -> None:
            if yes:
                self._scheduler.start_run(key)

        screen.app.push_screen(ConfirmScreen(f"Start a run of {printable(name)}?"), answered)

    def abort(self, key: JobKey | None, run: JobRun | None) -> None:
        """Ask, then abort `run` (the highlighted one) if it is still running."""
        screen = self._screen
        if self._options.read_only:
            screen.notify("Read-only mode: runs are not aborted from here.", timeout=3)
            return
        if run is None or key is None or not run.is_active:
            screen.notify("Highlight a running run to abort it.", timeout=3)
            return
        run_id = run.id

        def answered(yes: bool | None) -> None:
            if yes:
                self._aborted.add(run_id)
                self._scheduler.abort_run(key, run_id)

        screen.app.push_screen(ConfirmScreen(f"Abort run {printable(run.run_name)}?"), answered)

    def done(self, event: ActionDone) -> None:
        """Say how a start or an abort went."""
        screen = self._screen
        if event.error is not None:
            title = "Cannot start the run" if event.what == "start" else "Cannot abort the run"
            toast(screen, str(event.error), title=title, severity="error")
        elif event.what == "start":
            toast(screen, f"Started {event.run_name or ''}", timeout=3)
        else:
            toast(screen, "Run aborted (by you).", timeout=3)

    def runs_failed(self, event: RunsFailed) -> None:
        """Say which runs of the open job failed (a bell too, if asked for), but not those the
        user aborted."""
        app = self._screen.app
        runs = [run for run in event.runs if run.id not in self._aborted]
        notices = getattr(app, "notices", None)
        alerts = getattr(notices, "alerts", None)
        if alerts is not None:
            # The board may have told it already; else the board is told not to.
            runs = [run for run in runs if not alerts.was_told(run.id)]
            alerts.told(run.id for run in runs)
        if not runs:
            return
        names = ", ".join(clip(printable(run.run_name), 60) for run in runs[:TOAST_NAMES])
        if len(runs) > TOAST_NAMES:
            names += f" and {len(runs) - TOAST_NAMES} more"
        text = f"Run {names} failed." if len(runs) == 1 else f"{len(runs)} runs failed: {names}"
        toast(app, text, title="Run failed", severity="error")
        if self._options.bell:
            app.bell()
