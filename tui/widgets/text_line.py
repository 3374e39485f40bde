"""A line of text that repaints only the characters that changed.

A board left open over SSH changes a few characters at a time (a duration's last digit, the
API count on the status line); repainting those alone keeps what goes to the terminal small.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.widget import Widget

Cells = list[tuple[str, Style | None]]
T = TypeVar("T")


class TextLine(Widget):
    """One line of Rich Text (never parsed as markup); `set_text` repaints what changed."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._text = Text("")
        self._cells: Cells | None = []

    @property
    def text(self) -> Text:
        return self._text

    def render(self) -> Text:
        return self._text

    def set_text(self, text: Text, force: bool = False) -> None:
        """Show `text`: nothing happens when it is the same, else the changed span repaints
        (the whole line with `force`, e.g. after a theme change restyled it)."""
        cells = text_cells(text)
        old = self._cells
        if cells is None or old is None:
            same = text.plain == self._text.plain and text.spans == self._text.spans
        else:
            same = cells == old
        if same and not force:
            return
        self._text, self._cells = text, cells
        if force or old is None or cells is None:
            self.refresh()
            return
        # A fixed height: never a relayout (which would repaint neighbours, scrollbars too).
        x, width = changed_span(old, cells, (" ", None))
        self.refresh(Region(x, 0, width, 1))


def changed_span(old: Sequence[T], new: Sequence[T], blank: T) -> tuple[int, int]:
    """(offset, width) of the columns where two lines differ, the shorter padded with
    `blank`; (0, 0) when they do not differ."""
    length = max(len(old), len(new))
    differ = [
        x for x in range(length)
        if (old[x] if x < len(old) else blank) != (new[x] if x < len(new) else blank)
    ]
    return (differ[0], differ[-1] - differ[0] + 1) if differ else (0, 0)


def text_cells(text: Text) -> Cells | None:
    """The line as (character, style) cells, or None when a character is not one cell wide
    (then the diff of cells would not be the diff of columns)."""
    if not text.plain.isascii() and any(cell_len(char) != 1 for char in text.plain):
        return None
    styles: list[Style | None] = [None] * len(text.plain)
    for span in text.spans:
        style = span.style if isinstance(span.style, Style) else Style.parse(span.style)
        for x in range(span.start, min(span.end, len(styles))):
            current = styles[x]
            styles[x] = style if current is None else current + style
    base = text.style if isinstance(text.style, Style) else Style.parse(text.style)
    pairs = zip(text.plain, styles, strict=True)
    return [(char, base + style if style else base) for char, style in pairs]
