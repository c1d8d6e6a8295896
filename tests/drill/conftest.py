"""Shared pieces for the drill tests: the flood scenario and the short script, loaded once."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest

from twin.drill.script import DrillScript, load_drill
from twin.drill.session import DrillSession
from twin.scenario import Scenario

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FLOOD = ROOT / "scenarios" / "flood.toml"
SHORT = HERE / "short_script.toml"


@pytest.fixture(scope="session")
def flood_short() -> tuple[Scenario, DrillScript]:
    sc, script, _ = load_drill(FLOOD, (), SHORT)
    return sc, script


def fake_wall() -> Callable[[], float]:
    """A wall clock that ticks one second per reading (deterministic wall times in the log)."""
    counter = itertools.count()
    return lambda: 1_700_000_000.0 + next(counter)


@pytest.fixture
def live(flood_short: tuple[Scenario, DrillScript]) -> DrillSession:
    """A fresh drill fast-forwarded to the script's start (hour 73, an hour before the storm)."""
    sc, script = flood_short
    s = DrillSession(sc, script, wall_clock=fake_wall(), team="red")
    s.advance(script.start_hours * 60.0)
    return s
