"""The one sanitiser for text from outside (API bodies, headers, errors, config, environment).

Every string that did not come from this program goes through `printable` before it is drawn,
put in a toast or a title, or copied to the clipboard. No Textual import, no dependencies: the
API layer uses it for error messages too.
"""

from __future__ import annotations

import unicodedata


def _control_pictures() -> dict[int, str]:
    table = {code: chr(0x2400 + code) for code in range(0x20)}  # ESC -> "␛", TAB -> "␉"
    table[0x7F] = "\u2421"  # DEL -> "␡"
    for code in range(0x80, 0xA0):  # C1 controls (0x9B is a one-byte CSI on some terminals)
        table[code] = "\ufffd"
    # Bidi overrides and isolates can reorder the rest of the terminal line.
    for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)):
        table[code] = "\ufffd"
    return table


_CONTROL_PICTURES = _control_pictures()


def printable(text: str) -> str:
    """API text made safe to paint: control characters become visible placeholders.

    Nothing here is markup: callers put the result in Segments/Text, never parse it.
    """
    if text.isprintable():  # fast path: most names have nothing to replace
        return text
    return "".join(char if char.isprintable() else _placeholder(char) for char in text)


def _placeholder(char: str) -> str:
    picture = _CONTROL_PICTURES.get(ord(char))
    if picture is not None:
        return picture
    # Other separators (no-break space, U+2028) are spaces to the reader; the rest
    # (format characters, unassigned code points) could move the cursor or have no width.
    return " " if unicodedata.category(char).startswith("Z") else "\ufffd"
