"""Shared fixtures: a simulator on a free loopback port and a client pointed at it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timezone

import pytest
from hypothesis import settings

from tui.api.client import NorthflankClient
from tui.api.ratelimit import RateLimitBudget
from tui.simulator import Simulator, World, run_simulator

# Property tests are the same on every machine and every run: no per-example deadline (a
# loaded machine is slow, not wrong), examples derived from the test, no database on disk.
settings.register_profile("nf-runs", deadline=None, derandomize=True, database=None,
                          print_blob=True)
settings.load_profile("nf-runs")

START = datetime(2026, 11, 29, 12, 0, 0, tzinfo=timezone.utc)


async def _no_sleep(_seconds: float) -> None:
    return None


@pytest.fixture(autouse=True, scope="session")
def _own_config_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No test reads or writes the user's own settings.toml or config.json (nor do the
    processes tests start: the app, tmux): the config directory is a temporary one."""
    previous = os.environ.get("XDG_CONFIG_HOME")
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("config"))
    yield
    if previous is None:
        os.environ.pop("XDG_CONFIG_HOME", None)
    else:
        os.environ["XDG_CONFIG_HOME"] = previous


@pytest.fixture
def sim() -> Iterator[Simulator]:
    """A frozen-clock simulator with the seeded world (history included)."""
    with run_simulator(seed=7, speed=0.0, start=START) as simulator:
        yield simulator


@pytest.fixture
def small_sim() -> Iterator[Simulator]:
    """A frozen-clock simulator without the thousands of history runs (faster)."""
    with run_simulator(seed=7, speed=0.0, start=START, history=False) as simulator:
        yield simulator


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[NorthflankClient]:
    async with NorthflankClient(sim.token, sim.url, sleep=_no_sleep) as api:
        yield api


def make_client(sim: Simulator, **kwargs: object) -> NorthflankClient:
    """A client for `sim` that does not really sleep between retries unless told to."""
    kwargs.setdefault("sleep", _no_sleep)
    kwargs.setdefault("budget", RateLimitBudget())
    return NorthflankClient(sim.token, sim.url, **kwargs)  # type: ignore[arg-type]


def world(**kwargs: object) -> World:
    kwargs.setdefault("seed", 7)
    kwargs.setdefault("speed", 0.0)
    kwargs.setdefault("start", START)
    return World(**kwargs)  # type: ignore[arg-type]
