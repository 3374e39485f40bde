"""`python -m tui.bench board-idle`: the status board left open, its CPU and terminal output.

The app opens the board (`--board`'s path: `AppOptions(board=True)`, the default budget, 50 %
of the simulator's real 1000 requests/hour) in a pty of 200x60 over the 40-job board world
(`World(preset="board")`, in this process, at real speed: runs start, run and end, durations
tick as in real use). It runs as `python -m tui.bench board-app`: the real `NfRunsApp` and
nothing else but an engine subscriber that writes one JSON line ("ready") to `--report` once
every job's runs have been read and every cron job's schedule is known (the first fill; a
minute or two at the default budget). From then on it is left alone: CPU of the process
(/proc), bytes written to the terminal and API requests over the window, at 200x60; then the
pty is resized to 80x24 (SIGWINCH, as a terminal does) and the same again, without a second
fill. A bare Textual app (one label a second) in the same pty is the yardstick.

`--profile FILE` profiles the app (cProfile, from "ready" until it exits) and prints where
the time went; its CPU figures then include the profiler's overhead.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import fcntl
import json
import os
import pstats
import struct
import sys
import tempfile
import termios
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

from . import bench
from .api.models import JobRun
from .simulator import Simulator, World
from .simulator.board_world import JOBS
from .watch.board import JobSummary

CPU_TARGET_PCT = 1.0  # issue 10: "Board CPU idle <= 1 % of a core with 40 jobs"
SIZES = ((200, 60), (80, 24))
FILL_TIMEOUT_S = 600.0  # the first fill takes ~2 min at the default budget
SEED = 7
YARDSTICK_MAX_S = 20.0
PROFILE_TOP = 20
IDLE_FUNCTION = "<method 'poll' of 'select.epoll' objects>"  # the event loop waiting
PROFILED_PACKAGES = (f"{os.sep}tui{os.sep}", f"{os.sep}textual{os.sep}")


class Reporter(Protocol):
    def add(self, figure: str, value: str, target: str = "", ok: bool | None = None) -> None: ...

    def note(self, text: str) -> None: ...


@dataclass
class BoardIdle:
    cols: int
    rows: int
    window: bench.Window
    load: tuple[float, float]  # the 1-minute load average before and after the window
    running: tuple[int, int] = (0, 0)  # jobs with an active run, before and after


def _log(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


# ----- in the app process ---------------------------------------------------------------------


def board_filled(rows: Sequence[JobSummary], jobs: int) -> bool:
    """The first fill is done: `jobs` rows, each job's runs read, and the schedule of each
    cron job that is not suspended known (its next fire, or why it has none)."""
    return len(rows) >= jobs and all(
        row.looked_at is not None and (
            row.kind != "cron" or row.suspended or row.next_fire is not None
            or row.schedule_problem is not None)
        for row in rows)


def run_board_app(args: argparse.Namespace) -> int:
    """`python -m tui.bench board-app`: the app on its board, with a "ready" hook."""
    from .api.client import NorthflankClient
    from .api.ratelimit import RateLimitBudget
    from .app import NfRunsApp
    from .options import DEFAULT_BUDGET_PERCENT, AppOptions
    from .watch.events import BoardChanged, Event

    profiler = cProfile.Profile() if args.profile else None
    started = time.monotonic()
    done = [False]

    def on_event(event: Event) -> None:
        if done[0] or not isinstance(event, BoardChanged) \
                or not board_filled(event.summaries, args.jobs):
            return
        done[0] = True
        with open(args.report, "a", encoding="utf-8") as report:
            report.write(json.dumps({"event": "ready", "jobs": len(event.summaries),
                                     "fill_s": time.monotonic() - started}) + "\n")
        if profiler is not None:
            profiler.enable()  # from here on the board idles: that is what is profiled

    token = os.environ.get("NORTHFLANK_API_TOKEN", "")
    budget = RateLimitBudget(share=DEFAULT_BUDGET_PERCENT / 100)
    client = NorthflankClient(token, args.api_url, budget=budget)
    app = NfRunsApp(client, AppOptions(host_label="bench board", board=True))
    assert app.scheduler is not None
    app.scheduler.subscribe(on_event)
    try:
        return app.run() or 0
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)


# ----- in the benchmark process ---------------------------------------------------------------


def build_board_simulator() -> Simulator:
    """The board world at real speed from the real now (as `--demo --board`), real quota."""
    world = World(seed=SEED, speed=1.0, start=datetime.now(timezone.utc), preset="board")
    sim = Simulator(world=world)
    sim.start()
    return sim


def resize(app: bench.PtyApp, cols: int, rows: int) -> None:
    """Resize the pty: the kernel sends SIGWINCH to the app, as a terminal window does."""
    fcntl.ioctl(app.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def wait_repaint(app: bench.PtyApp, cells: int, timeout: float = 10.0) -> None:
    """Until a screenful came out (a repaint at a new size writes every cell)."""
    until = app.bytes_out + cells
    deadline = time.monotonic() + timeout
    while app.bytes_out < until:
        if time.monotonic() > deadline or not app.alive():
            raise RuntimeError(f"no repaint of {cells} cells within {timeout:.0f} s")
        time.sleep(0.05)


def wait_ready(path: Path, app: bench.PtyApp, sim: Simulator, timeout: float) -> float:
    """Seconds the first fill took (as the app measured it from its start)."""
    deadline = time.monotonic() + timeout
    last_note = time.monotonic()
    while time.monotonic() < deadline:
        events = bench.read_report(path)
        for item in events:
            if item["event"] == "ready":
                return float(item["fill_s"])
        if not app.alive():
            raise RuntimeError(f"the app exited: ...{app.output()[-600:]!r}")
        if time.monotonic() - last_note > 15:
            _log(f"first fill: {sim.request_count} requests so far")
            last_note = time.monotonic()
        time.sleep(0.2)
    raise RuntimeError(f"the board did not fill within {timeout:.0f} s")


def running_jobs(world: World) -> int:
    """Board jobs with an active run now (each ticks once a second on the board)."""
    return sum(1 for spec in JOBS if any(
        JobRun.from_json(run).is_active for run in world.runs(spec.project, spec.id, limit=1)))


def measure_board_idle(
    children: bench.Children, seconds: float, sizes: Sequence[tuple[int, int]] = SIZES,
    profile: Path | None = None,
) -> tuple[float, int, list[BoardIdle], float]:
    """(fill seconds, requests of the fill, a window per size, the bare app's CPU %)."""
    sim = build_board_simulator()
    home = tempfile.mkdtemp(prefix="nf-bench-board-")
    env = bench.app_env(home, sim.token)
    report_path = Path(home) / "board.jsonl"
    argv = [sys.executable, "-m", "tui.bench", "board-app", "--api-url", sim.url,
            "--report", str(report_path), "--jobs", str(len(JOBS))]
    if profile is not None:
        argv += ["--profile", str(profile)]
    try:
        cols, rows = sizes[0]
        _log(f"board of {len(JOBS)} jobs at {cols}x{rows}: waiting for the first fill")
        app = children.spawn(argv, env, cols, rows)
        fill_s = wait_ready(report_path, app, sim, FILL_TIMEOUT_S)
        fill_requests = sim.request_count
        results: list[BoardIdle] = []
        for index, (cols, rows) in enumerate(sizes):
            if index:
                resize(app, cols, rows)
                wait_repaint(app, cols * rows)
            app.wait_quiet(0.3, timeout=3)  # between two ticks
            _log(f"idle at {cols}x{rows} for {seconds:.0f} s")
            load, running = os.getloadavg()[0], running_jobs(sim.world)
            window = bench.watch(app, sim, seconds)
            results.append(BoardIdle(cols, rows, window, (load, os.getloadavg()[0]),
                                     (running, running_jobs(sim.world))))
        children.stop(app)
        yardstick = bench.measure_bare_label(children, env, *sizes[0],
                                             min(seconds, YARDSTICK_MAX_S))
        return fill_s, fill_requests, results, yardstick
    finally:
        sim.stop()
        with contextlib.suppress(OSError):
            for entry in Path(home).iterdir():
                entry.unlink()
            os.rmdir(home)


def where_board_bytes_went(idle: BoardIdle) -> str:
    """Bytes per minute by part of the board: its summary line (row 2), the job rows, the
    status line (above the keys), the rest by row."""
    parts: dict[str, int] = {}
    for row, count in bench.bytes_by_row(idle.window.output).items():
        if row == 2:
            part = "summary"
        elif 4 <= row <= idle.rows - 2:
            part = "job rows"
        elif row == idle.rows - 1:
            part = "status line"
        else:
            part = f"row {row}"
        parts[part] = parts.get(part, 0) + count
    ranked = sorted(parts.items(), key=lambda item: -item[1])
    # The column header (row 3) never changes by itself: only a whole repaint writes it.
    whole = idle.window.output.count(b"\x1b[3;1H") * 60 / idle.window.seconds
    return "bytes/min: " + ", ".join(
        f"{part} {count * 60 / idle.window.seconds:,.0f}" for part, count in ranked if count
    ) + f"; whole-board repaints {whole:.1f}/min"


def title(seconds: float) -> str:
    return (f"The board left open: {len(JOBS)} jobs, the simulator at real speed, the default "
            f"budget, {seconds:.0f} s after the first fill, at "
            + " then ".join(f"{cols}x{rows}" for cols, rows in SIZES))


def report_board_idle(report: Reporter, children: bench.Children, seconds: float,
                      profile: Path | None = None) -> list[BoardIdle]:
    """Measure and report: CPU against the target, bytes/min and requests (informational)."""
    fill_s, fill_requests, results, yardstick = measure_board_idle(
        children, seconds, profile=profile)
    report.note(f"first fill: {fill_s:.0f} s, {fill_requests} requests, at the default "
                "budget (the simulator's real quota)")
    for idle in results:
        size, window = f"{idle.cols}x{idle.rows}", idle.window
        report.add(f"board idle CPU @ {size}", f"{window.cpu_pct:.2f} % of a core",
                   f"<= {CPU_TARGET_PCT:g} %", window.cpu_pct <= CPU_TARGET_PCT)
        report.add(f"board idle output @ {size}", f"{window.bytes_per_min / 1024:.1f} KB/min")
        report.note(where_board_bytes_went(idle))
        report.note(f"jobs running: {idle.running[0]} -> {idle.running[1]}; load average "
                    f"{idle.load[0]:.2f} -> {idle.load[1]:.2f} on {os.cpu_count()} CPUs "
                    "(other processes count too)")
        kinds = bench.classify(window.requests)
        report.note(f"{window.requests_per_min:.1f} requests/min: " + (", ".join(
            f"{kind}: {count}" for kind, count in sorted(kinds.items())) or "none"))
    report.add("bare Textual app, one label a second", f"{yardstick:.2f} % of a core")
    if profile is not None:
        report.note("profiled: the CPU figures include cProfile's overhead")
        print(profile_summary(profile), flush=True)
    return results


def profile_summary(path: Path, top: int = PROFILE_TOP) -> str:
    """Where the profiled time went: the busy time (all but waiting in epoll), then the top
    functions by own time and, among nf-runs' and Textual's, by cumulative time."""
    entries = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    rows = [(func, float(own), float(cumulative))
            for func, (_, _, own, cumulative, _) in entries.items()]
    waiting = sum(own for func, own, _ in rows if func[2] == IDLE_FUNCTION)
    busy = sum(own for _, own, _ in rows) - waiting

    def name(func: tuple[str, int, str]) -> str:
        file, line, function = func
        return function if file == "~" else f"{function} ({Path(file).name}:{line})"

    def table(title: str, ranked: list[tuple[tuple[str, int, str], float]]) -> list[str]:
        lines = [f"    {title}"]
        lines += [f"    {seconds:7.3f} s {100 * seconds / busy:5.1f} %  {name(func)}"
                  for func, seconds in ranked[:top]]
        return lines

    own = sorted(((func, own) for func, own, _ in rows if func[2] != IDLE_FUNCTION),
                 key=lambda item: -item[1])
    ours = sorted(((func, cumulative) for func, _, cumulative in rows
                   if any(part in func[0] for part in PROFILED_PACKAGES)),
                  key=lambda item: -item[1])
    lines = [f"    profile: {busy:.2f} s busy of {busy + waiting:.0f} s (main thread, from "
             "the first fill on, with cProfile's overhead)"]
    lines += table("by own time:", own)
    lines += table("by cumulative time (nf-runs and Textual):", ours)
    return "\n".join(lines)


# ----- CLI ------------------------------------------------------------------------------------


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    idle = sub.add_parser("board-idle", help="only the board left open: CPU, output (7.)")
    idle.add_argument("--seconds", type=float, default=0.0, metavar="S",
                      help="length of each window (default 60; 10 with --quick)")
    idle.add_argument("--quick", action="store_true", default=argparse.SUPPRESS,
                      help="10 s windows")
    idle.add_argument("--profile", type=Path, default=None, metavar="FILE",
                      help="cProfile the app from the first fill on; print the top functions")
    harness = sub.add_parser("board-app", help=argparse.SUPPRESS)
    harness.add_argument("--api-url", required=True)
    harness.add_argument("--report", required=True)
    harness.add_argument("--jobs", type=int, required=True)
    harness.add_argument("--profile", default=None)


def window_seconds(args: argparse.Namespace) -> float:
    seconds = float(getattr(args, "seconds", 0.0) or 0.0)
    return seconds or (10.0 if args.quick else 60.0)


def main(args: argparse.Namespace) -> int:
    """`python -m tui.bench board-idle`: section 7 alone."""
    seconds = window_seconds(args)
    print(f"7. {title(seconds)}", flush=True)
    report = bench.Report()
    children = bench.Children()
    try:
        report_board_idle(report, children, seconds, args.profile)
    finally:
        children.stop_all()
    report.summary()
    return 0 if all(row.ok is not False for row in report.rows) else 1
