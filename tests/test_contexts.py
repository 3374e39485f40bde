"""Northflank CLI contexts in the app: the header's badge, the palette's "Switch context" (a
new client and engine for the other account, the old engine torn down), and the settings the
app keeps (theme, time mode, last job, board) in settings.toml.

Two simulators stand for two accounts: each accepts only its own token, and their worlds
differ (the demo's projects and the board's), so the picker tells which one it asks.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.command import CommandPalette
from textual.widgets._header import HeaderTitle

from tui.accounts import Accounts
from tui.api.client import NorthflankClient
from tui.api.ratelimit import RateLimitBudget
from tui.app import NfRunsApp
from tui.config import load_cli_contexts
from tui.contexts import NorthflankContext, context_connection
from tui.header import ACCENTS, accent
from tui.options import AppOptions
from tui.screens.board import BoardScreen
from tui.screens.main import MainScreen
from tui.settings import LastJob, SettingsFile, UserSettings, tomllib
from tui.simulator import Simulator, run_simulator

from . import harness
from .conftest import START

PROD_TOKEN = "nf-prod-token-0123456789"
STAGING_TOKEN = "nf-staging-token-0123456789"


@pytest.fixture
def prod() -> Iterator[Simulator]:
    with run_simulator(speed=0.0, start=START, history=False, token=PROD_TOKEN) as sim:
        sim.set_rate_limit(1_000_000)
        yield sim


@pytest.fixture
def staging() -> Iterator[Simulator]:
    with run_simulator(speed=0.0, start=START, history=False, token=STAGING_TOKEN,
                       preset="board") as sim:
        sim.set_rate_limit(1_000_000)
        yield sim


def _cli_config(tmp_path: Path, prod: Simulator, staging: Simulator) -> Path:
    path = tmp_path / "northflank.json"
    path.write_text(json.dumps({"current": "prod", "contexts": [
        {"name": "prod", "token": PROD_TOKEN, "host": prod.url},
        {"name": "staging", "token": STAGING_TOKEN, "host": staging.url},
        {"name": "logged-out", "host": staging.url},
    ]}))
    return path


@contextlib.asynccontextmanager
async def app_on(
    tmp_path: Path, prod: Simulator, staging: Simulator, *, user: UserSettings | None = None,
    **options: Any,
) -> AsyncIterator[harness.Board]:
    """The app on context prod, with both contexts to switch to and a settings file."""
    contexts = load_cli_contexts(_cli_config(tmp_path, prod, staging))

    def connect(context: NorthflankContext) -> NorthflankClient:
        token, url = context_connection(context, contexts)
        return NorthflankClient(token, url, budget=RateLimitBudget(share=1.0), max_retries=0)

    prod_context = contexts.get("prod")
    assert prod_context is not None
    for name, value in (("tick", 0.2), ("tty_check", 0), ("refresh", 1.0),
                        ("idle_interval", 2.0)):
        options.setdefault(name, value)
    app = NfRunsApp(
        connect(prod_context), AppOptions(host_label="prod.test", context="prod", **options),
        accounts=Accounts(contexts, connect), user_settings=user,
        settings_file=SettingsFile(tmp_path / "settings.toml"),
    )
    async with harness.run_board(app, (100, 30), lambda pilot, errors: harness.Board(
            app, pilot, prod, errors), wait_first_page=False) as state:
        yield state


def header(app: NfRunsApp) -> Any:
    return app.screen.query_one(HeaderTitle).render()


def saved(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "settings.toml"
    return tomllib.loads(path.read_text()) if path.exists() else {}


def project_ids(app: NfRunsApp) -> set[str]:
    screen = app.screen
    if not isinstance(screen, MainScreen):
        return set()
    return {job.project_id for job in screen.picker.known_jobs()}


async def choose(b: harness.Board, *typed: str) -> None:
    """Ctrl+P, type, Enter; each text typed in the palette then open."""
    await b.pilot.press("ctrl+p")
    for text in typed:
        await b.wait(lambda: isinstance(b.app.screen, CommandPalette), "the palette")
        palette = b.app.screen
        await b.pilot.press(*text)
        await b.wait(lambda shown=palette: shown.query("CommandList").first().option_count > 0,
                     f"a command for {text!r}")
        await b.pilot.press("enter")
        await b.wait(lambda shown=palette: b.app.screen is not shown, "the palette to close")


# ----- the header ---------------------------------------------------------------------------


def test_each_name_has_its_own_colour_the_same_every_time() -> None:
    assert accent("prod") == accent("prod") in ACCENTS
    names = ["prod", "staging", "production", "dev", "test", "default"]
    assert len({accent(name) for name in names}) == len(names)


async def test_the_header_shows_the_context_in_its_accent(
    tmp_path: Path, prod: Simulator, staging: Simulator
) -> None:
    async with app_on(tmp_path, prod, staging, theme="nord") as b:
        assert b.app.theme == "nord"  # the settings' theme, from the start
        title = header(b.app)
        assert title.plain.startswith(" prod  nf-runs")
        (span, *_rest) = title.spans
        assert (span.start, span.end) == (0, len(" prod "))
        assert span.style.background is not None and span.style.bold
        assert span.style.background.hex.lower() == accent("prod")


async def test_without_colour_the_context_is_reversed_and_bold(
    tmp_path: Path, prod: Simulator, staging: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    async with app_on(tmp_path, prod, staging) as b:
        (span, *_rest) = header(b.app).spans
        assert span.style.reverse and span.style.bold and span.style.background is None


# ----- switching ----------------------------------------------------------------------------


async def test_switch_context_rebuilds_the_client_and_engine(
    tmp_path: Path, prod: Simulator, staging: Simulator
) -> None:
    async with app_on(tmp_path, prod, staging) as b:
        app = b.app
        await b.wait(lambda: "payments" in project_ids(app), "prod's projects")
        old_scheduler, old_client = app.scheduler, app.client
        assert old_scheduler is not None and old_client is not None

        await choose(b, "switch", "stag")
        await b.wait(lambda: app.options.context == "staging" and isinstance(
            app.screen, MainScreen) and "storefront" in project_ids(app), "staging's projects")
        assert "payments" not in project_ids(app)
        assert header(app).plain.startswith(" staging  nf-runs")
        assert (header(app).spans[0].style.background.hex.lower()  # type: ignore[union-attr]
                == accent("staging"))
        # The old engine and client are gone, the new ones are staging's.
        assert old_scheduler._closed and not old_scheduler._tasks
        assert old_client._http.is_closed
        assert app.scheduler is not old_scheduler and app.client is not old_client
        assert app.client is not None and app.client.base_url.rstrip("/") == staging.url
        engines = [worker for worker in app.workers if worker.group == "engine"]
        assert len(engines) == 1 and engines[0].is_running
        assert len(app.screen_stack) == 1
        # Staging accepted every request (its token), and prod heard no more.
        asked = len(prod.requests)
        await b.wait(lambda: app.scheduler is not None and not app.scheduler.busy
                     and staging.requests, "staging asked")
        assert len(prod.requests) == asked
        # And back: the picker reloads prod's.
        await choose(b, "switch", "prod")
        await b.wait(lambda: app.options.context == "prod"
                     and "payments" in project_ids(app), "prod's projects again")


async def test_switch_from_the_board_comes_back_to_the_board(
    tmp_path: Path, prod: Simulator, staging: Simulator
) -> None:
    async with app_on(tmp_path, prod, staging) as b:
        await b.pilot.press("b")
        await b.wait(lambda: isinstance(b.app.screen, BoardScreen), "the board")
        await choose(b, "switch", "stag")
        await b.wait(lambda: b.app.options.context == "staging"
                     and isinstance(b.app.screen, BoardScreen)
                     and len(b.app.screen.table.rows) > 0, "staging's board")
        keys = {row.key.project_id for row in b.app.screen.table.rows}  # type: ignore[attr-defined]
        assert "storefront" in keys and "payments" not in keys


async def test_a_context_without_a_token_is_refused_and_nothing_changes(
    tmp_path: Path, prod: Simulator, staging: Simulator
) -> None:
    async with app_on(tmp_path, prod, staging) as b:
        scheduler = b.app.scheduler
        await choose(b, "switch", "logg")
        await b.wait(lambda: any("no token" in n.message for n in b.app._notifications),
                     "the refusal")
        assert b.app.scheduler is scheduler and b.app.options.context == "prod"
        assert PROD_TOKEN not in " ".join(n.message for n in b.app._notifications)


# ----- what the app keeps -------------------------------------------------------------------


async def test_theme_time_mode_last_job_and_board_are_kept(
    tmp_path: Path, prod: Simulator, staging: Simulator
) -> None:
    user = UserSettings(time_mode="utc", theme="textual-dark")
    async with app_on(tmp_path, prod, staging, user=user, time_mode="utc",
                      project="payments", job="settle-ledger") as b:
        app = b.app
        main = b.main
        await b.wait(lambda: main.key is not None, "the job open")
        assert "Started (UTC)" in main.run_list.render_line(0).text
        assert saved(tmp_path) == {"last_job": {
            "project": "payments", "job": "settle-ledger", "context": "prod"}}
        await b.pilot.press("t")
        await b.wait(lambda: saved(tmp_path).get("time_mode") == "relative", "the time mode")
        app.theme = "nord"
        await b.wait(lambda: saved(tmp_path).get("theme") == "nord", "the theme")
        await b.pilot.press("b")
        await b.wait(lambda: saved(tmp_path).get("board") is True, "the board kept")
        await b.wait(lambda: isinstance(app.screen, BoardScreen)
                     and app.screen.table.highlighted is not None, "a row")
        await b.pilot.press("enter")
        await b.wait(lambda: saved(tmp_path).get("board") is False, "the board left")
        text = (tmp_path / "settings.toml").read_text()
        assert PROD_TOKEN not in text and STAGING_TOKEN not in text


async def test_a_settings_file_that_cannot_be_written_is_said_once(
    tmp_path: Path, prod: Simulator, staging: Simulator
) -> None:
    (tmp_path / "settings.toml").write_text("not = [toml\n")
    async with app_on(tmp_path, prod, staging, project="payments", job="settle-ledger") as b:
        await b.pilot.press("t")
        await b.pilot.press("t")
        await b.wait(lambda: any("Settings not saved" in n.message
                                 for n in b.app._notifications), "the warning")
        assert sum("Settings not saved" in n.message for n in b.app._notifications) == 1
        assert (tmp_path / "settings.toml").read_text() == "not = [toml\n"


def test_last_job_is_its_context() -> None:
    assert LastJob("p", "j", "prod") != LastJob("p", "j", "staging")
