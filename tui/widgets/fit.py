"""Text cut or padded to an exact number of terminal cells (shared by the list painters)."""

from __future__ import annotations

from rich.cells import cell_len, set_cell_size

ELLIPSIS = "\u2026"


def fit(text: str, width: int, right: bool = False) -> str:
    """`text` padded or cut to exactly `width` cells (a cut ends in "…"); `right` pads on
    the left."""
    length = len(text) if text.isascii() else cell_len(text)
    if length > width:
        return set_cell_size(text, width - 1) + ELLIPSIS if width > 1 else ELLIPSIS[:width]
    pad = " " * (width - length)
    return pad + text if right else text + pad
