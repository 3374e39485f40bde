"""A small TOML writer for settings.toml: strings, booleans, integers, floats, and tables of
them one level deep. That is all the settings use; a value of another kind (an array, a date,
a deeper table: only a hand edit puts one there) is left out rather than written wrongly.

Strings are basic strings with every control character escaped, so what tomllib reads back
is exactly what was written (tests/test_settings.py checks the round trip).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

Scalar = str | bool | int | float
Table = dict[str, Scalar]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f",
            "\r": "\\r"}


def string(text: str) -> str:
    """A TOML basic string: quotes and backslashes escaped, and every character that is not
    printable (C0, DEL, C1, bidi overrides, line separators) as a \\u escape, so that a
    `cat` of the file shows it; a lone surrogate (TOML cannot hold one) is replaced."""
    out = ['"']
    for char in text:
        code = ord(char)
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif 0xD800 <= code < 0xE000:
            out.append("\ufffd")
        elif not char.isprintable():
            out.append(f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def key(name: str) -> str:
    return name if _BARE_KEY.fullmatch(name) else string(name)


def scalar(value: object) -> str | None:
    """A value as TOML, or None when it is not one of the kinds written here."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)  # always has a "." or an exponent: read back as a float
    if isinstance(value, str):
        return string(value)
    return None


def dumps(document: Mapping[str, object], *, header: str = "") -> str:
    """The document as TOML: a comment header, the top-level values, then each table."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    if lines:
        lines.append("")
    tables: list[tuple[str, Mapping[str, object]]] = []
    for name, value in document.items():
        if isinstance(value, Mapping):
            tables.append((name, value))
            continue
        text = scalar(value)
        if text is not None:
            lines.append(f"{key(name)} = {text}")
    for name, table in tables:
        entries = [(inner, scalar(value)) for inner, value in table.items()]
        if lines and lines[-1]:
            lines.append("")
        lines.append(f"[{key(name)}]")
        lines.extend(f"{key(inner)} = {text}" for inner, text in entries if text is not None)
    return "\n".join(lines).strip("\n") + "\n"
