"""The log viewer's virtual list (tui/widgets/log_lines.py) on its own: 100k lines cost a
screenful (counted in lines painted and rows rendered, not in time), new lines are followed
or counted, the loader's bounds are kept in step."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from textual.app import App, ComposeResult

from tui.api.models import LogLine
from tui.widgets.log_lines import LogLines


def many_lines(count: int, start: int = 0) -> list[LogLine]:
    base = datetime(2026, 11, 29, tzinfo=timezone.utc)
    return [LogLine("job-run-abc", f"line {i} " + ("error here" if i % 1000 == 7 else "ok"),
                    base + timedelta(milliseconds=i)) for i in range(start, start + count)]


class LinesApp(App[None]):
    def compose(self) -> ComposeResult:
        yield LogLines(id="lines")


@pytest.mark.parametrize("wrap", [False, True], ids=["cut", "wrap"])
async def test_100k_lines_cost_a_screenful(wrap: bool) -> None:
    app = LinesApp()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(LogLines)
        view.focus()
        if wrap:
            view.set_options(wrap=True)
        view.set_lines(many_lines(100_000, start=100_000), has_older=True)
        await pilot.pause()
        height = view.size.height
        assert view.visible_text()[-1].rstrip().endswith("line 199999 ok")

        def measure() -> tuple[int, int]:
            return view.render_calls, view.painter.painted

        calls, painted = measure()
        await pilot.press("pageup")
        await pilot.pause()
        new_calls, new_painted = measure()
        # A page: the lines of one screen painted, a screen's rows rendered (and a few more
        # for the cursor's old row), whatever the lines loaded.
        assert new_painted - painted <= height + 2
        assert new_calls - calls <= 3 * height
        calls, painted = measure()
        await pilot.press("k")
        await pilot.pause()
        new_calls, new_painted = measure()
        assert new_painted - painted <= 3 and new_calls - calls <= height + 2
        # Search over every line, then a jump: still a screenful painted.
        assert view.search("ERROR HERE") == 100
        await pilot.pause()
        calls, painted = measure()
        view.next_match()
        await pilot.pause()
        assert view.painter.painted - painted <= 2 * height + 2
        # 1000 older lines at the top: the line on screen stays where it was.
        first = view.visible_text()[0]
        view.add_older(many_lines(1000, start=99_000), has_older=True)
        await pilot.pause()
        assert view.visible_text()[0] == first
        assert len(view.lines) == 101_000


async def test_new_lines_follow_the_end_or_are_counted() -> None:
    app = LinesApp()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(LogLines)
        view.focus()
        view.set_lines(many_lines(100), has_older=False)
        await pilot.pause()
        view.add_newer(many_lines(5, start=100))
        await pilot.pause()
        assert view.following and view.visible_text()[-1].rstrip().endswith("line 104 ok")
        await pilot.press("up")
        top = view.top
        view.add_newer(many_lines(12, start=105))
        await pilot.pause()
        assert view.unseen == 12 and view.top == top and not view.following
        await pilot.press("end")
        assert view.unseen == 0 and view.following
        await pilot.pause()
        assert view.visible_text()[-1].rstrip().endswith("line 116 ok")
        # The loader's bound dropped the oldest: the view keeps its lines in step.
        view.add_newer(many_lines(3, start=117), dropped_oldest=3)
        await pilot.pause()
        assert len(view.lines) == 117 and view.lines[0].log == "line 3 ok"




async def test_wrapped_lines_keep_the_end_and_the_cursor_whole_on_screen() -> None:
    app = LinesApp()
    base = datetime(2026, 11, 29, tzinfo=timezone.utc)
    lines = [LogLine("c", f"start {i} " + "y" * 200 + f" stop {i}", base) for i in range(500)]
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(LogLines)
        view.focus()
        view.set_lines(lines, has_older=False)
        await pilot.pause()
        rows = [row.rstrip() for row in view.visible_text()]
        assert not any("stop 499" in row for row in rows)  # cut without wrap
        for _ in range(40):  # sideways, but no further than the longest line needs
            await pilot.press("right")
        rows = [row.rstrip() for row in view.visible_text()]
        assert rows[-1].endswith("stop 499") and rows[-1].startswith("00:00:00.000Z  yyy")
        view.set_options(wrap=True)
        await pilot.pause()
        rows = [row.rstrip() for row in view.visible_text()]
        assert rows[-1].endswith("stop 499")  # the end at the bottom
        assert sum(1 for row in rows if "start " in row) < len(rows)  # lines take rows
        painted = view.painter.painted
        for _ in range(30):
            await pilot.press("up")
        await pilot.pause()
        rows = [row.rstrip() for row in view.visible_text()]
        assert any("start 469 " in row for row in rows)
        assert any(row.endswith("stop 469") for row in rows)  # the cursor's line whole
        assert view.painter.painted - painted <= 60  # near the screen only, not 500
        await pilot.press("home")
        await pilot.pause()
        assert view.visible_text()[0].startswith("00:00:00.000Z  start 0 ")
