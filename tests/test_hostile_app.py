"""The whole app (Pilot) against the hostile API server (tests/hostile.py) over loopback.

For each behaviour the board must stay up (no crash, no worker error, no traceback), keep
its request count within the client's budget whatever the server says, and say something on
the status line or show rows. Real time passes here, so every wait is for a condition with a
generous deadline, and the request bound is the budget's, not a guessed rate.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tui.api.client import NorthflankClient
from tui.api.ratelimit import RateLimitBudget
from tui.app import NfRunsApp
from tui.options import AppOptions

from . import harness
from .hostile import JOB, PROJECT, TOKEN, HostileServer

BEHAVIOURS = [
    "normal", "gzip_bomb", "endless_chunked", "retry_after_inf", "retry_after_0",
    "ratelimit_inf", "date_year_9999", "empty_pages_fresh_cursors", "cursors_a_b_a",
    "per_page_ignored_100k", "deep_json", "malformed_run_in_page", "escapes_everywhere",
    "forbidden_one_run", "error_500_one_run", "error_with_escapes", "html_body",
    "redirect_other_host", "run_id_dotdot", "huge_numbers", "long_names",
]


@pytest.mark.parametrize("name", BEHAVIOURS)
async def test_the_board_survives(name: str) -> None:
    with HostileServer(name) as server:
        budget = RateLimitBudget()
        client = NorthflankClient(TOKEN, server.url, budget=budget, max_retries=1,
                                  backoff_base=0.05, deadline=3.0)
        options = AppOptions(host_label="hostile", project=PROJECT, job=JOB, refresh=1.0,
                             tick=0.2, idle_interval=2.0, tty_check=0)
        app = NfRunsApp(client, options)
        async with harness.run_board(
            app, (100, 30),
            lambda pilot, errors: harness.Board(
                app, pilot, SimpleNamespace(errors=[]), errors  # type: ignore[arg-type]
            ),
            wait_first_page=False,
        ) as board:
            main = board.main
            await board.wait(
                lambda: bool(main.run_list.runs) or bool(main.status.state.problem)
                or (main.feed is not None and main.feed.last_good is not None),
                f"{name}: rows or a word on the status line", 20,
            )
            # Let it run a little: polls, retries, older pages the list asks for.
            await board.pilot.pause(1.5)
            assert app.is_running and app._exception is None
            assert not board.worker_errors, board.worker_errors
            assert len(server.requests) <= budget.share_limit()
            toasts = [str(n.message) for n in app._notifications]
            assert not any("Unexpected error" in text for text in toasts), toasts
