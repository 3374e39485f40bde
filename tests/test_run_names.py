"""The Run column shows what tells a job's runs apart: every run's name starts with the job's
id ("settle-ledger-6b10…"), so rows show what follows it, and the detail view the whole name."""

from __future__ import annotations

import pytest

from tui.api.models import RunStatus
from tui.watch.events import JobKey
from tui.watch.store import RunStore
from tui.widgets.fit import ELLIPSIS
from tui.widgets.run_rows import _name_cell, short_name

from .run_list_driver import append_page
from .test_run_list import RunListApp, make_run, started

JOB = JobKey("payments", "settle-ledger")
NAMES = [
    "settle-ledger-6b103978ac6db1abe0d4e285",
    "settle-ledger-6b10393ce95534912391290b",
    "settle-ledger-6b103900dd5483ac30220509",
]


@pytest.mark.parametrize(("name", "prefix", "expected"), [
    ("settle-ledger-6b10abc", "settle-ledger-", "6b10abc"),
    ("settle-ledger-6b10abc", "", None),  # no job known: the name as it is
    ("settle-ledger-", "settle-ledger-", None),  # nothing after it: the whole name
    ("settle-ledgers-1", "settle-ledger-", None),  # another job's prefix
    ("manual-run", "settle-ledger-", None),
    # Only a generated id goes: a name of its own is shown whole.
    ("live-run", "live-", None),
    ("settle-ledger-6b10", "settle-ledger-", None),  # too short to be one
    ("settle-ledger-6b10-x", "settle-ledger-", None),
])
def test_short_name(name: str, prefix: str, expected: str | None) -> None:
    assert short_name(name, prefix) == expected


@pytest.mark.parametrize(("width", "expected"), [
    (40, ELLIPSIS + "6b103978ac6db1abe0d4e285".ljust(39)),
    (25, ELLIPSIS + "6b103978ac6db1abe0d4e285"),
    # Too narrow even so: the end stays, which is what differs from run to run.
    (18, ELLIPSIS + "8ac6db1abe0d4e285"),
    (12, ELLIPSIS + "1abe0d4e285"),
])
def test_a_cell_shows_the_end_of_what_follows_the_prefix(width: int, expected: str) -> None:
    run = make_run(0, name=NAMES[0])
    cell = _name_cell(run, None, width, "settle-ledger-")
    assert cell == expected and len(cell) == width


def test_a_problem_keeps_its_place_beside_the_short_name() -> None:
    run = make_run(0, name=NAMES[0])
    cell = _name_cell(run, "cannot refresh (500)", 50, "settle-ledger-")
    assert cell.startswith(ELLIPSIS + "6b103978") and cell.endswith("⚠ cannot refresh (500)")
    assert len(cell) == 50


def test_a_name_without_the_prefix_is_cut_in_the_middle_as_before() -> None:
    run = make_run(0, name="hand-started-" + "x" * 40 + "-end")
    cell = _name_cell(run, None, 20, "settle-ledger-")
    assert cell.startswith("hand-star") and cell.endswith("x-end") and ELLIPSIS in cell


async def test_rows_show_the_part_that_tells_runs_apart() -> None:
    async with RunListApp().run_test(size=(80, 24)) as pilot:
        _app, runs = await started(pilot)
        runs.show_store(RunStore(), JOB)
        append_page(runs, [
            *(make_run(index, name=name) for index, name in enumerate(NAMES)),
            make_run(3, name="started-by-hand"),
        ], has_more=False)
        await pilot.pause()
        rows = runs.visible_text()
        assert [row.split()[2] for row in rows] == [
            ELLIPSIS + "ac6db1abe0d4e285", ELLIPSIS + "e95534912391290b",
            ELLIPSIS + "dd5483ac30220509", "started-by-hand",
        ]
        assert not any("settle-ledger" in row for row in rows)
        # The runs are what the API said (the filter still matches the whole name).
        assert [run.run_name for run in runs.runs[:3]] == NAMES
        runs.set_filter("settle-ledger-6b10393c", None)
        await pilot.pause()
        assert [run.run_name for run in runs.store.view.items] == [NAMES[1]]


async def test_another_job_shows_its_own_names() -> None:
    async with RunListApp().run_test(size=(120, 24)) as pilot:
        _app, runs = await started(pilot)
        runs.show_store(RunStore(), JOB)
        append_page(runs, [make_run(0, name=NAMES[0])], has_more=False)
        await pilot.pause()
        assert ELLIPSIS + "6b103978ac6db1abe0d4e285" in runs.visible_text()[0]
        runs.show_store(RunStore(), JobKey("payments", "invoice-sync"))
        append_page(runs, [make_run(0, name=NAMES[0], status=RunStatus.FAILED)],
                    has_more=False)
        await pilot.pause()
        assert NAMES[0] in runs.visible_text()[0]  # not this job's prefix: whole
        runs.show_store(RunStore())
        append_page(runs, [make_run(0, name=NAMES[0])], has_more=False)
        await pilot.pause()
        assert NAMES[0] in runs.visible_text()[0]
