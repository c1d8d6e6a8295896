"""Redeployment (issue 14): in 应下尽下/全员下沉 grid workers and community staff switch to emergency
duties by rule, their routine waits as a backlog, and demobilisation returns them to it."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from twin.emergency.component import emergency_of
from twin.model import ACTIVITIES, DistrictModel
from twin.run import build_model
from twin.scenario import ScenarioError, scenario_from_dict

from .conftest import raw, scheduled_flood

H = 60.0


def _run(sc: Any, until_h: float, seed: int | None = None) -> DistrictModel:
    m = build_model(sc, seed=seed)
    m.start()
    m.env.run(until=until_h * H)
    return m


def _hazard_teams(m: DistrictModel) -> np.ndarray:
    rd = emergency_of(m).redeployment
    return rd.area[rd.comm_of_team]


def test_grid_workers_and_community_staff_change_jobs_and_come_back() -> None:
    sc = scheduled_flood(days=6.0, steps=[(30.0, "emergency"), (78.0, "normal")])
    m = _run(sc, 60.0)
    comp = emergency_of(m)
    rd = comp.redeployment
    area = rd.area
    assert area.sum() == 4  # the flood's four low-lying communities
    # community offices in the hazard area keep one duty officer on cases; the others keep everyone
    caps = np.array([o.capacity for o in m.offices])
    assert (caps[area] == 1).all() and (caps[~area] == 2).all()
    assert rd.office_people.sum() == 4 and rd.grid_people[~area].sum() == 0 and rd.grid_people[area].sum() > 0
    # the grid-staff teams of the hazard communities are staffed (shift share) and take checks
    grid_teams = [comp.teams[i] for i in comp.grid_staff_team]
    assert all((t.fixed > 0) == bool(area[t.community]) for t in grid_teams)
    assert sum(t.served for t in grid_teams) > 0
    # grid workers in the area: the routine their day gave up waits as a backlog
    assert m.workers.routine_backlog[_hazard_teams(m)].sum() > 0
    assert m.workers.routine_backlog[~_hazard_teams(m)].sum() == 0
    peak = m.workers.routine_backlog.sum()
    m.env.run(until=144 * H)  # back to normal at hour 78
    assert all(o.capacity == 2 for o in m.offices) and all(t.fixed == 0 for t in grid_teams)
    assert rd.on_duties() == 0
    assert m.workers.routine_backlog.sum() >= peak  # the days up to the return added to it
    series = [r["routine_backlog_hours"] for r in comp.series]
    k = int(np.argmax(series))
    assert series[-1] < series[k]  # spare time works it off once they are back


def test_redeployed_days_visit_less_than_the_same_days_without_a_switch() -> None:
    steps = [(30.0, "emergency"), (78.0, "normal")]
    on = _run(scheduled_flood(days=4.0, steps=steps), 96.0)
    off = _run(scheduled_flood(days=4.0, steps=steps, switching=False), 96.0)
    hz = _hazard_teams(on)
    visits = ACTIVITIES.index("visits")
    v_on = on.workers._done[:, visits]
    v_off = off.workers._done[:, visits]
    assert v_on[hz].sum() < 0.8 * v_off[hz].sum()
    assert off.workers.routine_backlog.sum() == 0 and emergency_of(off).redeployment.on_duties() == 0


def test_extreme_redeploys_everywhere_and_the_summary_reports_it() -> None:
    from twin.emergency.summary import modes_block

    sc = scheduled_flood(days=3.0, steps=[(10.0, "extreme"), (40.0, "normal")])
    m = _run(sc, 72.0)
    comp = emergency_of(m)
    mb = modes_block(comp, _no_cases(), m.horizon)
    rd, rb = mb["redeployed"], mb["routine_backlog"]
    n_comm = comp.terr.n_communities
    assert rd["by_role"]["community_staff"] == n_comm  # every office sends one, keeps one
    assert rd["by_role"]["grid_worker"] == comp.redeployment.team_heads.sum()
    assert rd["peak"] == rd["by_role"]["grid_worker"] + n_comm and rd["peak_t_min"] == 600.0
    assert [c["mode"] for c in rd["changes"]] == ["extreme", "normal"]
    assert sum(rd["by_duty"].values()) == pytest.approx(rd["peak"], abs=0.05)
    assert rb["peak_hours"] > 0 and rb["back_to_routine_min"] == 2400.0
    assert 0 < rb["at_return_hours"] <= rb["peak_hours"]  # what they came back to, booked by the return


def _no_cases() -> Any:
    import pandas as pd

    return pd.DataFrame()


def test_redeploy_schema_names_the_field() -> None:
    d = copy.deepcopy(raw("flood"))
    d["emergency"]["redeploy"]["handles"] = ["fire"]
    with pytest.raises(ScenarioError, match="redeploy.handles: expected emergency categories"):
        scenario_from_dict(d, label="flood")
    d = copy.deepcopy(raw("flood"))
    d["emergency"]["redeploy"]["duties"] = {"patrol": 0.5, "supply": 0.2}
    with pytest.raises(ScenarioError, match="duties: expected shares summing to 1"):
        scenario_from_dict(d, label="flood")


def test_property_staff_are_redeployed_where_compounds_have_a_company() -> None:
    d = copy.deepcopy(raw("flood"))
    d["run"]["days"] = 2.0
    d["run"]["warmup_days"] = 0
    d["property_management"] = {"managed_share": 0.6, "staff_per_community": 3}
    d["emergency"].update(rules=[], warnings=[], responses=[], schedule=[{"at_hours": 10.0, "to": "emergency"}])
    m = _run(scenario_from_dict(d, label="flood"), 12.0)
    rd = emergency_of(m).redeployment
    companies = [(c, p) for c, p in enumerate(m.properties) if p is not None]
    assert companies
    for c, p in companies:  # half of three (rounded: two) go in the hazard area, one stays; elsewhere all stay
        assert p.capacity == (1 if rd.area[c] else 3) and rd.property_people[c] == (2 if rd.area[c] else 0)
    from twin.emergency.summary import modes_block

    by_role = modes_block(emergency_of(m), _no_cases(), m.horizon)["redeployed"]["by_role"]
    assert by_role["property_staff"] == int(rd.property_people.sum()) > 0 and by_role["community_staff"] == 4
