"""A scaled flood for coupled emergencies (issue 18): the flood scenario's storm over two
streets of five communities each, its area the two low-lying communities of each street, so
that two street partitions share the emergency. Specialist responders (a district-wide pool,
replayed whole in every street partition) only with ``specialists=True``."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from twin.scenario import Scenario, scenario_from_dict

ROOT = Path(__file__).resolve().parents[2]


def flood2(partitions: int, days: float = 8.0, trigger: str = "rules", specialists: bool = False, crews: int | None = None) -> Scenario:
    """The two-street flood; ``trigger = "rules"``: the district command switches on the
    streets' reports (emergency reports an hour), so the switch time is itself random;
    ``crews``: every specialist pool's crews (so that calls queue)."""
    d: dict[str, Any] = tomllib.loads((ROOT / "scenarios" / "flood.toml").read_text(encoding="utf-8"))
    d["run"] |= {"partitions": partitions, "days": days, "warmup_days": 0}
    d["territory"] |= {"streets": 2, "communities_per_street": 5}
    em = d["emergency"]
    em["area"] = {"communities": ["S01-C01", "S01-C02", "S02-C01", "S02-C02"]}
    em["response"]["trigger"] = trigger
    if not specialists:
        em.pop("specialists", None)
    elif crews is not None:
        for sp in em["specialists"].values():
            sp["crews"] = crews
    return scenario_from_dict(d, label="flood2")
