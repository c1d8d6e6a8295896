"""The model side of a drill, without a browser: actions → effects, the log, replay and baseline."""

from __future__ import annotations

import numpy as np
import pytest

from agents.mobilised import EN_ROUTE, ON_SITE
from tests.drill.conftest import fake_wall
from twin.drill.effects import DrillActionError
from twin.drill.script import DrillScript, Inject
from twin.drill.session import DrillSession, outcome_of, replay
from twin.engine import State
from twin.scenario import Scenario

T0 = 73 * 60.0  # the short script's live start


def test_declarations_only_advise_unless_the_script_keeps_automatic_switching(
    flood_short: tuple[Scenario, DrillScript],
) -> None:
    sc, script = flood_short
    assert (
        sc.emergency is not None and sc.emergency.response.trigger == "declared"
    )  # the flood switches on the warning …
    s = DrillSession(sc, script)
    assert (
        s.scenario.emergency is not None and s.scenario.emergency.response.trigger == "manual"
    )  # … the trainee decides
    s.advance(4 * 1440.0 - 1)
    ctl = s.comp.controller
    assert ctl.history == []  # nobody switched although the storm raged …
    first = ctl.advisories[0]  # … but the orange warning was put to the trainee as a decision point
    assert (first.at, first.to_mode) == (73 * 60.0, "emergency") and "橙色 rainstorm warning" in first.cause
    kept = DrillSession(sc, script.model_copy(update={"automatic_switching": True}))
    kept.advance(4 * 1440.0 - 1)
    hist = kept.comp.controller.history
    # the scenario's orange warning, then the script's red one (全员下沉 under the flood plan)
    assert [(c.source, c.at, c.to_mode) for c in hist] == [("declared", 73 * 60.0, "emergency"), ("declared", 73.3 * 60.0, "extreme")]
    assert "rain-orange" in hist[0].cause and "drill-red" in hist[1].cause


def test_switch_mobilises_and_is_logged(live: DrillSession) -> None:
    s = live
    comp = s.comp
    n = comp.mobilisable("emergency")
    assert n > 0 and s.kpis()["on_site"] == 0 and s.kpis()["en_route"] == 0
    a = s.act("mode", {"to": "emergency", "cause": "reports rising"})
    assert a.ok and a.kind == "mode" and a.source == "trainer" and a.sim_min == T0
    assert a.result == {"from": "normal", "to": "emergency", "mobilisable": n}
    assert a.wall.endswith("+00:00") and a.wall_s > 0 and a.stream == "drill.trainer.0"
    assert comp.controller.mode == "emergency" and comp.controller.history[-1].source == "manual"
    assert comp.controller.history[-1].cause == "reports rising" and s.model.engine.mode == "emergency"
    k = s.kpis()
    assert k["en_route"] == n and k["on_site"] == 0  # everyone called is on the way at once
    s.advance(T0 + 6 * 60.0)
    k = s.kpis()
    assert k["on_site"] + k["en_route"] == n and k["on_site"] > 0.9 * n  # lognormal mean 90 min: most there in 6 h
    assert k["checks_done"] > 0  # the vulnerable-resident duty started with the switch


def test_illegal_switch_is_refused_and_logged(live: DrillSession) -> None:
    a = live.act("mode", {"to": "normal"})
    assert not a.ok and "illegal mode change 'normal' → 'normal'" in a.error and "['emergency', 'extreme']" in a.error
    assert live.comp.controller.mode == "normal" and live.kpis()["en_route"] == 0
    b = live.act("mode", {"to": "storm"})
    assert not b.ok and "unknown mode 'storm'" in b.error
    assert [x.ok for x in live.log] == [False, False]


def test_incident_inject_reaches_the_engine_and_is_handled(live: DrillSession) -> None:
    s = live
    before = s.kpis()["emergency_backlog"]
    a = s.act("incident", {"place": "S01-C06", "category": "trapped_people", "count": 3})
    assert a.ok and len(a.result["cases"]) == 3
    assert all(g.startswith("S01-C06-G") for g in a.result["grids"])
    assert s.kpis()["emergency_backlog"] == before + 3
    eng = s.model.engine
    for cid in a.result["cases"]:
        c = eng.get(cid)
        assert c.tier == "E" and c.category == "trapped_people" and c.place.community == "S01-C06"
    grid_open, _ = s.grid_state()
    idx = [s.comp.terr.grid_names.index(g) for g in a.result["grids"]]
    assert all(grid_open[i] >= 1 for i in idx)
    s.advance(T0 + 12 * 60.0)  # the duty desk answers in normal mode
    assert all(eng.get(cid).state in (State.CLOSED, State.EVALUATED) for cid in a.result["cases"])


def test_surge_arrives_as_planned(live: DrillSession) -> None:
    s = live
    comp = s.comp
    c07 = comp.terr.community_names.index("S01-C07")  # outside the storm's area and the script's places
    assert not comp.hazard_comm[c07]

    def reported_in_c07() -> int:
        rep = ~np.isnan(comp.e_reported)
        return int((rep & (comp.terr.grid_community[comp.arrivals.grid] == c07)).sum())

    assert reported_in_c07() == 0
    a = s.act("surge", {"place": "S01-C07", "category": "waterlogging", "per_hour": 10.0, "hours": 2.0})
    assert a.ok and a.result["planned"] > 0 and a.result["until_min"] == T0 + 120.0
    s.advance(T0 + 60.0)
    assert 0 < reported_in_c07() < a.result["planned"]  # arriving over the two hours, not at once
    s.advance(T0 + 180.0)
    assert reported_in_c07() == a.result["planned"]
    rep_t = comp.e_reported[comp.terr.grid_community[comp.arrivals.grid] == c07]
    assert rep_t.min() >= T0 and rep_t.max() <= T0 + 120.0


def test_team_needs_mobilised_members_then_moves_them(live: DrillSession) -> None:
    s = live
    a = s.act("team", {"community": "S01-C02", "size": 10})
    assert not a.ok and "switch to 应下尽下 first" in a.error
    s.act("mode", {"to": "emergency"})
    s.advance(T0 + 5 * 60.0)
    mem, comp = s.comp.members, s.comp
    target = 1  # S01-C02
    team_comm = np.array([t.community for t in comp.teams])
    at_target = int((team_comm[mem.team[mem.team >= 0]] == target).sum())
    b = s.act("team", {"community": "S01-C02", "size": 25})
    assert b.ok and b.result["moved"] == 25 and b.result["to"] == "S01-C02"
    assert "S01-C02" not in b.result["from"] and sum(b.result["from"].values()) == 25
    assert int((team_comm[mem.team[mem.team >= 0]] == target).sum()) == at_target + 25
    assert int((mem.destination == target).sum()) >= at_target + 25
    # team counters stay consistent with the members' states
    for i, t in enumerate(comp.teams):
        if t.fixed is None:
            assert t.assigned == int(((mem.team == i) & np.isin(mem.state, (EN_ROUTE, ON_SITE))).sum())
            assert t.on_site == int(((mem.team == i) & (mem.state == ON_SITE)).sum())
    s.advance(T0 + 10 * 60.0)
    moved_on_site = sum(comp.teams[i].on_site for i in comp.mob_team_at[target])
    assert moved_on_site >= at_target + 25 - mem.en_route()
    c = s.act("team", {"community": "S01", "size": 5})
    assert not c.ok and "expected a community" in c.error
    # the component's public transfer refuses someone who is not mobilised, and changes nothing
    home = int(np.flatnonzero(~np.isin(mem.state, (EN_ROUTE, ON_SITE)))[0])
    before = [(t.assigned, t.on_site) for t in comp.teams]
    moving = int(np.flatnonzero(np.isin(mem.state, (EN_ROUTE, ON_SITE)) & (mem.team >= 0))[0])
    with pytest.raises(ValueError, match="not mobilised"):
        comp.transfer([moving, home], target, [10.0, 10.0])
    assert [(t.assigned, t.on_site) for t in comp.teams] == before


def test_marker_and_bad_places(live: DrillSession) -> None:
    a = live.act("marker", {"place": "S01-C03-G02", "note": "road closed at the underpass"})
    assert a.ok and live.markers == [
        {"place": "S01-C03-G02", "note": "road closed at the underpass", "sim_min": T0, "source": "trainer"}
    ]
    assert live.state()["markers"][0]["note"] == "road closed at the underpass"
    b = live.act("incident", {"place": "S07-C01", "category": "waterlogging"})
    assert not b.ok and "unknown place 'S07-C01'" in b.error
    c = live.act("incident", {"place": "S01-C01", "category": "fire"})
    assert not c.ok and "unknown emergency category 'fire'" in c.error
    d = live.act("marker", {"place": "S01", "note": "  "})
    assert not d.ok and "needs a note" in d.error
    with pytest.raises(DrillActionError, match="unknown action"):
        live.act("evacuate", {})


def test_script_injects_fire_at_their_times(live: DrillSession) -> None:
    s = live
    s.advance(77 * 60.0)
    scripted = [a for a in s.log if a.source == "script"]
    assert [(a.kind, a.sim_min) for a in scripted] == [
        ("warning", 73.3 * 60),
        ("incident", 74.5 * 60),
        ("surge", 75 * 60.0),
        ("marker", 76 * 60.0),
    ]
    assert all(a.ok for a in scripted)
    assert [a.stream for a in scripted] == [f"drill.script.{i}" for i in (3, 0, 1, 2)]  # by position in the script
    assert s.markers[0]["source"] == "script" and "status report" in s.markers[0]["note"]


def _drive(s: DrillSession) -> None:
    """A trainee's session: actions at odd moments between uneven chunks of time."""
    t = s.now
    for step in (13.7, 41.3, 5.9, 77.1):
        t += step
        s.advance(t)
    s.act("mode", {"to": "emergency"})
    s.advance(t + 95.2)
    s.act("incident", {"place": "S01-C02", "category": "trapped_people", "count": 2})
    s.act("surge", {"place": "S01-C04", "category": "supply_requests", "per_hour": 3.0, "hours": 4.0})
    s.advance(t + 240.4)
    s.act("team", {"community": "S01-C03", "size": 30})
    s.act("mode", {"to": "extreme"})
    s.advance(t + 600.0)
    s.act("mode", {"to": "emergency"})
    for k in range(1, 30):
        s.advance(t + 600.0 + 33.3 * k)


def test_replay_of_the_log_gives_the_same_run(flood_short: tuple[Scenario, DrillScript]) -> None:
    sc, script = flood_short
    s = DrillSession(sc, script, wall_clock=fake_wall())
    s.advance(T0)
    _drive(s)
    r = replay(sc, script, None, [a.to_dict() for a in s.log], s.now)
    assert outcome_of(r) == outcome_of(s)
    assert r.series == s.series
    assert [c.to_dict() for c in r.comp.controller.history] == [c.to_dict() for c in s.comp.controller.history]
    np.testing.assert_array_equal(r.comp.members.state, s.comp.members.state)
    np.testing.assert_array_equal(r.comp.e_resolved, s.comp.e_resolved)


def test_baseline_is_the_same_world_without_the_trainee(flood_short: tuple[Scenario, DrillScript]) -> None:
    sc, script = flood_short
    s = DrillSession(sc, script, wall_clock=fake_wall())
    s.advance(T0)
    _drive(s)
    b = replay(sc, script, None, [], s.now)
    fresh = DrillSession(sc, script)
    fresh.advance(s.now)
    assert outcome_of(b) == outcome_of(fresh)  # the baseline is a plain run of scenario + seed + script
    assert b.comp.controller.history == [] and outcome_of(b)["peak_on_site"] == 0
    # common random numbers: the storm's own arrivals and the script's injects are the same in both runs
    n_storm = int((b.comp.arrivals.time <= s.now).sum())
    np.testing.assert_array_equal(s.comp.arrivals.time[:n_storm], b.comp.arrivals.time[:n_storm])
    assert [a.result for a in b.log if a.source == "script"] == [a.result for a in s.log if a.source == "script"]
    o = outcome_of(s)
    assert o["peak_on_site"] > 0 and o["vulnerable_checked"] > 0 == outcome_of(b)["vulnerable_checked"]
    assert o["emergency_reported"] > outcome_of(b)["emergency_reported"]  # the trainee's own injects


def test_a_script_issues_and_lifts_a_warning_and_the_trainee_gets_the_advisory(
    flood_short: tuple[Scenario, DrillScript],
) -> None:
    sc, script = flood_short
    sc = sc.model_copy(update={"emergency": sc.emergency.model_copy(update={"warnings": [], "responses": []})})
    injects = [
        Inject(at_hours=73.5, place="S01-C02", what="warning", id="drill-red", colour="red", type="flood"),
        Inject(at_hours=74.0, place="S01-C02", what="lift_warning", id="drill-red"),
        Inject(at_hours=74.5, place="S01-C02", what="lift_warning", id="no-such"),
    ]
    s = DrillSession(sc, script.model_copy(update={"injects": injects}))
    s.advance(73.75 * 60.0)
    st = s.state()
    assert st["declared"]["warnings"][0]["id"] == "drill-red" and st["declared"]["calls_for"] == "extreme"
    adv = st["advisories"][-1]
    assert adv["to_mode"] == "extreme" and "红色 flood warning drill-red" in adv["cause"] and st["mode"] == "normal"
    s.advance(75 * 60.0)
    acts = [a for a in s.log if a.kind in ("warning", "lift_warning")]
    assert [a.ok for a in acts] == [True, True, False] and "drill-red" not in str(s.state()["declared"]["warnings"])
    assert "no-such" in acts[-1].error
