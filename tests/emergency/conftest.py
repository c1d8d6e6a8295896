"""Scenarios for the emergency tests: the flood scenario, optionally with a schedule instead of rules."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest

from twin.scenario import Scenario, scenario_from_dict

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"


def raw(name: str) -> dict[str, Any]:
    return tomllib.loads((SCENARIOS / f"{name}.toml").read_text(encoding="utf-8"))


def flood(days: float, **emergency: Any) -> Scenario:
    """The flood scenario for ``days`` without warm-up, its ``[emergency]`` fields updated."""
    d = copy.deepcopy(raw("flood"))
    d["run"]["days"] = days
    d["run"]["warmup_days"] = 0
    d["emergency"].update(emergency)
    return scenario_from_dict(d, label="flood")


def scheduled_flood(days: float = 3.0, steps: list[tuple[float, str]] | None = None, **emergency: Any) -> Scenario:
    """The flood scenario driven by a schedule (hours → mode) instead of its warnings, declarations and rule."""
    d = copy.deepcopy(raw("flood"))
    d["run"]["days"] = days
    d["run"]["warmup_days"] = 0
    em = d["emergency"]
    em["rules"] = []
    em["warnings"] = []  # the schedule alone drives the mode
    em["responses"] = []
    steps = (
        steps if steps is not None else [(10.0, "emergency"), (20.0, "extreme"), (30.0, "emergency"), (40.0, "normal")]
    )
    em["schedule"] = [{"at_hours": t, "to": m, "cause": f"drill step to {m}"} for t, m in steps]
    em.update(emergency)
    return scenario_from_dict(d, label="flood(scheduled)")


@pytest.fixture(scope="session")
def flood_raw() -> dict[str, Any]:
    return raw("flood")
