"""Telling the user what the board noticed: a toast, the bell, a desktop notification.

The board's news (`tui.watch.alerts`) arrives one look at a time; `BoardNotices` gathers what
comes within COALESCE seconds into one toast (and one bell, one desktop notification), and
keeps the unread count the header shows.

Desktop notifications are escape sequences the terminal turns into the system's own, and
no terminal can be asked which it knows, so three are sent and a terminal ignores those it
does not: OSC 9 (iTerm2, WezTerm, Ghostty), OSC 777 (urxvt, foot, WezTerm, Ghostty, VTE-based
terminals such as GNOME Terminal and Ptyxis) and OSC 99 (kitty). The text starts with
"nf-runs", never a digit, so a ConEmu-style terminal does not read OSC 9 as one of its
numbered commands. Inside tmux they are wrapped for tmux's passthrough (which needs
`set -g allow-passthrough on`). They travel over SSH like any output, so the laptop's
terminal shows them. The text is made printable and stripped of `;`, so nothing in a job's
name can end a sequence early or start another.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from .sanitize import printable
from .toast import Notifier, clip, toast
from .watch.alerts import Alert, BoardAlerts, coalesced_text
from .watch.events import BoardChanged, JobKey

COALESCE = 1.5  # seconds: news arriving this close together is told once
MAX_DESKTOP_CHARS = 180


def _safe(text: str, limit: int) -> str:
    """Text that cannot end or nest an escape sequence: printable, no ';'."""
    return clip(printable(text).replace(";", ","), limit)


def desktop_sequences(title: str, body: str, *, in_tmux: bool) -> str:
    """OSC 9, OSC 777 and OSC 99 notifications of `title` and `body` (wrapped for tmux if
    asked)."""
    title, body = _safe(title, 60), _safe(body, MAX_DESKTOP_CHARS)
    sequences = [
        f"\x1b]9;{title}: {body}\x07",
        f"\x1b]777;notify;{title};{body}\x07",
        f"\x1b]99;;{title}: {body}\x1b\\",
    ]
    if in_tmux:
        # tmux passes a DCS "tmux;" payload through with every ESC doubled.
        sequences = [f"\x1bPtmux;{seq.replace(chr(27), chr(27) * 2)}\x1b\\" for seq in sequences]
    return "".join(sequences)


class Terminal(Notifier, Protocol):
    """What notices need of the app."""

    def bell(self) -> None: ...

    def set_timer(self, delay: float, callback: Callable[[], None]) -> object: ...


class BoardNotices:
    """The board's news, told once per burst; the unread count."""

    def __init__(
        self, app: Terminal, *, bell: bool, desktop: bool,
        write: Callable[[str], None] | None = None, environ: Mapping[str, str] | None = None,
        on_unread: Callable[[int], None] | None = None,
    ) -> None:
        self._app = app
        self._bell = bell
        self._desktop = desktop
        self._write = write
        self._in_tmux = bool((environ or {}).get("TMUX"))
        self._on_unread = on_unread
        self.alerts = BoardAlerts()
        self._pending: list[Alert] = []
        self._timer_set = False

    @property
    def unread_count(self) -> int:
        return self.alerts.unread_count

    def unread(self) -> frozenset[JobKey]:
        return self.alerts.unread_keys()

    def follow(self, event: BoardChanged) -> None:
        """A look's answer: hold its news for the coalesced notice."""
        changed = set(event.changed)
        news = self.alerts.follow(row for row in event.summaries if row.key in changed)
        if not news:
            return
        self._pending.extend(news)
        if not self._timer_set:
            self._timer_set = True
            self._app.set_timer(COALESCE, self._flush)
        self._unread_changed()

    def _flush(self) -> None:
        self._timer_set = False
        pending, self._pending = self._pending, []
        if not pending:
            return
        title, message = coalesced_text(pending)
        toast(self._app, message, title=title, severity="error", timeout=8)
        if self._bell:
            self._app.bell()
        if self._desktop and self._write is not None:
            self._write(desktop_sequences(f"nf-runs {title.lower()}", message,
                                          in_tmux=self._in_tmux))

    def told(self, run_ids: list[str]) -> None:
        """The run list toasted these runs' failures itself."""
        self.alerts.told(run_ids)

    def seen(self, key: JobKey | None = None) -> None:
        """The user looked (at one job, or at the whole board)."""
        if self.alerts.seen(key):
            self._unread_changed()

    def _unread_changed(self) -> None:
        if self._on_unread is not None:
            self._on_unread(self.alerts.unread_count)
