"""Two small fixes to Textual 8.2.8 (pinned), applied when the app starts (`NfRunsApp.run`,
before the driver reads input, and `on_mount`), never at import.

1. Input: the Linux driver decodes the terminal's bytes as strict UTF-8, so one stray byte
   (a Latin-1 terminal, Alt sending 8-bit meta, line noise) raised UnicodeDecodeError in its
   input thread and the app quit with a traceback. Undecodable bytes become U+FFFD instead.

2. Output, below.

A board left open over SSH for days sends, most of the time, only the running durations that
tick each second: a digit or two in each of a few rows. Textual writes a partial screen update
(`ChopsUpdate.render_segments`) in a way that costs far more than those digits:

- each line fragment is written from its left edge, not from the refreshed region's ("TODO:
  crop to x extents" in Textual): a duration cell repainted most of its row, ~170 bytes;
- every fragment gets its own style sequence and reset, even when consecutive fragments share
  one: five ticking durations cost five identical `ESC[38;5;253;48;5;234m`...`ESC[0m` pairs;
- a fragment starting at the region's right edge is an empty write (cursor move alone), and a
  newline separates lines that each begin with a cursor move anyway.

This version crops on both sides, carries the style in force across cursor moves (a cursor
move does not change the terminal's current style; it is reset once at the end of the update),
and skips the empty writes. The screen it produces is the same. Checked against the pinned
version only: `apply()` refuses any other. It works around Textual's open "crop to x extents"
TODO in `ChopsUpdate.render_segments` (textual issue #5625); drop it when that lands upstream.
`NF_RUNS_TEXTUAL_PATCH=0` in the environment turns both fixes off.
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import os
from collections.abc import Callable

import textual
from rich.color import ColorSystem
from rich.console import Console
from rich.control import Control
from textual import _compositor
from textual.strip import Strip

PATCHED_VERSION = "8.2.8"
SWITCH = "NF_RUNS_TEXTUAL_PATCH"
ORIGINAL_RENDER_SEGMENTS = _compositor.ChopsUpdate.render_segments  # tests compare with it
_RESET = "\x1b[0m"


def _render_segments(self: _compositor.ChopsUpdate, console: Console) -> str:
    """`ChopsUpdate.render_segments`: the same screen, in fewer bytes."""
    color_system = console._color_system or ColorSystem.TRUECOLOR
    render_ansi = Strip.render_ansi
    out: list[str] = []
    append = out.append
    move_to = Control.move_to
    in_force = ""  # the SGR parameters of the terminal's current style ("": the default)
    for y, x1, x2 in self.spans:
        line = self.chops[y]
        for end, (x, strip) in zip(self.chop_ends[y], line.items(), strict=False):
            if strip is None or x >= x2 or end <= x1:
                continue
            start = max(x, x1)
            if start > x or end > x2:
                strip = strip.crop(start - x, min(end, x2) - x)
            append(move_to(start, y).segment.text)
            for text, style, _control in strip:
                if style is not None and style._link:
                    # Hyperlinks keep Textual's own rendering (OSC 8 around a styled text).
                    if in_force:
                        append(_RESET)
                        in_force = ""
                    append(Strip.render_style(style, text, color_system))
                    continue
                codes = "" if style is None else (style._ansi or render_ansi(style, color_system))
                if codes != in_force:
                    if in_force:
                        append(_RESET)
                    if codes:
                        append(f"\x1b[{codes}m")
                    in_force = codes
                append(text)
    if in_force:
        append(_RESET)
    return "".join(out)


def lenient_incremental_decoder(encoding: str) -> Callable[[], codecs.IncrementalDecoder]:
    """`codecs.getincrementaldecoder`, but undecodable input becomes U+FFFD, never an error."""
    return functools.partial(codecs.getincrementaldecoder(encoding), errors="replace")


def apply() -> str | None:
    """Install the fixes above, once, on the pinned Textual version only.

    Returns a one-line notice when they are not installed because the version differs (off by
    the environment switch `NF_RUNS_TEXTUAL_PATCH=0`: no notice, that was asked for)."""
    if os.environ.get(SWITCH, "").strip().lower() in ("0", "off", "no", "false"):
        return None
    if textual.__version__ != PATCHED_VERSION:
        # Another version: Textual's own code, unpatched.
        return (
            f"Textual {textual.__version__} is not {PATCHED_VERSION}: its own renderer is used "
            "(idle updates send more bytes)."
        )
    with contextlib.suppress(ImportError):  # no Linux driver on Windows (termios)
        from textual.drivers import linux_driver

        linux_driver.getincrementaldecoder = lenient_incremental_decoder  # type: ignore[attr-defined,assignment]
    if getattr(_compositor.ChopsUpdate, "_nf_runs_patched", False):
        return None
    _compositor.ChopsUpdate.render_segments = _render_segments  # type: ignore[method-assign]
    _compositor.ChopsUpdate._nf_runs_patched = True  # type: ignore[attr-defined]
    return None


__all__ = [
    "ORIGINAL_RENDER_SEGMENTS", "PATCHED_VERSION", "SWITCH", "apply", "lenient_incremental_decoder",
]
