"""The palette's own commands work in a terminal (Textual's "Screenshot" did not)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui.simulator import Simulator

from .test_contexts import choose
from .test_ui import board


async def test_the_palettes_screenshot_saves_in_the_working_directory_and_says_where(
    small_sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))  # no ~/Downloads there
    monkeypatch.chdir(work)
    async with board(small_sim) as b:
        await b.idle()
        await choose(b, "Screenshot")
        await b.wait(lambda: list(work.glob("*.svg")), "the screenshot file")
        saved = next(work.glob("*.svg"))
        assert saved.read_text().lstrip().startswith("<svg")
        await b.wait(lambda: any(str(saved) in str(n.message) for n in b.app._notifications),
                     "the toast with the path")


async def test_the_palettes_keys_opens_the_keys_which_esc_closes(small_sim: Simulator) -> None:
    from tui.screens.help import HelpScreen

    async with board(small_sim) as b:
        await b.idle()
        await choose(b, "Keys")
        await b.wait(lambda: isinstance(b.app.screen, HelpScreen), "the keys")
        await b.pilot.press("escape")
        await b.wait(lambda: not isinstance(b.app.screen, HelpScreen), "the keys to close")
