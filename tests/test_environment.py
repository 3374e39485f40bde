"""The local environment (issue 8, class 10): no terminal, a crash, odd variables, Ctrl-C.

The real command runs in a subprocess (`sys.executable -m tui`), in a pseudo-terminal where
the dashboard needs one (tui.bench.PtyApp, as the benchmark drives it). Each test waits for
what the app writes or for its exit, with generous deadlines, never for a guessed delay.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shlex
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tui import crash
from tui.app import NfRunsApp
from tui.bench import PtyApp
from tui.options import AppOptions
from tui.simulator import Simulator, run_simulator
from tui.textual_patches import lenient_incremental_decoder

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 11, 29, 12, 0, 0, tzinfo=timezone.utc)
DEADLINE = 60.0  # seconds: for a start, an exit; generous for a loaded 2-core machine
BOARD = (b"SUCCESS", b"RUNNING", b"FAILED")  # a status badge: the board has runs on it
LEAVE_ALT_SCREEN = b"\x1b[?1049l"

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX terminals only")


def _secret() -> str:
    return f"nfsecret-{secrets.token_hex(12)}"


@pytest.fixture
def token() -> str:
    return _secret()


@pytest.fixture
def sim(token: str) -> Iterator[Simulator]:
    with run_simulator(seed=7, speed=0.0, start=START, history=False, token=token) as server:
        yield server


def _env(tmp_path: Path, **extra: str | None) -> dict[str, str]:
    """This environment without the user's tokens, config, terminal size or Textual knobs."""
    env = {
        key: value for key, value in os.environ.items()
        if key not in ("NORTHFLANK_API_TOKEN", "NF_API_TOKEN", "NORTHFLANK_API_URL",
                       "COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR")
        and not key.startswith(("TEXTUAL", "XDG_"))
    }
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
               XDG_STATE_HOME=str(home / ".state"), XDG_CACHE_HOME=str(home / ".cache"),
               TERM="xterm-256color", LANG="C.UTF-8", PYTHONPATH=str(ROOT))
    for key, value in extra.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def _one_line(text: str) -> str:
    lines = text.splitlines()
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


# ----- the pseudo-terminal ------------------------------------------------------------------


@pytest.fixture
def spawn() -> Iterator[list[PtyApp]]:
    started: list[PtyApp] = []
    yield started
    for app in started:
        app.stop()


def _start(started: list[PtyApp], argv: list[str], env: dict[str, str]) -> PtyApp:
    app = PtyApp(argv, env, cols=100, rows=30)
    started.append(app)
    return app


def _nf_runs_in_pty(started: list[PtyApp], args: list[str], env: dict[str, str]) -> PtyApp:
    return _start(started, [sys.executable, "-m", "tui", *args], env)


def _wait_for(app: PtyApp, patterns: tuple[bytes, ...], what: str, since: int = 0) -> None:
    if app.wait_for(patterns, since=since, timeout=DEADLINE) is None:
        tail = app.output()[-2000:]
        raise AssertionError(f"no {what} (alive={app.alive()}): {tail!r}")


def _finish(app: PtyApp) -> tuple[int, bytes]:
    """Wait for the exit and for the last byte out of the pty; the exit code and output."""
    deadline = time.monotonic() + DEADLINE
    while app.alive():
        assert time.monotonic() < deadline, f"did not exit: {app.output()[-2000:]!r}"
        time.sleep(0.05)
    app.wait_for((b"\0never\0",), timeout=DEADLINE)  # returns at EOF
    assert app.returncode is not None
    return app.returncode, app.output()


def _after_the_app(output: bytes) -> bytes:
    """What the pty showed after the app left the alternate screen (its last words)."""
    assert LEAVE_ALT_SCREEN in output, output[-500:]
    assert output.rfind(LEAVE_ALT_SCREEN) > output.rfind(b"\x1b[?1049h"), "still on alt screen"
    tail = output[output.rfind(LEAVE_ALT_SCREEN) + len(LEAVE_ALT_SCREEN):]
    return re.sub(rb"\x1b\[[0-9;?<>]*[a-zA-Z]", b"", tail)


def _quit(app: PtyApp) -> tuple[int, bytes]:
    app.write(b"q")
    return _finish(app)


# ----- no terminal ---------------------------------------------------------------------------


@pytest.mark.parametrize(("shell", "words"), [
    ("exec {cmd} < /dev/null", "stdin is not a terminal"),
    ("exec {cmd} 0<&-", "stdin is closed"),
    ("echo | {cmd}", "stdin is not a terminal"),
])
def test_the_dashboard_without_a_terminal_says_so(tmp_path: Path, shell: str, words: str
                                                  ) -> None:
    cmd = shlex.join([sys.executable, "-m", "tui", "--demo"])
    done = subprocess.run(["/bin/sh", "-c", shell.format(cmd=cmd)], capture_output=True,
                          text=True, env=_env(tmp_path), cwd=ROOT, timeout=DEADLINE,
                          check=False)
    assert done.returncode == 2, done.stderr
    line = _one_line(done.stderr)
    assert line.startswith("nf-runs needs a terminal: ") and words in line
    assert not done.stdout


def test_the_dashboard_with_stderr_not_a_terminal(tmp_path: Path, spawn: list[PtyApp]) -> None:
    """Textual draws on stderr: into a file it would write escape codes, not a board."""
    log = tmp_path / "stderr.txt"
    cmd = shlex.join([sys.executable, "-m", "tui", "--demo"])
    app = _start(spawn, ["/bin/sh", "-c", f"exec {cmd} 2> {shlex.quote(str(log))}"],
                 _env(tmp_path))
    code, output = _finish(app)
    assert code == 2
    line = _one_line(log.read_text())
    assert line.startswith("nf-runs needs a terminal: stderr is not a terminal")
    assert b"\x1b[" not in output


# ----- a crash --------------------------------------------------------------------------------

# Run nf-runs with a fault planted: a function of the app raises with the token both in a
# local variable (Textual's traceback would print it) and in the message.
CRASH_IN_APP = """
import os, sys
from tui import app as app_module
from tui.__main__ import main
original = app_module.NfRunsApp.get_default_screen
def get_default_screen(self):
    def explode():
        secret_token = os.environ["NORTHFLANK_API_TOKEN"]
        raise RuntimeError("lost " + secret_token + "; Authorization: Bearer " + secret_token)
    self.set_timer(0.2, explode)
    return original(self)
app_module.NfRunsApp.get_default_screen = get_default_screen
sys.exit(main(sys.argv[1:]))
"""

CRASH_IN_RUNS = """
import os, sys
from tui.api import client
from tui.__main__ import main
async def get_job_runs(self, *args, **kwargs):
    secret_token = os.environ["NORTHFLANK_API_TOKEN"]
    raise KeyError({"headers": {"Authorization": "Bearer " + secret_token}})
client.NorthflankClient.get_job_runs = get_job_runs
sys.exit(main(sys.argv[1:]))
"""

CRASH_LINE = re.compile(
    r"nf-runs crashed: (?P<error>[A-Za-z]+: .*); a full report is in (?P<path>/\S+\.txt)$"
)


def _check_report(path: Path, token: str, env: dict[str, str], error_type: str) -> str:
    assert path.parent == Path(env["XDG_STATE_HOME"]) / "nf-runs"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    report = path.read_text()
    assert token not in report
    assert "[redacted]" in report
    for words in ("nf-runs crash report", "textual: 8.2.8", "python: ", "platform: ",
                  "Traceback (most recent call last)", f"{error_type}: "):
        assert words in report, report
    return report


def test_a_crash_in_the_app_restores_the_terminal_says_one_line_and_exits_1(
    tmp_path: Path, spawn: list[PtyApp], sim: Simulator, token: str
) -> None:
    env = _env(tmp_path, NORTHFLANK_API_TOKEN=token)
    app = _start(spawn, [sys.executable, "-c", CRASH_IN_APP, "--api-url", sim.url], env)
    code, output = _finish(app)
    assert code == 1
    assert token.encode() not in output
    assert b"Traceback" not in output and b"locals" not in output
    assert b"\x1b[?25h" in output  # the cursor is shown again
    last_words = _after_the_app(output).decode().strip()
    match = CRASH_LINE.match(last_words)
    assert match, last_words
    assert match["error"].startswith("RuntimeError: lost [redacted]")
    _check_report(Path(match["path"]), token, env, "RuntimeError")


def test_a_crash_in_the_runs_command_says_one_line_and_exits_1(
    tmp_path: Path, sim: Simulator, token: str
) -> None:
    env = _env(tmp_path, NORTHFLANK_API_TOKEN=token)
    done = subprocess.run(
        [sys.executable, "-c", CRASH_IN_RUNS, "runs", "p", "j", "--api-url", sim.url],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=DEADLINE, check=False,
    )
    assert done.returncode == 1
    assert token not in done.stdout + done.stderr
    match = CRASH_LINE.match(_one_line(done.stderr))
    assert match and match["error"].startswith("KeyError: "), done.stderr
    _check_report(Path(match["path"]), token, env, "KeyError")


async def test_the_crash_hook_keeps_textuals_traceback_and_its_locals_off_the_screen(
    capsys: pytest.CaptureFixture[str],
) -> None:
    token = _secret()
    app = NfRunsApp(None, AppOptions(tty_check=0), setup_message="no token")

    def explode() -> None:
        secret_token = token
        raise RuntimeError(f"lost {secret_token}")

    with pytest.raises(RuntimeError, match="lost"):
        async with app.run_test() as pilot:
            app.call_later(explode)
            await pilot.pause()
    assert app.return_code == 1
    printed = capsys.readouterr()
    assert token not in printed.out + printed.err  # Textual printed it as a frame local
    assert "Traceback" not in printed.out + printed.err


def test_a_report_scrubs_every_spelling_of_the_token() -> None:
    token = _secret() + "\\x"
    text = (f"token={token} repr={token!r} Authorization: Bearer abc.def "
            f"{{'authorization': 'Basic dXNlcjpwdw=='}} bearer xyz, "
            f"AUTHORIZATION=other")
    scrubbed = crash.scrub(text, crash._all_secrets({"NF_API_TOKEN": token}))
    for leaked in (token, repr(token)[1:-1], "abc.def", "dXNlcjpwdw", "xyz", "other"):
        assert leaked not in scrubbed, scrubbed
    assert scrubbed.count("[redacted]") == 6


def test_the_one_line_is_short_and_printable() -> None:
    error = ValueError("\x1b]52;c;aGk=\x07" + "x" * 10_000)
    line = crash.one_line(error, [])
    assert line.startswith("ValueError: ") and line.isprintable()
    assert len(line) <= len("ValueError: ") + crash.MESSAGE_LIMIT


def test_reports_fall_back_to_the_cache_then_the_temp_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    cache = tmp_path / "cache"
    path = crash.write_report("report", now, {"XDG_STATE_HOME": str(blocked),
                                              "XDG_CACHE_HOME": str(cache), "HOME": ""})
    assert path.parent == cache / "nf-runs" and path.read_text() == "report"
    monkeypatch.setattr(crash.tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(crash, "home_dir", lambda env=None: None)
    path = crash.write_report("report", now, {"XDG_STATE_HOME": "relative"})
    assert path.parent == tmp_path / "tmp" and path.name.startswith("nf-runs-crash-")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_old_reports_are_pruned(tmp_path: Path) -> None:
    env = {"XDG_STATE_HOME": str(tmp_path)}
    folder = tmp_path / "nf-runs"
    folder.mkdir()
    for number in range(crash.KEEP_REPORTS + 5):
        old = folder / f"crash-old-{number:02}.txt"
        old.write_text("old")
        os.utime(old, (1000 + number, 1000 + number))
    crash.write_report("new", datetime.now(timezone.utc), env)
    left = sorted(path.name for path in folder.glob("crash-*.txt"))
    assert len(left) == crash.KEEP_REPORTS
    assert "crash-old-00.txt" not in left


def test_a_failing_report_still_gives_one_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_disk(*_args: object, **_kwargs: object) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(crash, "write_report", no_disk)
    assert crash.handle_crash(RuntimeError("boom")) == 1
    line = _one_line(capsys.readouterr().err)
    assert line == "nf-runs crashed: RuntimeError: boom; no report could be written (OSError)"


# ----- bad settings reach the dashboard -------------------------------------------------------


def test_a_bad_token_file_stops_the_dashboard_with_one_line(
    tmp_path: Path, spawn: list[PtyApp], token: str
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(f"{token}\nsecond line\n")
    app = _nf_runs_in_pty(spawn, ["--token-file", str(token_file)], _env(tmp_path))
    code, output = _finish(app)
    assert code == 2
    assert token.encode() not in output and b"Traceback" not in output
    text = output.decode().strip()
    assert text == (f"nf-runs: The token in the token file {token_file} has more than one "
                    "line: it must be the token alone, one word of printable ASCII")


# ----- odd environments ------------------------------------------------------------------------


@pytest.mark.parametrize("extra", [
    {"TERM": "dumb", "NO_COLOR": ""},
    {"TERM": None, "COLUMNS": "abc", "LINES": "-3"},
    {"COLUMNS": "100000", "LINES": "100000"},  # Textual sized its screen by these: it hung
    {"TERM": "xterm\x1b]0;owned\x07", "NO_COLOR": "\x1b[31m", "COLORTERM": "\x07"},
    {"HOME": None, "XDG_CONFIG_HOME": "relative", "XDG_STATE_HOME": "",
     "XDG_CACHE_HOME": "../x", "TEXTUAL_COLOR_SYSTEM": "garbage"},
], ids=["dumb", "no-term-garbage-size", "huge-size", "escapes", "no-home-bad-xdg"])
def test_odd_environments_still_give_a_board(
    tmp_path: Path, spawn: list[PtyApp], extra: dict[str, str | None]
) -> None:
    app = _nf_runs_in_pty(spawn, ["--demo"], _env(tmp_path, **extra))
    _wait_for(app, BOARD, "board")
    code, output = _quit(app)
    assert code == 0
    assert b"Traceback" not in output and b"owned" not in output
    assert not _after_the_app(output).strip()


def test_a_stale_exported_size_does_not_shrink_the_board(
    tmp_path: Path, spawn: list[PtyApp]
) -> None:
    """COLUMNS/LINES exported as 80x24 (pytest-xdist does, so do some wrappers) while the
    terminal is 100x30: the board fills the terminal, as it says it is."""
    app = _nf_runs_in_pty(spawn, ["--demo"], _env(tmp_path, COLUMNS="80", LINES="24"))
    _wait_for(app, (b"\x1b[30;",), "a line drawn on row 30 of 30")
    _wait_for(app, BOARD, "board")
    code, _ = _quit(app)
    assert code == 0


def test_the_size_in_the_environment_is_kept_only_without_a_terminal_size() -> None:
    from tui.__main__ import tidy_environment

    real = os.terminal_size((100, 30))
    environ = {"COLUMNS": "80", "LINES": "24", "HOME": "/h"}
    tidy_environment(environ, tty_size=lambda: real)
    assert environ == {"HOME": "/h"}
    environ = {"COLUMNS": "80", "LINES": "24"}
    tidy_environment(environ, tty_size=lambda: None)
    assert environ == {"COLUMNS": "80", "LINES": "24"}
    environ = {"COLUMNS": "100000", "LINES": "x"}
    tidy_environment(environ, tty_size=lambda: None)
    assert environ == {}


def test_a_lone_esc_and_quit_are_prompt_with_the_quiet_input_thread(
    tmp_path: Path, spawn: list[PtyApp]
) -> None:
    """The input thread no longer wakes ten times a second: a lone Esc (told from the start
    of a key sequence by a timeout) still closes the help, and `q` still quits."""
    app = _nf_runs_in_pty(spawn, ["--demo"], _env(tmp_path))
    _wait_for(app, BOARD, "board")
    mark = len(app.output())
    app.write(b"?")
    _wait_for(app, (b"nf-runs keys",), "help screen", since=mark)
    mark = len(app.output())
    app.write(b"\x1b")  # Esc alone: only the parser's timeout says it is not a sequence
    _wait_for(app, BOARD, "the board again after Esc", since=mark)
    code, _ = _quit(app)
    assert code == 0


def test_an_undecodable_byte_from_the_terminal_is_ignored(
    tmp_path: Path, spawn: list[PtyApp]
) -> None:
    """Textual decoded input as strict UTF-8: one byte 0xff quit the app with a traceback."""
    app = _nf_runs_in_pty(spawn, ["--demo"], _env(tmp_path))
    _wait_for(app, BOARD, "board")
    mark = len(app.output())
    app.write(b"\xff\xc3")
    app.write(b"?")  # the help screen opens: the input thread lives on
    _wait_for(app, (b"nf-runs keys",), "help screen", since=mark)
    os.kill(app.pid, signal.SIGTERM)  # leaves as `q` does, with 128 + 15
    code, output = _finish(app)
    assert code == 143 and b"Traceback" not in output
    assert not _after_the_app(output).strip()


def test_the_lenient_decoder() -> None:
    decode = lenient_incremental_decoder("utf-8")().decode
    assert decode(b"a\xffb") == "a\ufffdb"
    assert decode(b"\xc3") == "" and decode(b"\xa9") == "\u00e9"  # split characters still join


# ----- Ctrl-C ----------------------------------------------------------------------------------


class SilentServer:
    """A loopback TCP server that accepts connections and never answers."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.connected = threading.Event()
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                connection, _ = self.listener.accept()
                self._held.append(connection)
                self.connected.set()

    def close(self) -> None:
        self.listener.close()
        for connection in self._held:
            connection.close()


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


def test_ctrl_c_while_the_dashboard_starts_exits_130(
    tmp_path: Path, spawn: list[PtyApp], silent: SilentServer, token: str
) -> None:
    """The first request hangs (the app is still loading): SIGINT, as Ctrl-C sends it."""
    app = _nf_runs_in_pty(spawn, ["--api-url", silent.url],
                          _env(tmp_path, NORTHFLANK_API_TOKEN=token))
    assert silent.connected.wait(DEADLINE), app.output()[-2000:]
    os.kill(app.pid, signal.SIGINT)
    code, output = _finish(app)
    assert code == 130
    assert b"Traceback" not in output and b"KeyboardInterrupt" not in output
    assert not _after_the_app(output).strip()


def test_ctrl_c_on_the_board_exits_130(tmp_path: Path, spawn: list[PtyApp]) -> None:
    app = _nf_runs_in_pty(spawn, ["--demo"], _env(tmp_path))
    _wait_for(app, BOARD, "board")
    os.kill(app.pid, signal.SIGINT)
    code, output = _finish(app)
    assert code == 130
    assert b"Traceback" not in output and not _after_the_app(output).strip()


def test_ctrl_c_during_nf_runs_runs_exits_130(tmp_path: Path, silent: SilentServer, token: str
                                              ) -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "tui", "runs", "p", "j", "--api-url", silent.url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env=_env(tmp_path, NORTHFLANK_API_TOKEN=token),
    ) as process:
        try:
            assert silent.connected.wait(DEADLINE)
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=DEADLINE)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 130
    assert not out and "Traceback" not in err and "KeyboardInterrupt" not in err


def test_the_terminal_restorer_acts_only_when_raw_mode_was_left_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pty
    import termios
    import tty

    master, slave = pty.openpty()
    with os.fdopen(slave, "r+b", buffering=0) as stream:
        monkeypatch.setattr(sys, "__stdin__", stream)
        monkeypatch.setattr(sys, "__stderr__", stream)
        cooked = termios.tcgetattr(slave)
        restore = crash.terminal_restorer()
        restore()  # nothing changed: nothing written (no stray "leave alt screen")
        tty.setraw(slave)
        restore()
        assert termios.tcgetattr(slave) == cooked
    written = b""
    with contextlib.suppress(OSError):
        while chunk := os.read(master, 4096):
            written += chunk
    os.close(master)
    assert written.count(LEAVE_ALT_SCREEN) == 1 and b"\x1b[?25h" in written
