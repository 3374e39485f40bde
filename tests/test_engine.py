"""The watch engine as a whole, on a fake clock: a seeded storm of faults, outages, new runs,
suspends and paging loses nothing; and the harness itself never really sleeps.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tui.watch.feed import JobFeed

from .engine_harness import JOB, KEY, PROJECT, Engine, engine

# ----- nothing lost under a random fault schedule -----------------------------------------------


async def random_step(h: Engine, feed: JobFeed, rng: random.Random, log: list[str]) -> None:
    action = rng.choice(
        ["fault", "fault", "fault", "outage", "run", "time", "time", "suspend", "more", "poll"]
    )
    if action == "fault":
        kind = rng.choice(["500", "503", "429", "drop", "malformed", "wrong_shape", "html"])
        count = rng.randint(1, 3)
        h.sim.faults.queue(kind, count, retry_after=1 if kind == "429" else None)
        log.append(f"queue {kind} x{count}")
    elif action == "outage":
        h.transport.offline = not h.transport.offline
        log.append("offline" if h.transport.offline else "online")
    elif action == "run":
        duration = rng.choice([5, 60, 600, 3600])
        h.world.start_run(PROJECT, JOB, duration=duration,
                          outcome=rng.choice(["SUCCESS", "FAILED"]))
        log.append(f"start_run {duration}")
    elif action == "time":
        seconds = rng.choice([1, 5, 30, 61, 300])
        await h.run_for(seconds, tick=True)
        log.append(f"run_for {seconds}")
    elif action == "suspend":
        # Up to 2 h: 120 cron runs, more than the feed walks to close a gap (it restarts).
        seconds = rng.choice([300, 1800, 7200])
        (h.sigstop if rng.random() < 0.5 else h.lid_closed)(seconds)
        h.scheduler.notice_time()
        log.append(f"suspend {seconds}")
    elif action == "more":
        h.scheduler.want_more(KEY)
        log.append("want_more")
    else:
        h.scheduler.poll_now(KEY)
        log.append("poll_now")
    await h.run_for(rng.uniform(0.05, 3.0), tick=True)


# More seeds for a longer run: NF_ENGINE_SEEDS=200 pytest tests/test_engine.py -k random
SEEDS = int(os.environ.get("NF_ENGINE_SEEDS", "6"))
STEPS = 40


@pytest.mark.parametrize("seed", range(1, SEEDS + 1))
async def test_random_fault_schedule_loses_nothing(seed: int) -> None:
    """Faults, outages, new runs, time passing, suspends and paging in a seeded random order;
    once the API is healthy again the feed must hold exactly what the server holds for the
    range it loaded: same runs, same order, each once, current statuses."""
    rng = random.Random(seed)
    async with engine() as h:
        feed = await h.watch_loaded()
        log: list[str] = []
        for _ in range(STEPS):
            await random_step(h, feed, rng, log)
            ids = [run.id for run in feed.store.runs]
            assert ids and len(set(ids)) == len(ids), log
            h.assert_healthy()
        h.sim.faults.clear()
        h.transport.offline = False
        log.append("clear, online")

        def converged() -> bool:
            return (
                not feed.problem and not feed.run_problems and feed.more_in_flight is None
                and h.matches_server(feed)
            )

        try:
            await h.run_until(converged, 1800, "the feed to match the server", tick=True)
        except AssertionError:
            runs = list(feed.store.runs)
            server = h.expected_runs(len(runs))
            first_diff = next(
                (i for i, (a, b) in enumerate(zip(runs, server, strict=False)) if a != b), None
            )
            raise AssertionError(
                f"seed {seed}: {len(runs)} loaded, first difference at {first_diff}; "
                f"problem {feed.problem!r}; steps: {log}"
            ) from None


# ----- the harness ------------------------------------------------------------------------------


async def test_simulated_time_passes_without_a_real_sleep(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No real time passes in an engine test: any sleep longer than a yield fails it."""
    real_sleep = asyncio.sleep

    async def no_sleep(delay: float, *args: object) -> None:
        assert delay <= 0, f"a real sleep of {delay} s"
        await real_sleep(0)

    def no_blocking_sleep(delay: float) -> None:
        raise AssertionError(f"a real time.sleep({delay})")

    async with engine() as h:
        monkeypatch.setattr(asyncio, "sleep", no_sleep)
        monkeypatch.setattr(time, "sleep", no_blocking_sleep)
        feed = await h.watch_loaded()
        h.sim.faults.queue("503", 2)  # the client's retry "sleeps" on the fake clock
        begin = h.now
        await h.run_for(900, tick=True)
        monkeypatch.undo()
        assert h.now == pytest.approx(begin + 900)
        assert len(h.polls_since(0)) > 900 / 30
        assert feed.problem == "" and feed.last_good is not None


def test_the_engine_imports_no_textual() -> None:
    code = (
        "import sys\n"
        "import tui.watch.scheduler, tui.watch.feed, tui.watch.store, tui.watch.clock\n"
        "import tests.engine_harness\n"
        "bad = sorted(name for name in sys.modules if name.split('.')[0] == 'textual')\n"
        "assert not bad, bad\n"
    )
    root = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, cwd=root)
