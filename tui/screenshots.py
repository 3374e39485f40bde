"""Make the README's screenshots from the app itself: `python -m tui.screenshots [DIR]`.

The app runs headless against the seeded simulator with its clock frozen, so the pictures are
the same on every run (the snapshot tests build the same scenes).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from textual.pilot import Pilot

from .api.client import NorthflankClient
from .api.ratelimit import RateLimitBudget
from .app import NfRunsApp
from .options import AppOptions
from .simulator import Simulator, run_simulator
from .watch.clock import FakeClock

SIZES = ((80, 24), (120, 40))
BOARD_SIZES = ((80, 24), (200, 60))
# The board's pictures are taken between fires, so that rows show runs under way and done.
BOARD_START = datetime(2026, 11, 29, 12, 7, 40, tzinfo=timezone.utc)


def scene_app(sim: Simulator, project: str | None = "payments",
              job: str | None = "settle-ledger", board: bool = False) -> NfRunsApp:
    """The app on the frozen simulator, as the screenshots and snapshot tests show it."""
    # The engine's clock is frozen too: "refreshed just now" whatever the machine's speed, and
    # no poll after the first. The request gate counts on the same clock.
    clock = FakeClock()
    client = NorthflankClient(sim.token, sim.url, budget=RateLimitBudget(clock=clock.monotonic))
    options = AppOptions(host_label="demo simulator", project=project, job=job, tty_check=0,
                         board=board)
    return NfRunsApp(client, options, now=sim.world.now, clock=clock)


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
        index = app.scheduler.index
        if index is not None and index.walking:
            return False  # the job index's walk: its requests count in the status line
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


async def settle_board(pilot: Pilot[int], timeout: float = 60.0) -> None:
    """Move the engine's frozen clock a minute at a time until every job on the board has
    been looked at and every cron job's schedule read (the world itself stays frozen)."""
    from .screens.board import BoardScreen

    app = pilot.app
    assert isinstance(app, NfRunsApp) and app.scheduler is not None
    clock = app.scheduler.clock
    deadline = time.monotonic() + timeout

    def complete() -> bool:
        board = app.scheduler.board if app.scheduler else None
        if board is None or not isinstance(app.screen, BoardScreen) or len(board.keys) < 40:
            return False
        rows = board.rows()
        return all(row.looked_at is not None and (row.kind != "cron" or row.schedule_text
                                                  != "cron") for row in rows)

    while not complete() and time.monotonic() < deadline:
        await settle(pilot)
        if isinstance(clock, FakeClock):
            clock.advance(60.0)
            app.scheduler.wake()
    await settle(pilot)
    screen = app.screen
    if isinstance(screen, BoardScreen):
        screen.pull()
        await pilot.pause()


async def board_cursor(pilot: Pilot[int]) -> None:
    """The board with every job looked at, the cursor two rows down."""
    await settle_board(pilot)
    await pilot.press("j", "j")
    await settle(pilot)


@dataclass(frozen=True)
class Scene:
    name: str
    project: str | None
    job: str | None
    run_before: Callable[[Pilot[int]], Awaitable[None]]
    board: bool = False
    readme: bool = True  # False: a test's picture (a snapshot), not one for the README
    world: str = "demo"  # the simulator's preset ("showcase": the demo without edge cases)

    @property
    def sizes(self) -> tuple[tuple[int, int], ...]:
        return BOARD_SIZES if self.board else SIZES

    def simulator(self) -> contextlib.AbstractContextManager[Simulator]:
        """The frozen, seeded simulator this scene is taken on."""
        if self.board:
            return run_simulator(seed=7, speed=0.0, preset="board", start=BOARD_START)
        return run_simulator(seed=7, speed=0.0, preset=self.world)


SCENES = (
    # The first picture: a job's runs with what a user meets (one running, a few failed).
    Scene("main", "data-platform", "ingest-events", settle, world="showcase"),
    # The third row of that job is a failed run: its containers say why.
    Scene("detail", "data-platform", "ingest-events", open_detail, world="showcase"),
    Scene("help", "payments", "settle-ledger", open_help),
    Scene("edge-cases", "sandbox", "markup-runs", show_picker, readme=False),
    Scene("board", None, None, board_cursor, board=True),
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
    for scene in (scene for scene in SCENES if scene.readme):
        for width, height in scene.sizes:
            with scene.simulator() as sim:
                app = scene_app(sim, scene.project, scene.job, scene.board)
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
