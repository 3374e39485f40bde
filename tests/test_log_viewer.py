"""The log viewer (issue 11): opened from the run list and the run detail, search and its
count, the toggles, save and copy, the live tail (following, "N new lines", reconnecting,
the end of the run, stopped when the screen goes), 100k lines at the cost of a screenful,
and its picture at 80x24.

The simulator's clock is frozen and moved by the tests (`world.advance`); the tests wait for
what the user would see, never for fixed times. The widget's own tests count the lines it
paints, not the time it takes.
"""

from __future__ import annotations

import asyncio
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.binding import Binding

from tests.conftest import START
from tests.test_ui import Board, board, rich_text
from tui.screens.detail import RunDetailScreen
from tui.screens.help import HelpScreen
from tui.screens.log_save import safe_file_stem
from tui.screens.log_viewer import LogViewerScreen, tail_words
from tui.screens.main import MainScreen
from tui.simulator import Simulator, run_simulator
from tui.watch import log_session
from tui.watch.log_session import TailStatus
from tui.widgets.log_lines import LogLines

DATA, TRAINING = "data-platform", "model-training"  # a FAILED run of ~9400 lines, 2nd row
PAY, REFUNDS = "payments", "refund-batch"  # manual: the tests start runs of it


# ----- helpers ----------------------------------------------------------------------------------


def viewer(b: Board) -> LogViewerScreen:
    screen = b.app.screen
    assert isinstance(screen, LogViewerScreen), screen
    return screen


async def open_viewer(b: Board, *keys: str) -> LogViewerScreen:
    """Press `keys` (then `l`) and wait for the viewer with its first page shown."""
    await b.idle()
    await b.press(*keys, "l")
    await b.wait(lambda: isinstance(b.app.screen, LogViewerScreen), "the log viewer")
    screen = viewer(b)
    await b.wait(lambda: screen.log_lines.lines, "the first page of the log")
    return screen


def shown(screen: LogViewerScreen) -> str:
    return "\n".join(screen.log_lines.visible_text())


@pytest.fixture
def tail_sim() -> Iterator[Simulator]:
    """The demo world without history; refund-batch's runs write a line every 0.25 s."""
    with run_simulator(seed=7, speed=0.0, start=START, history=False) as simulator:
        simulator.world.set_log_every(PAY, REFUNDS, 0.25)
        yield simulator


async def advance_until(b: Board, condition: Any, what: str, step: float = 1.0) -> None:
    """Move the simulated clock a step at a time until `condition()` (the tail sends at
    most one batch per simulated second)."""
    for _ in range(200):
        if condition():
            return
        b.sim.world.advance(step)
        try:
            await b.wait(condition, what, timeout=0.5)
            return
        except AssertionError:
            continue
    raise AssertionError(f"never saw {what}; status: {b.status!r}")


# ----- opening it ---------------------------------------------------------------------------------


async def test_l_on_a_run_opens_its_whole_log_at_the_end(small_sim: Simulator) -> None:
    async with board(small_sim, project=DATA, job=TRAINING, size=(80, 24)) as b:
        screen = await open_viewer(b, "j")
        run = screen.run
        assert run.raw_status == "FAILED"
        await b.wait(lambda: "1,000 lines (more above)" in screen.status_text, "the status")
        text = shown(screen)
        assert "Error: process exited with code 1" in text.splitlines()[-1]
        assert "[ERROR] step 'load' failed" in text
        assert "run FAILED" in screen.status_text and "line 1,000" in screen.status_text
        # Every request went through the app's client, with the run's window.
        logs = [target for _, target, _ in small_sim.requests if "/logs" in target]
        assert logs and all("startTime=" in t and "endTime=" in t for t in logs)
        await b.press("escape")
        assert isinstance(b.app.screen, MainScreen)
        assert b.run_list.highlighted_run is not None
        assert b.run_list.highlighted_run.id == run.id


async def test_l_in_the_detail_opens_the_viewer_and_r_reloads_the_logs(
    small_sim: Simulator,
) -> None:
    async with board(small_sim, project=DATA, job=TRAINING, size=(100, 30)) as b:
        await b.idle()
        await b.press("j", "enter")
        await b.wait(lambda: isinstance(b.app.screen, RunDetailScreen), "the detail")
        detail = b.app.screen
        assert isinstance(detail, RunDetailScreen)
        await b.press("l")
        await b.wait(lambda: isinstance(b.app.screen, LogViewerScreen), "the viewer")
        screen = viewer(b)
        assert screen.run.id == detail.run.id
        await b.wait(lambda: screen.log_lines.lines, "the log")
        await b.press("q")  # q closes the viewer (not the app)
        assert b.app.screen is detail and b.app.is_running
        before = sum("/logs" in target for _, target, _ in small_sim.requests)
        await b.press("r")
        await b.wait(lambda: sum("/logs" in t for _, t, _ in small_sim.requests) > before,
                     "the logs asked for again")


async def test_scrolling_to_the_top_loads_older_pages_and_keeps_the_view(
    small_sim: Simulator,
) -> None:
    async with board(small_sim, project=DATA, job=TRAINING, size=(80, 24)) as b:
        screen = await open_viewer(b, "j")
        view = screen.log_lines
        await b.press("g")  # Home: the first loaded line, which is near the top: older come
        await b.wait(lambda: len(view.lines) > 1000, "an older page")
        # The line that was first is still where it was, under the older ones.
        assert view.top > 900 and view.cursor == view.top
        await b.wait(lambda: "more above" in screen.status_text, "the status")
        for _ in range(12):  # ~9400 lines: ten pages, then the start of the log
            if not view.has_older:
                break
            count = len(view.lines)
            await b.press("g")
            await b.wait(lambda count=count: len(view.lines) > count or not view.has_older,
                         "another older page")
        await b.wait(lambda: "from the start" in screen.status_text, "the start")
        assert len(view.lines) == len({line.key for line in view.lines})  # no repeats
        await b.press("g")
        assert "Starting container for job run model-training" in view.visible_text()[0]


async def test_a_failed_load_says_why_and_r_retries(small_sim: Simulator) -> None:
    async with board(small_sim, project=DATA, job=TRAINING, size=(80, 24), refresh=60,
                     idle_interval=60) as b:
        await b.idle()
        small_sim.faults.queue("malformed", message="\x1b[2J boom")
        await b.press("j", "l")
        await b.wait(lambda: isinstance(b.app.screen, LogViewerScreen), "the viewer")
        screen = viewer(b)
        await b.wait(lambda: "cannot load the logs" in screen.status_text, "the problem")
        assert "(r retries)" in screen.status_text and "\x1b" not in screen.status_text
        assert not screen.log_lines.lines
        await b.press("r")
        await b.wait(lambda: len(screen.log_lines.lines) == 1000, "the log, asked again")
        assert "cannot" not in screen.status_text


# ----- search, toggles --------------------------------------------------------------------------


async def test_search_counts_matches_and_n_and_shift_n_step_through_them(
    small_sim: Simulator,
) -> None:
    async with board(small_sim, project=DATA, job=TRAINING, size=(80, 24)) as b:
        screen = await open_viewer(b, "j")
        view = screen.log_lines
        # (Line objects, not indices: a jump near the top brings older lines above them.)
        matches = [line for line in view.lines if "slow query" in line.log.lower()]
        assert len(matches) > 3
        await b.press("slash")
        await b.pilot.press(*"SLOW query")  # any case
        await b.press("enter")
        # From the cursor (the last line) forward: round to the first.
        assert view.cursor_line is matches[0]
        await b.wait(lambda: not screen.session.loading_older, "the older page it brought")

        def label() -> str:
            found = [i for i, line in enumerate(view.lines) if "slow query" in line.log.lower()]
            return f"/SLOW query {found.index(view.cursor) + 1}/{len(found)}"

        await b.wait(lambda: label() in screen.status_text, "the match count")
        await b.press("n")
        assert view.cursor_line is matches[1] and label() in screen.status_text
        await b.press("N", "N")  # before the first of the page: one of the older lines
        assert view.cursor_line not in matches and "slow query" in view.cursor_line.log
        await b.press("G", "N")
        assert view.cursor_line is matches[-1] and label() in screen.status_text
        assert "slow query" in shown(screen)
        first = next(line for line in view.lines if "slow query" in line.log.lower())
        await b.press("G", "n")  # from the end round to the first loaded
        assert view.cursor_line is first
        await b.press("slash")
        await b.pilot.press(*"no such text")
        await b.press("enter")
        assert "/no such text 0" in screen.status_text
        assert any("Not found" in n for n in b.notifications())


async def test_timestamps_containers_and_wrap_toggle(small_sim: Simulator) -> None:
    long_text = "begin " + "x" * 150 + " end"
    small_sim.world.add_job(PAY, "long-lines", "Long lines", "manual", None, (5, 10),
                            extra_log_lines=(long_text,))
    small_sim.world.start_run(PAY, "long-lines", duration=5)
    small_sim.world.advance(20)
    async with board(small_sim, project=PAY, job="long-lines", size=(80, 24)) as b:
        screen = await open_viewer(b)
        view = screen.log_lines
        rows = view.visible_text()
        assert rows[0].startswith(("0", "1", "2")) and rows[0][2] == ":"  # a time first
        container = view.lines[0].container_id
        await b.press("t")
        assert view.visible_text()[0].startswith("Starting container")
        await b.press("c")
        assert container[-12:] in view.visible_text()[0]
        await b.press("c", "t")
        long_row = next(row for row in view.visible_text() if "begin" in row)
        assert "end" not in long_row  # cut at the width
        await b.press("w")
        rows = view.visible_text()
        first = next(i for i, row in enumerate(rows) if "begin" in row)
        assert rows[first + 2].rstrip().endswith("x end")  # three rows, under the text
        assert rows[first + 1].startswith(" " * 14)
        await b.press("w")
        assert not any(row.rstrip().endswith(" end") for row in view.visible_text())


async def test_log_text_is_shown_literally_and_made_safe(small_sim: Simulator) -> None:
    hostile = ("\x1b]52;c;ZXZpbA==\x07 [bold]not bold[/] \x1b[2J\tafter-tab",)
    small_sim.world.add_job(PAY, "hostile-log", "Hostile log", "manual", None, (5, 10),
                            extra_log_lines=hostile)
    small_sim.world.start_run(PAY, "hostile-log", duration=5)
    small_sim.world.advance(20)
    async with board(small_sim, project=PAY, job="hostile-log", size=(100, 24)) as b:
        screen = await open_viewer(b)
        text = shown(screen)
        assert "\x1b" not in text and "\x07" not in text
        assert "␛]52;c;ZXZpbA==␇ [bold]not bold[/] ␛[2J" in text
        assert "after-tab" in text and "\t" not in text


# ----- save and copy ------------------------------------------------------------------------------


async def test_s_saves_the_loaded_lines_and_never_overwrites(
    small_sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = tmp_path / "home"
    (home / "Downloads").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    async with board(small_sim, project=DATA, job=TRAINING, size=(80, 24)) as b:
        screen = await open_viewer(b, "j")
        stem = safe_file_stem(screen.run.run_name)
        await b.press("s")
        first = home / "Downloads" / f"{stem}.log"
        await b.wait(lambda: any(str(first) in n for n in b.notifications()), "the toast")
        await b.press("s")
        second = home / "Downloads" / f"{stem}-1.log"
        await b.wait(lambda: any(str(second) in n for n in b.notifications()), "toast 2")
        saved = first.read_text(encoding="utf-8").splitlines()
        assert saved == second.read_text(encoding="utf-8").splitlines()
        assert len(saved) == len(screen.log_lines.lines) == 1000
        assert saved[-1].endswith("  Error: process exited with code 1")
        assert saved[-1].startswith("20") and "Z  " in saved[-1]
        assert stat.S_IMODE(first.stat().st_mode) == 0o600  # logs may carry secrets
        # Without ~/Downloads: the working directory.
        (home / "Downloads" / f"{stem}.log").unlink()
        (home / "Downloads" / f"{stem}-1.log").unlink()
        (home / "Downloads").rmdir()
        here = tmp_path / "cwd"
        here.mkdir()
        monkeypatch.chdir(here)
        await b.press("s")
        await b.wait(lambda: (here / f"{stem}.log").exists()
                     and any(str(here) in n for n in b.notifications()), "saved in the cwd")


def test_file_names_from_run_names_are_safe() -> None:
    assert safe_file_stem("nightly-report-6b0c") == "nightly-report-6b0c"
    assert safe_file_stem("../../etc/passwd") == "etc-passwd"
    assert safe_file_stem("[red]x[/] \x1b[2J") == "red-x-2J"
    assert safe_file_stem("...") == "run" and safe_file_stem("") == "run"
    assert len(safe_file_stem("a" * 1000)) == 100


async def test_y_copies_the_current_line_and_shift_y_the_run_id(
    small_sim: Simulator, monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with board(small_sim, project=DATA, job=TRAINING, size=(80, 24)) as b:
        screen = await open_viewer(b, "j")
        copied: list[str] = []
        original = b.app.copy_to_clipboard

        def spy(text: str) -> None:
            copied.append(text)
            original(text)  # Textual's OSC 52 write (no driver under test: it only records)

        monkeypatch.setattr(b.app, "copy_to_clipboard", spy)
        await b.press("y")
        assert copied == ["Error: process exited with code 1"]
        await b.press("k", "y")
        assert copied[-1] == "[ERROR] step 'load' failed: connection reset by peer"
        await b.press("Y")
        assert copied[-1] == screen.run.id == b.app.clipboard
        assert any(screen.run.id in n for n in b.notifications())


# ----- the live tail ------------------------------------------------------------------------------


async def start_running(b_sim: Simulator, duration: float = 40) -> str:
    run = b_sim.world.start_run(PAY, REFUNDS, duration=duration, outcome="SUCCESS")
    b_sim.world.advance(3)
    return str(run["id"])


async def test_the_tail_follows_then_counts_new_lines_when_scrolled_up_and_end_catches_up(
    tail_sim: Simulator,
) -> None:
    run_id = await start_running(tail_sim)
    async with board(tail_sim, project=PAY, job=REFUNDS, size=(80, 24)) as b:
        screen = await open_viewer(b)
        view = screen.log_lines
        assert screen.run.id == run_id
        await b.wait(lambda: "● live" in screen.status_text, "the live tail")
        count = len(view.lines)
        await advance_until(b, lambda: len(view.lines) > count + 20, "lines from the tail")
        assert view.following and view.cursor == len(view.lines) - 1
        assert view.top + 1 >= len(view.lines) - view.size.height  # the end is on screen
        await b.press("k", "k", "k")
        top = view.top
        count = len(view.lines)
        await advance_until(b, lambda: len(view.lines) > count + 5, "more lines")
        assert view.top == top and not view.following  # the view stayed where it was
        new = len(view.lines) - count
        await b.wait(lambda: f"{new} new lines ↓" in screen.status_text
                     or f"{len(view.lines) - count} new lines ↓" in screen.status_text,
                     "the count of new lines")
        await b.press("G")
        assert view.following and "new line" not in screen.status_text
        assert view.cursor == len(view.lines) - 1
        await advance_until(b, lambda: "Run ended: SUCCESS - tail stopped" in screen.status_text,
                            "the end of the run", step=5)
        assert view.lines[-1].log == "[INFO] done"
        await b.wait(lambda: tail_sim.open_tails == 0, "the socket closed")


async def test_a_dropped_tail_says_it_reconnects(
    tail_sim: Simulator, monkeypatch: pytest.MonkeyPatch,
) -> None:
    gate = asyncio.Event()
    waits: list[float] = []

    async def held_sleep(seconds: float) -> None:
        waits.append(seconds)
        await gate.wait()

    monkeypatch.setattr(log_session, "tail_sleep", held_sleep)
    await start_running(tail_sim, duration=600)
    async with board(tail_sim, project=PAY, job=REFUNDS, size=(80, 24)) as b:
        screen = await open_viewer(b)
        await b.wait(lambda: "● live" in screen.status_text, "the live tail")
        assert tail_sim.drop_tails() == 1
        await b.wait(lambda: "reconnecting in 1s" in screen.status_text, "reconnecting")
        assert waits and 0.5 <= waits[0] <= 1.0
        gate.set()
        await b.wait(lambda: "● live" in screen.status_text, "live again")


async def test_leaving_the_viewer_stops_the_tail(tail_sim: Simulator) -> None:
    await start_running(tail_sim, duration=600)
    async with board(tail_sim, project=PAY, job=REFUNDS, size=(80, 24)) as b:
        screen = await open_viewer(b)
        await b.wait(lambda: "● live" in screen.status_text and tail_sim.open_tails == 1,
                     "the live tail")
        workers = [w for w in b.app.workers if w.group.startswith("log-")]
        assert workers
        await b.press("escape")
        assert isinstance(b.app.screen, MainScreen)
        await b.wait(lambda: tail_sim.open_tails == 0, "the tail's socket closed")
        await b.wait(lambda: not any(w.is_running for w in workers), "its workers ended")
        assert not screen.session.tailing


async def test_the_polls_conclusion_ends_the_tail(tail_sim: Simulator) -> None:
    """The run list's poll goes on under the viewer; the run concluding ends the tail with
    the run's status even if the socket were to stay open."""
    await start_running(tail_sim, duration=20)
    async with board(tail_sim, project=PAY, job=REFUNDS, size=(80, 24)) as b:
        screen = await open_viewer(b)
        await b.wait(lambda: "● live" in screen.status_text, "the live tail")
        tail_sim.world.advance(60)
        await b.wait(lambda: "Run ended: SUCCESS - tail stopped" in screen.status_text,
                     "the end")


def test_tail_words() -> None:
    assert tail_words(TailStatus("live"), 0) == ("● live", "")
    assert tail_words(TailStatus("reconnecting", 2, retry_at=13.2), 10.0) == (
        "reconnecting in 4s", "warning")
    assert tail_words(TailStatus("ended", run_status="FAILED"), 0) == (
        "Run ended: FAILED - tail stopped", "error")
    words, loud = tail_words(TailStatus("ended", reason="gave up \x1b[2J", error=True), 0)
    assert "\x1b" not in words and loud == "error"


# ----- help -----------------------------------------------------------------------------------


KEY_TEXT = {"up": "↑", "down": "↓", "pageup": "PgUp", "pagedown": "PgDn", "home": "Home",
            "end": "End", "escape": "Esc", "slash": "/", "question_mark": "?", "left": "←",
            "right": "→", "space": "PgDn"}


async def test_help_from_the_viewer_lists_its_keys_first(small_sim: Simulator) -> None:
    async with board(small_sim, project=DATA, job=TRAINING, size=(120, 40)) as b:
        await open_viewer(b, "j")
        await b.press("question_mark")
        assert isinstance(b.app.screen, HelpScreen)
        from textual.widgets import Static

        text = rich_text(b.app.screen.query_one("#help-keys", Static).content)
        assert text.splitlines()[0].startswith("Log viewer")
        section = text.split("Run detail")[0] if text.index("Run detail") > 0 else text
        cells = {token for line in section.splitlines() for token in line[:26].split()}
        for binding in (*LogViewerScreen.BINDINGS, *LogLines.BINDINGS):
            assert isinstance(binding, Binding)
            for key in binding.key.split(","):
                if key in ("question_mark", "space"):
                    continue  # (? is under Anywhere; space is PgDn's twin)
                assert KEY_TEXT.get(key, key) in cells, (key, section)
        await b.press("escape")
        assert isinstance(b.app.screen, LogViewerScreen)


# ----- the picture --------------------------------------------------------------------------------


def test_log_viewer_snapshot(snap_compare: Any) -> None:
    from tui.screenshots import freeze_local_time, scene_app, settle

    freeze_local_time()

    async def open_log(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("j", "l")
        await settle(pilot)
        await pilot.press("slash", *"slow", "enter")
        await settle(pilot)

    with run_simulator(seed=7, speed=0.0) as simulator:
        app = scene_app(simulator, DATA, TRAINING)
        assert snap_compare(app, terminal_size=(80, 24), run_before=open_log)
