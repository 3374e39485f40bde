"""Notice that the terminal went away, even when the event loop cannot (textual-notes P1).

When the pty closes without SIGHUP reaching the app (SIGHUP blocked or ignored, some SSH
drops), Textual's input thread reads EOF in a loop (a core at 100 %) and its output thread
dies on EIO; once the output queue (30 writes) is full, the next write blocks the event loop
for good. A timer on the loop then never fires, and even `App.exit()` can hang in the
driver's shutdown. So a plain thread watches the terminal: when it is gone, it asks the app
to exit and, if the process is still there after a grace period, ends it.

On Linux the thread sleeps in poll() with no events asked for: a hung-up tty reports POLLHUP
at once, without the thread reading any input. Elsewhere (and as a fallback) it checks every
`interval` seconds that the descriptors are still terminals.

No Textual import here.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import threading
from collections.abc import Callable, Iterable

EXIT_CODE = 1


def terminal_fds() -> list[int]:
    """The descriptors Textual uses (stdin in, stderr out) that are terminals now."""
    fds = []
    for stream in (sys.__stdin__, sys.__stderr__):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            if stream is not None and os.isatty(stream.fileno()):
                fds.append(stream.fileno())
    return fds


def terminal_gone(fds: Iterable[int]) -> bool:
    """True when one of these descriptors is no longer a terminal (a hung-up tty says EIO)."""
    return not all(os.isatty(fd) for fd in fds)


class TerminalWatchdog:
    """A daemon thread that waits for the terminal to hang up (checking it every `interval` s)."""

    def __init__(
        self,
        fds: Iterable[int],
        on_gone: Callable[[], object],
        *,
        interval: float = 1.0,
        grace: float = 3.0,
        exit_now: Callable[[int], object] = os._exit,
    ) -> None:
        self.fds = list(fds)
        self.on_gone = on_gone
        self.interval = interval
        self.grace = grace
        self._exit_now = exit_now
        self._stopped = threading.Event()
        self._poller: select.poll | None = None
        if sys.platform.startswith("linux") and hasattr(select, "poll"):
            # No events asked for: POLLHUP, POLLERR and POLLNVAL are always reported.
            self._poller = select.poll()
            for fd in self.fds:
                self._poller.register(fd, 0)
        self._thread = threading.Thread(target=self._run, name="nf-runs-tty-watch", daemon=True)

    def start(self) -> None:
        if self.fds:
            self._thread.start()

    def stop(self) -> None:
        """The app has finished: watch no more, and never end the process."""
        self._stopped.set()

    def _hung_up(self) -> bool:
        """Wait up to `interval` seconds; True when the terminal has gone."""
        if self._poller is not None:
            events = self._poller.poll(self.interval * 1000)
            if any(mask & (select.POLLHUP | select.POLLERR | select.POLLNVAL)
                   for _, mask in events):
                return True
            if events:  # not expected with no events asked for; never spin on it
                self._stopped.wait(self.interval)
        else:
            self._stopped.wait(self.interval)
        return terminal_gone(self.fds)

    def _run(self) -> None:
        while not self._stopped.is_set():
            if self._hung_up():
                break
        else:
            return
        if self._stopped.is_set():
            return
        # Ask for a clean exit (restores nothing: there is no terminal left to restore) ...
        with contextlib.suppress(Exception):
            self.on_gone()
        # ... and end the process if that exit hangs in a write to the dead terminal.
        if not self._stopped.wait(self.grace):
            self._exit_now(EXIT_CODE)
