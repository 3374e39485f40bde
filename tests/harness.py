"""The board under test: the whole app in Textual's Pilot, against a simulator over loopback.

Shared by the UI and resilience tests; each adds its own helpers (and defaults) on top.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from textual.geometry import Region
from textual.message import Message
from textual.pilot import Pilot
from textual.widget import Widget
from textual.worker import Worker, WorkerState

from tui.app import NfRunsApp
from tui.screens.main import MainScreen
from tui.simulator import Simulator
from tui.widgets.run_list import RunList

MIN_WAIT_S = 60.0


@dataclass
class Board:
    """The app under test, its pilot, the simulator, and what went wrong in workers."""

    app: NfRunsApp
    pilot: Pilot[int]
    sim: Simulator
    worker_errors: list[BaseException | None] = field(default_factory=list)

    @property
    def screen(self) -> MainScreen:
        """The main screen, which must be the one on top."""
        screen = self.app.screen
        assert isinstance(screen, MainScreen), f"unexpected screen {screen!r}"
        return screen

    @property
    def main(self) -> MainScreen:
        """The main screen even while another screen is on top."""
        screen = self.app.screen_stack[0] if self.app.screen_stack else None
        assert isinstance(screen, MainScreen)
        return screen

    @property
    def run_list(self) -> RunList:
        return self.main.run_list

    @property
    def ids(self) -> list[str]:
        return [run.id for run in self.run_list.runs]

    @property
    def status(self) -> str:
        return self.main.status.plain

    async def wait(
        self, condition: Callable[[], object], what: str, timeout: float = MIN_WAIT_S
    ) -> None:
        """Let the app run until `condition()` is true (checked every 50 ms). The deadline
        only fails a test that hangs: a loaded machine (a CI runner, tests in parallel) can
        take many seconds for what takes one here, so a short one is for polling loops."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout} s waiting for {what}; status: {self.status!r}"
                )
            await self.pilot.pause(0.05)

    def assert_healthy(self) -> None:
        assert self.app.is_running, "the app exited"
        assert self.app._exception is None, repr(self.app._exception)
        assert self.app.return_code is None, self.app.return_code
        assert not self.worker_errors, f"worker errors: {self.worker_errors!r}"
        assert not self.sim.errors, "simulator errors:\n" + "\n".join(self.sim.errors)


B = TypeVar("B", bound=Board)


@contextlib.asynccontextmanager
async def run_board(
    app: NfRunsApp,
    size: tuple[int, int],
    make: Callable[[Pilot[int], list[BaseException | None]], B],
    *,
    wait_first_page: bool = True,
) -> AsyncIterator[B]:
    """Run `app` under Pilot, notifications on; yields `make(pilot, worker_errors)` once the
    first page is shown (unless told not to wait) and checks it is healthy at the end."""
    errors: list[BaseException | None] = []

    def hook(message: Message) -> None:
        if isinstance(message, Worker.StateChanged) and message.state is WorkerState.ERROR:
            errors.append(message.worker.error)

    async with app.run_test(size=size, message_hook=hook, notifications=True) as pilot:
        state = make(pilot, errors)
        if wait_first_page:
            await state.wait(lambda: bool(state.run_list.runs), "the first page")
        yield state
        state.assert_healthy()


def spy_refresh(widget: Widget, monkeypatch: pytest.MonkeyPatch) -> list[tuple[Region, ...]]:
    """Record the regions of every `widget.refresh()` call (an empty tuple: all of it)."""
    calls: list[tuple[Region, ...]] = []
    original = widget.refresh

    def spy(*regions: Region, **kwargs: Any) -> Widget:
        calls.append(regions)
        return original(*regions, **kwargs)

    monkeypatch.setattr(widget, "refresh", spy)
    return calls
