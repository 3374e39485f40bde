"""No escape sequence from outside reaches the terminal (issue 8, class 1).

The simulator's hostile-text world (`World(hostile=True)`) puts OSC 52, OSC 2, CSI, DCS/APC/PM,
C1 (0x9b, 0x9d), C0 (BEL, ESC, NUL), DEL and a bidi override in every id and text, and the
tests put them in error messages too. Every screen is rendered at 80x24 and 120x40 and what
the compositor would write to the terminal for it (a full repaint, escape sequences and all)
is scanned; so is everything the app writes to its driver itself (the clipboard's OSC 52,
the bell), every notification, and the clipboard. `test_real_terminal_bytes` runs the app
in a real pty and scans the raw bytes it writes.
"""

from __future__ import annotations

import base64
import contextlib
import io
import re
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from rich.console import Console
from textual import events
from textual.command import CommandPalette
from textual.widgets import Input

from tui.api.client import NorthflankClient
from tui.api.ratelimit import RateLimitBudget
from tui.app import NfRunsApp
from tui.options import AppOptions
from tui.screens.confirm import ConfirmScreen
from tui.screens.detail import RunDetailScreen, copyable_id
from tui.screens.help import HelpScreen
from tui.screens.log_viewer import LogViewerScreen
from tui.simulator import Simulator, World
from tui.simulator.hostile import (
    EVIL_JOB,
    EVIL_PROJECT,
    HOSTILE_ID,
    HOSTILE_TEXT,
    JOB,
    OSC2,
    OSC52,
    PROJECT,
)
from tui.toast import toast

from . import harness

START = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)
SIZES = [(80, 24), (120, 40)]

# What the compositor writes for a screen: SGR and cursor moves, nothing else.
_COMPOSITOR_CSI = re.compile(r"\x1b\[[0-9;:]*[mHABCDG]")
# Any CSI (for the real terminal, where Textual sets modes, queries, the cursor and so on).
_ANY_CSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
# Textual's own OSC: the mouse pointer's shape (Kitty protocol), a name from the CSS.
POINTER_SHAPE = re.compile(r"\x1b\]22;[a-z-]+\x07")
_BIDI = frozenset(chr(code) for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))


def _bad_character(char: str, allowed: str) -> bool:
    code = ord(char)
    if char in allowed:
        return False
    return code < 0x20 or 0x7F <= code <= 0x9F or char in _BIDI


def unsafe_in_output(data: str, allowed: str = "\n") -> list[str]:
    """What is left of a terminal stream once the compositor's own CSI are taken out and
    that a terminal would obey: escapes, C0 other than `allowed`, DEL, C1, bidi controls."""
    rest = _COMPOSITOR_CSI.sub("", data)
    return sorted({repr(char) for char in rest if _bad_character(char, allowed)})


def visible_text(data: str) -> str:
    return _COMPOSITOR_CSI.sub("", data)


def assert_safe_text(text: str, where: str) -> None:
    """Text about to be drawn, toasted or copied: not one control character."""
    bad = sorted({repr(char) for char in text if _bad_character(char, "")})
    assert not bad, f"{where}: control characters {bad} in {text[:200]!r}"


# ----- the board --------------------------------------------------------------------------------


@dataclass
class Board(harness.Board):
    """The app on the hostile world, and everything it rendered or wrote."""

    captures: dict[str, str] = field(default_factory=dict)
    driver_writes: list[str] = field(default_factory=list)

    def terminal_output(self) -> str:
        """What a full repaint of the screen (with the screens under a modal) writes."""
        app = self.app
        width, height = app.size
        console = Console(
            width=width, height=height, file=io.StringIO(), force_terminal=True,
            color_system="truecolor", legacy_windows=False, safe_box=False,
        )
        update = app.screen._compositor.render_update(
            full=True, screen_stack=app._background_screens
        )
        return update.render_segments(console)

    async def capture(self, label: str) -> str:
        """Render now; fail at once if anything unsafe would reach the terminal."""
        await self.pilot.pause()
        output = self.terminal_output()
        bad = unsafe_in_output(output)
        assert not bad, f"{label}: {bad} would reach the terminal"
        self.captures[label] = output
        for notification in self.app._notifications:
            assert_safe_text(notification.message, f"{label}: a notification")
            assert_safe_text(notification.title, f"{label}: a notification title")
        assert_safe_text(self.app._clipboard, f"{label}: the clipboard")
        return visible_text(output)

    async def press(self, *keys: str) -> None:
        await self.pilot.press(*keys)
        await self.pilot.pause()


def hostile_simulator() -> Simulator:
    sim = Simulator(World(seed=7, speed=0.0, start=START, hostile=True), rate_limit=1_000_000)
    sim.start()
    return sim


@pytest.fixture
def hostile_sim() -> Iterator[Simulator]:
    sim = hostile_simulator()
    try:
        yield sim
    finally:
        sim.stop()


@contextlib.asynccontextmanager
async def hostile_board(
    sim: Simulator, size: tuple[int, int], **options: Any
) -> AsyncIterator[Board]:
    options.setdefault("refresh", 1.0)
    options.setdefault("tick", 0.2)
    options.setdefault("idle_interval", 2.0)
    options.setdefault("tty_check", 0)
    options.setdefault("project", PROJECT)
    options.setdefault("job", JOB)
    client = NorthflankClient(sim.token, sim.url, budget=RateLimitBudget(), max_retries=0)
    app = NfRunsApp(
        client, AppOptions(host_label="sim.test", **options),
        now=sim.world.now,
    )
    async with harness.run_board(
        app, size, lambda pilot, errors: Board(app, pilot, sim, errors)
    ) as state:
        assert app._driver is not None
        driver = app._driver
        original = driver.write

        def record(data: str) -> None:
            state.driver_writes.append(data)
            original(data)

        driver.write = record  # type: ignore[method-assign]
        yield state


def clipboard_writes(writes: list[str]) -> list[str]:
    """The texts the app sent to the terminal's clipboard (OSC 52), decoded."""
    found = []
    for data in writes:
        for match in re.finditer(r"\x1b\]52;c;([A-Za-z0-9+/=]*)\x07", data):
            found.append(base64.b64decode(match.group(1)).decode("utf-8"))
    return found


# ----- every screen ---------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
async def test_every_screen_with_hostile_text_everywhere(
    hostile_sim: Simulator, size: tuple[int, int]
) -> None:
    sim = hostile_sim
    async with hostile_board(sim, size, bell=True) as b:
        main = b.main
        picker = main.picker
        await b.wait(lambda: picker.find_job(PROJECT, JOB) is not None, "the picker's jobs")

        # The main screen: the picker and the run list (narrow: `p` shows the picker).
        text = await b.capture("main")
        assert "\u241b" in text  # ESC drawn as "␛": the hostile names are on screen
        if not picker.display:
            await b.press("p")
            text = await b.capture("main with the picker")
            assert "\u241b" in text
            await b.press("p")

        # The project and the job whose ids are hostile, and their runs.
        main.open_job(EVIL_PROJECT, "inner")
        # An id with control characters never goes into a URL: a clear refusal, shown safely.
        await b.wait(lambda: "Refusing to send a request" in main.status.state.problem,
                     "the refusal of the hostile project id")
        assert main.feed is not None and main.feed.stopped
        await b.capture("a project with a hostile id")
        main.open_job(PROJECT, EVIL_JOB)
        await b.wait(
            lambda: bool(b.run_list.runs) or bool(main.status.state.problem),
            "the runs of the job with a hostile id (or a refusal)",
        )
        await b.capture("a job with a hostile id")
        main.open_job(PROJECT, JOB)
        await b.wait(lambda: bool(b.run_list.runs), "the hostile job's runs again")
        for mode in ("local", "utc", "relative"):
            await b.press("t")
            await b.capture(f"times {mode}")

        # The run detail of a run whose id, name and logs are hostile.
        b.run_list.focus()
        await b.press("enter")
        await b.wait(lambda: isinstance(b.app.screen, RunDetailScreen), "the run detail")
        detail = b.app.screen
        assert isinstance(detail, RunDetailScreen)
        assert detail.run.id.startswith(HOSTILE_ID)
        # Its id carries control characters, so the client refuses to put it in a request:
        # the logs title says so, safely.
        await b.wait(lambda: "Refusing" in str(detail.query_one("#logs-title").render()),
                     "the refused logs")
        text = await b.capture("detail with logs refused")
        assert "\u241b]52;c;SGVsbG8=\u2407" in text  # OSC 52 shown, made visible

        # `c` on a hostile id: nothing copied, a clear toast instead.
        await b.press("c")
        await b.wait(lambda: any("not copied" in n.message.lower()
                                 for n in b.app._notifications), "the refusal to copy")
        await b.capture("copy refused")
        assert b.app._clipboard == ""
        assert clipboard_writes(b.driver_writes) == []

        # The logs failing with a hostile error message (once the job index's walk at the
        # start is over: the queued fault is for the logs' request).
        index = b.main.scheduler.index
        await b.wait(lambda: index is None or not index.walking, "the job index")
        sim.faults.queue("500", message=HOSTILE_TEXT)
        await b.press("r")
        await b.wait(lambda: "cannot load" in str(detail.query_one("#logs-title").render()),
                     "the logs error")
        await b.capture("logs error")

        # The log viewer of that run: its hostile id is refused, said safely; Y copies
        # nothing, and the title shows the hostile name made visible.
        await b.press("l")
        await b.wait(lambda: isinstance(b.app.screen, LogViewerScreen), "the log viewer")
        log_viewer = b.app.screen
        assert isinstance(log_viewer, LogViewerScreen)
        await b.wait(lambda: "cannot load the logs" in log_viewer.status_text,
                     "the viewer's refusal")
        await b.press("Y")
        await b.capture("log viewer")
        assert b.app._clipboard == ""
        await b.press("escape")
        await b.wait(lambda: b.app.screen is detail, "back to the detail")
        await b.press("escape")

        # Help, confirm, palette.
        await b.press("question_mark")
        await b.wait(lambda: isinstance(b.app.screen, HelpScreen), "the help")
        await b.capture("help")
        await b.press("escape")
        await b.press("s")
        await b.wait(lambda: isinstance(b.app.screen, ConfirmScreen), "the confirm question")
        text = await b.capture("confirm")
        assert "\u241b" in text
        await b.press("n")
        await b.press("ctrl+p")
        await b.wait(lambda: isinstance(b.app.screen, CommandPalette), "the command palette")
        await b.pilot.press(*"jump")
        await b.wait(lambda: "Jump to job" in visible_text(b.terminal_output()), "the jumps")
        text = await b.capture("palette")
        assert "\u241b" in text
        await b.press("escape")
        await b.wait(lambda: not isinstance(b.app.screen, CommandPalette), "the palette shut")

        # A run of hostile name fails: its toast (the bell is checked in a real terminal:
        # headless, Textual writes none).
        running = next(run for run in b.run_list.runs if run.is_active)
        sim.world.abort_run(PROJECT, JOB, running.id)
        await b.wait(lambda: any("failed" in n.message for n in b.app._notifications),
                     "the failure toast")
        await b.capture("failure toast")

        # Whatever the app wrote to its driver besides the screen: Textual's own pointer
        # shape (from the CSS), nothing else.
        assert all(POINTER_SHAPE.fullmatch(data) for data in b.driver_writes), b.driver_writes


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
async def test_a_plain_run_id_is_copied(small_sim: Simulator, size: tuple[int, int]) -> None:
    # (A hostile project id is refused before any request: plain ids come from the plain world.)
    async with hostile_board(small_sim, size, project="payments", job="settle-ledger") as b:
        b.run_list.focus()
        await b.press("enter")
        await b.wait(lambda: isinstance(b.app.screen, RunDetailScreen), "the run detail")
        detail = b.app.screen
        assert isinstance(detail, RunDetailScreen)
        await b.press("c")
        await b.capture("copied")
        assert b.app._clipboard == detail.run.id
        assert clipboard_writes(b.driver_writes) == [detail.run.id]


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
async def test_a_hostile_paste_into_the_job_filter(
    hostile_sim: Simulator, size: tuple[int, int]
) -> None:
    # A web page can put any bytes on the clipboard; Textual's Input paints a paste as is.
    async with hostile_board(hostile_sim, size) as b:
        picker = b.main.picker
        if not picker.display:
            await b.press("p")
        job_filter = picker.query_one("#job-filter", Input)
        job_filter.focus()
        await b.pilot.pause()
        job_filter.post_message(events.Paste(f"job{HOSTILE_TEXT}"))
        await b.wait(lambda: job_filter.value.startswith("job"), "the paste")
        text = await b.capture("job filter pasted")
        assert "\u241b]52" in text
        assert_safe_text(job_filter.value, "the job filter")


async def test_a_hostile_paste_into_the_run_filter(hostile_sim: Simulator) -> None:
    async with hostile_board(hostile_sim, (120, 40)) as b:
        b.run_list.focus()
        await b.press("slash")
        run_filter = b.main.query_one("#run-filter", Input)
        run_filter.post_message(events.Paste(f"run{HOSTILE_TEXT}"))
        await b.wait(lambda: run_filter.value.startswith("run"), "the paste")
        await b.capture("run filter pasted")


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
async def test_setup_screen_message(size: tuple[int, int]) -> None:
    app = NfRunsApp(None, AppOptions(tty_check=0), setup_message=f"bad config: {HOSTILE_TEXT}")
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        console = Console(width=size[0], height=size[1], file=io.StringIO(),
                          force_terminal=True, color_system="truecolor")
        output = app.screen._compositor.render_update(full=True).render_segments(console)
        assert not unsafe_in_output(output)
        assert "\u241b]52;c;SGVsbG8=\u2407" in visible_text(output)  # shown, made visible


@pytest.mark.parametrize(
    ("kind", "keys", "title"),
    [
        ("401", ("r",), "API error"),  # the token refused while polling
        ("403", ("s", "y"), "Cannot start the run"),
        ("500", ("x", "y"), "Cannot abort the run"),
    ],
)
async def test_error_toasts_from_the_main_screen(
    hostile_sim: Simulator, kind: str, keys: tuple[str, ...], title: str
) -> None:
    # No poll of its own in between: the queued fault is the answer to the keys' request.
    async with hostile_board(hostile_sim, (120, 40), refresh=600, idle_interval=600) as b:
        b.run_list.focus()
        main = b.main
        # The picker's own start-up requests (projects, jobs) must not take the queued fault.
        await b.wait(lambda: not main.scheduler.busy and main.feed is not None
                     and main.feed.last_good is not None
                     and main.picker.find_job(main.feed.key.project_id, main.feed.key.job_id)
                     is not None and (main.scheduler.index is None
                                      or not main.scheduler.index.walking),
                     "the first poll, the picker's jobs and the job index")
        hostile_sim.faults.queue(kind, message=HOSTILE_TEXT)
        await b.press(*keys)
        await b.wait(lambda: any(n.title == title for n in b.app._notifications),
                     f"the toast {title!r}")
        await b.capture(title)


# ----- unit checks of the sinks ---------------------------------------------------------------


def test_copyable_ids() -> None:
    assert copyable_id("d34582a4-35bd-4c71-8e7c-e36999b88723")
    for bad in ("", "a" * 65, "a b", "id\n", f"{OSC52}x", f"x{OSC2}", "\x9b1m", "\u202eid",
                "\u200bid", "\x7f"):
        assert not copyable_id(bad), bad


def test_toast_sanitises_and_never_parses_markup() -> None:
    seen: list[tuple[str, dict[str, object]]] = []

    class Target:
        def notify(self, message: str, **kwargs: Any) -> None:
            seen.append((message, kwargs))

    toast(Target(), f"[bold]x[/] {HOSTILE_TEXT}" + "y" * 1000, title=f"t{OSC2}")
    message, kwargs = seen[0]
    assert_safe_text(message, "toast")
    assert_safe_text(str(kwargs["title"]), "toast title")
    assert message.startswith("[bold]x[/] \u241b]52")
    assert kwargs["markup"] is False
    assert len(message) == 400 and message.endswith("\u2026")


def test_the_scanner_finds_what_it_must() -> None:
    # The check itself: every hostile sequence is caught, Textual's own output is not.
    for sequence in (OSC52, OSC2, "\x1b[2J", "\x9b2J", "\x1bPq\x1b\\", "\x07", "\x7f",
                     "\u202e", "\x00"):
        assert unsafe_in_output(f"\x1b[1;1Hok{sequence}\x1b[0m"), repr(sequence)
    assert not unsafe_in_output("\x1b[1;1H\x1b[38;2;1;2;3;48;2;4;5;6mok\x1b[0m\n\x1b[2;1H")


# ----- a real terminal: the raw bytes -------------------------------------------------------------


def raw_unsafe(raw: bytes, *, bell_allowed: bool = False) -> list[str]:
    """Sequences in bytes written to a real terminal that the app must never send: OSC, DCS,
    SOS, APC, PM (ESC ] P X _ ^), C1 controls as single bytes or as UTF-8, BEL (without
    --bell), other C0 but CR/LF, DEL, bidi controls, and ESC not starting a CSI."""
    found: list[str] = []
    raw = re.sub(POINTER_SHAPE.pattern.encode(), b"", raw)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        # A byte 0x80-0x9f outside a UTF-8 sequence: a C1 control to an 8-bit terminal.
        found.append(f"not UTF-8 at {error.start}: {raw[error.start:error.start + 8]!r}")
        text = raw.decode("utf-8", "replace")
    for introducer in ("\x1b]", "\x1bP", "\x1bX", "\x1b_", "\x1b^"):
        if introducer in text:
            at = text.index(introducer)
            found.append(f"{introducer!r} at {at}: {text[at:at + 24]!r}")
    rest = _ANY_CSI.sub("", text)
    allowed = "\r\n" + ("\x07" if bell_allowed else "")
    bad = sorted({char for char in rest if _bad_character(char, allowed)})
    for char in bad:
        at = rest.index(char)
        found.append(f"{char!r} in {rest[max(0, at - 30):at + 30]!r}")
    return found


def test_raw_scanner() -> None:
    assert raw_unsafe(b"\x1b[?1049h\x1b[1;1H\xe2\x90\x9b]52\x1b[0m\r\n") == []
    assert raw_unsafe(b"ok\x9b2J")  # a lone C1 byte
    assert raw_unsafe("ok\u009b2J".encode())  # C1 as UTF-8
    assert raw_unsafe(OSC52.encode())
    assert raw_unsafe(b"\x1bPq\x1b\\")
    assert not raw_unsafe(b"\x1b]22;default\x07")  # Textual's pointer shape
    assert raw_unsafe(b"\x1b]22;x\x1b]52;c;SGVsbG8=\x07")
    assert raw_unsafe(b"\x07")
    assert not raw_unsafe(b"\x07", bell_allowed=True)


def _wait_for(app: Any, what: bytes, since: int, timeout: float = 30.0) -> int:
    found = app.wait_for([what], since=since, timeout=timeout)
    if found is None:
        tail = app.output()[-2000:]
        pytest.fail(f"timed out waiting for {what!r} from the app; its last output: {tail!r}")
    return int(found[1])


@pytest.mark.e2e
@pytest.mark.skipif(sys.platform == "win32", reason="needs a pty")
def test_real_terminal_bytes() -> None:
    """`python -m tui` in a pty against the hostile simulator; every byte it writes."""
    from tui.bench import PtyApp, app_env

    world = World(seed=7, speed=1.0, start=datetime.now(timezone.utc) - timedelta(minutes=2),
                  hostile=True)
    sim = Simulator(world, rate_limit=1_000_000)
    sim.start()
    home = tempfile.mkdtemp(prefix="nf-escapes-")
    env = app_env(home, sim.token)
    argv = [sys.executable, "-m", "tui", "--api-url", sim.url, "--project", PROJECT,
            "--job", JOB, "--refresh", "1", "--bell"]
    app = PtyApp(argv, env, 100, 30)
    try:
        at = _wait_for(app, "\u241b".encode(), 0)  # hostile text drawn, made visible
        at = _wait_for(app, b"RUNNING", 0)
        app.write(b"\r")  # the highlighted run's detail: hostile id, name, logs
        at = _wait_for(app, b"Refusing", at)  # the hostile run id never goes in a request
        app.write(b"c")  # copy refused
        at = _wait_for(app, b"Not copied", at)
        # A lone ESC followed at once by a key reads as Alt+key: wait for the screen it opens.
        app.write(b"\x1b")
        at = _wait_for(app, b"Refresh", at)  # the main screen's key bar, repainted
        app.write(b"?")
        at = _wait_for(app, b"nf-runs keys", at)
        app.write(b"?")  # closes the help too
        app.write(b"s")
        at = _wait_for(app, b"Start a run of", at)
        app.write(b"n")
        app.write(b"p")
        app.write(b"\x10")  # Ctrl+P: the palette
        app.write(b"jump")
        at = _wait_for(app, b"Jump to job", at)
        app.write(b"\x1b")
        at = _wait_for(app, b"Refresh", at)
        # Until here no BEL at all; then a run of hostile name fails: its toast, and with
        # --bell the app's own BEL.
        before_failure = app.bytes_out
        running = next(run for run in world.runs(PROJECT, JOB, 20) if run["status"] == "RUNNING")
        world.abort_run(PROJECT, JOB, running["id"])
        at = _wait_for(app, b"Run failed", at)
        deadline = time.monotonic() + 30
        while b"\x07" not in re.sub(POINTER_SHAPE.pattern.encode(), b"",
                                    app.output(before_failure)):
            assert time.monotonic() < deadline, "no bell for the failed run (--bell)"
            app.wait_for([b"\x07"], since=app.bytes_out, timeout=0.5)
        assert app.alive(), "the app exited"
    finally:
        app.stop()
        sim.stop()
    raw = app.output()
    assert not sim.errors, sim.errors
    assert raw_unsafe(raw, bell_allowed=True) == [], raw_unsafe(raw, bell_allowed=True)
    # BEL is one byte that no UTF-8 sequence contains: none before the failure but the end
    # of Textual's pointer shapes.
    head = re.sub(POINTER_SHAPE.pattern.encode(), b"", raw[:before_failure])
    early_bell = head.find(b"\x07")
    assert early_bell < 0, f"a BEL before any failure: {head[early_bell - 200:early_bell]!r}"
