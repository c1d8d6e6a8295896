"""Declared warnings and response levels drive the modes (issue 14); rules only advise."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from twin.emergency.component import emergency_of
from twin.emergency.declared import ResponseBoard
from twin.model import DistrictModel
from twin.run import build_model
from twin.scenario import scenario_from_dict
from twin.scenario.emergency import Response

from .conftest import flood, raw

H = 60.0


def test_board_takes_the_most_severe_level_and_names_it() -> None:
    b = ResponseBoard(Response(warning_levels={"orange": "II", "red": "I"}))
    assert b.target() == ("normal", "no warning or response level in force")
    b.issue(0.0, "w1", "rainstorm", "yellow")
    assert b.target()[0] == "normal"  # yellow brings no level under this plan
    b.issue(1.0, "w2", "rainstorm", "orange")
    mode, cause = b.target()
    assert mode == "emergency" and "橙色 rainstorm warning w2" in cause and "Ⅱ级响应" in cause
    b.declare(2.0, "d1", "I")
    assert b.target() == ("extreme", "declared Ⅰ级响应 → 全员下沉")
    b.end(3.0, "d1")
    b.lift(4.0, "w2")
    assert b.target()[0] == "normal" and b.state()["warnings"][0]["id"] == "w1"
    assert [e["event"] for e in b.log] == [
        "warning_issued",
        "warning_issued",
        "level_declared",
        "level_lifted",
        "warning_lifted",
    ]
    with pytest.raises(KeyError, match="'w9'"):
        b.lift(5.0, "w9")
    with pytest.raises(ValueError, match="colour"):
        b.issue(5.0, "w3", "rainstorm", "purple")


def _flood(days: float = 6.0, **emergency: object) -> DistrictModel:
    m = build_model(flood(days, **emergency))
    m.start()
    m.env.run(until=days * 24 * H)
    return m


def test_flood_switches_on_the_declared_warning_and_back_when_the_level_is_lifted() -> None:
    m = _flood()
    ctl = emergency_of(m).controller
    got = [(c.at / H, c.from_mode, c.to_mode, c.source) for c in ctl.history]
    assert got == [(73.0, "normal", "emergency", "declared"), (122.0, "emergency", "normal", "declared")]
    assert "rain-orange" in ctl.history[0].cause and "Ⅱ级响应" in ctl.history[0].cause
    assert "Ⅱ级响应 response-0 lifted" in ctl.history[1].cause
    # the observed-state rule did not switch: everything it said was advice
    assert all(a.cause.startswith("emergency_reports_per_hour") for a in ctl.advisories)


def test_a_red_warning_without_skipping_climbs_rung_by_rung_at_the_same_minute() -> None:
    red = [{"id": "rain-red", "colour": "red", "issued_hours": 5, "lifted_hours": 10}]
    m = _flood(
        days=0.5, warnings=red, responses=[], response={**raw("flood")["emergency"]["response"], "allow_skip": False}
    )
    got = [(c.at / H, c.to_mode) for c in emergency_of(m).controller.history]
    assert got == [(5.0, "emergency"), (5.0, "extreme"), (10.0, "emergency"), (10.0, "normal")]
    m = _flood(days=0.5, warnings=red, responses=[])
    assert [(c.at / H, c.to_mode) for c in emergency_of(m).controller.history] == [(5.0, "extreme"), (10.0, "normal")]


def test_issue_and_lift_at_run_time_and_manual_trigger_only_advises() -> None:
    m = _flood(days=0.1, warnings=[], responses=[], response={"trigger": "manual", "warning_levels": {"red": "I"}})
    comp = emergency_of(m)
    st = comp.issue_warning("drill-red", "red", "flood")
    assert st["calls_for"] == "extreme" and comp.controller.mode == "normal"
    adv = comp.controller.advisories[-1]
    assert adv.to_mode == "extreme" and "红色 flood warning drill-red" in adv.cause
    comp.lift_warning("drill-red")
    assert comp.board.state()["warnings"] == []
    with pytest.raises(KeyError):
        comp.lift_warning("drill-red")


def test_specialist_cases_go_to_their_service_not_to_mobilised_cadres() -> None:
    """Trapped people → fire and rescue, medical emergencies → 120, public order → 110 (issue 14),
    each with its own crews and response times; neither mobilised teams nor desks take them."""
    from twin.emergency.summary import specialist_responses

    m = _flood()
    comp = emergency_of(m)
    n = len(comp.e_specialist)
    cats = comp.arrivals.category[:n]
    owner = {"trapped_people": "fire_rescue", "medical_emergency": "medical", "public_order": "police"}
    taken = np.zeros(n, dtype=bool)
    summary = specialist_responses(comp)
    for cat, service in owner.items():
        k = comp.cat_names.index(cat)
        rows = cats == k
        assert rows.sum() > 0, cat
        assert (comp.e_specialist[rows] == service).all() and not comp.e_by_desk[rows].any()
        for t in comp.teams:
            assert k not in t.kinds  # neither the mobilised teams nor the desks take them
        sr = summary[service]
        assert sr["count"] == int(rows.sum()) and sr["minutes_to_scene_p50"] > 0
        # in the flooded area during 应下尽下 the redeployed grid staff report and guide the crews in
        assert 0 < sr["guided_by_grid_staff"] <= sr["count"]
        taken |= rows
    assert (comp.e_specialist[~taken] == "").all()  # nothing else goes to them
    assert summary["fire_rescue"]["crews"] == 4
    # police are a service of their own, not 下沉 members on the roster
    assert not any(u.name.startswith("public_security") for u in comp.units)


def test_a_category_has_one_specialist() -> None:
    from twin.scenario import ScenarioError

    d = copy.deepcopy(raw("flood"))
    d["emergency"]["specialists"]["police"] = {"handles": ["trapped_people"]}
    with pytest.raises(
        ScenarioError, match="specialists.police.handles: 'trapped_people' is already handled by 'fire_rescue'"
    ):
        scenario_from_dict(d, label="flood")


def test_the_report_lists_warnings_levels_advisories_and_specialists() -> None:
    from reports.modes_report import declared_tables
    from twin.emergency.summary import specialist_responses

    comp = emergency_of(_flood())
    mb = {
        "trigger": "declared",
        "response_mapping": {"source": "[A]"},
        "declarations": comp.board.log,
        "advisories": [a.to_dict() for a in comp.controller.advisories],
        "specialist_responses": specialist_responses(comp),
    }
    titles = [t.title for t in declared_tables(mb)]
    assert titles[0].startswith("Warnings and response levels") and "Specialist responders" in titles[-1]
    rows = declared_tables(mb)[0].rows
    assert tuple(rows[[r[2] for r in rows].index("response-0")][1:4]) == ("response level declared", "response-0", "II")
    assert declared_tables({}) == []
