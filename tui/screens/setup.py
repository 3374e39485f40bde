"""Shown instead of the dashboard when nf-runs cannot reach the API as configured."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from ..sanitize import printable


class SetupScreen(Screen[None]):
    """A clear page saying what is missing (no token, a bad URL) and how to fix it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("q", "app.quit", "Quit")]

    def __init__(self, message: str) -> None:
        super().__init__()
        # Built from the environment and config files: as hostile as an API body.
        self.message = printable(message)

    def compose(self) -> ComposeResult:
        yield Header(icon="▤")
        with VerticalScroll(id="setup-body"):
            yield Static(Text("nf-runs is not set up yet"), id="setup-title")
            yield Static(Text(self.message), id="setup-message")
        yield Footer()
