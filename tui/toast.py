"""The one safe way to toast: text from outside sanitised, never parsed as markup, kept short.

`toast(self, ...)` from any widget, screen or the app. A server's error message, a run name or
an id may carry escape sequences or markup; Textual's `notify` would parse markup by default
and paint control characters as they are.
"""

from __future__ import annotations

from typing import Literal, Protocol

from .sanitize import printable

Severity = Literal["information", "warning", "error"]

# A toast is a line or two: longer text (a server's message can be anything) is cut here.
MAX_TOAST_CHARS = 400
MAX_TITLE_CHARS = 80


class Notifier(Protocol):
    """Anything with Textual's `notify` (App, Screen, Widget)."""

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: Severity = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None: ...


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, with "…" when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def toast(
    target: Notifier,
    message: str,
    *,
    title: str = "",
    severity: Severity = "information",
    timeout: float | None = None,
) -> None:
    """Show `message` (and `title`) as a notification: sanitised, literal, at most
    MAX_TOAST_CHARS (MAX_TITLE_CHARS) characters."""
    target.notify(
        clip(printable(message), MAX_TOAST_CHARS),
        title=clip(printable(title), MAX_TITLE_CHARS),
        severity=severity,
        timeout=timeout,
        markup=False,
    )
