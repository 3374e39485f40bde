"""What may go into a request URL: the API base URL, and the ids put into request paths.

Both come from outside (a config file, the environment, the API's own answers), and both can
steer a request elsewhere: `http://127.0.0.1.evil.example` is not loopback, and a run id of
`..` turns "abort this run" into "delete this job" once dot segments are resolved. So the base
URL is parsed by the parser that sends it (httpx's), and every id is checked here, in one
place, before anything is sent.
"""

from __future__ import annotations

import ipaddress
import re

import httpx

from ..sanitize import printable
from .errors import ConfigError, InvalidIdError

# Northflank ids are UUIDs or short slugs; anything much longer is not an id.
MAX_ID_LENGTH = 256
# An id is shown in messages cut to this many characters.
MAX_SHOWN_ID = 80
MAX_PORT = 65535

_ID_FORBIDDEN = frozenset("/?#%\\")
# A DNS name as httpx sends it (IDNA-encoded): letters, digits, hyphens, dots.
_LABEL = rb"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?"
_HOST_NAME = re.compile(_LABEL + rb"(\." + _LABEL + rb")*\.?")


def shown_id(value: str) -> str:
    """An id as it may appear in a message: printable and cut to a readable length."""
    if len(value) > MAX_SHOWN_ID:
        value = value[:MAX_SHOWN_ID] + "…"
    return printable(value)


def id_problem(value: object) -> str | None:
    """Why `value` cannot be put in a URL path as one segment, or None if it can."""
    if not isinstance(value, str):
        return "it is not a string"
    if not value:
        return "it is empty"
    if value in (".", ".."):
        return f"it is {value!r}"
    if len(value) > MAX_ID_LENGTH:
        return f"it is longer than {MAX_ID_LENGTH} characters"
    for char in value:
        if char in _ID_FORBIDDEN:
            return f"it contains {char!r}"
        if char.isspace() or not char.isprintable():
            return "it contains a control character or white space"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, from a JSON "\ud800"
        return "it cannot be encoded"
    return None


def check_id(kind: str, value: str) -> str:
    """`value` unchanged if it can be one path segment; else InvalidIdError, nothing sent."""
    problem = id_problem(value)
    if problem is not None:
        shown = shown_id(value) if isinstance(value, str) else type(value).__name__
        raise InvalidIdError(f"Refusing to send a request for {kind} id '{shown}': {problem}.")
    return value


def is_loopback(host: str) -> bool:
    """True for exactly `localhost`, an IPv4 literal in 127.0.0.0/8, or ::1.

    A name that merely starts with "127." is a DNS name anyone can point anywhere.
    """
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback


def _url_error(problem: str) -> ConfigError:
    return ConfigError(f"The API URL {problem}.")


def check_base_url(base_url: str) -> str:
    """Validate an API base URL (`scheme://host[:port]`); return it without a trailing slash.

    The token never goes over plain http except to loopback; the URL never carries a user
    name or password (httpx would send them as Basic auth instead of the Bearer token), and
    no query, fragment or path: the client builds every path itself, from `/v1`.
    """
    text = base_url.strip()
    if not text.isprintable():
        raise _url_error("contains control characters")
    try:
        url = httpx.URL(text)
    except (httpx.InvalidURL, ValueError, TypeError):
        raise _url_error("cannot be parsed") from None
    # Checked before anything that echoes the URL, so a password is never shown.
    if url.userinfo or "@" in text.split("://", 1)[-1].split("/", 1)[0]:
        raise _url_error("must not contain a user name or password (the token is the login)")
    shown = printable(text[:200])
    if url.scheme not in ("http", "https"):
        raise ConfigError(f"Not an http(s) URL: {shown!r}")
    host = url.host
    if not host or not (is_loopback(host) or _is_ip_literal(host)
                        or _HOST_NAME.fullmatch(url.raw_host.lower())):
        raise ConfigError(f"Not a valid host name in the API URL: {shown!r}")
    if url.port is not None and not 1 <= url.port <= MAX_PORT:
        raise _url_error(f"has a port out of range ({url.port}; 1-{MAX_PORT})")
    if url.query or url.fragment or "?" in text or "#" in text:
        raise _url_error("must not have a query (?) or fragment (#)")
    path = url.path.rstrip("/")
    if path.lower() == "/v1":
        raise _url_error("ends in /v1: leave out /v1 (nf-runs adds it)")
    if path:
        raise _url_error(f"must have no path ({printable(path[:60])}): scheme://host[:port] only")
    if url.scheme == "http" and not is_loopback(host):
        raise ConfigError(
            f"Refusing to send the API token over plain http to {printable(host)}: use https"
        )
    return text.rstrip("/")


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True
