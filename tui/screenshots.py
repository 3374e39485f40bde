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
    """Wait until every request in flight has been answered and painted (the engine's, and
    the workers of screens, such as the detail's logs), three times over."""
    app = pilot.app
    assert isinstance(app, NfRunsApp)
    deadline = time.monotonic() + timeout

    def jobs_listed() -> bool:
        # The picker asks for the open project's jobs once the projects are in.
        from .screens.main import MainScreen

        main = app.screen_stack[0] if app.screen_stack else None
        if not isinstance(main, MainScreen) or main.key is None:
            return True
        return main.picker.find_job(main.key.project_id, main.key.job_id) is not None

    for _ in range(3):
        while time.monotonic() < deadline:
            screens_busy = any(
                worker.is_running for worker in app.workers if worker.group != "engine"
            )
            engine_busy = app.scheduler is not None and app.scheduler.busy
            if not screens_busy and not engine_busy and jobs_listed():
                break
            await pilot.pause(0.05)
        await pilot.pause(0.1)


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
