"""The nf-runs App: wiring, bindings, configuration, and the CLI's `run_app`."""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import signal
import sys
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path, PurePath
from typing import Any, ClassVar

from textual import on
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from .accounts import Accounts
from .api.client import NorthflankClient
from .api.ratelimit import RateLimitBudget
from .board_jobs import board_listed, start_board, sync_board
from .commands import ContextCommands, JobCommands
from .config import MissingTokenError
from .crash import register_secret, terminal_restorer
from .header import refresh_headers, with_context
from .messages import EngineMessage
from .notices import BoardNotices
from .options import AppOptions
from .screens.board import BoardScreen, JobOpened, MarkRead
from .screens.help import HelpScreen
from .screens.main import MainScreen
from .screens.setup import SetupScreen
from .settings import LastJob, SettingsFile, UserSettings, flags_from
from .terminal import TerminalWatchdog, terminal_fds
from .toast import toast
from .watch.clock import Clock, SystemClock
from .watch.events import BoardChanged, Event, IndexChanged, JobKey
from .watch.scheduler import Scheduler


def stylesheet_paths() -> list[str | PurePath]:
    """Every .tcss file, from the installed package (`tui.styles`) or the source checkout."""
    try:
        folder = resources.files("tui.styles")
        found = sorted(str(entry) for entry in folder.iterdir() if entry.name.endswith(".tcss"))
        if found:
            return list(found)
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError, TypeError):
        pass
    checkout = Path(__file__).resolve().parent.parent / "styles"
    return list(sorted(checkout.glob("*.tcss")))


class NfRunsApp(App[int]):
    """The dashboard. Built with an injected client, options and clock (tests freeze time)."""

    TITLE = "nf-runs"
    CSS_PATH = stylesheet_paths()
    COMMANDS = App.COMMANDS | {JobCommands, ContextCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("question_mark", "help", "Help", id="help"),
    ]
    BOARD = "board"  # the installed board screen's name

    def __init__(
        self,
        client: NorthflankClient | None,
        options: AppOptions | None = None,
        *,
        now: Callable[[], datetime] | None = None,
        clock: Clock | None = None,
        setup_message: str | None = None,
        settings_file: SettingsFile | None = None,
        user_settings: UserSettings | None = None,
        accounts: Accounts | None = None,
        notes: tuple[str, ...] = (),
    ) -> None:
        super().__init__()
        self.client = client
        self.options = options or AppOptions()
        self._now = now
        self._clock = clock or SystemClock()
        self.setup_message = setup_message
        # Where theme, time mode, the last job and the board are kept (None: nowhere, as in
        # tests), the settings the app started with, the contexts it can switch to, and the
        # warnings of the start to show as toasts.
        self.settings_file = settings_file
        self.user_settings = user_settings or UserSettings()
        self.accounts = accounts
        self._notes = notes
        self._saved: dict[str, object] = {}
        self._save_failed = False
        self._terminal_watchdog: TerminalWatchdog | None = None
        self.scheduler: Scheduler | None = None
        self.notices = BoardNotices(
            self, bell=self.options.bell, desktop=self.options.notify,
            write=self._write_terminal, environ=os.environ, on_unread=self._show_unread,
        )
        if client is not None:
            self.scheduler = self._new_scheduler(client)

    def _new_scheduler(self, client: NorthflankClient) -> Scheduler:
        scheduler = Scheduler(
            client, clock=self._clock, refresh=self.options.refresh,
            idle_interval=self.options.idle_interval, page_size=self.options.page_size,
        )
        scheduler.subscribe(self._engine_event)
        return scheduler

    def now(self) -> datetime:
        """The current time on the server's clock (frozen in tests)."""
        if self._now is not None:
            return self._now()
        if self.client is not None:
            return self.client.server_now()
        return datetime.now().astimezone()

    def get_default_screen(self) -> Screen[Any]:
        if self.scheduler is None:
            return SetupScreen(self.setup_message or "No API token.")
        return MainScreen(self.scheduler, self.options, now=self.now)

    def _engine_event(self, event: Event) -> None:
        """Every screen in the stack hears the engine (the detail screen follows its run)."""
        if isinstance(event, BoardChanged):
            self.notices.follow(event)
        elif isinstance(event, IndexChanged) and self.scheduler is not None \
                and self.scheduler.board is not None:
            sync_board(self.scheduler, event.index, self.options.board_project,
                       complete=event.complete)
            if self.is_screen_installed(self.BOARD):
                board = self.get_screen(self.BOARD)
                if isinstance(board, BoardScreen):
                    board.listed = board.listed or board_listed(event)
                    board.index_problem = event.problem
        for screen in self.screen_stack:
            screen.post_message(EngineMessage(event))

    # ----- the board ----------------------------------------------------------------------

    def _open_index(self) -> None:
        """List every project and job (from the disk cache when fresh): for the picker's
        filter, the palette and the board. Then open the board if asked."""
        scheduler = self.scheduler
        if scheduler is None:
            return
        cache_dir = self.options.cache_dir
        if cache_dir is not None and self.options.context:
            # Two contexts on one host are two accounts with one API URL: the index cache
            # (named by URL and team) is kept apart for each.
            name = hashlib.sha256(self.options.context.encode("utf-8", "replace"))
            cache_dir = cache_dir / "contexts" / name.hexdigest()[:16]
        scheduler.open_index(cache_dir=cache_dir, persist=cache_dir is not None)
        if self.options.board:
            self.action_board()

    def _write_terminal(self, data: str) -> None:
        if not self.is_headless and self._driver is not None:
            self._driver.write(data)

    def _show_unread(self, count: int) -> None:
        """The header's unread counter (every screen shows the app's title)."""
        self.title = f"nf-runs  \u2022 {count} new" if count else "nf-runs"

    @property
    def board_open(self) -> bool:
        return self.scheduler is not None and self.scheduler.board is not None

    def action_board(self) -> None:
        """`b`: the board (started on first use), the cursor on the job the run list shows."""
        scheduler = self.scheduler
        if scheduler is None or isinstance(self.screen, BoardScreen):
            return
        if scheduler.board is None:
            start_board(self, scheduler, self.options)
        self.remember(board=True, board_project=self.options.board_project)
        if not self.is_screen_installed(self.BOARD):
            self.install_screen(
                BoardScreen(scheduler, self.options, now=self.now, unread=self.notices.unread),
                self.BOARD,
            )
        board = self.get_screen(self.BOARD)
        main = self.screen
        if isinstance(board, BoardScreen) and isinstance(main, MainScreen) \
                and main.key is not None and board.is_mounted:
            board.table.select_key(main.key)
        self.push_screen(self.BOARD)

    @on(JobOpened)
    def _job_opened(self, message: JobOpened) -> None:
        """Enter or `b` on the board: that job's runs (Esc or `b` comes back)."""
        self.notices.seen(message.key)
        self.remember(board=False)
        if isinstance(self.screen, BoardScreen):
            self.pop_screen()
        main = self.screen
        if isinstance(main, MainScreen):
            main.open_job(message.key.project_id, message.key.job_id)
            main.run_list.focus()

    @on(MarkRead)
    def _mark_read(self) -> None:
        self.notices.seen(None)
        if isinstance(self.screen, BoardScreen):
            self.screen.pull()

    def seen_job(self, key: JobKey) -> None:
        """The run list shows this job: its news is read, and it is the job opened last."""
        self.notices.seen(key)
        self.remember(last_job=LastJob(key.project_id, key.job_id, self.options.context))

    # ----- settings and contexts ----------------------------------------------------------

    def remember(self, **changes: object) -> None:
        """Keep what the user changed in settings.toml. A value equal to the one in force
        (a flag's, at the start) is not written; a failure is said once, in a toast."""
        changes = {name: value for name, value in changes.items()
                   if self._saved.get(name, getattr(self.user_settings, name)) != value}
        if self.settings_file is None or not changes:
            return
        self._saved.update(changes)
        problem = self.settings_file.save(**changes)
        if problem is not None and not self._save_failed:
            self._save_failed = True
            toast(self, f"Settings not saved: {problem}", title="nf-runs", severity="warning",
                  timeout=8)

    def _theme_changed(self, theme: Any) -> None:
        self.remember(theme=theme.name)

    def time_mode_changed(self, mode: str) -> None:
        """The `t` key's time mode: kept for the next start."""
        self.remember(time_mode=mode)

    def format_title(self, title: str, sub_title: str) -> Any:
        """Every header: the context's name first, in its own colour."""
        return with_context(super().format_title(title, sub_title), self.options.context,
                            no_color=self.no_color)

    @property
    def board_showing(self) -> bool:
        return isinstance(self.screen, BoardScreen)

    async def use_client(self, client: NorthflankClient, options: AppOptions) -> None:
        """Another account (a switch of context): the old engine's tasks end and its client
        closes, then the screens start again on a new engine over `client`."""
        for worker in list(self.workers):
            if worker.group == "engine":
                worker.cancel()
        old_scheduler, old_client = self.scheduler, self.client
        self.scheduler = None
        if old_scheduler is not None:
            await old_scheduler.aclose()
        if old_client is not None:
            await old_client.aclose()
        self.client, self.options = client, options
        self.notices.seen(None)  # the other account's news
        self.scheduler = self._new_scheduler(client)
        while len(self.screen_stack) > 1:
            await self.pop_screen()
        if self.is_screen_installed(self.BOARD):
            self.uninstall_screen(self.BOARD)  # its rows are the other account's
        base = self.screen_stack[0]
        if not base._result_callbacks:
            # Textual's switch_screen drops the replaced screen's result callback, and the
            # default screen has none (8.2.8: IndexError, the stack left empty).
            base._push_result_callback(self, None)
        await self.switch_screen(MainScreen(self.scheduler, self.options, now=self.now))
        self._start_engine()
        refresh_headers(self)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Textual's palette commands, with its "Keys" and "Screenshot" made ours: Textual's
        screenshot delivers the file through the driver (a browser download, for
        textual-serve) and in a terminal only says "Failed to save screenshot"."""
        for command in super().get_system_commands(screen):
            if command.title == "Keys":
                # Textual's side panel of keys did not close with Esc; ours (`?`) does.
                yield SystemCommand("Keys", "Every key of nf-runs (Esc closes)",
                                    self.action_help)
            elif command.title == "Screenshot":
                # After the palette has closed, so that it is not in the picture.
                yield SystemCommand(command.title, "Save an SVG of the screen (~/Downloads, "
                                    "else the working directory)",
                                    lambda: self.set_timer(0.1, self.action_screenshot))
            else:
                yield command

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        """The palette's "Screenshot": an SVG of the screen in ~/Downloads when there is one,
        else in the working directory; the toast says where (or why not)."""
        folder = Path(path) if path else Path.home() / "Downloads"
        if not folder.is_dir():
            folder = Path.cwd()
        try:
            saved = self.save_screenshot(filename, str(folder))
        except OSError as error:
            toast(self, f"Cannot save the screenshot in {folder}: {error.strerror or error}",
                  title="Screenshot", severity="error")
            return
        toast(self, f"Saved to {saved}", title="Screenshot", timeout=6)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen("Board" if isinstance(self.screen, BoardScreen) else None))

    async def on_unmount(self) -> None:
        if self.scheduler is not None:
            await self.scheduler.aclose()
        if self.client is not None:
            await self.client.aclose()

    def on_mount(self) -> None:
        import asyncio

        from .textual_patches import apply as apply_textual_patches

        notice = apply_textual_patches()
        if notice:
            self.notify(notice, title="nf-runs", timeout=5, markup=False)
        if self.options.theme and self.options.theme in self.available_themes:
            self.theme = self.options.theme
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        for note in self._notes:
            toast(self, note, title="nf-runs", severity="warning", timeout=10)
        self._start_engine()
        loop = asyncio.get_running_loop()
        if self.options.tty_check > 0 and not self.is_headless:
            # A thread, not a timer: a write to a dead terminal can block the event loop.
            def terminal_gone() -> None:
                loop.call_soon_threadsafe(self.exit, 1)

            self._terminal_watchdog = TerminalWatchdog(
                terminal_fds(), terminal_gone, interval=self.options.tty_check
            )
            self._terminal_watchdog.start()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError, AttributeError):
            for signum in (signal.SIGHUP, signal.SIGTERM):
                # Exit code 128 + the signal's number, as a shell reports a process it ended.
                loop.add_signal_handler(signum, self.exit, 128 + signum)

    def _start_engine(self) -> None:
        if self.scheduler is not None:
            self.run_worker(self.scheduler.run(), name="engine", group="engine",
                            exit_on_error=False)
            self.call_after_refresh(self._open_index)

    def _handle_exception(self, error: Exception) -> None:
        """The crash hook: any unhandled exception ends the app, and `run` raises it.

        Textual's own handler prints a traceback with every frame's locals (where a token
        may sit) on the terminal and leaves the exit status 0; tui.crash reports it instead.
        """
        self._return_code = 1
        if self._exception is None:
            self._exception = error  # run_test() re-raises it too, as with Textual's handler
            self._exception_event.set()
        self._close_messages_no_wait()

    def run(self, **kwargs: Any) -> int | None:
        """Textual's run, with Ctrl-C (SIGINT) exiting 130 cleanly, and a crash raised once
        the terminal is restored (tui.crash reports it)."""
        interrupted = False

        def on_sigint(_signum: int, _frame: object) -> None:
            nonlocal interrupted
            loop = self._loop
            if interrupted or loop is None or loop.is_closed():
                raise KeyboardInterrupt  # not running yet, or a second Ctrl-C: leave now
            interrupted = True
            loop.call_soon_threadsafe(lambda: self.exit(130, return_code=130))

        previous: Any = None
        with contextlib.suppress(ValueError, OSError):  # ValueError: not the main thread
            previous = signal.signal(signal.SIGINT, on_sigint)
        restore_terminal = terminal_restorer()
        from .textual_patches import apply as apply_textual_patches

        apply_textual_patches()  # before the driver reads input (on_mount says any notice)
        try:
            result = super().run(**kwargs)
        except BaseException:
            restore_terminal()  # it escaped Textual, perhaps before it restored the terminal
            raise
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
            if self._terminal_watchdog is not None:
                self._terminal_watchdog.stop()
        if self._exception is not None:
            raise self._exception
        return result


def run_app(args: argparse.Namespace) -> int:
    """Build and run the app from parsed CLI arguments and the settings in force."""
    from .accounts import host_label, start_job
    from .config import app_cache_dir
    from .contexts import NorthflankContext, context_connection
    from .settings import resolve, resolve_connection, settings_path

    simulator = None
    client: NorthflankClient | None = None
    setup_message: str | None = None
    accounts: Accounts | None = None
    context: str | None = None
    if args.demo:
        from .simulator import Simulator, World

        # The demo keeps only the theme and the time mode: its world is new each time, so
        # the last job and the board of the file are not its own (nor its to overwrite).
        user = resolve({**flags_from(args), "board_project": None})
        board = bool(args.board)
        # The demo's clock starts at the real time, so local times and "ago" read true.
        world = World(seed=args.seed, speed=args.speed, start=datetime.now(timezone.utc),
                      preset="board" if board else "demo")
        simulator = Simulator(world=world)
        simulator.start()
        register_secret(simulator.token)
        client = NorthflankClient(simulator.token, simulator.url,
                                  budget=RateLimitBudget(share=user.settings.budget / 100))
        label = f"demo simulator {host_label(simulator.url)}"
        project, job, board_project = args.project, args.job, args.project
        warnings = list(user.warnings)
        settings_file = SettingsFile(settings_path(), only=("theme", "time_mode"))
    else:
        # Any other ConfigError (a bad token file, URL, context or config file) ends the
        # command with its one-line message; only "no token at all" opens the setup page.
        user, settings = resolve_connection(args)
        warnings = [*user.warnings, *settings.warnings]
        share = user.settings.budget / 100
        for each in settings.contexts.contexts:
            register_secret(each.token)

        def connect(chosen: NorthflankContext) -> NorthflankClient:
            token, url = context_connection(chosen, settings.contexts)
            return NorthflankClient(token, url, team=settings.team,
                                    budget=RateLimitBudget(share=share))

        accounts = Accounts(settings.contexts, connect)
        context = settings.context
        project, job = start_job(args.project, args.job, user.settings, context=context,
                                 defaults=(settings.project, settings.job))
        board, board_project = user.settings.board, user.settings.board_project
        try:
            token = settings.require_token()
            register_secret(token)
            client = NorthflankClient(token, settings.api_url, team=settings.team,
                                      budget=RateLimitBudget(share=share))
            label = host_label(settings.api_url)
        except MissingTokenError as error:
            setup_message = str(error)
            label = "not connected"
        settings_file = SettingsFile(user.path)
    for warning in warnings:
        print(f"nf-runs: warning: {warning}", file=sys.stderr)
    options = AppOptions(
        cache_dir=None if args.demo else app_cache_dir(),  # (a new simulator each time)
        host_label=label, project=project, job=job if project else None,
        refresh=user.settings.refresh, read_only=args.read_only, bell=args.bell,
        board=board, board_project=board_project, notify=args.notify, grace=args.grace,
        time_mode=user.settings.time_mode, theme=user.settings.theme, context=context,
    )
    app = NfRunsApp(client, options, setup_message=setup_message, settings_file=settings_file,
                    user_settings=user.settings, accounts=accounts, notes=tuple(warnings))
    try:
        result = app.run()
    finally:
        if simulator is not None:
            simulator.stop()
    return result or 0
