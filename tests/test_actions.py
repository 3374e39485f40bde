"""Starting and aborting runs from the board (`s`, `x`), and `--read-only`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tui.screens.confirm import ConfirmScreen
from tui.simulator import Simulator, run_simulator

from .conftest import START
from .test_ui import board

PROJECT, JOB = "payments", "refund-batch"


@pytest.fixture
def frozen() -> Iterator[Simulator]:
    with run_simulator(seed=7, speed=0.0, start=START, history=False) as simulator:
        yield simulator


def _posts(sim: Simulator) -> int:
    return sum(1 for method, path, _ in sim.requests if method == "POST")


def _deletes(sim: Simulator) -> int:
    return sum(1 for method, path, _ in sim.requests if method == "DELETE")


async def test_start_then_abort_a_run_after_confirming(frozen: Simulator) -> None:
    async with board(frozen, project=PROJECT, job=JOB) as b:
        before = len(b.run_list.runs)
        await b.press("s")
        assert isinstance(b.app.screen, ConfirmScreen)
        await b.press("n")  # "no" changes nothing
        assert _posts(frozen) == 0
        await b.press("s")
        await b.press("y")
        await b.wait(lambda: len(b.run_list.runs) == before + 1, "the started run")
        started = b.run_list.runs[0]
        assert started.is_active and _posts(frozen) == 1
        assert any("Started" in text for text in b.notifications())

        await b.press("home")
        await b.press("x")
        assert isinstance(b.app.screen, ConfirmScreen)
        await b.press("y")
        await b.wait(lambda: not b.run_list.runs[0].is_active, "the aborted run to conclude")
        assert b.run_list.runs[0].id == started.id
        assert b.run_list.runs[0].status.value == "FAILED"
        assert _deletes(frozen) == 1


async def test_read_only_never_starts_or_aborts(frozen: Simulator) -> None:
    frozen.world.start_run(PROJECT, JOB, duration=3600)
    async with board(frozen, project=PROJECT, job=JOB, read_only=True) as b:
        await b.press("s")
        await b.press("home", "x")
        assert not isinstance(b.app.screen, ConfirmScreen)
        assert _posts(frozen) == 0 and _deletes(frozen) == 0
        assert any("Read-only" in text for text in b.notifications())
