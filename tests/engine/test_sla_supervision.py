"""SLA tiers, due times, overdue detection, and the supervision cadence 一天一提醒、一周一通报、
一月一点评 — each notice exactly once, also after a restart on a reopened SQLite file."""

from __future__ import annotations

import pytest

from twin.engine import CaseEngine, CaseQuery, Notice, SlaPolicy, Supervisor
from twin.engine.sla import DAY, HOUR
from twin.engine.supervision import local_datetime

from .helpers import OTHER_PLACE, Rig


def test_default_time_rules() -> None:
    sla = SlaPolicy()  # no calendar: working clocks run as natural time
    assert sla.due_at("T1", 100.0) == 100.0 + 2 * HOUR  # 小事: 2 (working) hours
    assert sla.unit_limit("T1", 0) == 2 * HOUR and sla.unit_limit("T1", 3) is None
    assert sla.unit_limit("T2", 0) == 2 * DAY  # 费时事: 2 working days per unit
    assert sla.due_at("T2", 0.0) == 5 * DAY
    assert sla.rule("T3").done_by == "reply" and sla.due_at("T3", 0.0) == 5 * DAY  # 复杂事: a reply
    assert sla.due_at("T0", 0.0) <= 60 and sla.rule("T0").clock == "natural"  # emergency: minutes
    assert sla.due_at("E", 0.0) <= 60 and sla.rule("E").clock == "natural"


@pytest.mark.parametrize("tier", ["T0", "T1", "T2", "T3", "E"])
def test_due_time_is_report_time_plus_the_tier(rig: Rig, tier: str) -> None:
    c = rig.report(tier=tier)
    assert c.due_at == SlaPolicy().due_at(tier, rig.clock.now)
    assert rig.store.get(c.id).due_at == c.due_at  # type: ignore[union-attr]


def test_overdue_detection_and_queries(rig: Rig) -> None:
    late = rig.report(tier="T1")
    done = rig.walk(rig.report(tier="T1"), "accept", "dispatch", "resolve")
    slow = rig.report(tier="T3")
    rig.clock.advance(120)
    assert rig.engine.overdue() == [], "at the due time a case is not yet overdue"
    rig.clock.advance(1)
    assert [c.id for c in rig.engine.overdue()] == [late.id]
    assert [c.id for c in rig.engine.query(CaseQuery(overdue_at=rig.clock.now))] == [late.id]
    assert [c.id for c in rig.engine.overdue(now=rig.clock.now + 8 * DAY)] == [late.id, slow.id]
    assert rig.engine.get(done.id).on_time is True
    late = rig.walk(rig.engine.get(late.id), "accept", "dispatch", "resolve")
    assert late.on_time is False and rig.engine.overdue() == []


def _kinds(notices: list[Notice]) -> list[tuple[str, str]]:
    return sorted((n.kind, n.unit) for n in notices)


def test_supervision_cadence_emits_each_notice_exactly_once(rig: Rig) -> None:
    a = rig.report(tier="T1")
    b = rig.report(tier="T1", place=OTHER_PLACE)
    rig.walk(rig.report(tier="T3"), "accept")  # open, not overdue
    sup = Supervisor(rig.store, rig.clock)
    first = sup.run()
    assert _kinds(first) == [("bulletin", "S01"), ("bulletin", "S02"), ("review", "S01"), ("review", "S02")]
    assert sup.run() == []
    rig.clock.advance(3 * HOUR)
    reminders = sup.run()
    assert sorted(n.payload["case_id"] for n in reminders) == [a.id, b.id]
    assert all(n.kind == "reminder" for n in reminders)
    assert reminders[0].unit in ("G01", "G02") and reminders[0].payload["minutes_overdue"] > 0
    assert sup.run() == [], "a reminder per overdue case per day, not per run"
    day = local_datetime(rig.clock.now).date()
    rig.clock.advance(1 * DAY)
    assert local_datetime(rig.clock.now).date() > day
    again = sup.run()
    assert sorted(n.payload["case_id"] for n in again if n.kind == "reminder") == [a.id, b.id]
    week = local_datetime(rig.clock.now).isocalendar()[1]
    rig.walk(rig.engine.get(a.id), "accept", "dispatch", "resolve")
    rig.clock.advance(7 * DAY)
    assert local_datetime(rig.clock.now).isocalendar()[1] != week
    later = sup.run()
    slow_id = rig.store.query(CaseQuery(category="environment", overdue_at=rig.clock.now))[
        -1
    ].id  # the T3 case, now late too
    assert [n.payload["case_id"] for n in later if n.kind == "reminder"] == [b.id, slow_id], (
        "a resolved case: no reminder"
    )
    assert ("bulletin", "S01") in _kinds(later) and ("bulletin", "S02") in _kinds(later)
    stored = rig.store.notices()
    assert len(stored) == len({n.key for n in stored}), "no key stored twice"
    assert len(rig.store.notices("reminder")) == 6


def test_reviews_are_monthly(rig: Rig) -> None:
    rig.report(tier="T3")
    sup = Supervisor(rig.store, rig.clock)
    assert local_datetime(rig.clock.now).strftime("%Y-%m-%d") == "2025-02-20"  # the test calendar (UTC+8)
    assert [n.key for n in sup.run() if n.kind == "review"] == ["review:S01:2025-02"]
    rig.clock.advance(2 * DAY)  # 22 February: same month
    assert [n for n in sup.run() if n.kind == "review"] == []
    rig.clock.advance(31 * DAY)  # 25 March
    assert [n.key for n in sup.run() if n.kind == "review"] == ["review:S01:2025-03"]


def test_supervision_exactly_once_across_a_restart(rig: Rig) -> None:
    rig.report(tier="T1")
    rig.clock.advance(3 * HOUR)
    n_first = len(Supervisor(rig.store, rig.clock).run())
    assert n_first == 3  # reminder, bulletin, review
    reopened = rig.reopen()  # SQLite: a new store on the same file; memory: the same store
    assert Supervisor(reopened, rig.clock).run() == []
    assert len(reopened.notices()) == n_first
    engine = CaseEngine(reopened, rig.clock, id_factory=lambda: "after-restart")
    engine.report(category="c", tier="T1", place=OTHER_PLACE, source="app")
    rig.clock.advance(3 * HOUR)  # the same local day: only the new case and its street are new
    new = Supervisor(reopened, rig.clock).run()
    assert sorted(n.key for n in new) == [
        "bulletin:S02:2025-W08",
        "reminder:after-restart:2025-02-20",
        "review:S02:2025-02",
    ]
