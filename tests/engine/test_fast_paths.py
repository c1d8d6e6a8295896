"""The engine's fast paths give exactly what the general paths give.

A district-year runs on a lock-free ``MemoryStore(threadsafe=False)`` whose ``commit_change``
applies a change without building an audit Event, and on ``WorkTime.share_point`` for the
yellow warning's time; each must agree bit for bit with the path it stands in for.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from tests.engine.helpers import PLACE, T0, FakeClock
from twin.engine import CaseEngine, MemoryStore, SlaPolicy
from twin.engine.types import CASE_FIELDS, Action, Case, State
from twin.engine.worktime import ClockKind, WorkTime

WINDOWS = ((8.5, 12.0), (13.5, 17.5))


def _life(engine: CaseEngine, clock: FakeClock) -> list[Case]:
    """A few cases through dispatch, escalation, extension, suspension, rework and closing."""
    out = []
    for i, tier in enumerate(("T1", "T2", "T3", "T1", "E")):
        c = engine.report(category="litter", tier=tier, place=PLACE, source="app", actor="app")
        c = engine.accept(c.id, c.version, "w")
        c = engine.dispatch(c.id, c.version, "w", ("w",))
        clock.advance(37.0 + i)
        if tier in ("T2", "T3"):
            c = engine.extend(c.id, c.version, "w", 120.0, "needs longer")
            c = engine.approve_extension(c.id, c.version, "street")
            c = engine.suspend(c.id, c.version, "w", "waiting")
            clock.advance(300.0)
            c = engine.resume(c.id, c.version, "w")
        c = engine.escalate(c.id, c.version, "w", "beyond")
        c = engine.dispatch(c.id, c.version, "c", ("c",))
        c = engine.warn(c.id, c.version, "street", "yellow")
        clock.advance(1000.0)
        c = engine.resolve(c.id, c.version, "c")
        c = engine.verify(c.id, c.version, "w", passed=i % 2 == 0)
        if i % 2:  # rework: the failed check reopened it
            c = engine.dispatch(c.id, c.version, "c", ("c",))
            c = engine.resolve(c.id, c.version, "c")
            c = engine.verify(c.id, c.version, "w")
        c = engine.close(c.id, c.version, "w")
        c = engine.evaluate(c.id, c.version, "resident", 1 + i % 5)
        out.append(c)
    return out


def _policy() -> SlaPolicy:
    cal = WorkTime(WINDOWS, ClockKind.WORKING, start=dt.date(2025, 1, 1), days=2 * 365)
    return SlaPolicy(calendar=cal)


@pytest.mark.parametrize("keep_events", [True, False])
def test_lock_free_store_without_events_ends_with_the_same_cases(keep_events: bool) -> None:
    runs = []
    for store in (MemoryStore(keep_events=True), MemoryStore(keep_events=keep_events, threadsafe=False)):
        clock = FakeClock(T0)
        ids = (f"C{n}" for n in range(10**6))
        engine = CaseEngine(store, clock, sla=_policy(), id_factory=ids.__next__)
        cases = _life(engine, clock)
        runs.append(([[getattr(c, f) for f in CASE_FIELDS] for c in cases], len(store.active_cases())))
    assert runs[0] == runs[1]
    assert runs[0][0][1][CASE_FIELDS.index("extensions_approved")] == 1  # the rare paths ran


def test_lock_free_store_tells_the_engine_there_is_no_lock() -> None:
    assert MemoryStore(threadsafe=False).lock is None
    assert MemoryStore().lock is not None


def test_commit_change_on_a_copy_of_a_case_falls_back_to_a_full_commit() -> None:
    store = MemoryStore(keep_events=False, threadsafe=False)
    clock = FakeClock(T0)
    engine = CaseEngine(store, clock)
    c = engine.report(category="litter", tier="T1", place=PLACE, source="app", actor="app")
    copy = Case(*[getattr(c, f) for f in CASE_FIELDS])
    store.commit_change(copy, Action.ACCEPT, State.REPORTED, State.ACCEPTED, clock(), "w", "normal", {})
    assert copy.state is State.ACCEPTED and c.state is State.ACCEPTED and c.version == copy.version == 2


@pytest.mark.parametrize("kind", [ClockKind.WORKING, ClockKind.NATURAL])
def test_share_point_equals_finish_of_the_share_of_worked_time(kind: ClockKind) -> None:
    cal = WorkTime(WINDOWS, kind, start=dt.date(2025, 9, 1), days=200)
    rng = np.random.default_rng(5)
    base = cal.base
    hits = 0
    for since, span, share in zip(rng.uniform(0, 150 * 1440, 2000), rng.uniform(0, 9 * 1440, 2000), rng.uniform(0.05, 1, 2000), strict=True):
        a, b = base + float(since), base + float(since) + float(span)
        want = cal.finish(a, share * cal.worked_between(a, b))
        assert cal.share_point(a, b, float(share)) == want
        hits += want > a
    assert hits > 1000
