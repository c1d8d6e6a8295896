"""A small district for the coupling tests: 4 streets, 120 grids, 2 weeks after a 2-day
warm-up, and district units cut to the territory's size so that their queues matter (the
pooling that splitting them between partitions used to lose)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from twin.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parents[2]
SMALL = [
    "territory.streets=4",
    "territory.grids=120",
    "run.days=16",
    "run.warmup_days=2",
    "staffing.district_dispatchers=1",
    "staffing.departments.urban_management.staff=3",
    "staffing.departments.housing_construction.staff=1",
    "staffing.departments.public_security.staff=2",
    "staffing.departments.civil_affairs.staff=1",
]


def small(partitions: int, *more: str) -> Scenario:
    """The small district with ``run.partitions = partitions``."""
    return load_scenario(ROOT / "scenarios" / "district.toml", [*SMALL, f"run.partitions={partitions}", *more])


def district_waits(events: pd.DataFrame) -> tuple[float, float]:
    """Mean hours from a board's escalation to the district centre's dispatch (sign-for,
    queue, triage) and from that dispatch to the department's result, over first visits."""
    ev = events.sort_values("seq")
    esc = ev[(ev["action"] == "escalate") & ev["actor"].str.startswith("B-")].groupby("case_id")["t_min"].first()
    dc = ev[(ev["action"] == "dispatch") & ev["actor"].str.startswith("DC-")].groupby("case_id")["t_min"].first()
    done = ev[ev["action"].isin(["resolve", "reply"]) & ev["actor"].str.startswith("D-")].groupby("case_id")["t_min"].first()
    return float((dc - esc).dropna().mean()) / 60.0, float((done - dc).dropna().mean()) / 60.0
