"""`python -m tui.bench`: performance figures of nf-runs, measured as a user would meet them.

The app runs in a real pseudo-terminal (`pty.fork`, TERM=xterm-256color, a fixed size) against
the simulator (in this process, on loopback); the output is read continuously and counted.

1. Start to first run row: `python -m tui --api-url ... --project ... --job ...`, from the fork
   until a status badge ("✔ SUCCESS", "● RUNNING", ...) comes out of the pty; next to the time
   of a bare `python -c "import textual.app"` measured the same way, warm (each run once first).
2. Appending one page of 100 runs with 1k, 10k, 100k loaded: the app in the pty is loaded with
   pages through its normal path (`Scheduler.want_more` -> HTTP -> the feed's store ->
   `FeedChanged` -> `RunList.apply`) by a benchmarking harness (`python -m tui.bench app`, a
   MainScreen subclass that keeps asking the engine for the next page until the target is
   reached). The harness times the message handler, the CPU of the next frame (until
   `call_after_refresh` runs, i.e. the frame was composed and handed to the terminal writer)
   and the wall time until then, for pages at each level.
3. Key press to repaint with 100k loaded: `j` written to the pty until the newly highlighted
   run's name comes back out of it.
4. Idle watching 5 running runs with 100k loaded: CPU of the app process (/proc/PID/stat),
   bytes written to the terminal, API requests (counted by the simulator).
5. Resident memory (VmRSS) at 1k, 10k, 100k loaded, and across a simulated day (the simulator
   at 1440x, a run started every 10 simulated minutes, the app watching).
6. The board's planner over a simulated day of 40 jobs against a naive round-robin, on a fake
   clock (`tui.bench_board`; `python -m tui.bench board` runs it alone).
7. The board left open over the 40 jobs, after its first fill: CPU, terminal output
   (`tui.bench_board_idle`; `python -m tui.bench board-idle` runs it alone).

`--quick` is a short smoke run (10k runs, a few seconds per phase). Everything started here is
stopped on exit, Ctrl-C or SIGTERM: apps get SIGTERM, then SIGKILL after a few seconds.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import cProfile
import fcntl
import gc
import json
import os
import pty
import re
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType
from typing import Any

from . import bench_board
from .simulator import Simulator, World

# ----- targets --------------------------------------------------------------------------------

FIRST_ROW_TARGET_S = 0.5
FIRST_ROW_IMPORT_FACTOR = 2.5
APPEND_TARGET_MS = 20.0
KEY_TARGET_MS = 50.0
IDLE_CPU_TARGET_PCT = 0.3
IDLE_BYTES_TARGET_PER_MIN = 10 * 1024
RSS_TARGET_MB = 150.0
SOAK_FLAT_PCT = 5.0

BADGES = ("\u2714 SUCCESS".encode(), "\u25cf RUNNING".encode(), "\u2718 FAILED".encode())
PROJECT, JOB = "bench", "big"
PAGE = 100  # runs per page: the API's maximum
RUNNING = 5
REFRESH_S = 5.0  # the app's default --refresh
BUDGET_SHARE = 0.5  # the app's default --budget 50
# Loading 100k runs takes ~1000 requests; the quota is set so that they fit in the app's
# share (a real 1000/h quota would take 4 hours to load 100k runs at a 50 % share).
RATE_LIMIT = 5000
SOAK_SPEED = 1440.0  # a simulated day per real minute
SOAK_RUN_EVERY = 600.0  # simulated seconds between runs started during the soak
STOP_GRACE_S = 5.0

_CSI_MOVE = re.compile(rb"\x1b\[(\d+);(\d+)H")


def _log(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


# ----- /proc ----------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int | str = "self") -> float:
    """VmRSS of a process, in MiB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


# ----- an app in a pseudo-terminal ------------------------------------------------------------


class PtyApp:
    """A child process on a pty of a given size; its output is read and counted continuously."""

    def __init__(self, argv: Sequence[str], env: dict[str, str], cols: int, rows: int) -> None:
        self.argv = list(argv)
        self._lock = threading.Condition()
        self._buffer = bytearray()
        self._chunk_ends: list[int] = []
        self._chunk_times: list[float] = []
        self._eof = False
        winsize = struct.pack("HHHH", rows, cols, 0, 0)
        program = self.argv[0]
        self.started = time.perf_counter()
        pid, fd = pty.fork()
        if pid == 0:  # the child: size the terminal, become the program
            try:
                fcntl.ioctl(1, termios.TIOCSWINSZ, winsize)
                os.execve(program, self.argv, env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.returncode: int | None = None
        self._reader = threading.Thread(target=self._read, name=f"pty-{pid}", daemon=True)
        self._reader.start()

    # -- output ------------------------------------------------------------------------------

    def _read(self) -> None:
        while True:
            try:
                ready, _, _ = select.select([self.fd], [], [], 0.2)
                if not ready:
                    continue
                data = os.read(self.fd, 65536)
            except (OSError, ValueError):
                data = b""
            now = time.perf_counter()
            with self._lock:
                if not data:
                    self._eof = True
                    self._lock.notify_all()
                    return
                self._buffer += data
                self._chunk_ends.append(len(self._buffer))
                self._chunk_times.append(now)
                self._lock.notify_all()

    @property
    def bytes_out(self) -> int:
        with self._lock:
            return len(self._buffer)

    def output(self, start: int = 0, end: int | None = None) -> bytes:
        with self._lock:
            return bytes(self._buffer[start:end])

    def wait_for(
        self, patterns: Sequence[bytes], since: int = 0, timeout: float = 10.0
    ) -> tuple[float, int] | None:
        """When (perf_counter) the first of `patterns` came out after offset `since`, and
        where it ends; None on timeout or EOF."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                found = [
                    at for pattern in patterns
                    if (at := self._buffer.find(pattern, since)) >= 0
                ]
                if found:
                    end = min(found) + 1
                    chunk = bisect.bisect_left(self._chunk_ends, end)
                    return self._chunk_times[chunk], self._chunk_ends[chunk]
                left = deadline - time.monotonic()
                if left <= 0 or self._eof:
                    return None
                self._lock.wait(min(left, 0.5))

    def wait_quiet(self, quiet: float = 0.3, timeout: float = 5.0) -> None:
        """Wait until nothing came out for `quiet` seconds (or `timeout`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                last = self._chunk_times[-1] if self._chunk_times else self.started
            if time.perf_counter() - last >= quiet:
                return
            time.sleep(0.05)

    # -- input and process ---------------------------------------------------------------------

    def write(self, data: bytes) -> float:
        """Type `data`; returns when (perf_counter) it was written."""
        os.write(self.fd, data)
        return time.perf_counter()

    def alive(self) -> bool:
        if self.returncode is not None:
            return False
        pid, status = os.waitpid(self.pid, os.WNOHANG)
        if pid == 0:
            return True
        self.returncode = os.waitstatus_to_exitcode(status)
        return False

    def stop(self, grace: float = STOP_GRACE_S) -> None:
        """SIGTERM (the app exits cleanly on it), then SIGKILL to the process group."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if not self.alive():
                break
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if sig == signal.SIGKILL:
                    os.killpg(self.pid, sig)
                else:
                    os.kill(self.pid, sig)
            deadline = time.monotonic() + grace
            while self.alive() and time.monotonic() < deadline:
                time.sleep(0.02)
        if self.alive():  # pragma: no cover - SIGKILL did not work
            raise RuntimeError(f"process {self.pid} does not exit")
        self._reader.join(timeout=2)
        with contextlib.suppress(OSError):
            os.close(self.fd)


class Children:
    """Every pty child started, so that all of them are stopped whatever happens."""

    def __init__(self) -> None:
        self._apps: list[PtyApp] = []

    def spawn(self, argv: Sequence[str], env: dict[str, str], cols: int, rows: int) -> PtyApp:
        app = PtyApp(argv, env, cols, rows)
        self._apps.append(app)
        return app

    def stop(self, app: PtyApp) -> None:
        app.stop()
        if app in self._apps:
            self._apps.remove(app)

    def stop_all(self) -> None:
        while self._apps:
            app = self._apps.pop()
            with contextlib.suppress(Exception):
                app.stop(grace=2.0)


# ----- the simulated API ----------------------------------------------------------------------


def build_simulator(history: int, running: int = RUNNING) -> Simulator:
    """A started simulator: the seeded demo world (small) plus job bench/big with `history`
    concluded runs and `running` long RUNNING runs on top. The clock starts at the real now,
    as in --demo, so the app's clock-skew estimate is near zero."""
    world = World(seed=7, speed=1.0, start=datetime.now(timezone.utc), history=False)
    world.add_project(PROJECT, "Benchmark")
    world.add_job(PROJECT, JOB, "Big history", "manual", None, (300, 3000), 0.05)
    world.add_runs(PROJECT, JOB, history, status=None)
    for _ in range(running):
        world.start_run(PROJECT, JOB, duration=8 * 3600, outcome="SUCCESS")
    sim = Simulator(world=world, rate_limit=RATE_LIMIT)
    sim.start()
    return sim


def app_env(home: str, token: str, truecolor: bool = False) -> dict[str, str]:
    """A clean environment: no TEXTUAL_* settings, no user config, colors as over SSH
    (TERM=xterm-256color without COLORTERM; `truecolor` adds COLORTERM=truecolor)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": home,
        "XDG_CONFIG_HOME": os.path.join(home, ".config"),
        "LANG": "C.UTF-8",
        "TERM": "xterm-256color",
        "NORTHFLANK_API_TOKEN": token,
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    if truecolor:
        env["COLORTERM"] = "truecolor"  # 24-bit colour sequences: longer than 256-colour ones
    return env


# ----- 1. start to first row ------------------------------------------------------------------


def measure_bare_import(runs: int) -> list[float]:
    """Seconds for `python -c "import textual.app"` (one warm-up run first)."""
    times: list[float] = []
    for index in range(runs + 1):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", "import textual.app"], check=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            timeout=60,
        )
        if index:
            times.append(time.perf_counter() - start)
    return times


def measure_first_row(
    sim: Simulator, children: Children, env: dict[str, str], runs: int, cols: int, rows: int
) -> list[float]:
    """Seconds from starting `python -m tui` in a pty to its first run row (one warm-up)."""
    argv = [sys.executable, "-m", "tui", "--api-url", sim.url, "--project", PROJECT,
            "--job", JOB]
    times: list[float] = []
    for index in range(runs + 1):
        app = children.spawn(argv, env, cols, rows)
        try:
            seen = app.wait_for(BADGES, timeout=30)
            if seen is None:
                tail = app.output()[-600:]
                raise RuntimeError(f"no run row within 30 s; the app wrote ...{tail!r}")
            if index:
                times.append(seen[0] - app.started)
        finally:
            children.stop(app)
    return times


# ----- the preloading harness (runs inside the app process) -----------------------------------


@dataclass
class HarnessPlan:
    target: int
    levels: list[int]
    per_level: int


def textual_version() -> str:
    import textual

    return str(textual.__version__)


def run_bare_label() -> int:
    """`python -m tui.bench bare`: a Textual app with one label updated once a second (the
    idle figure's yardstick: what Textual itself costs on this machine)."""
    from textual.app import App, ComposeResult
    from textual.widgets import Label

    class Bare(App[None]):
        def compose(self) -> ComposeResult:
            yield Label("--:--:--")

        def on_mount(self) -> None:
            self.set_interval(1.0, lambda: self.query_one(Label).update(time.strftime("%T")))

    Bare().run()
    return 0


def measure_bare_label(children: Children, env: dict[str, str], cols: int, rows: int,
                       seconds: float) -> float:
    """CPU (% of a core) of `run_bare_label` in a pty, like the app's idle figure."""
    app = children.spawn([sys.executable, "-m", "tui.bench", "bare"], env, cols, rows)
    try:
        app.wait_for((b"--:--:--", b":"), timeout=30)
        app.wait_quiet(0.5, timeout=3)
        cpu0, start = cpu_seconds(app.pid), time.monotonic()
        time.sleep(seconds)
        return 100 * (cpu_seconds(app.pid) - cpu0) / (time.monotonic() - start)
    finally:
        children.stop(app)


def run_harness(args: argparse.Namespace) -> int:
    """`python -m tui.bench app ...`: the nf-runs app, with a MainScreen that loads pages
    (the normal way) until `--preload` runs are loaded, timing the pages at each level and
    noting RSS; JSON lines go to `--report`. After the target it is the plain app."""
    from .api.client import NorthflankClient
    from .api.ratelimit import RateLimitBudget
    from .app import NfRunsApp
    from .messages import EngineMessage
    from .options import AppOptions
    from .screens.main import MainScreen
    from .watch.events import FeedChanged
    from .watch.scheduler import Scheduler

    plan = HarnessPlan(args.preload, sorted(args.level), args.per_level)
    # --profile FILE: cProfile of the event loop's thread once loaded, until the app exits.
    profiler = cProfile.Profile() if args.profile else None
    report = open(args.report, "a", encoding="utf-8")  # noqa: SIM115 - open for the app's life

    def emit(**event: object) -> None:
        report.write(json.dumps(event) + "\n")
        report.flush()

    full_gc_ms: list[float] = []  # collections of the oldest generation, while loading
    gc_started = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if info["generation"] == 2:
            if phase == "start":
                gc_started[0] = time.perf_counter()
            else:
                full_gc_ms.append((time.perf_counter() - gc_started[0]) * 1000)

    gc.callbacks.append(on_gc)

    class PreloadScreen(MainScreen):
        """Loads older pages through the engine's public API (`Scheduler.want_more`) and
        times how the screen shows each: its message handler, then the CPU the next frame
        took (compose and write, not the wait for the refresh tick), and the wall time until
        that frame was done."""

        def __init__(self, scheduler: Scheduler, options: AppOptions,
                     now: Callable[[], datetime]) -> None:
            super().__init__(scheduler, options, now=now)
            self._bench_started = False
            self._bench_done = False
            self._bench_rss: set[int] = set()

        def _bench_level(self, loaded: int) -> int | None:
            for level in plan.levels:
                if level <= loaded < level + plan.per_level * PAGE:
                    return level
            return None

        def on_engine_message(self, message: EngineMessage) -> None:
            event = message.event
            appended = isinstance(event, FeedChanged) and event.key == self.key and any(
                change.kind == "appended" for change in event.changes)
            before = self.run_list.loaded_count
            start, cpu_start = time.perf_counter(), time.process_time()
            super().on_engine_message(message)
            # Textual calls each class's handler along the MRO by itself: having called the
            # screen's own through super() (to time it), stop it from running a second time.
            message.prevent_default()
            handled, cpu_handled = time.perf_counter(), time.process_time()
            if not appended:
                return
            if not self._bench_started:
                self._bench_started = True
                emit(event="first_page", loaded=self.run_list.loaded_count)
                self._bench_next()
                return
            self.call_after_refresh(self._bench_painted, before, start, handled, cpu_start,
                                    cpu_handled)

        def _bench_painted(self, before: int, start: float, handled: float, cpu_start: float,
                           cpu_handled: float) -> None:
            painted, cpu_painted = time.perf_counter(), time.process_time()
            level = self._bench_level(before)
            if level is not None:
                emit(event="append", level=level, loaded=before,
                     added=self.run_list.loaded_count - before,
                     handler_ms=(handled - start) * 1000,
                     frame_ms=max(0.0, cpu_painted - cpu_handled) * 1000,
                     painted_ms=(painted - start) * 1000)
            self._bench_next()

        def _bench_next(self) -> None:
            if self._bench_done or self.feed is None:
                return
            loaded = self.run_list.loaded_count
            for level in plan.levels:
                if loaded >= level and level not in self._bench_rss:
                    self._bench_rss.add(level)
                    emit(event="rss", level=level, loaded=loaded, rss_mb=rss_mb())
            if loaded >= plan.target or not self.feed.has_more:
                self._bench_done = True
                gc.callbacks.remove(on_gc)
                emit(event="preloaded", loaded=loaded, rss_mb=rss_mb(), full_gc_ms=full_gc_ms)
                if profiler is not None:
                    profiler.enable()  # from here on the app idles: that is what is profiled
                return
            key = self.feed.key
            if self._bench_level(loaded) is not None:
                # A measured page: ask for it once the app is quiet, as a user would meet it.
                self.set_timer(0.1, lambda: self.scheduler.want_more(key))
            else:
                self.scheduler.want_more(key)

    class HarnessApp(NfRunsApp):
        def get_default_screen(self) -> MainScreen:
            assert self.scheduler is not None
            return PreloadScreen(self.scheduler, self.options, self.now)

    token = os.environ.get("NORTHFLANK_API_TOKEN", "")
    client = NorthflankClient(token, args.api_url, budget=RateLimitBudget(share=BUDGET_SHARE))
    options = AppOptions(host_label="bench harness", project=args.project, job=args.job,
                         refresh=REFRESH_S, page_size=PAGE)
    try:
        return HarnessApp(client, options).run() or 0
    finally:
        report.close()
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)


def read_report(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def wait_report(path: Path, event: str, app: PtyApp, timeout: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    last_note = time.monotonic()
    while time.monotonic() < deadline:
        events = read_report(path)
        if any(item["event"] == event for item in events):
            return events
        if not app.alive():
            raise RuntimeError(f"the app exited: ...{app.output()[-600:]!r}")
        if time.monotonic() - last_note > 10:
            appended = [item for item in events if item["event"] in ("rss", "append")]
            _log(f"waiting for {event}: {appended[-1] if appended else 'first page'}")
            last_note = time.monotonic()
        time.sleep(0.1)
    raise RuntimeError(f"no {event} within {timeout:.0f} s")


# ----- 3. key to repaint ----------------------------------------------------------------------


def measure_keys(app: PtyApp, names: Sequence[str], presses: int, start_row: int) -> list[float]:
    """Move the cursor to `start_row` (off the ticking running rows), then time `j` presses
    until the newly highlighted run's name is written (its end: a long name is cut in the
    middle). Milliseconds."""
    for _ in range(start_row):
        app.write(b"j")
        time.sleep(0.03)
    app.wait_quiet(0.3)
    times: list[float] = []
    for row in range(start_row + 1, start_row + 1 + presses):
        app.wait_quiet(0.15, timeout=2)
        since = app.bytes_out
        sent = app.write(b"j")
        seen = app.wait_for([names[row][-10:].encode()], since=since, timeout=5)
        if seen is None:
            raise RuntimeError(f"row {row} ({names[row]}) was not repainted")
        times.append((seen[0] - sent) * 1000)
    return times


# ----- 4. idle --------------------------------------------------------------------------------


@dataclass
class Window:
    """What happened between two moments: CPU, terminal bytes, requests."""

    seconds: float
    cpu_s: float
    out_bytes: int
    requests: list[tuple[str, str, datetime]]
    output: bytes
    rss_samples: list[float] = field(default_factory=list)

    @property
    def cpu_pct(self) -> float:
        return 100 * self.cpu_s / self.seconds

    @property
    def bytes_per_min(self) -> float:
        return self.out_bytes * 60 / self.seconds

    @property
    def requests_per_min(self) -> float:
        return len(self.requests) * 60 / self.seconds


def watch(
    app: PtyApp, sim: Simulator, seconds: float, sample_every: float = 5.0,
    during: Callable[[], None] | None = None,
) -> Window:
    cpu0, out0, req0 = cpu_seconds(app.pid), app.bytes_out, sim.request_count
    start = time.monotonic()
    samples = [rss_mb(app.pid)]
    deadline = start + seconds
    next_sample = start + sample_every
    while (now := time.monotonic()) < deadline:
        if not app.alive():
            raise RuntimeError(f"the app exited: ...{app.output()[-600:]!r}")
        if during is not None:
            during()
        if now >= next_sample:
            samples.append(rss_mb(app.pid))
            next_sample += sample_every
        time.sleep(min(0.05, max(0.0, deadline - now)))
    elapsed = time.monotonic() - start
    cpu1, out1 = cpu_seconds(app.pid), app.bytes_out
    samples.append(rss_mb(app.pid))
    requests = sim.requests[req0:]
    return Window(elapsed, cpu1 - cpu0, out1 - out0, requests, app.output(out0, out1), samples)


def bytes_by_move(data: bytes) -> dict[tuple[int, int], int]:
    """Terminal output attributed to the (row, column) of the cursor move before it, as
    Textual addresses the screen (1-based; (0, 0): before the first move)."""
    cells: dict[tuple[int, int], int] = {}
    cell, last = (0, 0), 0
    for match in _CSI_MOVE.finditer(data):
        cells[cell] = cells.get(cell, 0) + match.start() - last
        cell, last = (int(match.group(1)), int(match.group(2))), match.start()
    cells[cell] = cells.get(cell, 0) + len(data) - last
    return cells


def bytes_by_row(data: bytes) -> dict[int, int]:
    """Terminal output by the screen row its cursor moves address (row 0: before any)."""
    rows: dict[int, int] = {}
    for (row, _), count in bytes_by_move(data).items():
        rows[row] = rows.get(row, 0) + count
    return rows


def where_bytes_went(window: Window, cols: int, rows: int) -> str:
    """Bytes per minute by part of the screen: the run rows, the run list's scrollbar (the
    last two columns), the status line (the row above the key bar), the rest by row."""
    parts: dict[str, int] = {}
    for (row, col), count in bytes_by_move(window.output).items():
        if 2 <= row <= rows - 2 and col >= cols - 1:
            part = "scrollbar"
        elif 3 <= row <= rows - 2:
            part = "run rows"
        elif row == rows - 1:
            part = "status line"
        else:
            part = f"row {row}"
        parts[part] = parts.get(part, 0) + count
    ranked = sorted(parts.items(), key=lambda item: -item[1])
    return "bytes/min: " + ", ".join(
        f"{part} {count * 60 / window.seconds:,.0f}" for part, count in ranked if count
    )


def classify(requests: Sequence[tuple[str, str, datetime]]) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for method, path, _ in requests:
        route = path.split("?", 1)[0].rstrip("/").split("/")
        if method == "GET" and route[-1] == "runs":
            kind = "runs page (next)" if "cursor=" in path else "runs first page (poll)"
        elif method == "GET" and len(route) >= 2 and route[-2] == "runs":
            kind = "one run"
        else:
            kind = f"{method} {'/'.join(route[3:4] or ['?'])}"
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


# ----- printing -------------------------------------------------------------------------------


@dataclass
class Row:
    figure: str
    value: str
    target: str
    ok: bool | None  # None: informational

    @property
    def verdict(self) -> str:
        return "" if self.ok is None else ("PASS" if self.ok else "FAIL")


class Report:
    def __init__(self) -> None:
        self.rows: list[Row] = []

    def add(self, figure: str, value: str, target: str = "", ok: bool | None = None) -> None:
        row = Row(figure, value, target, ok)
        self.rows.append(row)
        verdict = f"  [{row.verdict}]" if row.verdict else ""
        target_text = f"  (target {target})" if target else ""
        print(f"  {figure}: {value}{target_text}{verdict}", flush=True)

    def note(self, text: str) -> None:
        print(f"    {text}", flush=True)

    def summary(self) -> None:
        judged = [row for row in self.rows if row.ok is not None]
        width = max(len(row.figure) for row in judged) if judged else 10
        value_width = max(len(row.value) for row in judged) if judged else 10
        print("\nSummary")
        print(f"  {'figure':<{width}}  {'measured':<{value_width}}  {'target':<24}  result")
        for row in judged:
            print(f"  {row.figure:<{width}}  {row.value:<{value_width}}  {row.target:<24}  "
                  f"{row.verdict}")
        failed = sum(1 for row in judged if not row.ok)
        print(f"  {len(judged) - failed} passed, {failed} failed", flush=True)


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _spread(values: Sequence[float], unit: str, digits: int = 1) -> str:
    if len(values) < 2:
        return ""
    return f" (min {min(values):.{digits}f}, max {max(values):.{digits}f}{unit}, n={len(values)})"


# ----- the whole benchmark --------------------------------------------------------------------


@dataclass
class Settings:
    runs: int
    max_runs: int
    levels: list[int]
    presses: int
    idle_seconds: float
    soak_seconds: float
    cols: int
    rows: int
    quick: bool
    dump_idle: Path | None = None
    truecolor: bool = False


def settings_from(args: argparse.Namespace) -> Settings:
    quick = bool(args.quick)
    max_runs = args.max_runs or (10_000 if quick else 100_000)
    levels = [level for level in (1_000, 10_000, 100_000) if level <= max_runs]
    return Settings(
        runs=args.runs or (2 if quick else 5),
        max_runs=max_runs,
        levels=levels,
        presses=args.runs or (3 if quick else 9),
        idle_seconds=args.idle_seconds or (10.0 if quick else 60.0),
        soak_seconds=args.soak_seconds or (10.0 if quick else 60.0),
        cols=args.cols,
        rows=args.rows,
        quick=quick,
        dump_idle=args.dump_idle,
        truecolor=args.truecolor,
    )


def run_benchmark(settings: Settings, children: Children) -> Report:
    report = Report()
    per_level = min(settings.runs, 5)
    target = max(settings.levels) + per_level * PAGE
    history = target + 2 * PAGE  # so that "more" remains: the list never reaches its end
    print(f"nf-runs benchmark: Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"pty {settings.cols}x{settings.rows} TERM=xterm-256color "
          f"({'COLORTERM=truecolor' if settings.truecolor else 'no COLORTERM'}), "
          f"median of {settings.runs} runs{' (quick)' if settings.quick else ''}", flush=True)
    _log(f"simulator: job {PROJECT}/{JOB} with {history:,} runs + {RUNNING} running")
    sim = build_simulator(history)
    home = tempfile.mkdtemp(prefix="nf-bench-")
    env = app_env(home, sim.token, settings.truecolor)
    try:
        # -- 1 ---------------------------------------------------------------------------
        print("\n1. Start to first run row (pty, warm)", flush=True)
        bare = measure_bare_import(settings.runs)
        first = measure_first_row(sim, children, env, settings.runs, settings.cols, settings.rows)
        bare_s, first_s = _median(bare), _median(first)
        report.add("bare import textual.app", f"{bare_s:.3f} s", "", None)
        report.note(_spread(bare, " s", 3).strip())
        report.add("start to first run row", f"{first_s:.3f} s",
                   f"<= {FIRST_ROW_TARGET_S} s", first_s <= FIRST_ROW_TARGET_S)
        report.note(_spread(first, " s", 3).strip())
        ratio = first_s / bare_s
        report.add("first row / bare import", f"{ratio:.2f}x",
                   f"<= {FIRST_ROW_IMPORT_FACTOR}x", ratio <= FIRST_ROW_IMPORT_FACTOR)

        # -- the loaded app -----------------------------------------------------------------
        report_path = Path(home) / "harness.jsonl"
        argv = [sys.executable, "-m", "tui.bench", "app", "--api-url", sim.url,
                "--project", PROJECT, "--job", JOB, "--preload", str(target),
                "--per-level", str(per_level), "--report", str(report_path)]
        for level in settings.levels:
            argv += ["--level", str(level)]
        sim.reset_requests()
        _log(f"loading {target:,} runs into the app, page by page")
        loading = time.monotonic()
        app = children.spawn(argv, env, settings.cols, settings.rows)
        events = wait_report(report_path, "preloaded", app, timeout=60 + target / 100)
        load_s = time.monotonic() - loading
        load_requests = sim.request_count

        print(f"\n2. Appending one page of {PAGE} runs, in the app in the pty, pages asked "
              "for through the engine (Scheduler.want_more).", flush=True)
        print("   handler = the screen's engine-message handler (store changes shown, status "
              "line); frame = the next screen\n   update (layout, compositing, writing); "
              "judged: handler + frame. painted = from the page's arrival\n   until that "
              "frame was written, including the wait for Textual's next 60 fps frame slot.",
              flush=True)
        for level in settings.levels:
            pages = [item for item in events if item["event"] == "append"
                     and item["level"] == level]
            handler = [item["handler_ms"] for item in pages]
            frame = [item["frame_ms"] for item in pages]
            work = [item["handler_ms"] + item["frame_ms"] for item in pages]
            painted = [item["painted_ms"] for item in pages]
            value = (f"{_median(work):.1f} ms (handler {_median(handler):.1f} + frame "
                     f"{_median(frame):.1f}; painted after {_median(painted):.1f})")
            report.add(f"append 100 @ {level // 1000}k", value, f"<= {APPEND_TARGET_MS:.0f} ms",
                       _median(work) <= APPEND_TARGET_MS)
            report.note(f"handler + frame{_spread(work, ' ms')}; painted{_spread(painted, ' ms')}")
        report.note(f"loading {target:,} runs took {load_s:.1f} s and {load_requests} requests")
        full_gc = next(item for item in events if item["event"] == "preloaded")["full_gc_ms"]
        if full_gc:
            report.note(f"full garbage collections while loading: {len(full_gc)}, longest "
                        f"{max(full_gc):.0f} ms (a page that meets one takes that much longer)")

        print(f"\n3. Key press to repaint, cursor down, {target:,} loaded (pty: `j` written "
              "until the new row's run name is read back)", flush=True)
        names = [run["runName"] for run in sim.world.runs(PROJECT, JOB, limit=64)]
        start_row = RUNNING + 5
        keys = measure_keys(app, names, settings.presses, start_row)
        key_ms = _median(keys)
        report.add(f"key to repaint @ {target // 1000}k", f"{key_ms:.1f} ms",
                   f"<= {KEY_TARGET_MS:.0f} ms", key_ms <= KEY_TARGET_MS)
        report.note(_spread(keys, " ms").strip())

        # -- 4 ----------------------------------------------------------------------------------
        print(f"\n4. Idle, watching {RUNNING} running runs with {target:,} loaded, "
              f"{settings.idle_seconds:.0f} s", flush=True)
        app.wait_quiet(0.5, timeout=3)
        idle = watch(app, sim, settings.idle_seconds)
        report.add("idle CPU", f"{idle.cpu_pct:.2f} % of a core",
                   f"<= {IDLE_CPU_TARGET_PCT} %", idle.cpu_pct <= IDLE_CPU_TARGET_PCT)
        yardstick = measure_bare_label(children, env, settings.cols, settings.rows,
                                       min(settings.idle_seconds, 30.0))
        report.add("bare Textual app, one label a second", f"{yardstick:.2f} % of a core",
                   "", None)
        report.note(f"the same pty and machine, for scale: nf-runs idles at "
                    f"{idle.cpu_pct / yardstick:.1f}x a bare Textual {textual_version()} app"
                    if yardstick > 0 else "the bare app used no measurable CPU")
        report.add("idle terminal output", f"{idle.bytes_per_min / 1024:.1f} KB/min",
                   f"<= {IDLE_BYTES_TARGET_PER_MIN // 1024} KB/min",
                   idle.bytes_per_min <= IDLE_BYTES_TARGET_PER_MIN)
        report.note(where_bytes_went(idle, settings.cols, settings.rows))
        if settings.dump_idle is not None:
            settings.dump_idle.write_bytes(idle.output)
            report.note(f"terminal output of the idle window written to {settings.dump_idle}")
        # Every active run is on the first page: one request per poll, one poll per interval.
        allowed_per_min = 60 / REFRESH_S * (1 + 0)
        polls = len(idle.requests)
        allowed = int(idle.seconds // REFRESH_S) + 1
        report.add("idle API requests", f"{idle.requests_per_min:.1f}/min",
                   f"<= {allowed_per_min:.0f}/min", polls <= allowed)
        report.note(", ".join(f"{kind}: {count}" for kind, count in
                              sorted(classify(idle.requests).items())) or "no requests")
        share = RATE_LIMIT * BUDGET_SHARE
        spent = sim.request_count  # every request since this app started
        pace = idle.requests_per_min * 60
        within = spent <= share and pace <= share and sim.quota_remaining() > 0
        report.add("API budget", f"{spent} spent this hour, idle pace {pace:.0f}/h",
                   f"<= {share:.0f}/h ({BUDGET_SHARE:.0%} of {RATE_LIMIT})", within)

        # -- 4b (informational) --------------------------------------------------------------
        print(f"\n4b. The same, with the {RUNNING} running runs over an hour old (durations "
              "change once a minute), informational", flush=True)
        before_jump = sim.request_count
        sim.world.advance(3600)  # the app follows the server clock (Date header) on its next poll
        deadline = time.monotonic() + 2 * REFRESH_S + 5
        while sim.request_count == before_jump and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.5)  # the next tick repaints every row: their "ago" texts all moved
        app.wait_quiet(1.5, timeout=5)
        older = watch(app, sim, min(settings.idle_seconds, 30.0))
        report.add("idle, runs > 1 h old", f"{older.bytes_per_min / 1024:.1f} KB/min, "
                   f"CPU {older.cpu_pct:.2f} %")
        report.note(where_bytes_went(older, settings.cols, settings.rows))

        # -- 5 ----------------------------------------------------------------------------------
        print("\n5. Resident memory (VmRSS of the app process)", flush=True)
        rss = {item["level"]: item["rss_mb"] for item in events if item["event"] == "rss"}
        for level in settings.levels:
            ok = level < 100_000 or rss[level] <= RSS_TARGET_MB
            report.add(f"RSS @ {level // 1000}k loaded", f"{rss[level]:.1f} MB",
                       f"<= {RSS_TARGET_MB:.0f} MB" if level >= 100_000 else "",
                       ok if level >= 100_000 else None)
        world = sim.world
        soak_hours = settings.soak_seconds * SOAK_SPEED / 3600
        print(f"   soak: {soak_hours:.0f} simulated hours in {settings.soak_seconds:.0f} s "
              f"(simulator at {SOAK_SPEED:.0f}x, a run started every "
              f"{SOAK_RUN_EVERY / 60:.0f} simulated minutes, the app watching)", flush=True)
        runs_before = world.run_count(PROJECT, JOB)
        world.set_speed(SOAK_SPEED)
        next_start = [world.now_ts() + SOAK_RUN_EVERY]

        def start_due_runs() -> None:
            while world.now_ts() >= next_start[0]:
                world.start_run(PROJECT, JOB, outcome=None)
                next_start[0] += SOAK_RUN_EVERY

        soak = watch(app, sim, settings.soak_seconds, sample_every=5.0, during=start_due_runs)
        world.set_speed(1.0)
        start_mb, end_mb = soak.rss_samples[0], soak.rss_samples[-1]
        growth = 100 * (end_mb - start_mb) / start_mb
        report.add("RSS across the soak",
                   f"{start_mb:.1f} -> {end_mb:.1f} MB ({growth:+.1f} %)",
                   f"within {SOAK_FLAT_PCT:.0f} %", abs(growth) <= SOAK_FLAT_PCT)
        report.note(f"samples: {', '.join(f'{value:.1f}' for value in soak.rss_samples)} MB; "
                    f"{world.run_count(PROJECT, JOB) - runs_before} runs started; "
                    f"{len(soak.requests)} requests; CPU {soak.cpu_pct:.1f} %; "
                    f"{soak.bytes_per_min / 1024:.1f} KB/min to the terminal")
        children.stop(app)
    finally:
        sim.stop()
        with contextlib.suppress(OSError):
            for entry in Path(home).iterdir():
                entry.unlink()
            os.rmdir(home)
    run_board(report)
    from . import bench_board_idle  # (imports this module: not at the top)

    print(f"\n7. {bench_board_idle.title(settings.idle_seconds)}", flush=True)
    bench_board_idle.report_board_idle(report, children, settings.idle_seconds)
    report.summary()
    return report


def run_board(report: Report, hours: float = 24.0) -> None:
    print(f"\n6. {bench_board.title(hours * 3600)}", flush=True)
    bench_board.report_board(report, seconds=hours * 3600)


# ----- CLI ------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tui.bench",
        description="Performance figures of nf-runs in a real pty against the simulator.",
    )
    parser.add_argument("--runs", type=int, default=0, metavar="N",
                        help="runs per median (default 5; 2 with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="a fast smoke run: 10k runs, short idle and soak")
    parser.add_argument("--max-runs", type=int, default=0, metavar="N",
                        help="runs to load (default 100000; 10000 with --quick)")
    parser.add_argument("--idle-seconds", type=float, default=0.0, metavar="S",
                        help="length of the idle measurement (default 60)")
    parser.add_argument("--soak-seconds", type=float, default=0.0, metavar="S",
                        help="real length of the soak (default 60 = 24 simulated hours)")
    parser.add_argument("--dump-idle", type=Path, default=None, metavar="FILE",
                        help="write the terminal output of the idle window (4.) to FILE")
    parser.add_argument("--truecolor", action="store_true",
                        help="run the app with COLORTERM=truecolor (24-bit colour sequences)")
    parser.add_argument("--cols", type=int, default=120)
    parser.add_argument("--rows", type=int, default=40)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("bare", help=argparse.SUPPRESS)
    board = sub.add_parser("board", help="only the board's planner against a round-robin (6.)")
    board.add_argument("--hours", type=float, default=24.0, help="simulated hours (24)")
    harness = sub.add_parser("app", help=argparse.SUPPRESS)
    harness.add_argument("--api-url", required=True)
    harness.add_argument("--project", required=True)
    harness.add_argument("--job", required=True)
    harness.add_argument("--preload", type=int, required=True)
    harness.add_argument("--level", type=int, action="append", default=[])
    harness.add_argument("--per-level", type=int, default=5)
    harness.add_argument("--report", required=True)
    harness.add_argument("--profile", default=None)
    from . import bench_board_idle

    bench_board_idle.add_commands(sub)
    return parser


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """Ctrl-C, SIGTERM and SIGHUP end the benchmark (even where SIGINT was inherited as
    ignored, as in a background job), so that `finally` stops the children."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, interrupt) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "app":
        return run_harness(args)
    if args.command == "bare":
        return run_bare_label()
    if args.command in ("board-idle", "board-app"):
        from . import bench_board_idle

        if args.command == "board-app":
            return bench_board_idle.run_board_app(args)
        try:
            with _interruptible():
                return bench_board_idle.main(args)
        except KeyboardInterrupt:
            print("\ninterrupted", file=sys.stderr)
            return 130
    if args.command == "board":
        report = Report()
        run_board(report, args.hours)
        report.summary()
        return 0 if all(row.ok is not False for row in report.rows) else 1
    children = Children()
    try:
        with _interruptible():
            report = run_benchmark(settings_from(args), children)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        children.stop_all()
    return 0 if all(row.ok is not False for row in report.rows) else 1


if __name__ == "__main__":
    sys.exit(main())
