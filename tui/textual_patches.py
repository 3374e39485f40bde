"""Five small fixes to Textual 8.2.8 (pinned), applied when the app starts (`NfRunsApp.run`,
before the driver reads input, and `on_mount`), never at import.

1. Input: the Linux driver decodes the terminal's bytes as strict UTF-8, so one stray byte
   (a Latin-1 terminal, Alt sending 8-bit meta, line noise) raised UnicodeDecodeError in its
   input thread and the app quit with a traceback. Undecodable bytes become U+FFFD instead.

2. Output, described after this list.

3. What a partial update renders. Textual renders, for a partial update, every line of every
   widget whose clip (often the whole screen) overlaps ONE region enclosing all the changes
   (`Compositor.render_partial_update`): five ticking durations made it render the run list,
   the picker, the header and the footer whole (a line of the run list is cached, but each
   still costs its styles and filters). Here each band of nearby changed lines is rendered on
   its own, from the widgets that overlap it and only their lines inside it; the cells sent
   are the same (a test compares them with Textual's own).

4. Waking up for nothing. The Linux driver's input thread waits for the terminal with a
   0.1 s timeout, only to look whether the app is exiting and whether a lone Esc has waited
   long enough: ten wake-ups a second, about 0.17 % of a core on our 2-core machine, more than
   everything else a quiet Textual app does. Here it sleeps until a byte arrives, the Esc
   timeout is due, or the app exits (setting the driver's exit event also wakes it), and at
   most `INPUT_IDLE_WAIT` seconds.

5. Covered screens repainting the top one. A screen under the top one (the run list under the
   board) is a "background screen" even when the top screen is opaque and hides it all. When
   anything on it changes (the picker's tree after the job index's refresh, its status line),
   Textual refreshes the TOP screen over the covered one's dirty regions, and marks the covered
   screen for a whole repaint, which on its next update marks its whole area dirty again: the
   board was repainted whole, ~30 KB at 200x60, 12 times a minute, for changes nobody could
   see. Here a covered screen under an opaque top screen forgets its dirty regions instead; it
   is repainted whole when it comes back on top (Textual's own screen-resume refresh).

2, the output. A board left open over SSH for days sends, most of the time, only the running
durations that tick each second: a digit or two in each of a few rows. Textual writes a partial
screen update
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
`NF_RUNS_TEXTUAL_PATCH=0` in the environment turns the fixes off.
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import os
import selectors
from collections.abc import Callable
from typing import Any

import textual
from rich.color import ColorSystem
from rich.console import Console
from rich.control import Control
from textual import _compositor
from textual.geometry import Region
from textual.screen import Screen
from textual.strip import Strip

PATCHED_VERSION = "8.2.8"
SWITCH = "NF_RUNS_TEXTUAL_PATCH"
ORIGINAL_RENDER_SEGMENTS = _compositor.ChopsUpdate.render_segments  # tests compare with it
ORIGINAL_RENDER_PARTIAL_UPDATE = _compositor.Compositor.render_partial_update
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


# Changed lines at most this far apart are rendered in one band: a band has a fixed cost
# (every widget on screen is looked at), so a line or two in between costs less than that.
BAND_GAP = 3


def _bands(spans: list[tuple[int, int, int]]) -> list[tuple[int, int, int, int]]:
    """(y1, y2, x1, x2) boxes around the changed spans (y, x1, x2), sorted by line."""
    bands: list[list[int]] = []
    for y, x1, x2 in spans:  # sorted by y, as _regions_to_spans yields them
        if bands and y - bands[-1][1] <= BAND_GAP:
            band = bands[-1]
            band[1] = y + 1
            band[2] = min(band[2], x1)
            band[3] = max(band[3], x2)
        else:
            bands.append([y, y + 1, x1, x2])
    return [(y1, y2, x1, x2) for y1, y2, x1, x2 in bands]


def _band_chops(
    self: _compositor.Compositor, band: Region, changed: set[int],
    chops: list[dict[int, Strip | None]],
) -> None:
    """Fill `chops` for the changed lines of `band`: `Compositor._render_chops`, but only
    the widgets that overlap the band are rendered, and only their lines inside it (Textual
    renders every line of every widget whose clip, often the whole screen, overlaps)."""
    cuts = self.cuts
    intersection = Region.intersection
    for widget, (region, clip) in self.visible_widgets.items():
        visible = intersection(region, clip)
        lines = intersection(visible, band)
        if not lines:
            continue
        # The widget's full visible width on the band's lines: its cuts stay whole.
        lines = Region(visible.x, lines.y, visible.width, lines.height)
        strips = widget.render_lines(
            Region(lines.x - region.x, lines.y - region.y, lines.width, lines.height)
        )
        first_cut, last_cut = lines.column_span
        for y, strip in zip(lines.line_range, strips, strict=False):
            if y not in changed:
                continue
            chops_line = chops[y]
            final_cuts = [cut for cut in cuts[y] if last_cut >= cut >= first_cut]
            pieces = strip.divide([cut - lines.x for cut in final_cuts[1:]])
            for cut, piece in zip(final_cuts, pieces, strict=False):
                if chops_line.get(cut) is None:  # front to back: the first one wins
                    chops_line[cut] = piece


def _render_partial_update(self: _compositor.Compositor) -> _compositor.ChopsUpdate | None:
    """`Compositor.render_partial_update`, rendering each band of changed lines apart."""
    update_regions = self._dirty_regions.copy()
    self._dirty_regions.clear()
    if not update_regions:
        return None
    screen_region = self.size.region
    spans = list(self._regions_to_spans(update_regions))
    changed = {y for y, _, _ in spans}
    chops: list[dict[int, Strip | None]] = [dict.fromkeys(cut_set[:-1]) for cut_set in self.cuts]
    for y1, y2, x1, x2 in _bands(spans):
        band = Region(x1, y1, x2 - x1, y2 - y1).intersection(screen_region)
        if band:
            _band_chops(self, band, changed, chops)
    chop_ends = [cut_set[1:] for cut_set in self.cuts]
    return _compositor.ChopsUpdate(chops, spans, chop_ends)  # type: ignore[arg-type, unused-ignore]


ORIGINAL_COMPOSITOR_REFRESH = Screen._compositor_refresh


def hidden_under_opaque_screen(screen: Screen[Any]) -> bool:
    """Is this screen covered by an opaque top screen, so that nothing of it shows? (Textual's
    `is_current` is true for the screen under the top one even then.)"""
    app = screen.app
    if app.is_inline or not app.screen_stack:
        return False
    top = app.screen_stack[-1]
    return top is not screen and top.styles.background.a >= 1


def _compositor_refresh(self: Screen[Any]) -> None:
    """`Screen._compositor_refresh`, doing nothing for a screen hidden by an opaque one."""
    if hidden_under_opaque_screen(self):
        self._compositor._dirty_regions.clear()
        self._dirty_widgets.clear()
        return
    ORIGINAL_COMPOSITOR_REFRESH(self)


INPUT_IDLE_WAIT = 2.0  # seconds: a last resort; exit and Esc wake the thread themselves


def _run_input_thread(self: Any) -> None:
    """`LinuxDriver.run_input_thread` (Textual 8.2.8), waking only when there is work."""
    from textual._loop import loop_last
    from textual._parser import ParseError
    from textual._time import get_time
    from textual._xterm_parser import XTermParser

    selector = selectors.SelectSelector()
    fileno = self.fileno
    selector.register(fileno, selectors.EVENT_READ)
    wake_read, wake_write = os.pipe()
    selector.register(wake_read, selectors.EVENT_READ)
    exit_event = self.exit_event
    set_exit = exit_event.set

    def set_and_wake() -> None:
        set_exit()
        with contextlib.suppress(OSError):
            os.write(wake_write, b"x")

    exit_event.set = set_and_wake
    parser = XTermParser(self._debug)
    feed = parser.feed
    tick = parser.tick
    decode = lenient_incremental_decoder("utf-8")().decode
    read = os.read

    def wait() -> float:
        due = parser._timeout_time
        if due is None:
            return INPUT_IDLE_WAIT
        return min(max(due - get_time(), 0.0), INPUT_IDLE_WAIT)

    def process(events: list[tuple[selectors.SelectorKey, int]], final: bool = False) -> bool:
        """Handle what the selector saw; False at the end of input."""
        for last, (key, mask) in loop_last(events):
            if key.fd == wake_read:
                with contextlib.suppress(OSError):
                    read(wake_read, 512)
                continue
            if mask & selectors.EVENT_READ:
                try:
                    raw = read(fileno, 1024 * 4)
                except OSError:  # EIO: the terminal hung up
                    raw = b""
                if not raw:
                    # End of input (the terminal is gone, or stdin was piped): no more will
                    # ever come, and a descriptor at its end is always "ready". Textual's
                    # loop read it again and again, a core at 100 % until something set the
                    # exit event; this thread ends instead (the app's exit joins it at once).
                    return False
                for event in feed(decode(raw, final=final and last)):
                    self.process_message(event)
        for event in tick():
            self.process_message(event)
        return True

    try:
        while not exit_event.is_set():
            if not process(selector.select(wait())):
                return
        selector.unregister(fileno)
        process(selector.select(0.1), final=True)
    finally:
        exit_event.set = set_exit  # type: ignore[method-assign, unused-ignore]
        selector.close()
        for descriptor in (wake_read, wake_write):
            with contextlib.suppress(OSError):
                os.close(descriptor)
        with contextlib.suppress(EOFError, ParseError):
            for _event in feed(""):
                pass


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
        linux_driver.LinuxDriver.run_input_thread = _run_input_thread  # type: ignore[method-assign]
    if getattr(_compositor.ChopsUpdate, "_nf_runs_patched", False):
        return None
    _compositor.ChopsUpdate.render_segments = _render_segments  # type: ignore[method-assign]
    _compositor.Compositor.render_partial_update = _render_partial_update  # type: ignore[method-assign]
    Screen._compositor_refresh = _compositor_refresh  # type: ignore[method-assign]
    _compositor.ChopsUpdate._nf_runs_patched = True  # type: ignore[attr-defined]
    return None


__all__ = [
    "ORIGINAL_COMPOSITOR_REFRESH", "ORIGINAL_RENDER_PARTIAL_UPDATE", "ORIGINAL_RENDER_SEGMENTS",
    "PATCHED_VERSION", "SWITCH",
    "apply", "hidden_under_opaque_screen", "lenient_incremental_decoder",
]
