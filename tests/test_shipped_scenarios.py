"""Every scenario, policy and drill script shipped with the package loads and validates."""

from __future__ import annotations

from pathlib import Path

import pytest

from twin.drill.script import load_drill
from twin.scenario import load_scenario
from twin.scenario.city import is_city_file, load_city

ROOT = Path(__file__).resolve().parents[1] / "scenarios"


@pytest.mark.parametrize("path", sorted(ROOT.glob("*.toml")), ids=lambda p: p.stem)
def test_scenario_loads(path: Path) -> None:
    if is_city_file(path):  # a city: its districts are scenarios derived from a template
        assert all(sc.run.days > 0 for sc in load_city(path).districts)
        return
    sc = load_scenario(path)
    assert sc.run.days > 0


@pytest.mark.parametrize("path", sorted((ROOT / "drills").glob("*.toml")), ids=lambda p: p.stem)
def test_drill_script_loads_against_flood(path: Path) -> None:
    _, script, _ = load_drill(ROOT / "flood.toml", (), path)
    assert script.injects, "a shipped drill has injects"
