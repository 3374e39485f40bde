"""The Northflank CLI's contexts (`~/.northflank/config.json`): one per account or team.

`{"current": NAME, "contexts": [{"name", "token", "host", "project"?, "job"?, ...}]}`
(shared/northflank/API.md). It is someone else's file, so it is read leniently: an entry that
is not an object or has no name is skipped, a field of the wrong type is ignored (and said).
The file itself is read by tui.config, which hands the parsed object here.

A context's token is a secret: it is kept out of `repr` (a crash report prints locals).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .sanitize import printable

FIELDS = ("token", "host", "project", "job")
MAX_SHOWN_NAME = 40  # characters of a context's name in a message or the header
MAX_LISTED = 20  # context names listed in an error at most


@dataclass(frozen=True)
class NorthflankContext:
    """One context: its name, token (never shown), API host and default project/job."""

    name: str
    token: str | None = field(default=None, repr=False)
    host: str | None = None
    project: str | None = None
    job: str | None = None
    ignored: tuple[str, ...] = ()  # fields of the wrong type


@dataclass(frozen=True)
class CliContexts:
    """Every usable context of the CLI's config, and which one is current."""

    path: Path | None = None
    contexts: tuple[NorthflankContext, ...] = ()
    current: str | None = None
    problem: str | None = None  # why the file could not be read at all

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(context.name for context in self.contexts)

    def get(self, name: str | None) -> NorthflankContext | None:
        for context in self.contexts:
            if context.name == name:
                return context
        return None

    @property
    def current_context(self) -> NorthflankContext | None:
        return self.get(self.current)

    def unknown(self, name: str) -> str:
        """One line: there is no such context, and which there are."""
        where = f"the Northflank CLI config {self.path}" if self.path else "the Northflank CLI"
        if self.problem:
            return f'No Northflank CLI context "{shown_name(name)}": {self.problem}'
        if not self.contexts:
            return (f'No Northflank CLI context "{shown_name(name)}": {where} has none '
                    "(add one with `northflank login`)")
        listed = ", ".join(shown_name(each) for each in self.names[:MAX_LISTED])
        more = f" and {len(self.names) - MAX_LISTED} more" if len(self.names) > MAX_LISTED else ""
        return (f'No Northflank CLI context "{shown_name(name)}" in {where}; '
                f"its contexts: {listed}{more}")


def shown_name(name: str) -> str:
    """A context's name as it may be painted: printable, cut to a readable length."""
    text = printable(name)
    return text if len(text) <= MAX_SHOWN_NAME else text[: MAX_SHOWN_NAME - 1] + "\u2026"


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def parse_contexts(path: Path | None, config: dict[str, Any]) -> CliContexts:
    """The contexts of a parsed config object (anything unusable in it is skipped)."""
    current = config.get("current")
    entries = config.get("contexts")
    if not isinstance(entries, list):
        return CliContexts(path)
    contexts: list[NorthflankContext] = []
    seen: set[str] = set()
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        name = entry.get("name")
        if not isinstance(name, str) or not name or name in seen:
            continue  # the CLI's own lookup takes the first of a name too
        seen.add(name)
        values = {key: _text(entry.get(key)) for key in FIELDS}
        ignored = tuple(key for key in FIELDS
                        if entry.get(key) is not None and not isinstance(entry[key], str))
        contexts.append(NorthflankContext(
            name=name, token=values["token"], host=values["host"],
            project=values["project"], job=values["job"], ignored=ignored,
        ))
    return CliContexts(path, tuple(contexts), current if isinstance(current, str) else None)


def context_connection(context: NorthflankContext, contexts: CliContexts) -> tuple[str, str]:
    """The checked token and API URL of a context (the public API when it names no host);
    a ConfigError when it has none usable. For a switch of context in the app."""
    from .api.client import DEFAULT_API_URL
    from .api.errors import ConfigError
    from .config import check_api_url, check_token  # (config imports this module)

    where = f'the Northflank CLI context "{shown_name(context.name)}" ({contexts.path})'
    if not context.token:
        raise ConfigError(f"{where} has no token: log in again with `northflank login`")
    token = check_token(context.token, where)
    url = check_api_url(context.host, where) if context.host else DEFAULT_API_URL
    return token, url
