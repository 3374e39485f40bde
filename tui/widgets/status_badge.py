"""Status badges: symbol + word, so a status reads without colour (NO_COLOR, colour-blind users).

Colours come from the `run-list--*` component classes in styles/run_list.tcss.
"""

from __future__ import annotations

from rich.cells import cell_len, set_cell_size

from tui.api.models import RunStatus
from tui.formatting import printable

# Plain Unicode (no Nerd Font glyphs), all single-cell in common terminal fonts.
_BADGES: dict[RunStatus, tuple[str, str]] = {
    RunStatus.SUCCESS: ("\u2714 SUCCESS", "run-list--success"),
    RunStatus.RUNNING: ("\u25cf RUNNING", "run-list--running"),
    RunStatus.FAILED: ("\u2718 FAILED", "run-list--failed"),
}
UNKNOWN_CLASS = "run-list--unknown"
RAW_STATUS_MAX = 10
BADGE_CLASSES: frozenset[str] = frozenset(
    {UNKNOWN_CLASS, *(component for _, component in _BADGES.values())}
)
BADGE_WIDTH = 2 + RAW_STATUS_MAX  # "? " plus the longest raw status shown


def badge_text(status: RunStatus, raw: str) -> tuple[str, str]:
    """(plain text, component class) for a status; an unknown one shows its raw text."""
    known = _BADGES.get(status)
    if known is not None:
        return known
    # The server's own word, literally (control characters made visible), cut to fit.
    shown = printable(raw.strip()) or "UNKNOWN"
    if cell_len(shown) > RAW_STATUS_MAX:
        shown = set_cell_size(shown, RAW_STATUS_MAX - 1) + "\u2026"
    return f"? {shown}", UNKNOWN_CLASS
