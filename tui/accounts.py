"""Northflank CLI contexts in the app: which job to open at the start, and the switch of
context (the palette's "Switch context"), which gives the app a new client and engine.

The switch is the app's (`NfRunsApp.use_client` tears the old engine down and starts the
screens again); this module picks the context, builds its client and tells the user.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .api.errors import NorthflankError
from .contexts import CliContexts, NorthflankContext, shown_name
from .settings import UserSettings
from .toast import toast

if TYPE_CHECKING:
    from .api.client import NorthflankClient
    from .app import NfRunsApp


@dataclass(frozen=True)
class Accounts:
    """The contexts the user can switch between, and how a context's client is built (its
    token checked; a NorthflankError says why it cannot be used)."""

    contexts: CliContexts
    connect: Callable[[NorthflankContext], NorthflankClient]


def host_label(url: str) -> str:
    return urlsplit(url).netloc or url


def start_job(
    project: str | None,
    job: str | None,
    settings: UserSettings,
    *,
    context: str | None,
    defaults: tuple[str | None, str | None] = (None, None),
) -> tuple[str | None, str | None]:
    """The job to open at the start: --project/--job; else the job opened last (in this
    context), in the board's project if the board is on; else the context's defaults.
    `--project P` alone opens the job last opened in P."""
    last = settings.last_job
    if last is not None and last.context != context:
        last = None  # another account's job: not found here
    if project:
        if job is None and last is not None and last.project == project:
            job = last.job
        return project, job
    if settings.board and settings.board_project:
        in_scope = last is not None and last.project == settings.board_project
        return settings.board_project, last.job if in_scope and last else None
    if last is not None:
        return last.project, last.job
    return defaults


def switch_context(app: NfRunsApp, name: str) -> None:
    """Use context `name` from now on (a worker: the screens are replaced)."""
    app.run_worker(_switch(app, name), name="switch context", group="switch-context",
                   exclusive=True)  # a failure here is a bug: the crash report


async def _switch(app: NfRunsApp, name: str) -> None:
    accounts = app.accounts
    context = accounts.contexts.get(name) if accounts is not None else None
    if accounts is None or context is None:
        toast(app, f'No Northflank CLI context "{shown_name(name)}"', title="Switch context",
              severity="error")
        return
    try:
        client = accounts.connect(context)
    except NorthflankError as error:
        toast(app, str(error), title="Switch context", severity="error", timeout=10)
        return
    project, job = start_job(None, None, app.user_settings, context=name,
                             defaults=(context.project, context.job))
    options = replace(
        app.options, context=name, host_label=host_label(client.base_url),
        project=project, job=job if project else None,
        # The board's project was another account's: this one's board shows them all.
        board=app.board_showing, board_project=None,
    )
    await app.use_client(client, options)
    toast(app, f"Now on {shown_name(name)} ({host_label(client.base_url)})",
          title="Northflank CLI context", timeout=4)
