"""The run detail's containers: why a run failed, before the user opens its log.

One line per container, the ones that ended badly first, so a failure reads as
"✘ container settle-ledger-6b0bcc-x97pq TASK_FAILED at 14:02:11". Every name and status is
the server's, sanitised; each line is cut to the width (never wrapped: the detail's layout
counts its lines), the name shortened in the middle before the status and time are lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.text import Text
from textual.geometry import Size
from textual.widget import Widget

from tui.api.run_models import Container, ContainerStatus
from tui.formatting import TimeMode
from tui.sanitize import printable

from .moment import ago_text, clock_text

LABEL = 14  # the detail's label column (its longest label and two spaces)
MIN_NAME = 12  # a name is never shortened below this many cells
# Failures first, then what still runs, then the rest; the newest change first within each.
_RANK = {
    ContainerStatus.FAILED: 0, ContainerStatus.KILLED: 1, ContainerStatus.KILLING: 2,
    ContainerStatus.RUNNING: 3, ContainerStatus.STARTING: 4, ContainerStatus.STAGING: 5,
    ContainerStatus.UNKNOWN: 6, ContainerStatus.FINISHED: 7,
}
_LOOK = {  # (symbol, component class); the word is the status itself
    ContainerStatus.FAILED: ("✘", "containers--failed"),
    ContainerStatus.KILLED: ("✘", "containers--failed"),
    ContainerStatus.KILLING: ("✘", "containers--failed"),
    ContainerStatus.RUNNING: ("●", "containers--running"),
    ContainerStatus.STARTING: ("◌", "containers--running"),
    ContainerStatus.STAGING: ("◌", "containers--running"),
    ContainerStatus.FINISHED: ("✔", "containers--done"),
    ContainerStatus.UNKNOWN: ("?", "containers--other"),
}


def failures_first(containers: Sequence[Container]) -> list[Container]:
    """The order the detail shows them in: failed, killed, running, …, finished."""
    def key(item: tuple[int, Container]) -> tuple[int, float, int]:
        index, container = item
        changed = container.updated_at or container.created_at
        return (_RANK[container.status], -changed.timestamp() if changed else 0.0, index)

    return [container for _, container in sorted(enumerate(containers), key=key)]


def middle_cut(text: str, width: int) -> str:
    """`text` in at most `width` cells, its middle replaced by "…" (both ends tell pods apart:
    the job's name, and the hash at the end)."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return set_cell_size(text, max(width, 0))
    head = width - 1 - (width - 1) // 2
    tail = (width - 1) // 2
    right = set_cell_size(text[::-1], tail)[::-1] if tail else ""
    return set_cell_size(text, head) + "…" + right


def container_parts(container: Container, mode: TimeMode, now: datetime) -> tuple[str, str, str]:
    """(name, status, when) as shown: "settle-…", "TASK_FAILED", "at 14:02:11" (in relative
    mode ", 3h 12m ago" follows when there is room: see `RunContainers`)."""
    name = printable(container.name)
    status = printable(container.raw_status) or "UNKNOWN"
    changed = container.updated_at or container.created_at
    when = f"at {clock_text(changed, mode, now)}" if changed is not None else "(no time given)"
    return name, status, when


class RunContainers(Widget):
    """The containers of one run, or what stands in for them (loading, none, a failure)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "containers--failed", "containers--running", "containers--done", "containers--other",
        "containers--label", "containers--note",
    }
    DEFAULT_CSS = """
    RunContainers {
        height: auto;
    }
    """

    def __init__(self, *, id: str | None = None, mode: TimeMode = TimeMode.RELATIVE) -> None:
        super().__init__(id=id)
        self.mode = mode
        self.now = datetime.now().astimezone()
        self.containers: tuple[Container, ...] | None = None
        self.message: str | None = "loading…"  # stands in for the list until it comes
        self.note: str | None = None  # a later refresh failed: said under the list
        self.max_lines = 3
        self._ages: tuple[str | None, ...] = ()

    # ----- what the screen tells it -------------------------------------------------------

    def show(self, containers: Sequence[Container], now: datetime) -> None:
        self.containers = tuple(failures_first(containers))
        self.message = None if containers else "none reported for this run"
        self.note = None
        self.now = now
        self._relayout()

    def failed(self, text: str) -> None:
        """A request failed: the whole section when nothing is shown, else a note under it
        (what is shown stays)."""
        if self.containers is None:
            self.message = text
        else:
            self.note = text
        self._relayout()

    def tick(self, now: datetime) -> None:
        """The clock moved: repaint only when a relative text changed (once a minute)."""
        self.now = now
        if self.mode is TimeMode.RELATIVE and self.containers:
            ages = self._age_texts()
            if ages != self._ages:
                self.refresh()

    def set_max_lines(self, lines: int) -> None:
        if lines != self.max_lines:
            self.max_lines = max(1, lines)
            self._relayout()

    def _relayout(self) -> None:
        self.refresh(layout=True)

    # ----- painting -----------------------------------------------------------------------

    def _age_texts(self) -> tuple[str | None, ...]:
        shown = self._shown()[0]
        return tuple(ago_text(c.updated_at or c.created_at, self.now) for c in shown)

    def _shown(self) -> tuple[list[Container], list[Container], bool]:
        """(the containers on their own lines, the ones summed up, whether the sum and the
        note go on the first line: one line is all the layout has)."""
        containers = list(self.containers or ())
        if self.max_lines == 1:
            return containers[:1], containers[1:], True
        room = self.max_lines - (1 if self.note else 0)
        if len(containers) <= room:
            return containers, [], False
        keep = max(1, room - 1)
        return containers[:keep], containers[keep:], False

    def line_count(self) -> int:
        if not self.containers:
            return 1
        shown, rest, inline = self._shown()
        if inline:
            return 1
        return len(shown) + (1 if rest else 0) + (1 if self.note else 0)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return self.line_count()

    def render(self) -> Text:
        width = max(self.size.width, LABEL + MIN_NAME)
        label_style = self.get_component_rich_style("containers--label", partial=True)
        note_style = self.get_component_rich_style("containers--note", partial=True)
        if not self.containers:
            line = Text.assemble(("containers".ljust(LABEL), label_style),
                                 (self.message or "", note_style))
            return self._crop([line], width)
        shown, rest, inline = self._shown()
        self._ages = self._age_texts()
        if inline:
            suffix = (f" · +{len(rest)} more" if rest else "") + \
                (f" · {self.note}" if self.note else "")
            line = self._container_line(shown[0], width, len(suffix))
            line.append(suffix, note_style)
            return self._crop([line], width)
        lines = [self._container_line(container, width) for container in shown]
        if rest:
            counts: dict[str, int] = {}
            for container in rest:
                word = printable(container.raw_status) or "UNKNOWN"
                counts[word] = counts.get(word, 0) + 1
            summary = ", ".join(f"{count} {word}" for word, count in counts.items())
            lines.append(Text.assemble(("".ljust(LABEL), label_style),
                                       (f"+ {len(rest)} more: {summary}", note_style)))
        if self.note:
            lines.append(Text.assemble(("".ljust(LABEL), label_style), (self.note, note_style)))
        return self._crop(lines, width)

    def _container_line(self, container: Container, width: int, after: int = 0) -> Text:
        """One container's line in `width` cells, leaving `after` cells for what follows."""
        symbol, component = _LOOK[container.status]
        style = self.get_component_rich_style(component, partial=True)
        name, status, when = container_parts(container, self.mode, self.now)
        fixed = LABEL + cell_len(status) + 2 + after
        if self.mode is TimeMode.RELATIVE:
            ago = ago_text(container.updated_at or container.created_at, self.now)
            longer = f"{when}, {ago}" if ago else when
            if fixed + cell_len(name) + cell_len(longer) <= width:
                when = longer
        name = middle_cut(name, max(MIN_NAME, width - fixed - cell_len(when)))
        return Text.assemble(
            (f"{symbol} container".ljust(LABEL), style), name, " ", (status, style), " ", when,
        )

    @staticmethod
    def _crop(lines: list[Text], width: int) -> Text:
        for line in lines:
            line.truncate(width, overflow="ellipsis")
        text = Text("\n").join(lines)
        text.no_wrap = True
        text.overflow = "ellipsis"
        return text


__all__ = ["RunContainers", "container_parts", "failures_first", "middle_cut"]
