"""An Input whose value never holds a control character.

Textual's Input takes a paste as it is: a pasted OSC 52 or OSC 2 (a page can put one on the
clipboard) would be painted, and obeyed by the terminal, on every repaint of the field.
Typed keys are printable already; a paste or a value set in code goes through the sanitiser.
"""

from __future__ import annotations

from textual.widgets import Input

from ..sanitize import printable


class SafeInput(Input):
    """`Input`, with control characters in its value made visible (one for one, so the
    cursor stays where it was)."""

    def validate_value(self, value: str) -> str:
        return printable(value)
