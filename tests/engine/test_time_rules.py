"""Matter time rules in the engine: per-unit limits in working time, re-timed when the case moves;
延期 (extend / approve / refuse), 挂账 (suspend / resume), 改派 (reassign), 答复 (reply), 督办
warnings, and the platform on-time rule in the KPIs — on MemoryStore and SQLiteStore, with the
audit log replaying every stored case without a calendar."""

from __future__ import annotations

import datetime as dt
from functools import cache

import pytest

from twin.engine import CaseEngine, IllegalTransition, InvalidInput, Level, SlaPolicy, State
from twin.engine.worktime import ClockKind, WorkTime, china_midnight_epoch_minute

from .helpers import Rig, ids

WINDOWS = ((8.5, 12.0), (13.5, 17.5))
EVE = dt.date(2026, 9, 30)  # the last working day before National Day 2026
BACK = dt.date(2026, 10, 8)  # the first working day after it


def at(day: dt.date, hh: int, mm: int = 0) -> float:
    return float(china_midnight_epoch_minute(day) + hh * 60 + mm)


@cache
def calendar() -> WorkTime:
    return WorkTime(WINDOWS, ClockKind.WORKING, start=dt.date(2026, 1, 1), days=365)


@pytest.fixture
def timed(rig: Rig) -> Rig:
    """The rig with a working calendar, its clock at 16:30 on the eve of National Day."""
    rig.engine = CaseEngine(rig.store, rig.clock, sla=SlaPolicy(calendar=calendar()), id_factory=ids())
    rig.clock.now = at(EVE, 16, 30)
    return rig


def test_a_units_limit_runs_in_working_time_from_dispatch(timed: Rig) -> None:
    c = timed.walk(timed.report(tier="T1"), "accept", "dispatch")
    assert c.unit_since == at(EVE, 16, 30)
    assert c.unit_due_at == at(BACK, 9, 30)  # 2 working hours across the holiday
    assert c.due_at == at(BACK, 9, 30)  # end to end, from the report, also 2 working hours
    last = list(timed.store.events(c.id))[-1]
    assert last.data["unit_due_at"] == c.unit_due_at  # the fold needs no calendar
    timed.check_audit()


def test_escalation_re_times_the_limit_and_a_late_stint_is_counted(timed: Rig) -> None:
    c = timed.walk(timed.report(tier="T1"), "accept", "dispatch")
    timed.clock.now = at(BACK, 10, 30)  # an hour past the grid's limit
    c = timed.engine.escalate(c.id, c.version, "grid-worker", "beyond our means")
    assert (c.stints, c.late_stints) == (1, 1)
    assert c.unit_since == at(BACK, 10, 30) and c.unit_due_at == at(BACK, 14, 0)  # lunch skipped
    c = timed.walk(c, "dispatch", "resolve")
    assert (c.stints, c.late_stints) == (3, 1)
    k = timed.engine.kpis()
    assert k["on_time_rate"] == 0.0 and k["unit_on_time_rate"] == pytest.approx(2 / 3)
    timed.check_audit()


def test_an_approved_extension_moves_both_due_times_and_is_counted(timed: Rig) -> None:
    c = timed.walk(timed.report(tier="T1"), "accept", "dispatch")
    c = timed.engine.extend(c.id, c.version, "grid-worker", 60.0, "waiting for the owner")
    assert c.extension_pending == 60.0 and c.extensions_requested == 1
    with pytest.raises(IllegalTransition, match="already pending"):
        timed.engine.extend(c.id, c.version, "grid-worker", 30.0, "again")
    c = timed.engine.approve_extension(c.id, c.version, "community")
    assert c.unit_due_at == at(BACK, 10, 30) and c.due_at == at(BACK, 10, 30)
    assert (c.extension_pending, c.extensions_approved) == (None, 1)
    c = timed.engine.extend(c.id, c.version, "grid-worker", 600.0, "more")
    c = timed.engine.refuse_extension(c.id, c.version, "community", "do it today")
    assert c.unit_due_at == at(BACK, 10, 30) and (c.extensions_requested, c.extensions_approved) == (2, 1)
    timed.clock.now = at(BACK, 10, 15)
    c = timed.walk(c, "resolve")
    k = timed.engine.kpis()
    assert k["on_time_rate"] == 1.0 and k["on_time_rate_end_to_end"] == 1.0
    assert (k["extensions_requested"], k["extensions_approved"]) == (2, 1)
    timed.check_audit()


def test_extension_requests_are_checked(timed: Rig) -> None:
    c = timed.walk(timed.report(tier="T1"), "accept", "dispatch")
    with pytest.raises(InvalidInput) as err:
        timed.engine.extend(c.id, c.version, "w", 0.0, "why")
    assert err.value.field == "minutes"
    with pytest.raises(InvalidInput) as err:
        timed.engine.extend(c.id, c.version, "w", 30.0, "  ")
    assert err.value.field == "reason"
    with pytest.raises(IllegalTransition, match="no extension request"):
        timed.engine.approve_extension(c.id, c.version, "community")
    d = timed.walk(timed.report(tier="T1", level=Level.DISTRICT), "accept", "dispatch")  # no limit at district
    with pytest.raises(IllegalTransition, match="no unit time limit"):
        timed.engine.extend(d.id, d.version, "w", 30.0, "why")


def test_a_suspension_stops_the_clocks_and_blocks_work_until_resumed(timed: Rig) -> None:
    c = timed.walk(timed.report(tier="T2"), "accept", "dispatch")
    due, unit_due = c.due_at, c.unit_due_at
    c = timed.engine.suspend(c.id, c.version, "community", "waiting for the court date")
    with pytest.raises(IllegalTransition, match="suspended"):
        timed.engine.resolve(c.id, c.version, "w")
    with pytest.raises(InvalidInput):
        timed.engine.suspend(c.id, c.version, "community", "")
    timed.clock.now = at(BACK, 10, 0)  # 60 + 90 working minutes held
    assert timed.engine.warning_at(c) == (None, None)
    c = timed.engine.resume(c.id, c.version, "community")
    assert c.suspended_at is None and c.suspended_minutes == 150.0 and c.suspensions == 1
    cal = calendar()
    assert c.unit_due_at == cal.finish(unit_due, 150.0) and c.due_at == cal.finish(due, 150.0)
    with pytest.raises(IllegalTransition, match="not suspended"):
        timed.engine.resume(c.id, c.version, "community")
    assert timed.engine.kpis()["suspended_cases"] == 1
    timed.check_audit()


def test_reassign_restarts_the_limit_and_counts_as_a_wrong_dispatch(timed: Rig) -> None:
    c = timed.walk(timed.report(tier="T1", level=Level.COMMUNITY), "accept", "dispatch", "start")
    with pytest.raises(InvalidInput) as err:
        timed.engine.reassign(c.id, c.version, "community", ["worker-1"])
    assert err.value.field == "assignees"
    timed.clock.now = at(BACK, 9, 0)
    c = timed.engine.reassign(c.id, c.version, "community", ["dept:water"], "water company's pipe")
    assert (c.state, c.assignees, c.reassignments) == (State.DISPATCHED, ("dept:water",), 1)
    assert c.unit_since == at(BACK, 9, 0) and c.unit_due_at == at(BACK, 11, 0)
    assert (c.stints, c.late_stints) == (1, 0)
    c = timed.engine.return_for_rework(c.id, c.version, "community", "the grid can do this")
    assert c.returns == 1
    k = timed.engine.kpis()
    assert (k["reassigned_cases"], k["returned_cases"]) == (1, 1)
    timed.check_audit()


def test_a_reply_matter_is_done_when_answered(timed: Rig) -> None:
    c = timed.walk(timed.report(tier="T3"), "accept", "dispatch")
    assert c.done_by == "reply"
    timed.clock.now = at(BACK, 9, 0)
    c = timed.engine.reply(c.id, c.version, "community", "the land registry answers within a month")
    assert c.replied_at == at(BACK, 9, 0) and c.unit_due_at is None and (c.stints, c.late_stints) == (1, 0)
    k = timed.engine.kpis()
    assert k["on_time_rate"] == 1.0 and k["cases_resolved"] == 0  # done (answered), not yet resolved
    timed.check_audit()


def test_warnings_yellow_at_the_share_red_when_overdue_each_once(timed: Rig) -> None:
    c = timed.walk(timed.report(tier="T1"), "accept", "dispatch")
    yellow, red = timed.engine.warning_at(c)
    assert yellow == at(BACK, 9, 0) and red == at(BACK, 9, 30)  # 75 % of 2 working hours
    timed.clock.now = at(BACK, 8, 59)
    assert timed.engine.warn_due() == []
    timed.clock.now = at(BACK, 9, 0)
    assert [x.warning for x in timed.engine.warn_due()] == [1]
    assert timed.engine.warn_due() == []
    timed.clock.now = at(BACK, 9, 31)
    warned = timed.engine.warn_due()
    assert [(x.warning, x.warnings_yellow, x.warnings_red) for x in warned] == [(2, 1, 1)]
    assert timed.engine.warn_due() == []
    with pytest.raises(InvalidInput):
        timed.engine.warn(c.id, warned[0].version, "district", "green")
    k = timed.engine.kpis()
    assert (k["warnings_yellow"], k["warnings_red"]) == (1, 1)
    timed.check_audit()


def test_automatic_escalation_is_off_by_default(timed: Rig) -> None:
    c = timed.report(tier="T1")
    timed.clock.now = at(BACK, 17, 0)
    assert timed.engine.tick() == [] and timed.engine.get(c.id).level is Level.GRID
