"""The [emergency] section's schema: unknown keys forbidden, cross-references checked, every
error names the field; a scenario without the section is unchanged."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from twin.scenario import ScenarioError, load_scenario, scenario_from_dict

from .conftest import SCENARIOS, raw


def bad(mutate: Any) -> str:
    d = copy.deepcopy(raw("flood"))
    mutate(d["emergency"])
    with pytest.raises(ScenarioError) as exc:
        scenario_from_dict(d, label="flood.toml")
    return str(exc.value)


@pytest.mark.parametrize("name", ["flood", "epidemic", "extreme"])
def test_scenarios_load(name: str) -> None:
    sc = load_scenario(SCENARIOS / f"{name}.toml")
    assert sc.emergency is not None and sc.emergency.units


def test_street_has_no_section() -> None:
    assert load_scenario(SCENARIOS / "street.toml").emergency is None


def test_unknown_key_is_forbidden() -> None:
    msg = bad(lambda e: e.update(surprise=1))
    assert "flood.toml: emergency.surprise" in msg and "unknown key" in msg


def test_team_shares_must_sum_to_one() -> None:
    assert "team shares summing to 1" in bad(lambda e: e["teams"]["supply"].update(share=0.9))


def test_team_handles_known_categories() -> None:
    assert "emergency.teams.patrol.handles" in bad(lambda e: e["teams"]["patrol"].update(handles=["volcano"]))


def test_community_names_are_checked() -> None:
    assert "emergency.area.communities" in bad(lambda e: e.update(area={"communities": ["S09-C01"]}))


def test_station_references_are_checked() -> None:
    msg = bad(lambda e: e["units"]["urban_management"].update(stations=["departments.nowhere"]))
    assert "emergency.units.urban_management.stations" in msg


def test_a_station_belongs_to_one_unit() -> None:
    msg = bad(lambda e: e["units"]["civil_affairs"].update(stations=["departments.urban_management"]))
    assert "already belongs to unit" in msg


def test_illegal_schedule_is_refused_naming_the_step() -> None:
    msg = bad(lambda e: e.update(schedule=[{"at_hours": 1, "to": "extreme"}], response={"allow_skip": False}))
    assert "emergency" in msg and "'normal' → 'extreme'" in msg


def test_response_level_mapping_must_cover_every_level_and_warnings_need_order() -> None:
    msg = bad(lambda e: e["response"].update(level_modes={"I": "extreme"}))
    assert "emergency.response" in msg and "level_modes" in msg and "'IV'" in msg
    msg = bad(lambda e: e["warnings"][0].update(lifted_hours=1.0))
    assert "emergency.warnings.0" in msg and "lifted_hours > issued_hours" in msg
    msg = bad(lambda e: e["warnings"][0].update(colour="purple"))
    assert "emergency.warnings.0.colour" in msg
    msg = bad(lambda e: e["warnings"][0].update(area={"communities": ["S09-C01"]}))
    assert "emergency.warnings.0.area.communities" in msg


def test_rule_needs_hysteresis() -> None:
    msg = bad(lambda e: e["rules"][0].update(leave_below=5.0))
    assert "emergency.rules.0" in msg and "hysteresis" in msg


def test_emergency_category_may_not_shadow_an_ordinary_one() -> None:
    def m(e: dict[str, Any]) -> None:
        e["categories"]["safety"] = e["categories"].pop("waterlogging")
        e["teams"]["patrol"]["handles"] = ["safety", "trapped_people"]
        e["redeploy"]["handles"] = ["safety", "supply_requests"]

    assert "emergency.categories.safety" in bad(m)


def test_negative_staff_names_field() -> None:
    msg = bad(lambda e: e["units"]["street_office"]["staff"].update(other=-1))
    assert "emergency.units.street_office.staff.other" in msg and "got -1" in msg


def test_switching_override() -> None:
    sc = load_scenario(SCENARIOS / "flood.toml", ["emergency.switching=false"])
    assert sc.emergency is not None and sc.emergency.switching is False
