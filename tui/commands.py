"""Command palette: "Jump to job …" for every job of the global index (and the picker), and
"Switch context" for the Northflank CLI's contexts."""

from __future__ import annotations

from functools import partial

from rich.text import Text
from textual.command import DiscoveryHit, Hit, Hits, Provider

from .contexts import shown_name
from .formatting import printable


class JobCommands(Provider):
    """Jump to any loaded job by (fuzzy) name."""

    def _jobs(self) -> list[tuple[str, str, str]]:
        """Every job of the global index (any project, expanded or not), then any the picker
        loaded that the index does not list yet."""
        from .screens.main import MainScreen

        found: dict[tuple[str, str], str] = {}
        scheduler = getattr(self.app, "scheduler", None)
        index = getattr(scheduler, "index", None)
        if index is not None:
            for entry in index.snapshot().entries:
                found[(entry.project.id, entry.job.id)] = \
                    f"{printable(entry.project.name)} / {printable(entry.job.name)}"
        for screen in self.app.screen_stack:
            if isinstance(screen, MainScreen):
                for job in screen.picker.known_jobs():
                    found.setdefault((job.project_id, job.id),
                                     f"{printable(job.project_id)} / {printable(job.name)}")
        return [(project_id, job_id, label) for (project_id, job_id), label in found.items()]

    def _jump(self, project_id: str, job_id: str) -> None:
        from .screens.main import MainScreen

        while len(self.app.screen_stack) > 1 and not isinstance(self.app.screen, MainScreen):
            self.app.pop_screen()
        screen = self.app.screen
        if isinstance(screen, MainScreen):
            screen.open_job(project_id, job_id)
            screen.run_list.focus()

    async def discover(self) -> Hits:
        for project_id, job_id, label in self._jobs():
            yield DiscoveryHit(
                Text(f"Jump to job {label}"), partial(self._jump, project_id, job_id),
                help="Show this job's runs",
            )

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for project_id, job_id, label in self._jobs():
            command = f"Jump to job {label}"
            score = matcher.match(command)
            if score > 0:
                yield Hit(
                    score, Text(command), partial(self._jump, project_id, job_id),
                    help="Show this job's runs",
                )


class ContextCommands(Provider):
    """"Switch context": the Northflank CLI's contexts (accounts, teams), one to choose."""

    COMMAND = "Switch context"

    def _contexts(self) -> tuple[str, ...]:
        accounts = getattr(self.app, "accounts", None)
        return () if accounts is None else accounts.contexts.names

    def _help(self) -> str:
        current = getattr(getattr(self.app, "options", None), "context", None)
        now = f"now {shown_name(current)}; " if current else ""
        return f"Use another Northflank CLI context ({now}{len(self._contexts())} in all)"

    def _choose(self) -> None:
        """The second palette: one line per context, the one in use marked."""
        from textual.command import SimpleCommand

        from .accounts import switch_context

        current = getattr(getattr(self.app, "options", None), "context", None)
        accounts = getattr(self.app, "accounts", None)
        commands = []
        for name in self._contexts():
            context = accounts.contexts.get(name) if accounts is not None else None
            host = printable(context.host) if context and context.host else "api.northflank.com"
            commands.append(SimpleCommand(
                shown_name(name) + ("  (in use)" if name == current else ""),
                partial(switch_context, self.app, name),  # type: ignore[arg-type]
                f"{host}" + ("" if context and context.token else "  (no token)"),
            ))
        self.app.search_commands(commands, placeholder="Switch to the Northflank CLI context…")

    async def discover(self) -> Hits:
        if self._contexts():
            yield DiscoveryHit(Text(self.COMMAND), self._choose, help=self._help())

    async def search(self, query: str) -> Hits:
        if not self._contexts():
            return
        matcher = self.matcher(query)
        score = matcher.match(self.COMMAND)
        if score > 0:
            yield Hit(score, matcher.highlight(self.COMMAND), self._choose, help=self._help())
