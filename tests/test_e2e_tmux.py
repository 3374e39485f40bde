"""End to end: `python -m tui --demo` in a real terminal (tmux), checked as a person sees it.

Every test runs its own tmux server on a private socket (`tmux -L nfruns-test-...`, no user
config), so a user's tmux is never touched, and kills it afterwards. The app is started with
`sys.executable`, so it is the package under test in this venv. Tests wait for what the screen
shows by polling `capture-pane`, never with fixed long sleeps.

The demo's default job may or may not have a run in progress; most tests open
data-platform/backfill-partitions, whose five seeded runs keep running for 20+ minutes.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

if shutil.which("tmux") is None:
    pytest.skip("tmux is not installed", allow_module_level=True)

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parent.parent
TIMEOUT = 15.0
RUNNING_JOB = ("--project", "data-platform", "--job", "backfill-partitions")
SUCCESS, RUNNING, FAILED = "\u2714 SUCCESS", "\u25cf RUNNING", "\u2718 FAILED"
# A status badge: its symbol and its word.
BADGE = re.compile(r"([\u2714\u25cf\u2718?]) (SUCCESS|RUNNING|FAILED)\b")
# A duration cell followed by the attempts cell, at the end of a run row: "9m 17s   0/0".
DURATION_AT_END = re.compile(r"\s(\d+[dhms](?: \d+[dhms])?)\s+\d+ of \d+\s*$")
# Environment that would change colours or terminal detection: tests set what they need.
SCRUBBED_ENV = ("TMUX", "TMUX_PANE", "NO_COLOR", "FORCE_COLOR", "COLORTERM", "TERM_PROGRAM")


def app_command(*args: str) -> str:
    """The shell command that runs the demo with this interpreter (so: this venv)."""
    return shlex.join([sys.executable, "-m", "tui", "--demo", *args])


class Tmux:
    """One private tmux server with one pane, driven like a person at a terminal."""

    def __init__(self, workdir: Path) -> None:
        self.socket = f"nfruns-test-{secrets.token_hex(6)}"
        self.workdir = workdir
        self.pane = ""
        self.socket_path: Path | None = None
        self.env = {
            key: value for key, value in os.environ.items()
            if key not in SCRUBBED_ENV and not key.startswith("TEXTUAL")
        }
        self.env.setdefault("LANG", "C.UTF-8")

    def tmux(self, *args: str, check: bool = True) -> str:
        # -u: UTF-8 whatever the locale of this process; -f: none of the user's config.
        done = subprocess.run(
            ["tmux", "-u", "-L", self.socket, "-f", str(self.workdir / "tmux.conf"), *args],
            capture_output=True, text=True, timeout=10, env=self.env, cwd=REPO,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def start(
        self, command: str, *, width: int = 80, height: int = 24, term: str = "screen-256color",
    ) -> None:
        """A detached session of this size running `command` (via sh) in its one pane."""
        (self.workdir / "tmux.conf").write_text(
            f'set -g default-terminal "{term}"\n'
            "set -g history-limit 2000\n"
        )
        self.pane = self.tmux(
            "new-session", "-d", "-P", "-F", "#{pane_id}", "-s", "nfruns",
            "-x", str(width), "-y", str(height), command,
        ).strip()
        self.socket_path = Path(self.tmux("display-message", "-p", "#{socket_path}").strip())

    def capture(self, *, history: bool = False) -> str:
        extra = ("-S", "-") if history else ()
        return self.tmux("capture-pane", "-p", "-t", self.pane, *extra)

    def lines(self) -> list[str]:
        return self.capture().splitlines()

    def send(self, *keys: str, literal: bool = False) -> None:
        self.tmux("send-keys", "-t", self.pane, *(("-l",) if literal else ()), *keys)

    def pane_format(self, fmt: str) -> str:
        return self.tmux("display-message", "-p", "-t", self.pane, fmt).strip()

    def wait_for(
        self, predicate: Callable[[str], bool], what: str, timeout: float = TIMEOUT
    ) -> str:
        """Poll the screen until `predicate(screen)`; fail with the last screen shown."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.capture()
            if predicate(screen):
                return screen
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}; "
                            f"the screen:\n{screen}")
            time.sleep(0.1)

    def wait_for_text(self, *texts: str, timeout: float = TIMEOUT) -> str:
        return self.wait_for(lambda screen: all(text in screen for text in texts),
                             " and ".join(repr(text) for text in texts), timeout)

    def kill_server(self) -> None:
        self.tmux("kill-server", check=False)

    def remove_socket(self) -> None:
        if self.socket_path is not None and self.socket_path.name == self.socket:
            self.socket_path.unlink(missing_ok=True)


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    server = Tmux(tmp_path)
    try:
        yield server
    finally:
        server.kill_server()
        server.remove_socket()


def board_ready(screen: str) -> bool:
    """The running job's runs are listed, the status line has counted them, the keys shown."""
    lines = screen.rstrip("\n").splitlines()
    return (
        SUCCESS in screen and RUNNING in screen and "refreshed" in screen
        and bool(lines) and "q Quit" in lines[-1]
    )


def check_board(screen: str, width: int) -> None:
    """What a person must see on the main screen, at any size."""
    lines = screen.splitlines()
    # The header names the job first; the host comes last and is what a narrow one cuts.
    assert "nf-runs" in lines[0] and "Data platform / " in lines[0], lines[0]
    if width >= 120:
        assert "demo simulator" in lines[0], lines[0]
    # Badges: symbol and word together, on run rows.
    for badge in (SUCCESS, RUNNING):
        assert any(badge in line for line in lines[1:-2]), badge
    # The status line (second to last row) counts runs and says when it last refreshed.
    status = lines[-2]
    assert re.search(r"\b\d+ runs\b", status) and "refreshed" in status, status
    if width >= 120:
        assert "API" in status, status
    # The footer (last row) names the keys.
    for key in ("r Refresh", "q Quit", "? Help"):
        assert key in lines[-1], lines[-1]
    assert "Traceback" not in screen


def running_durations(screen: str) -> list[int]:
    """Seconds of each RUNNING row's duration cell, top to bottom."""
    seconds = []
    for line in screen.splitlines():
        if line.lstrip().startswith(RUNNING):
            found = DURATION_AT_END.search(line)
            assert found, f"no duration cell in {line!r}"
            units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
            seconds.append(sum(int(part[:-1]) * units[part[-1]]
                               for part in found.group(1).split()))
    return seconds


@pytest.mark.parametrize(("width", "height"), [(80, 24), (200, 60)])
def test_board_shows_header_badges_status_and_keys(tmux: Tmux, width: int, height: int) -> None:
    tmux.start(app_command(*RUNNING_JOB), width=width, height=height)
    # Wide enough, the job picker sits beside the runs; it fills in on its own schedule.
    picker_names = ("Data platform", "Backfill partitions") if width >= 120 else ()
    screen = tmux.wait_for(
        lambda shown: board_ready(shown) and all(name in shown for name in picker_names),
        "the runs of the running job" + (" and the job picker" if picker_names else ""),
    )
    assert len(screen.splitlines()) == height
    check_board(screen, width)
    assert max(len(line) for line in screen.splitlines()) <= width


def test_running_durations_tick(tmux: Tmux) -> None:
    tmux.start(app_command(*RUNNING_JOB))
    first = running_durations(tmux.wait_for(board_ready, "the running runs"))
    assert first, "no RUNNING rows"
    later = running_durations(tmux.wait_for(
        lambda screen: running_durations(screen)[:1] not in ([], first[:1]),
        "the first RUNNING row's duration to change", timeout=6,
    ))
    assert later[0] > first[0], (first, later)


def test_layout_follows_a_resize(tmux: Tmux) -> None:
    tmux.start(app_command(*RUNNING_JOB), width=80, height=24)
    narrow = tmux.wait_for(board_ready, "the board at 80x24")
    assert max(len(line) for line in narrow.splitlines()) <= 80
    tmux.tmux("resize-window", "-t", tmux.pane, "-x", "200", "-y", "60")
    assert tmux.pane_format("#{pane_width}x#{pane_height}") == "200x60"
    wide = tmux.wait_for(
        lambda screen: len(screen.splitlines()) == 60
        and max(len(line) for line in screen.splitlines()) > 120
        and "API" in screen.splitlines()[-2] and board_ready(screen)
        and "\u25bc Data platform" in screen,
        "the board and the job picker to fill 200x60",
    )
    check_board(wide, 200)
    # The footer moved to the new bottom row, and the run rows widened with the terminal.
    assert "q Quit" in wide.splitlines()[-1]
    rows = [line for line in wide.splitlines() if RUNNING in line]
    assert rows and max(len(line) for line in rows) > 120, rows
    # Narrow, the open job's runs had the whole width; wide, the job picker is back beside them.
    assert "\u25bc Data platform" not in narrow and "\u25bc Data platform" in wide


@pytest.mark.parametrize(
    ("term", "no_color"),
    [("xterm-256color", False), ("screen", False), ("screen-256color", True)],
    ids=["xterm-256color", "screen", "NO_COLOR"],
)
def test_badges_read_without_color(tmux: Tmux, term: str, no_color: bool) -> None:
    command = app_command(*RUNNING_JOB)
    if no_color:
        command = f"env NO_COLOR=1 {command}"
    tmux.start(command, term=term)
    screen = tmux.wait_for(board_ready, f"the board with TERM={term} NO_COLOR={no_color}")
    assert tmux.tmux("show-options", "-gv", "default-terminal").strip() == term
    check_board(screen, 80)
    # Each status has its own symbol and its word, always together: no colour is needed to
    # tell them apart.
    badges = set(BADGE.findall(screen))
    assert {("\u2714", "SUCCESS"), ("\u25cf", "RUNNING")} <= badges, badges
    assert len({symbol for symbol, _ in badges}) == len({word for _, word in badges}) \
        == len(badges), badges


def test_help_opens_and_closes(tmux: Tmux) -> None:
    tmux.start(app_command(*RUNNING_JOB))
    tmux.wait_for(board_ready, "the board")
    tmux.send("?", literal=True)
    screen = tmux.wait_for_text("nf-runs keys", "refresh now", "move the cursor")
    assert "filter runs by name" in screen
    tmux.send("Escape")
    screen = tmux.wait_for(lambda s: "nf-runs keys" not in s and board_ready(s),
                           "the help to close")
    check_board(screen, 80)


def test_quit_exits_zero_and_restores_the_terminal(tmux: Tmux, tmp_path: Path) -> None:
    saved = shlex.quote(str(tmp_path / "stty-before"))
    tmux.start(
        f"stty -g > {saved}; {app_command(*RUNNING_JOB)}; echo EXIT-$?; "
        f"if [ \"$(stty -g)\" = \"$(cat {saved})\" ]; then echo TTY-SAME; else echo TTY-CHANGED; "
        "fi; sleep 60"
    )
    tmux.wait_for(board_ready, "the board")
    assert tmux.pane_format("#{alternate_on}") == "1"
    tmux.send("q", literal=True)
    screen = tmux.wait_for(lambda s: "EXIT-" in s and "TTY-" in s, "the shell after quit")
    everything = tmux.capture(history=True)
    assert "EXIT-0" in screen, screen
    assert "TTY-SAME" in screen, "the tty modes (echo, canonical input) were not restored"
    assert "Traceback" not in everything and "Error" not in everything, everything
    # Back on the normal screen, with none of the board left on it.
    assert RUNNING not in everything and "nf-runs" not in everything, everything
    flags = tmux.pane_format(
        "#{alternate_on} #{cursor_flag} #{mouse_any_flag} #{mouse_sgr_flag} #{wrap_flag}"
    )
    assert flags == "0 1 0 0 1", f"alternate screen, cursor, mouse, mouse SGR, wrap: {flags}"


def test_stays_up_with_stdout_redirected(tmux: Tmux, tmp_path: Path) -> None:
    """Textual draws on stderr: stdout going to a file is no reason to quit."""
    out = shlex.quote(str(tmp_path / "stdout"))
    tmux.start(f"{app_command(*RUNNING_JOB)} > {out}; echo EXIT-$?; sleep 60")
    tmux.wait_for(board_ready, "the board")
    # Several checks of the terminal go by (every second; it used to be every 5 s, and one
    # of them quit with code 1 when stdout was not a terminal) without the app leaving.
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        assert "EXIT-" not in tmux.capture(), "the app quit by itself"
        time.sleep(0.2)
    tmux.send("q", literal=True)
    tmux.wait_for_text("EXIT-0")


def test_sigterm_quits_cleanly_with_its_exit_code(tmux: Tmux, tmp_path: Path) -> None:
    """`kill` (SIGTERM) leaves like `q` does, terminal restored, and says so: 128 + 15."""
    pidfile = tmp_path / "pid"
    inner = f"echo $$ > {shlex.quote(str(pidfile))}; exec {app_command(*RUNNING_JOB)}"
    tmux.start(f"sh -c {shlex.quote(inner)}; echo EXIT-$?; sleep 60")
    tmux.wait_for(board_ready, "the board")
    os.kill(int(pidfile.read_text()), signal.SIGTERM)
    tmux.wait_for_text("EXIT-143")
    flags = tmux.pane_format("#{alternate_on} #{cursor_flag} #{mouse_any_flag}")
    assert flags == "0 1 0", f"alternate screen, cursor, mouse: {flags}"


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a live process; None when it has exited (or is a zombie)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    if fields[0] in ("Z", "X"):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# SIGHUP blocked before exec stays blocked in the app: its terminal then goes away without
# SIGHUP reaching it, as after some SSH drops (textual-notes P1).
BLOCK_SIGHUP = (
    "import os, signal, sys; signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP}); "
    "os.execv(sys.executable, sys.argv[1:])"
)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
@pytest.mark.parametrize("sighup", [True, False], ids=["sighup", "no-sighup"])
def test_app_exits_when_its_terminal_goes_away(tmux: Tmux, tmp_path: Path, sighup: bool) -> None:
    pidfile = tmp_path / "pid"
    command = app_command(*RUNNING_JOB)
    if not sighup:
        command = shlex.join([sys.executable, "-c", BLOCK_SIGHUP, sys.executable, "-m", "tui",
                              "--demo", *RUNNING_JOB])
    tmux.start(f"echo $$ > {shlex.quote(str(pidfile))}; exec {command}")
    tmux.wait_for(board_ready, "the board")
    pid = int(pidfile.read_text())
    assert b"tui" in Path(f"/proc/{pid}/cmdline").read_bytes()
    if not sighup:
        blocked = re.search(r"^SigBlk:\s*([0-9a-f]+)", Path(f"/proc/{pid}/status").read_text(),
                            re.M)
        assert blocked and int(blocked.group(1), 16) & 1 << 0, "SIGHUP is not blocked"
    cpu_before = _cpu_seconds(pid)
    assert cpu_before is not None
    killed = time.monotonic()
    tmux.kill_server()
    cpu_last = cpu_before
    while (cpu := _cpu_seconds(pid)) is not None:
        cpu_last = cpu
        if time.monotonic() - killed > 10:
            os.kill(pid, 9)
            pytest.fail(f"the app (pid {pid}) still runs 10 s after its terminal went away, "
                        f"having used {cpu_last - cpu_before:.1f} s CPU since")
        time.sleep(0.05)
    elapsed = time.monotonic() - killed
    used = cpu_last - cpu_before
    # Exiting costs a little CPU; a spinning input thread costs a core for as long as it runs.
    assert used < 0.5 + 0.5 * elapsed, f"{used:.2f} s CPU in the {elapsed:.2f} s before exit"


def test_markup_and_escapes_in_names_are_shown_literally(tmux: Tmux) -> None:
    tmux.start(app_command("--project", "sandbox", "--job", "markup-runs"), width=200, height=40)
    # The picker fills in the project's jobs on its own schedule, after the run list may already
    # be done, so the wait covers every name. Markup turned into styling would lose the brackets
    # and never match. An escape sequence in a job name must show as the ␛ placeholder, not
    # reach the terminal (which would have turned the text red and eaten "[31m").
    job_names = ("[bold]nightly[/] report", "[link=http://x]y[/link] lab",
                 "\u241b[31mred alert\u241b[0m")
    screen = tmux.wait_for_text("end of runs", "refreshed", "q Quit", *job_names)
    # Run names are markup-ish: every bracket reaches the screen, none became styling.
    for name in ("[red]x[/]-", "[/]-", "deploy[-", "[link=http://x]y[/link]-"):
        assert name in screen, name
    assert FAILED in screen and SUCCESS in screen
    assert "q Quit" in screen.splitlines()[-1]
