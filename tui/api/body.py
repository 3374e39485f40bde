"""Reading an answer's body with a cap on its decoded size, and parsing it as JSON.

A 2 MB gzip body can inflate to 2 GB. httpx's own decoders inflate each network chunk whole
(one 64 KiB chunk of a bomb is ~64 MiB before anyone can count it) and stack encodings
(`gzip, gzip` multiplies the ratios), so the client reads the raw bytes and inflates them
here, never producing more than the cap plus one byte.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import AsyncIterator

from .errors import BadResponseError

# A page of 100 runs is ~100 KB of JSON: 4 MiB is forty times that, and small enough to hold.
MAX_BODY_BYTES = 4 * 1024 * 1024
# What the client asks for in Accept-Encoding, and so all it will inflate.
ACCEPT_ENCODING = "gzip, deflate"

_IDENTITY = ("", "identity")
# An integer with more digits than this is no count or id: it reads as infinity (which no
# model field accepts), so that one such field makes one object unreadable, not the page.
MAX_INT_DIGITS = 300


class _Inflater:
    """One content coding, inflated at most `room` bytes at a time."""

    def __init__(self, coding: str) -> None:
        self._coding = coding
        # gzip has its header; deflate is zlib-wrapped or (against the RFC, but common) raw:
        # told apart by the first byte, as browsers and httpx do.
        self._inflate: zlib._Decompress | None = (
            zlib.decompressobj(zlib.MAX_WBITS | 16) if coding in ("gzip", "x-gzip") else None
        )

    def feed(self, data: bytes, room: int) -> bytes:
        if self._inflate is None:
            if not data:
                return b""
            raw = (data[0] & 0x0F) != 8
            self._inflate = zlib.decompressobj(-zlib.MAX_WBITS if raw else zlib.MAX_WBITS)
        try:
            # At most room + 1 bytes: one more than fits is enough to know it does not.
            return self._inflate.decompress(data, room + 1)
        except zlib.error:
            raise BadResponseError(f"Unexpected API answer: broken {self._coding} body.") from None

    def finish(self) -> None:
        if self._inflate is not None and not self._inflate.eof:
            raise BadResponseError(f"Unexpected API answer: truncated {self._coding} body.")


def _inflater_for(content_encoding: str | None) -> _Inflater | None:
    codings = [part.strip().lower() for part in (content_encoding or "").split(",")]
    codings = [coding for coding in codings if coding not in _IDENTITY]
    if not codings:
        return None
    if len(codings) > 1:
        raise BadResponseError("Unexpected API answer: compressed more than once.")
    if codings[0] not in ("gzip", "x-gzip", "deflate"):
        raise BadResponseError(
            f"Unexpected API answer: an encoding nf-runs did not ask for ({codings[0][:20]})."
        )
    return _Inflater(codings[0])


def too_large(what: str, cap: int) -> BadResponseError:
    return BadResponseError(
        f"Unexpected API answer for {what}: answer too large (over {cap // 1024} KiB)."
    )


async def read_capped(
    raw_chunks: AsyncIterator[bytes], content_encoding: str | None, cap: int, what: str
) -> bytes:
    """The decoded body from the raw (still encoded) chunks; BadResponseError past `cap`."""
    inflater = _inflater_for(content_encoding)
    parts: list[bytes] = []
    size = 0
    raw_size = 0
    async for chunk in raw_chunks:
        raw_size += len(chunk)
        if raw_size > cap:  # compressed data is never larger than what it holds, near enough
            raise too_large(what, cap)
        data = chunk if inflater is None else inflater.feed(chunk, cap - size)
        size += len(data)
        if size > cap:
            raise too_large(what, cap)
        parts.append(data)
    if inflater is not None:
        inflater.finish()
    return b"".join(parts)


def _parse_int(text: str) -> int | float:
    return int(text) if len(text) <= MAX_INT_DIGITS else float("inf")


def parse_json(content: bytes, what: str) -> object:
    """JSON from a body; BadResponseError for anything that is not (never RecursionError)."""
    try:
        return json.loads(content, parse_int=_parse_int)
    except RecursionError:
        raise BadResponseError(
            f"Unexpected API answer for {what}: JSON nested too deeply."
        ) from None
    except (ValueError, UnicodeDecodeError):
        raise BadResponseError(f"Unexpected API answer for {what}: not JSON.") from None
