"""How the main screen shares its width: the picker as wide as its labels (at least its old
width, at most 40 % of the screen), labels cut with "…" and never scrolled sideways, and the
open job's ids in the title of the runs, as the command line takes them."""

from __future__ import annotations

from textual.widget import Widget

from tui.screens.main import PICKER_SHARE, PICKER_WIDTH, PICKER_WIDTH_NARROW
from tui.simulator import Simulator
from tui.widgets.fit import ELLIPSIS
from tui.widgets.job_picker import JobPicker

from .test_ui import Board, board

LONG_JOB = "A job name long enough to be cut short in any reasonable column of a dashboard"


def tree_lines(picker: JobPicker) -> list[str]:
    tree = picker.job_tree
    return [tree.render_line(y).text.rstrip() for y in range(tree.size.height)]


async def expand(b: Board, project: str) -> None:
    picker = b.main.picker
    node = next(node for node in picker.job_tree.root.children
                if node.data is not None and node.data.project_id == project)
    node.expand()
    await b.wait(lambda: any(job.project_id == project for job in picker.known_jobs()),
                 f"the jobs of {project}")
    await b.pilot.pause()


def runs_title(b: Board) -> str:
    pane = b.main.query_one("#runs-pane", Widget)
    return str(pane.border_title)


async def test_at_200_columns_the_picker_fits_its_labels_up_to_a_share(sim: Simulator) -> None:
    async with board(sim, size=(200, 60), refresh=60, idle_interval=60) as b:
        picker, run_list = b.main.picker, b.run_list
        await b.wait(lambda: picker.find_job("payments", "settle-ledger"), "the jobs")
        await b.pilot.pause()
        # Payments is open: "└ Reconcile legacy gateway manual" and the border.
        assert picker.content_width() == 2 + len("Reconcile legacy gateway manual") + 1
        assert picker.region.width == max(PICKER_WIDTH, picker.content_width()) == 34
        assert any(line.endswith("Reconcile legacy gateway manual") for line in
                   tree_lines(picker))
        assert run_list.region.x == 34

        # A project with a very long job name: the picker grows to its share, no further,
        # and the name is cut with "…" (nothing to scroll sideways).
        await expand(b, "sandbox")
        await b.wait(lambda: picker.region.width == int(200 * PICKER_SHARE), "the wider picker")
        [long_line] = [line for line in tree_lines(picker) if "A job name long" in line]
        assert long_line.endswith(ELLIPSIS) and len(long_line) == 80 - 1
        tree = picker.job_tree
        assert not tree.show_horizontal_scrollbar
        assert tree.virtual_size.width <= tree.scrollable_content_region.width
        assert LONG_JOB in [job.name for job in picker.known_jobs()]  # only shown cut
        assert run_list.size.width == 200 - 80
        # Folded again, it is as narrow as before.
        next(node for node in tree.root.children if node.data is not None
             and node.data.project_id == "sandbox").collapse()
        await b.wait(lambda: picker.region.width == 34, "the narrower picker")


async def test_at_80_columns_the_picker_keeps_its_width_and_cuts_labels(
    sim: Simulator,
) -> None:
    async with board(sim, size=(80, 24), refresh=60, idle_interval=60) as b:
        picker = b.main.picker
        await b.wait(lambda: picker.find_job("payments", "settle-ledger"), "the jobs")
        assert not picker.display  # a narrow screen gives an open job's runs its width
        await b.press("p")
        await b.pilot.pause()
        # The labels need 34 cells; 40 % of 80 is 32, more than the narrow width of 28.
        assert PICKER_WIDTH_NARROW < picker.region.width == int(80 * PICKER_SHARE) == 32
        lines = tree_lines(picker)
        assert "└ Reconcile legacy gateway man" + ELLIPSIS in lines
        assert not picker.job_tree.show_horizontal_scrollbar
        # Back to a wide screen: the width it has there.
        await b.pilot.resize_terminal(200, 60)
        await b.wait(lambda: picker.region.width == 34, "the wide picker")


async def test_the_runs_title_holds_the_ids_the_command_line_takes(sim: Simulator) -> None:
    async with board(sim, size=(80, 24), refresh=60, idle_interval=60) as b:
        assert runs_title(b) == " project payments · job settle-ledger "
        text = "\n".join(strip.text for strip in b.app.screen._compositor.render_strips())
        assert "project payments · job settle-ledger" in text
        b.main.open_job("data-platform", "ingest-events")
        await b.wait(lambda: "ingest-events" in runs_title(b), "the other job's ids")
        assert runs_title(b) == " project data-platform · job ingest-events "


async def test_at_120_columns_the_runs_keep_their_columns(sim: Simulator) -> None:
    async with board(sim, size=(120, 40), refresh=60, idle_interval=60) as b:
        picker, run_list = b.main.picker, b.run_list
        await expand(b, "sandbox")
        # The labels want 80 cells and 40 % is 48, but the runs' columns come first.
        assert picker.content_width() > 48
        assert picker.region.width == PICKER_WIDTH
        header = run_list.render_line(0).text.split()
        assert header == ["Status", "Run", "Started", "Duration", "Try"]
        row, run = run_list.visible_text()[0], run_list.runs[0]
        assert f"  {ELLIPSIS}{run.run_name[-22:]}  " in row  # most of its generated id


async def test_slash_filters_what_has_the_keys(sim: Simulator) -> None:
    """`/` in the picker filters the jobs; in the runs, the runs."""
    from textual.widgets import Input

    async with board(sim, size=(80, 24)) as b:
        await b.idle()
        await b.pilot.press("p")  # the picker, with the keys
        await b.wait(lambda: b.main.picker.has_focus_within, "the picker")
        await b.pilot.press("slash")
        focused = b.app.focused
        assert isinstance(focused, Input) and focused.id == "job-filter"
        await b.pilot.press("escape", "p")  # back to the runs
        await b.wait(lambda: b.main.run_list.has_focus, "the runs")
        await b.pilot.press("slash")
        focused = b.app.focused
        assert isinstance(focused, Input) and focused.id == "run-filter"
