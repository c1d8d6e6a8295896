"""A small two-street district for partition tests (fast: a few thousand residents, days)."""

from __future__ import annotations

from pathlib import Path

from twin.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parents[2]
DISTRICT = ROOT / "scenarios" / "district.toml"

SMALL = [
    "territory.streets=2", "territory.communities_per_street=2", "territory.grids=40",
    "run.days=6", "run.warmup_days=1", "run.partitions=2", "outputs.case_events=false",
]


def small_district(*more: str) -> Scenario:
    return load_scenario(DISTRICT, [*SMALL, *more])
