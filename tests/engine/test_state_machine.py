"""A hypothesis RuleBasedStateMachine over the engine, on MemoryStore and on SQLiteStore.

Invariants (issue 2): the state is always in the legal graph; an illegal transition changes
nothing; escalation only moves up the ladder unless explicitly returned; closed/evaluated cases
are immutable except the defined reopen; audit rows equal accepted transitions; fold(audit)
equals the stored state; no case is lost or duplicated (also across a reopened SQLite file).
Time rules (issue 12), on a working calendar: a suspended case changes only by resume; a unit
limit runs only while a unit holds the case; approved extensions never outnumber requests, late
stints never outnumber stints.
"""

from __future__ import annotations

import datetime
import itertools
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from twin.engine import (
    CaseEngine,
    IdempotencyConflict,
    IllegalTransition,
    InvalidInput,
    Level,
    MemoryStore,
    Place,
    SQLiteStore,
    State,
    Store,
    VersionConflict,
)
from twin.engine.audit import verify_case
from twin.engine.sla import SlaPolicy
from twin.engine.transitions import LEGAL_EDGES, TRANSITIONS
from twin.engine.types import Action
from twin.engine.worktime import ClockKind, WorkTime

from .helpers import FakeClock

PLACES = (Place("G1", "C1", "S1", "D1"), Place("G2", "C1", "S1", "D1"), Place("G3", "C2", "S2", "D1"))
ACTIONS = sorted(TRANSITIONS, key=lambda a: a.value)
FROZEN = {State.CLOSED, State.EVALUATED}
#: The calendar of the machine's engine (the fake clock starts mid-2025 and runs for weeks).
CALENDAR = WorkTime(((8.5, 12.0), (13.5, 17.5)), ClockKind.WORKING, start=datetime.date(2025, 1, 1), days=730)
TIME_ACTIONS = [
    Action.EXTEND,
    Action.APPROVE_EXTENSION,
    Action.REFUSE_EXTENSION,
    Action.SUSPEND,
    Action.RESUME,
    Action.REASSIGN,
    Action.REPLY,
]
#: What a time-rule action needs done first.
TIME_PREP: dict[Action, tuple[Action, ...]] = {
    Action.APPROVE_EXTENSION: (Action.EXTEND,),
    Action.REFUSE_EXTENSION: (Action.EXTEND,),
    Action.RESUME: (Action.SUSPEND,),
}
NEXT_STEP: dict[State, Action] = {
    State.REPORTED: Action.ACCEPT,
    State.ACCEPTED: Action.DISPATCH,
    State.REOPENED: Action.DISPATCH,
    State.DISPATCHED: Action.START,
    State.IN_PROGRESS: Action.RESOLVE,
    State.RESOLVED: Action.VERIFY,
    State.VERIFIED: Action.CLOSE,
    State.CLOSED: Action.EVALUATE,
}


class EngineMachine(RuleBasedStateMachine):
    kind = "memory"

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.counter = itertools.count(1)
        self.tmp: Path | None = None
        self.store = self._open()
        self.engine = self._engine()
        self.ids: list[str] = []  # every case ever reported, in order
        self.levels: dict[str, int] = {}
        self.accepted = 0  # transitions the engine accepted (reports included)
        self.payloads: dict[str, dict[str, Any]] = {}  # idempotency key → payload used first

    def _open(self) -> Store:
        if self.kind == "memory":
            return MemoryStore()
        if self.tmp is None:
            self.tmp = Path(tempfile.mkdtemp(prefix="engine-sm-"))
        return SQLiteStore(self.tmp / "cases.db", synchronous="OFF")  # durability is tested elsewhere

    def _engine(self) -> CaseEngine:
        return CaseEngine(
            self.store,
            self.clock,
            sla=SlaPolicy(calendar=CALENDAR),
            id_factory=lambda: f"c{next(self.counter):05d}",
            auto_escalate=True,
        )

    def teardown(self) -> None:
        self.store.close()
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # ------------------------------------------------------------------ rules
    @rule(place=st.sampled_from(PLACES), tier=st.sampled_from(["T0", "T1", "T2", "T3", "E"]), level=st.integers(0, 3))
    def report(self, place: Place, tier: str, level: int) -> None:
        c = self.engine.report(category="road", tier=tier, place=place, source="patrol", level=level)
        assert c.id not in self.ids
        self.ids.append(c.id)
        self.levels[c.id] = level
        self.accepted += 1

    @rule(key=st.sampled_from(["k1", "k2"]), description=st.sampled_from(["a", "b"]))
    def report_idempotently(self, key: str, description: str) -> None:
        payload = {"category": "fire", "tier": "T0", "place": PLACES[0], "source": "device", "description": description}
        try:
            c = self.engine.report(**payload, idempotency_key=key)
        except IdempotencyConflict as err:
            assert self.payloads[key] != payload and err.key == key
            return
        if key in self.payloads:
            assert self.payloads[key] == payload and c.id in self.ids, "a retry returns the original case"
            return
        self.payloads[key] = payload
        assert c.id not in self.ids
        self.ids.append(c.id)
        self.levels[c.id] = 0
        self.accepted += 1

    @precondition(lambda self: bool(self.ids))
    @rule(
        pick=st.integers(0, 10**6),
        action=st.sampled_from(ACTIONS),
        stale=st.booleans(),
        many=st.booleans(),
        score=st.integers(1, 5),
        other=st.integers(0, 10**6),
        minutes=st.floats(0, 600),
    )
    def act(self, pick: int, action: Action, stale: bool, many: bool, score: int, other: int, minutes: float) -> None:
        case_id = self.ids[pick % len(self.ids)]
        self.clock.advance(minutes)
        before = self.store.get(case_id)
        assert before is not None
        snap, n_events = before.to_dict(), self._event_count()
        b_state, b_version, b_level = before.state, before.version, before.level  # MemoryStore's case is live
        before_suspended = before.suspended_at is not None
        version = before.version - 1 if stale else before.version
        e = self.engine
        try:
            if action is Action.DISPATCH:
                after = e.dispatch(case_id, version, "d", ["dept-a", "dept-b", "dept-c"] if many else ["worker"])
            elif action is Action.EVALUATE or action is Action.REOPEN:
                after = e.evaluate(case_id, version, "r", score)
            elif action is Action.MERGE:
                after = e.merge(case_id, version, "d", into=self.ids[other % len(self.ids)])
            elif action is Action.FAIL_VERIFICATION:
                after = e.verify(case_id, version, "i", passed=False)
            elif action is Action.RETURN:
                after = e.return_for_rework(case_id, version, "c")
            elif action is Action.EXTEND:
                after = e.extend(case_id, version, "w", 30.0 + minutes, "waiting for parts")
            elif action is Action.APPROVE_EXTENSION:
                after = e.approve_extension(case_id, version, "c", None if stale else minutes or None)
            elif action is Action.REFUSE_EXTENSION:
                after = e.refuse_extension(case_id, version, "c", "do it now")
            elif action is Action.SUSPEND:
                after = e.suspend(case_id, version, "c", "waiting for the court")
            elif action is Action.REASSIGN:
                after = e.reassign(case_id, version, "c", ["dept-x", "dept-y"] if many else [f"worker-{score}"])
            elif action is Action.WARN:
                after = e.warn(case_id, version, "s", "red" if many else "yellow")
            else:
                after = e.transition(case_id, action, version, "h")
        except (IllegalTransition, VersionConflict, InvalidInput) as err:
            stored = self.store.get(case_id)
            assert stored is not None and stored.to_dict() == snap, f"{err!r} changed the case"
            assert self._event_count() == n_events, f"{err!r} wrote an audit row"
            if stale:  # bad input is refused before the version is looked at
                assert isinstance(err, VersionConflict | InvalidInput)
            elif b_state not in TRANSITIONS[action] and action is not Action.REOPEN:
                assert isinstance(err, IllegalTransition | InvalidInput)
            return
        assert not stale, "a stale version must never be accepted"
        if before_suspended:
            assert action is Action.RESUME, f"{action} changed a suspended case"
        self.accepted += 1
        assert after.version == b_version + 1
        assert (b_state, after.state) in LEGAL_EDGES
        if b_state in FROZEN:
            assert b_state is State.CLOSED and after.state in (State.EVALUATED, State.REOPENED), (
                "closed/evaluated cases change only by evaluation (and its one reopen)"
            )
        self._check_level(case_id, b_level, after.level, action)

    @precondition(lambda self: bool(self.ids))
    @rule(pick=st.integers(0, 10**6), steps=st.integers(1, 8), score=st.integers(1, 5), minutes=st.floats(0, 120))
    def progress(self, pick: int, steps: int, score: int, minutes: float) -> None:
        """Take the next steps of the happy path, so that deep states are reached often."""
        case_id = self.ids[pick % len(self.ids)]
        for _ in range(steps):
            c = self.store.get(case_id)
            assert c is not None
            step = NEXT_STEP.get(c.state)
            if step is None:
                return
            many = c.level == Level.DISTRICT
            self.act(pick, step, stale=False, many=many, score=score, other=pick + 1, minutes=minutes)

    @precondition(lambda self: bool(self.ids))
    @rule(
        pick=st.integers(0, 10**6),
        action=st.sampled_from(TIME_ACTIONS),
        many=st.booleans(),
        score=st.integers(1, 5),
        minutes=st.floats(0, 600),
    )
    def time_rule(self, pick: int, action: Action, many: bool, score: int, minutes: float) -> None:
        """Bring a case to a handling unit, then apply a time-rule action (after what it needs
        pending: an extension request, a suspension), so that these are accepted often."""
        at = pick % len(self.ids)
        for _ in range(3):
            c = self.store.get(self.ids[at])
            assert c is not None
            if c.state not in (State.REPORTED, State.ACCEPTED, State.REOPENED) or c.suspended_at is not None:
                break
            self.act(at, NEXT_STEP[c.state], stale=False, many=c.level == Level.DISTRICT, score=score, other=at, minutes=1.0)
        for step in (*TIME_PREP.get(action, ()), action):
            self.act(at, step, stale=False, many=many, score=score, other=pick, minutes=minutes)

    @rule(minutes=st.floats(0, 3000))
    def tick(self, minutes: float) -> None:
        self.clock.advance(minutes)
        for c in self.engine.tick():
            self.accepted += 1
            self._check_level(c.id, self.levels[c.id], c.level, Action.ESCALATE)

    @rule(minutes=st.floats(0, 3000))
    def warn_due(self, minutes: float) -> None:
        self.clock.advance(minutes)
        for c in self.engine.warn_due():
            self.accepted += 1
            assert c.warning in (1, 2) and c.unit_due_at is not None

    @rule()
    def restart(self) -> None:
        """Close the store and open it again (SQLite: the file; memory: the same store)."""
        if self.kind != "memory":
            self.store.close()
            self.store = self._open()
        self.engine = self._engine()

    # -------------------------------------------------------------- helpers
    def _event_count(self) -> int:
        return sum(1 for _ in self.store.events())

    def _check_level(self, case_id: str, old: int, new: int, action: Action) -> None:
        if action is Action.ESCALATE:
            assert new == old + 1 <= Level.DISTRICT
        elif action is Action.RETURN:
            assert new == old - 1 >= Level.GRID
        else:
            assert new == old, f"{action} moved the level"
        self.levels[case_id] = new

    # ------------------------------------------------------------ invariants
    @invariant()
    def no_case_lost_or_duplicated(self) -> None:
        stored = [c.id for c in self.store.all_cases()]
        assert sorted(stored) == sorted(self.ids) and len(set(stored)) == len(stored)
        assert self.store.count() == len(self.ids)

    @invariant()
    def audit_rows_equal_accepted_transitions_and_fold_to_the_stored_state(self) -> None:
        events = list(self.store.events())
        assert len(events) == self.accepted
        by_case: dict[str, list[Any]] = {}
        for ev in events:
            assert (ev.from_state, ev.to_state) in LEGAL_EDGES, "state always in the legal graph"
            by_case.setdefault(ev.case_id, []).append(ev)
        for case in self.store.all_cases():
            assert case.state in State.__members__.values()
            assert case.level == self.levels[case.id]
            verify_case(case, by_case[case.id])
            assert case.late_stints <= case.stints and case.extensions_approved <= case.extensions_requested
            if case.unit_due_at is not None:
                assert case.unit_since is not None and case.state not in FROZEN


class SQLiteEngineMachine(EngineMachine):
    kind = "sqlite"


_SETTINGS = settings(
    max_examples=40,  # SQLite: ~10 s on this machine; memory takes the same budget in well under that
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestEngineOnMemory = EngineMachine.TestCase
TestEngineOnMemory.settings = settings(_SETTINGS, max_examples=150)
TestEngineOnSQLite = SQLiteEngineMachine.TestCase
TestEngineOnSQLite.settings = _SETTINGS
