"""Building heads (楼栋长) and part-time grid workers as finders."""

from __future__ import annotations

import numpy as np

from twin.model import DistrictModel
from twin.scenario import load_scenario


def _discovery(*overrides: str) -> tuple[np.ndarray, np.ndarray]:
    sc = load_scenario(None, list(overrides))
    m = DistrictModel(sc, days=3)
    p = m.workers.discovery_prob(0)
    public = np.array([c.public_space for c in sc.categories.values()])
    return p[:, ~public], p[:, public]


def test_building_heads_find_household_needs_and_not_public_ones() -> None:
    none_h, none_p = _discovery("staffing.building_heads_per_grid=0")
    some_h, some_p = _discovery("staffing.building_heads_per_grid=2")
    assert (some_h > none_h).all()
    assert np.array_equal(some_p, none_p)
    # two heads of 65 households in a ~400-household grid, 0.2 a day: about 6.5 % more found daily
    gain = 1.0 - (1.0 - some_h) / (1.0 - none_h)
    assert 0.04 < float(np.median(gain)) < 0.08


def test_part_timers_add_patrol_passes_only_with_a_patrol_share() -> None:
    base_h, base_p = _discovery("staffing.part_time_per_grid=0")
    walk_h, walk_p = _discovery("staffing.part_time_per_grid=1", "staffing.part_time_patrol_share=0.5", "staffing.part_time_visit_share=0")
    still_h, still_p = _discovery("staffing.part_time_per_grid=1", "staffing.part_time_patrol_share=0", "staffing.part_time_visit_share=0")
    assert (walk_p > base_p).all() and np.array_equal(walk_h, base_h)
    assert np.array_equal(still_p, base_p)
