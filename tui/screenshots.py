"""Make the README's screenshots from the app itself: `python -m tui.screenshots [DIR]`.

The app runs headless against the seeded simulator with its clock frozen, so the pictures are
the same on every run (the snapshot tests build the same scenes).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from textual.pilot import Pilot

from .api.client import NorthflankClient
from .app import NfRunsApp
from .options import AppOptions
from .simulator import Simulator, run_simulator
from .watch.clock import FakeClock

SIZES = ((80, 24), (120, 40))


def scene_app(sim: Simulator, project: str = "payments", job: str = "settle-ledger") -> NfRunsApp:
    """The app on the frozen simulator, as the screenshots and snapshot tests show it."""
    client = NorthflankClient(sim.token, sim.url)
    options = AppOptions(host_label="demo simulator", project=project, job=job, tty_check=0)
    # The engine's clock is frozen too: "refreshed just now" whatever the machine's speed, and
    # no poll after the first.
    return NfRunsApp(client, options, now=sim.world.now, clock=FakeClock())


async def settle(pilot: Pilot[int], timeout: float = 20.0) -> None:
    """Wait until the app is quiet: nothing in flight (the engine's requests, the workers of
    screens such as the detail's logs), no older page wanted (the run list asks for one by
    itself when the screen is taller than what is loaded), and no request sent, for three
    rounds of the event loop in a row."""
    from .screens.main import MainScreen

    app = pilot.app
    assert isinstance(app, NfRunsApp)
    deadline = time.monotonic() + timeout

    def quiet() -> bool:
        main = app.screen_stack[0] if app.screen_stack else None
        if app.scheduler is None or app.scheduler.busy:
            return False
        if any(worker.is_running for worker in app.workers if worker.group != "engine"):
            return False
        if not isinstance(main, MainScreen) or main.key is None:
            return True
        feed = main.feed
        # The picker asks for the open project's jobs once the projects are in.
        listed = main.picker.find_job(main.key.project_id, main.key.job_id) is not None
        wanted = feed is not None and (feed.more_wanted or feed.more_in_flight is not None)
        return listed and not wanted

    calm, sent = 0, -1
    while calm < 3 and time.monotonic() < deadline:
        await pilot.pause()
        await pilot.pause(0.05)  # the engine's task runs on the same loop: give it a turn
        now_sent = app.scheduler.budget.spent_in_window() if app.scheduler else 0
        calm = calm + 1 if quiet() and now_sent == sent else 0
        sent = now_sent


async def open_detail(pilot: Pilot[int]) -> None:
    await settle(pilot)
    await pilot.press("j", "j", "enter")
    await settle(pilot)


async def open_help(pilot: Pilot[int]) -> None:
    await settle(pilot)
    await pilot.press("question_mark")
    await settle(pilot)


async def show_picker(pilot: Pilot[int]) -> None:
    await settle(pilot)
    screen = pilot.app.screen
    if not screen.query_one("#picker").display:
        await pilot.press("p")
    await settle(pilot)


@dataclass(frozen=True)
class Scene:
    name: str
    project: str
    job: str
    run_before: Callable[[Pilot[int]], Awaitable[None]]


SCENES = (
    Scene("main", "payments", "settle-ledger", settle),
    Scene("detail", "payments", "settle-ledger", open_detail),
    Scene("help", "payments", "settle-ledger", open_help),
    Scene("edge-cases", "sandbox", "markup-runs", show_picker),
)


def freeze_local_time() -> None:
    """Local times in the pictures read as UTC, whatever the machine's zone."""
    os.environ["TZ"] = "UTC"
    if hasattr(time, "tzset"):
        time.tzset()


async def make_screenshots(folder: Path) -> list[Path]:
    freeze_local_time()
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for scene in SCENES:
        for width, height in SIZES:
            with run_simulator(seed=7, speed=0.0) as sim:
                app = scene_app(sim, scene.project, scene.job)
                async with app.run_test(size=(width, height)) as pilot:
                    await scene.run_before(pilot)
                    name = f"{scene.name}-{width}x{height}.svg"
                    app.save_screenshot(filename=name, path=str(folder))
                    written.append(folder / name)
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0]) if args else Path("screenshots")
    for path in asyncio.run(make_screenshots(folder)):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
