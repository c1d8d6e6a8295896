"""The escalation ladder: by decision, automatically when a level's allowance lapses, return for
rework, and dispatch to boards/departments (several departments only at the district centre)."""

from __future__ import annotations

import pytest

from twin.engine import CaseEngine, CaseQuery, IllegalTransition, Level, SlaPolicy, State, TierRule
from twin.engine.engine import SYSTEM_ACTOR

from .helpers import Rig, ids, snapshot


def auto_escalating(rig: Rig) -> Rig:
    """The rig with automatic escalation switched on (it is off by default: 督办 presses the
    unit, it does not move the case)."""
    rig.engine = CaseEngine(rig.store, rig.clock, id_factory=ids(), auto_escalate=True)
    return rig


def test_escalation_by_decision_climbs_one_rung_at_a_time(rig: Rig) -> None:
    c = rig.walk(rig.report(), "accept", "dispatch")
    for expected in (Level.COMMUNITY, Level.STREET, Level.DISTRICT):
        t = rig.clock.advance(5)
        c = rig.engine.escalate(c.id, c.version, "grid-worker", "beyond our means")
        assert (c.level, c.state, c.assignees, c.level_since) == (expected, State.ACCEPTED, (), t)
    assert c.escalations == 3
    before = snapshot(rig, c.id)
    with pytest.raises(IllegalTransition, match="top of the ladder") as err:
        rig.engine.escalate(c.id, c.version, "district")
    assert (err.value.action, err.value.state) == ("escalate", "accepted")
    assert snapshot(rig, c.id) == before
    rig.check_audit()


def test_return_for_rework_moves_down_and_stops_at_grid(rig: Rig) -> None:
    c = rig.walk(rig.report(level=Level.STREET), "accept", "dispatch")
    t = rig.clock.advance(3)
    c = rig.engine.return_for_rework(c.id, c.version, "street-centre", "the grid can do this")
    assert (c.level, c.state, c.assignees, c.level_since) == (Level.COMMUNITY, State.ACCEPTED, (), t)
    c = rig.engine.return_for_rework(c.id, c.version, "community")
    assert c.level is Level.GRID and c.escalations == 0
    before = snapshot(rig, c.id)
    with pytest.raises(IllegalTransition, match="bottom of the ladder"):
        rig.engine.return_for_rework(c.id, c.version, "grid")
    assert snapshot(rig, c.id) == before
    rig.check_audit()


def test_return_is_not_allowed_from_a_fresh_report(rig: Rig) -> None:
    c = rig.report(level=Level.STREET)
    with pytest.raises(IllegalTransition):
        rig.engine.return_for_rework(c.id, c.version, "street-centre")


def test_allowance_lapse_escalates_automatically_up_to_the_district(rig: Rig) -> None:
    auto_escalating(rig)
    # T1 (小事): 60 min at grid, 60 at community, 120 at street, none at district
    c = rig.report(tier="T1")
    t0 = rig.clock.now
    assert rig.engine.next_deadline() == t0 + 60
    rig.clock.advance(59.5)
    assert rig.engine.tick() == [], "within the allowance nothing lapses"
    rig.clock.advance(0.5)  # the allowance is used up at level_since + allowance (next_deadline)
    (up,) = rig.engine.tick()
    assert (up.id, up.level, up.state, up.level_since) == (c.id, Level.COMMUNITY, State.ACCEPTED, t0 + 60)
    last = rig.engine.history(c.id)[-1]
    assert (last.action.value, last.actor, last.data["reason"]) == ("escalate", SYSTEM_ACTOR, "time allowance lapsed")
    rig.clock.advance(60)
    assert [x.level for x in rig.engine.tick()] == [Level.STREET]
    rig.clock.advance(119)
    assert rig.engine.tick() == []
    rig.clock.advance(2)
    assert [x.level for x in rig.engine.tick()] == [Level.DISTRICT]
    rig.clock.advance(100_000)
    assert rig.engine.tick() == [], "the district centre is the top"
    assert rig.engine.get(c.id).escalations == 3
    rig.check_audit()


def test_resolved_cases_do_not_escalate_and_a_decision_resets_the_timer(rig: Rig) -> None:
    auto_escalating(rig)
    done = rig.walk(rig.report(tier="T1"), "accept", "dispatch", "resolve")
    c = rig.report(tier="T1")
    rig.clock.advance(30)
    c = rig.engine.escalate(c.id, c.version, "grid-worker")  # community since +30
    rig.clock.advance(31)  # +61: the grid timer is stale, the community one is due at +90
    assert rig.engine.tick() == []
    rig.clock.advance(30)
    assert [(x.id, x.level) for x in rig.engine.tick()] == [(c.id, Level.STREET)]
    assert rig.engine.get(done.id).level is Level.GRID


def test_allowances_are_configured_per_tier(rig: Rig) -> None:
    sla = SlaPolicy(
        {"X": TierRule("X", 500.0, (5.0, None, None, None)), "Y": TierRule("Y", 500.0, (50.0, 5.0, None, None))}
    )
    engine = CaseEngine(rig.store, rig.clock, sla=sla, id_factory=lambda: f"tier-{rig.clock.now}", auto_escalate=True)
    x = engine.report(category="c", tier="X", place=rig.report().place, source="patrol")
    rig.clock.advance(1)
    y = engine.report(category="c", tier="Y", place=x.place, source="patrol")
    rig.clock.advance(5)
    assert [c.id for c in engine.tick()] == [x.id]
    rig.clock.advance(1000)
    assert [c.id for c in engine.tick()] == [y.id]
    rig.clock.advance(1000)
    assert [c.id for c in engine.tick()] == [y.id], "Y: 5 min at community, then the street"
    assert engine.get(x.id).level is Level.COMMUNITY, "X: no allowance at community, it stays"
    assert engine.get(y.id).level is Level.STREET


def test_rework_after_failed_verification_gets_a_fresh_allowance(rig: Rig) -> None:
    auto_escalating(rig)
    c = rig.walk(rig.report(tier="T1"), "accept", "dispatch", "resolve")
    rig.clock.advance(200)
    assert rig.engine.tick() == []  # resolved: the old timer is dropped
    c = rig.walk(c, "fail")
    rig.clock.advance(59)
    assert rig.engine.tick() == []
    rig.clock.advance(2)
    assert [x.level for x in rig.engine.tick()] == [Level.COMMUNITY]


def test_auto_escalation_can_be_switched_off(rig: Rig) -> None:
    engine = CaseEngine(rig.store, rig.clock, id_factory=ids("off"))  # off by default
    engine.report(category="c", tier="T1", place=rig.report().place, source="app")
    rig.clock.advance(10_000)
    assert engine.tick() == [] and engine.next_deadline() is None


def test_a_restarted_engine_rearms_the_timers_from_storage(rig: Rig) -> None:
    c = rig.report(tier="T1")
    engine = CaseEngine(rig.reopen(), rig.clock, id_factory=ids("restart"), auto_escalate=True)
    assert engine.next_deadline() == c.reported_at + 60
    rig.clock.advance(61)
    assert [x.id for x in engine.tick()] == [c.id]
    assert rig.store.get(c.id) is not None and rig.store.get(c.id).level is Level.COMMUNITY  # type: ignore[union-attr]


def test_several_departments_only_at_the_district_centre(rig: Rig) -> None:
    depts = ["housing-bureau", "water-company", "urban-management"]
    for level in (Level.GRID, Level.COMMUNITY, Level.STREET):
        c = rig.walk(rig.report(level=level), "accept")
        before = snapshot(rig, c.id)
        with pytest.raises(IllegalTransition, match="several departments") as err:
            rig.engine.dispatch(c.id, c.version, "centre", depts)
        assert (err.value.action, err.value.state) == ("dispatch", "accepted")
        assert snapshot(rig, c.id) == before
    street = rig.walk(rig.report(level=Level.STREET), "accept")
    street = rig.engine.dispatch(street.id, street.version, "street-centre", ["board:民生服务"])  # 派单 to a board
    assert street.assignees == ("board:民生服务",)
    c = rig.walk(rig.report(), "accept")
    for _ in range(3):
        c = rig.engine.escalate(c.id, c.version, "whistle")  # 吹哨: up to the district
    c = rig.engine.dispatch(c.id, c.version, "district-centre", depts)
    assert c.state is State.DISPATCHED and c.assignees == tuple(depts)
    assert [x.id for x in rig.engine.query(CaseQuery(assignee="water-company"))] == [c.id]
    rig.check_audit()
