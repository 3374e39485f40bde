"""SVG snapshots of the main screens at 80x24 and 120x40, frozen clock and seed.

Regenerate after a deliberate change with `pytest tests/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tui.screenshots import SCENES, SIZES, Scene, freeze_local_time, scene_app
from tui.simulator import Simulator, run_simulator


@pytest.fixture
def frozen_sim() -> Iterator[Simulator]:
    freeze_local_time()
    with run_simulator(seed=7, speed=0.0) as simulator:
        yield simulator


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
@pytest.mark.parametrize("scene", SCENES, ids=lambda scene: scene.name)
def test_screen_snapshot(
    snap_compare: Any, frozen_sim: Simulator, scene: Scene, size: tuple[int, int]
) -> None:
    app = scene_app(frozen_sim, scene.project, scene.job)
    assert snap_compare(app, terminal_size=size, run_before=scene.run_before)
