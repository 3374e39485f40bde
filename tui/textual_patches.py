"""One small fix to Textual 8.2.8 (pinned), applied when the app is imported.

Textual writes a partial screen update from the left edge of each widget's line fragment up to
the right edge of the refreshed region (`ChopsUpdate.render_segments`, marked "TODO: crop to x
extents"). A board that refreshes one duration cell a second then rewrites most of a row, about
170 bytes, where the cell needs 30: over SSH, for days, that is most of what nf-runs sends.
This crops the fragment at the region's left edge too. Checked against the pinned version only.
"""

from __future__ import annotations

from rich.console import Console
from rich.control import Control
from textual import _compositor


def _render_segments(self: _compositor.ChopsUpdate, console: Console) -> str:
    """`ChopsUpdate.render_segments`, cropping each fragment to the span on both sides."""
    sequences: list[str] = []
    append = sequences.append
    move_to = Control.move_to
    last_y = self.spans[-1][0]
    for y, x1, x2 in self.spans:
        line = self.chops[y]
        for end, (x, strip) in zip(self.chop_ends[y], line.items(), strict=False):
            if strip is None or x > x2 or end <= x1:
                continue
            start = max(x, x1)
            if start > x or end > x2:
                strip = strip.crop(start - x, min(end, x2) - x)
            append(move_to(start, y).segment.text)
            append(strip.render(console))
        if y != last_y:
            append("\n")
    return "".join(sequences)


def apply() -> None:
    if getattr(_compositor.ChopsUpdate, "_nf_runs_patched", False):
        return
    _compositor.ChopsUpdate.render_segments = _render_segments  # type: ignore[method-assign]
    _compositor.ChopsUpdate._nf_runs_patched = True  # type: ignore[attr-defined]


__all__ = ["apply"]
