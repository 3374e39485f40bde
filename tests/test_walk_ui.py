"""G in the app: the run list walks to the oldest run with its progress on screen, and Esc
stops it. The whole app under Pilot against the simulator (settle-ledger: 3,000 runs, cron
every minute); the quota is generous, so the walk goes as fast as loopback answers (its
pacing within the budget is tested on a fake clock in tests/test_walk.py)."""

from __future__ import annotations

from tui.simulator import Simulator

from .test_ui import JOB, PROJECT, Board, board, list_lines, server_ids


def walking(b: Board) -> bool:
    feed = b.main.feed
    return feed is not None and feed.walk.active


async def test_g_goes_to_the_oldest_run(sim: Simulator) -> None:
    total = sim.world.run_count(PROJECT, JOB)
    assert total >= 2500
    async with board(sim, size=(80, 24), refresh=60, idle_interval=60) as b:
        await b.idle()
        run_list = b.run_list
        assert run_list.loaded_count == 50
        await b.press("G")
        await b.wait(lambda: not run_list.has_more and not walking(b), "the oldest run", 60)
        await b.idle()
        oldest = server_ids(sim, total)[-1]
        assert run_list.highlighted_run is not None and run_list.highlighted_run.id == oldest
        assert b.ids == server_ids(sim, run_list.loaded_count)
        # Each page once, one after another.
        cursors = b.cursors()
        assert len(cursors) == len(set(cursors)) == -(-(total - 50) // 50)
        assert list_lines(run_list)[-1].strip() == f"end of runs — {total:,} loaded"
        assert f"{total:,} runs · all" in b.status and "Esc" not in b.status
        # The oldest row is the last line of runs on screen, its footer under it.
        assert run_list.visible_text()[-1].endswith("1 of 1")


async def test_the_walk_shows_its_progress_and_esc_stops_it(sim: Simulator) -> None:
    async with board(sim, size=(80, 24), refresh=60, idle_interval=60) as b:
        await b.idle()
        run_list = b.run_list
        sim.faults.latency = 0.15  # pages that take their time: the walk can be watched
        await b.press("end")  # (End is G)
        await b.wait(lambda: run_list.loaded_count >= 300, "a few pages")
        footer = list_lines(run_list)[-1].strip()
        assert footer.startswith("loading older runs: ") and footer.endswith("Esc to stop")
        assert " loaded, the oldest from " in footer
        assert "loading older runs (Esc stops)" in b.status
        # The cursor follows the last row as pages come.
        await b.wait(lambda: run_list.highlighted_run == run_list.runs[-1]
                     and run_list.loaded_count >= 400, "the cursor on the last row")
        await b.press("escape")
        assert not walking(b)
        await b.wait(lambda: not run_list.loading_more, "the page on its way")
        stopped_at = len(b.cursors())
        loaded = run_list.loaded_count
        await b.pilot.pause(1.0)  # (nothing is to happen: no older page is asked for)
        assert len(b.cursors()) == stopped_at and run_list.loaded_count == loaded
        assert run_list.has_more and "Esc" not in b.status
        assert b.app.screen is b.main  # Esc stopped the walk, nothing else
        assert "loading older runs" not in "\n".join(list_lines(run_list))
        # A key that moves the cursor away stops the following, not the walk.
        sim.faults.latency = 0.0
        await b.press("G", "home")
        await b.wait(lambda: not run_list.has_more, "the oldest run", 60)
        assert run_list.highlighted_run == run_list.runs[0]
