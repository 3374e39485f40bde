"""The partial-update renderer in tui/textual_patches.py paints the same screen as Textual's,
in fewer bytes. Both outputs are played on a small model of a terminal and compared."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from textual import _compositor
from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import Footer, Header, Static

from tui import textual_patches


@pytest.fixture(autouse=True, scope="module")
def _patched() -> None:
    """The fixes are installed when the app starts; these tests may run before any app."""
    assert textual_patches.apply() is None

WIDTH, HEIGHT = 24, 4
STYLES = [
    None,
    Style(color="red", bgcolor="black"),
    Style(color="grey84", bgcolor="grey11"),
    Style(bold=True, color="orange1", bgcolor="grey11"),
]
_TOKEN = re.compile(
    r"\x1b\[(?P<move_y>\d+);(?P<move_x>\d+)H|\x1b\[(?P<sgr>[0-9;]*)m|(?P<newline>\n)|(?P<char>.)",
    re.DOTALL,
)
Cell = tuple[str, tuple[str, ...]]


def play(data: str, screen: list[list[Cell]]) -> tuple[list[list[Cell]], tuple[str, ...]]:
    """Apply terminal output to a screen of (character, SGR parameters in force) cells.
    Returns the new screen and the style left in force at the end."""
    screen = [row[:] for row in screen]
    x = y = 0
    sgr: tuple[str, ...] = ()
    for token in _TOKEN.finditer(data):
        kind = token.lastgroup
        if kind == "move_x":
            y, x = int(token["move_y"]) - 1, int(token["move_x"]) - 1
        elif kind == "sgr":
            # SGR adds to the style in force; 0 (or nothing) resets it.
            codes = token["sgr"]
            sgr = () if codes in ("", "0") else (*sgr, codes)
        elif kind == "newline":
            y, x = y + 1, 0
        else:
            assert 0 <= y < HEIGHT and 0 <= x < WIDTH, (x, y)
            screen[y][x] = (token["char"], sgr)
            x += 1
    return screen, sgr


def console() -> Console:
    return Console(color_system="256", force_terminal=True, width=WIDTH)


@st.composite
def updates(draw: st.DrawFn) -> tuple[_compositor.ChopsUpdate, list[list[Cell]]]:
    """A ChopsUpdate (the lines cut in fragments of styled segments, spans to repaint) and
    the screen before it: the fragments' content, with junk where the spans repaint."""
    chops: list[dict[int, Strip | None]] = []
    chop_ends: list[list[int]] = []
    spans: list[tuple[int, int, int]] = []
    for y in range(HEIGHT):
        cuts = sorted(draw(st.sets(st.integers(1, WIDTH - 1), max_size=4)))
        line: dict[int, Strip | None] = {}
        ends: list[int] = []
        for start, end in zip([0, *cuts], [*cuts, WIDTH], strict=True):
            if draw(st.integers(0, 9)) == 0:
                line[start] = None  # a fragment covered by another widget
            else:
                segments, x = [], start
                while x < end:
                    length = draw(st.integers(1, end - x))
                    text = draw(st.text("ab●0123 ", min_size=length, max_size=length))
                    segments.append(Segment(text, draw(st.sampled_from(STYLES))))
                    x += length
                line[start] = Strip(segments)
            ends.append(end)
        chops.append(line)
        chop_ends.append(ends)
        if draw(st.booleans()):
            x1 = draw(st.integers(0, WIDTH - 1))
            x2 = draw(st.integers(x1 + 1, WIDTH))
            spans.append((y, x1, x2))
    if not spans:
        spans.append((0, 0, WIDTH))
    update = _compositor.ChopsUpdate(chops, spans, chop_ends)
    full = _compositor.ChopsUpdate(chops, [(y, 0, WIDTH) for y in range(HEIGHT)], chop_ends)
    blank = [[("?", ("junk",))] * WIDTH for _ in range(HEIGHT)]
    before, _ = play(ORIGINAL(full, console()), blank)
    for y, x1, x2 in spans:
        for x in range(x1, x2):
            before[y][x] = ("#", ("junk",))
    return update, before


ORIGINAL = textual_patches.ORIGINAL_RENDER_SEGMENTS


def test_the_patch_is_applied_on_the_pinned_version() -> None:
    import textual

    assert textual.__version__ == textual_patches.PATCHED_VERSION
    assert _compositor.ChopsUpdate.render_segments is textual_patches._render_segments


@settings(max_examples=300, deadline=None)
@given(updates())
def test_same_screen_as_textual(case: tuple[_compositor.ChopsUpdate, list[list[Cell]]]) -> None:
    update, before = case
    assert ORIGINAL is not None
    theirs = ORIGINAL(update, console())
    ours = update.render_segments(console())
    our_screen, left_in_force = play(ours, before)
    assert our_screen == play(theirs, before)[0]
    assert left_in_force == ()  # the terminal's style is reset at the end
    assert len(ours) <= len(theirs)


def test_a_ticking_cell_costs_a_few_bytes() -> None:
    """Five rows whose duration's last digit changed: one style, five moves, five digits."""
    style = Style(color="grey84", bgcolor="grey11")
    row = Strip([Segment(" ● RUNNING  settle-ledger-6b0c  just now ", style),
                 Segment("  2m 06s", style)])
    width = row.cell_length
    chops: list[dict[int, Strip | None]] = [{0: row} for _ in range(5)]
    update = _compositor.ChopsUpdate(chops, [(y, width - 2, width - 1) for y in range(5)],
                                     [[width]] * 5)
    ours = update.render_segments(console())
    assert ours.count("\x1b[0m") == 1 and ours.count("6") == 5, repr(ours)
    assert len(ours) <= 5 * 9 + 25, (len(ours), repr(ours))


# ----- 3. partial updates render bands ---------------------------------------------------------


class _Board(App[None]):
    """Our layout in miniature: header, a picker beside a list and a status line, footer."""

    CSS = """
    #side { width: 30; }
    #main { width: 1fr; }
    #list { height: 1fr; }
    #status { height: 1; }
    """

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            yield Static("\n".join(f"project {i} · job {i}" for i in range(40)), id="side")
            with Vertical(id="main"):
                yield Static("\n".join(f"{i:3d} ● RUNNING  run-{i:04d}  {i}m 0{i % 10}s"
                                       for i in range(60)), id="list")
                yield Static("120 runs · refreshed just now · API 480/500", id="status")
        yield Footer()


def _span_cells(update: _compositor.ChopsUpdate) -> dict[tuple[int, int], tuple[str, object]]:
    """What an update paints: every cell of its spans, as (character, style)."""
    cells: dict[tuple[int, int], tuple[str, object]] = {}
    for y, x1, x2 in update.spans:
        for end, (x, strip) in zip(update.chop_ends[y], update.chops[y].items(), strict=False):
            if strip is None or x >= x2 or end <= x1:
                continue
            position = x
            for text, style, _control in strip:
                for char in text:
                    if x1 <= position < x2:
                        cells[(position, y)] = (char, style)
                    position += 1
    return cells


async def test_a_partial_update_paints_what_textual_paints() -> None:
    app = _Board()
    rng = random.Random(5625)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        compositor = app.screen._compositor
        width, height = app.size
        cases: list[list[Region]] = [
            [Region(90, 3, 3, 1), Region(90, 4, 2, 1), Region(40, 28, 5, 1)],  # ticks + status
            [Region(0, 0, 100, 1), Region(0, 29, 100, 1)],  # header and footer
            [Region(10, 5, 30, 20)],  # across the picker and the list
        ]
        for _ in range(40):
            cases.append([
                Region(x := rng.randrange(width), y := rng.randrange(height),
                       rng.randint(1, width - x), rng.randint(1, min(4, height - y)))
                for _ in range(rng.randint(1, 6))
            ])
        for regions in cases:
            compositor._dirty_regions.update(regions)
            theirs = textual_patches.ORIGINAL_RENDER_PARTIAL_UPDATE(compositor)
            compositor._dirty_regions.update(regions)
            ours = compositor.render_partial_update()
            assert theirs is not None and ours is not None
            assert ours.spans == theirs.spans
            assert _span_cells(ours) == _span_cells(theirs), regions


async def test_a_change_under_an_opaque_screen_does_not_repaint_it() -> None:
    """The run list under the board: what changes there cannot be seen, so nothing is sent
    to the terminal for it (Textual repainted the top screen whole, again and again); the
    covered screen shows its changes when it is back on top."""
    from textual.screen import Screen

    sent: list[object] = []

    class Top(Screen[None]):
        def compose(self) -> ComposeResult:
            yield Static("the board")

    class Base(App[None]):
        def compose(self) -> ComposeResult:
            yield Static("before", id="under")

        def _display(self, screen: Screen[object], renderable: object) -> None:
            if renderable is not None:
                sent.append(renderable)
            super()._display(screen, renderable)  # type: ignore[arg-type]

    app = Base()
    async with app.run_test(size=(40, 6)) as pilot:
        top = Top()
        await app.push_screen(top)
        await pilot.pause()
        assert top.styles.background.a == 1
        sent.clear()
        for text in ("one", "two", "three"):
            app.screen_stack[0].query_one("#under", Static).update(text)
            await pilot.pause()
        await pilot.pause()
        assert sent == []
        app.pop_screen()
        await pilot.pause()
        lines = [strip.text for strip in app.screen._compositor.render_strips()]
        assert any("three" in line for line in lines)
