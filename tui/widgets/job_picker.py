"""The job picker: projects and their jobs in a tree, loaded page by page, with a filter."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Tree
from textual.widgets.tree import TreeNode

from ..api.models import Job, Page, Project
from ..formatting import printable
from ..watch.events import JobKey
from ..watch.index_snapshot import IndexSnapshot
from .safe_input import SafeInput

NodeKind = Literal["project", "job", "more", "note"]


@dataclass(frozen=True, slots=True)
class NodeData:
    """What a tree node stands for."""

    kind: NodeKind
    project_id: str | None = None
    job: Job | None = None


@dataclass
class _ProjectState:
    project: Project
    jobs: list[Job] = field(default_factory=list)
    cursor: str | None = None
    has_more: bool = False
    loaded: bool = False
    loading: bool = False
    error: str | None = None


class JobTree(Tree[NodeData]):
    """The tree itself; j/k move like everywhere else in nf-runs. A label longer than the
    tree is wide is cut with "…" (the tree never scrolls sideways)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    def render_label(self, node: TreeNode[NodeData], base_style: Style, style: Style) -> Text:
        label = super().render_label(node, base_style, style)
        room = self.scrollable_content_region.width - self.guide_depth * _depth(node)
        if room > 0 and label.cell_len > room:
            label.truncate(room, overflow="ellipsis")
        return label


def _depth(node: TreeNode[NodeData]) -> int:
    """How many levels below the (hidden) root's children `node` is: 0 for a project."""
    depth, parent = -1, node.parent
    while parent is not None:
        depth, parent = depth + 1, parent.parent
    return max(depth, 0)


# A tree label's cells besides its text: the expand icon of a project ("▶ "), the guide
# of a job ("├ "; the tree's guide_depth).
ICON_CELLS = 2
GUIDE_DEPTH = 2
# The picker's cells besides its labels: the border on the right (and the tree's scrollbar,
# one cell, when its lines overflow it).
PICKER_FRAME = 1


class _FilterInput(SafeInput):
    """The picker's filter: Esc clears it (and hands the keys to the tree)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    def action_clear_filter(self) -> None:
        picker = next((node for node in self.ancestors if isinstance(node, JobPicker)), None)
        if picker is not None:
            picker.clear_filter()


class JobPicker(Vertical):
    """Projects, then jobs. Posts `JobChosen`, `ProjectOpened` and `MoreWanted`."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "job-picker--type", "job-picker--note", "job-picker--error",
    }

    class JobChosen(Message):
        def __init__(self, job: Job) -> None:
            super().__init__()
            self.job = job

    class ProjectOpened(Message):
        """A project was expanded and its jobs are not loaded yet."""

        def __init__(self, project_id: str) -> None:
            super().__init__()
            self.project_id = project_id

    class MoreWanted(Message):
        """The next page of projects (project_id None) or of a project's jobs."""

        def __init__(self, project_id: str | None, cursor: str) -> None:
            super().__init__()
            self.project_id = project_id
            self.cursor = cursor

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._projects: dict[str, _ProjectState] = {}
        self._projects_cursor: str | None = None
        self._projects_more = False
        self._projects_loaded = False
        self._projects_error: str | None = None
        self._expanded: set[str] = set()
        self._filter = ""
        self._current: tuple[str, str] | None = None
        self._width_range: tuple[int, int] | None = None  # (least, most) cells: fit_width
        # Every project and job, listed once (tui.watch.job_index): the filter finds jobs in
        # projects never expanded.
        self._index: IndexSnapshot | None = None

    def compose(self) -> ComposeResult:
        yield _FilterInput(placeholder="filter jobs…  (Enter opens a single match)",
                           id="job-filter")
        tree = JobTree("projects", id="job-tree")
        tree.show_root = False
        tree.guide_depth = GUIDE_DEPTH
        yield tree

    @property
    def job_tree(self) -> JobTree:
        return self.query_one(JobTree)

    def on_mount(self) -> None:
        self._rebuild()
        # Labels carry the theme's colors: build them again when the theme changes.
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._rebuild())

    # ----- data in --------------------------------------------------------------------------

    def add_projects(self, page: Page[Project], first: bool) -> None:
        if first:
            self._projects = {
                key: state for key, state in self._projects.items()
                if any(p.id == key for p in page.items)
            }
        for project in page.items:
            state = self._projects.get(project.id)
            if state is None:
                self._projects[project.id] = _ProjectState(project)
            else:
                state.project = project
        self._projects_cursor = page.cursor
        self._projects_more = page.has_next_page
        self._projects_loaded = True
        self._projects_error = None
        self._rebuild()

    def add_jobs(self, project_id: str, page: Page[Job], first: bool) -> None:
        state = self._projects.get(project_id)
        if state is None:
            return
        known = set() if first else {job.id for job in state.jobs}
        jobs = [] if first else state.jobs
        jobs.extend(job for job in page.items if job.id not in known)
        state.jobs = jobs
        state.cursor = page.cursor
        state.has_more = page.has_next_page
        state.loaded = True
        state.loading = False
        state.error = None
        self._expanded.add(project_id)
        self._rebuild()

    def show_error(self, project_id: str | None, message: str) -> None:
        if project_id is None:
            self._projects_error = message
        elif project_id in self._projects:
            self._projects[project_id].error = message
            self._projects[project_id].loading = False
        self._rebuild()

    def set_current(self, project_id: str, job_id: str) -> None:
        """Mark the job whose runs are shown (and open its project)."""
        self._current = (project_id, job_id)
        self._expanded.add(project_id)
        state = self._projects.get(project_id)
        if state is not None and not state.loaded and not state.loading:
            state.loading = True
            self.post_message(self.ProjectOpened(project_id))
        self._rebuild()

    def set_index(self, index: IndexSnapshot) -> None:
        """The global job index changed: a filter in force searches it too."""
        self._index = index
        if self._filter:
            self._rebuild()

    def known_jobs(self) -> list[Job]:
        return [job for state in self._projects.values() for job in state.jobs]

    def project(self, project_id: str) -> Project | None:
        state = self._projects.get(project_id)
        return state.project if state else None

    def find_job(self, project_id: str, job_id: str) -> Job | None:
        state = self._projects.get(project_id)
        found = None if state is None else next(
            (job for job in state.jobs if job.id == job_id), None)
        if found is None and self._index is not None:
            entry = self._index.job(JobKey(project_id, job_id))
            found = entry.job if entry is not None else None
        return found

    def _jobs_of(self, project_id: str, state: _ProjectState) -> list[Job]:
        """A project's jobs: as loaded, or (filtering, not expanded yet) from the index."""
        if state.loaded or not self._filter or self._index is None:
            return state.jobs
        return [entry.job for entry in self._index.jobs_of(project_id)]

    def _shown_projects(self) -> dict[str, _ProjectState]:
        """The projects in the tree: those loaded, and while filtering the index's others."""
        if not self._filter or self._index is None:
            return self._projects
        shown = dict(self._projects)
        for project in self._index.projects:
            shown.setdefault(project.id, _ProjectState(project))
        return shown

    @property
    def first_project_id(self) -> str | None:
        return next(iter(self._projects), None)

    # ----- rendering ------------------------------------------------------------------------

    def _style(self, name: str) -> Style:
        try:
            return self.get_component_rich_style(name, partial=True)
        except Exception:  # before styles are applied (not mounted yet)
            return Style()

    def _matches(self, text: str) -> bool:
        return self._filter in text.lower()

    @staticmethod
    def _node_key(data: NodeData | None) -> tuple[str, str | None, str | None] | None:
        if data is None:
            return None
        return (data.kind, data.project_id, data.job.id if data.job else None)

    def _rebuild(self) -> None:
        """Redraw the tree from the loaded data, keeping the highlighted node."""
        if not self.is_mounted:
            return
        tree = self.job_tree
        keep = self._node_key(tree.cursor_node.data if tree.cursor_node else None)
        if keep is None and self._current is not None:
            keep = ("job", self._current[0], self._current[1])
        nodes: dict[tuple[str, str | None, str | None], TreeNode[NodeData]] = {}
        tree.clear()
        note = self._style("job-picker--note")
        error_style = self._style("job-picker--error")
        if self._projects_error:
            tree.root.add_leaf(Text(printable(self._projects_error), error_style),
                               NodeData("note"))
        elif not self._projects_loaded:
            tree.root.add_leaf(Text("loading projects…", note), NodeData("note"))
        for project_id, state in self._shown_projects().items():
            project_match = not self._filter or self._matches(state.project.name) or \
                self._matches(project_id)
            jobs = [
                job for job in self._jobs_of(project_id, state)
                if project_match or self._matches(job.name) or self._matches(job.id)
            ]
            if self._filter and not project_match and not jobs:
                continue
            data = NodeData("project", project_id)
            node = tree.root.add(Text(printable(state.project.name)), data, expand=False)
            nodes[("project", project_id, None)] = node
            for job in jobs:
                job_label = Text.assemble(
                    printable(job.name), " ",
                    (printable(job.job_type), self._style("job-picker--type")),
                )
                if self._current == (project_id, job.id):
                    job_label.stylize("bold", 0, len(printable(job.name)))
                leaf = node.add_leaf(job_label, NodeData("job", project_id, job))
                nodes[("job", project_id, job.id)] = leaf
            if state.error:
                node.add_leaf(Text(printable(state.error), error_style),
                              NodeData("note", project_id))
            elif state.loading:
                node.add_leaf(Text("loading jobs…", note), NodeData("note", project_id))
            elif state.loaded and not state.jobs:
                node.add_leaf(Text("no jobs", note), NodeData("note", project_id))
            elif state.has_more and state.cursor:
                node.add_leaf(Text("load more jobs…", note), NodeData("more", project_id))
            if project_id in self._expanded or (self._filter and jobs):
                node.expand()
        if self._projects_more and self._projects_cursor and not self._filter:
            tree.root.add_leaf(Text("load more projects…", note), NodeData("more"))
        target = nodes.get(keep) if keep is not None else None
        if target is not None:
            self.call_after_refresh(self._move_cursor, target)
        self._apply_width()

    # ----- width ----------------------------------------------------------------------------

    def content_width(self) -> int:
        """The cells the picker needs to show every label whole: the projects' and the jobs
        of the projects open, as the tree shows them without a filter (so typing a filter
        does not make it jump)."""
        widths = [ICON_CELLS + cell_len(printable(state.project.name))
                  for state in self._projects.values()]
        jobs = [
            GUIDE_DEPTH + cell_len(printable(job.name)) + 1 + cell_len(printable(job.job_type))
            for project_id, state in self._projects.items() if project_id in self._expanded
            for job in state.jobs
        ]
        tree = self.job_tree if self.is_mounted else None
        overflows = tree is not None and len(widths) + len(jobs) > tree.size.height > 0
        scrollbar = tree.styles.scrollbar_size_vertical if tree and overflows else 0
        return max(widths + jobs, default=0) + PICKER_FRAME + scrollbar

    def fit_width(self, least: int, most: int) -> None:
        """Be as wide as the labels need (`content_width`), but `least` cells at least and
        `most` at most (a screen shares its width); kept as the labels change."""
        self._width_range = (least, max(least, most))
        self._apply_width()

    def _apply_width(self) -> None:
        if self._width_range is None:
            return
        least, most = self._width_range
        width = min(max(self.content_width(), least), most)
        current = self.styles.width
        if current is None or not current.is_cells or current.value != width:
            self.styles.width = width

    def _move_cursor(self, node: TreeNode[NodeData]) -> None:
        if node.tree is self.job_tree and node.line >= 0:
            self.job_tree.move_cursor(node, animate=False)

    # ----- events ---------------------------------------------------------------------------

    @on(Input.Changed, "#job-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._filter = event.value.strip().lower()
        self._rebuild()

    @on(Input.Submitted, "#job-filter")
    def _filter_submitted(self) -> None:
        """Enter in the filter: the one job that matches opens; else to the tree."""
        matches = self.matching_jobs()
        if self._filter and len(matches) == 1:
            self.post_message(self.JobChosen(matches[0]))
        self.job_tree.focus()

    def matching_jobs(self) -> list[Job]:
        """The jobs the tree shows under the filter in force."""
        return [node.data.job for node in self._job_nodes() if node.data is not None
                and node.data.job is not None]

    def _job_nodes(self) -> list[TreeNode[NodeData]]:
        return [leaf for node in self.job_tree.root.children for leaf in node.children
                if leaf.data is not None and leaf.data.kind == "job"]

    def clear_filter(self) -> None:
        """Esc in the filter: the text goes, the whole tree is back, the tree has the keys."""
        box = self.query_one("#job-filter", Input)
        if box.value:
            box.value = ""  # (Input.Changed rebuilds the tree)
        self._filter = ""
        self._rebuild()
        self.job_tree.focus()

    @on(Tree.NodeExpanded)
    def _expanded_node(self, event: Tree.NodeExpanded[NodeData]) -> None:
        data = event.node.data
        if data is None or data.kind != "project" or data.project_id is None:
            return
        # The tree is rebuilt on every change, and each rebuild expands the open projects
        # again: only a user's expansion may retry a project whose jobs failed to load, or a
        # failing project would be asked again after every failure, forever.
        rebuilt = data.project_id in self._expanded
        self._expanded.add(data.project_id)
        self._apply_width()  # its jobs are shown now
        state = self._projects[data.project_id]
        if state.error is not None and rebuilt:
            return
        if not state.loaded and not state.loading:
            state.loading = True
            self.post_message(self.ProjectOpened(data.project_id))
            self._rebuild()

    @on(Tree.NodeCollapsed)
    def _collapsed_node(self, event: Tree.NodeCollapsed[NodeData]) -> None:
        data = event.node.data
        if data is not None and data.project_id is not None:
            self._expanded.discard(data.project_id)
            self._apply_width()

    @on(Tree.NodeSelected)
    def _selected(self, event: Tree.NodeSelected[NodeData]) -> None:
        data = event.node.data
        if data is None:
            return
        if data.kind == "job" and data.job is not None:
            self.post_message(self.JobChosen(data.job))
        elif data.kind == "more":
            self._want_more(data.project_id)

    @on(Tree.NodeHighlighted)
    def _highlighted(self, event: Tree.NodeHighlighted[NodeData]) -> None:
        data = event.node.data
        # Reaching the "load more" row by scrolling loads the next page, as in the run list.
        if data is not None and data.kind == "more":
            self._want_more(data.project_id)

    def _want_more(self, project_id: str | None) -> None:
        if project_id is None:
            if self._projects_cursor and self._projects_more:
                cursor, self._projects_more = self._projects_cursor, False
                self.post_message(self.MoreWanted(None, cursor))
            return
        state = self._projects.get(project_id)
        if state is not None and state.cursor and state.has_more and not state.loading:
            state.loading = True
            self.post_message(self.MoreWanted(project_id, state.cursor))
            self._rebuild()
