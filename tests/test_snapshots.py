"""SVG snapshots of the screens (the run list at 80x24 and 120x40, the board at 80x24 and
200x60), frozen clock and seed.

Regenerate after a deliberate change with `pytest tests/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

from typing import Any

import pytest

from tui.screenshots import SCENES, Scene, freeze_local_time, scene_app


@pytest.fixture
def frozen_local_time() -> None:
    freeze_local_time()


CASES = [(scene, size) for scene in SCENES for size in scene.sizes]


@pytest.mark.parametrize(("scene", "size"), CASES,
                         ids=[f"{scene.name}-{size[0]}x{size[1]}" for scene, size in CASES])
def test_screen_snapshot(
    snap_compare: Any, frozen_local_time: None, scene: Scene, size: tuple[int, int]
) -> None:
    with scene.simulator() as simulator:
        app = scene_app(simulator, scene.project, scene.job, scene.board)
        assert snap_compare(app, terminal_size=size, run_before=scene.run_before)
