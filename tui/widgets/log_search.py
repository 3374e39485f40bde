"""The log viewer's search: which loaded lines hold the text (any case), kept as absolute line
numbers so lines coming at either end move nothing, and which match was last gone to."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence

from tui.api.models import LogLine
from tui.widgets.log_paint import line_text

__all__ = ["LogMatches"]

MAX_QUERY = 200  # characters of a search kept (a paste of a whole log is not a search)


class LogMatches:
    """Absolute numbers of the lines whose shown text holds `query` (compared in lower case),
    oldest first; `position` is the index in `numbers` of the match last gone to."""

    def __init__(self) -> None:
        self.query = ""
        self.needle = ""
        self.numbers: list[int] = []
        self.position: int | None = None

    def __len__(self) -> int:
        return len(self.numbers)

    def _holds(self, line: LogLine) -> bool:
        return self.needle in line_text(line).lower()

    def set_query(self, query: str, lines: Sequence[LogLine], first: int) -> int:
        """Search the loaded lines (`first` is the absolute number of `lines[0]`); returns
        how many hold it."""
        self.query = query[:MAX_QUERY]
        self.needle = self.query.lower()
        self.position = None
        if not self.needle:
            self.numbers = []
            return 0
        holds = self._holds
        self.numbers = [first + index for index, line in enumerate(lines) if holds(line)]
        return len(self.numbers)

    def clear(self) -> None:
        self.set_query("", (), 0)

    def added_oldest(self, lines: Iterable[LogLine], first: int) -> None:
        """Older lines came at the top, numbered from `first`."""
        if not self.needle:
            return
        found = [first + index for index, line in enumerate(lines) if self._holds(line)]
        if found:
            self.numbers[:0] = found
            if self.position is not None:
                self.position += len(found)

    def added_newest(self, lines: Iterable[LogLine], first: int) -> None:
        """Newer lines came at the bottom, numbered from `first`."""
        if self.needle:
            self.numbers += [first + index for index, line in enumerate(lines)
                             if self._holds(line)]

    def keep(self, low: int, high: int) -> None:
        """Lines outside [low, high) went (the loader's bounds)."""
        start, end = bisect_left(self.numbers, low), bisect_left(self.numbers, high)
        if start == 0 and end == len(self.numbers):
            return
        self.numbers = self.numbers[start:end]
        if self.position is not None:
            position = self.position - start
            self.position = position if 0 <= position < len(self.numbers) else None

    def step(self, number: int, forward: bool) -> int | None:
        """The match after (or before) line `number`, wrapping around at the ends; it becomes
        the current one. None when nothing matches."""
        numbers = self.numbers
        if not numbers:
            self.position = None
            return None
        if forward:
            index = bisect_right(numbers, number)
            index = 0 if index >= len(numbers) else index
        else:
            index = bisect_left(numbers, number) - 1
            index = len(numbers) - 1 if index < 0 else index
        self.position = index
        return numbers[index]

    def first_from(self, number: int) -> int | None:
        """The first match at or after line `number` (wrapping): where a new search goes."""
        return self.step(number - 1, forward=True)

    @property
    def current(self) -> int | None:
        """The absolute number of the match last gone to."""
        return None if self.position is None else self.numbers[self.position]

    def label(self) -> str:
        """"3/17" (the match gone to, of all), "17" before any, "0" for none."""
        if not self.numbers:
            return "0"
        if self.position is None:
            return f"{len(self.numbers)}"
        return f"{self.position + 1}/{len(self.numbers)}"
