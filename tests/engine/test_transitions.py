"""The legal-transition table: every (action, state) pair either moves the case to the table's
target or raises IllegalTransition naming the action and the state, and changes nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from twin.engine import Action, Case, IllegalTransition, InvalidInput, Level, State, VersionConflict
from twin.engine.transitions import LEGAL_EDGES, TRANSITIONS

from .helpers import Rig, snapshot

#: How to bring a fresh case (reported at community level, so it can be returned) into each state.
REACH: dict[State, tuple[str, ...]] = {
    State.REPORTED: (),
    State.ACCEPTED: ("accept",),
    State.DISPATCHED: ("accept", "dispatch"),
    State.IN_PROGRESS: ("accept", "dispatch", "start"),
    State.RESOLVED: ("accept", "dispatch", "start", "resolve"),
    State.VERIFIED: ("accept", "dispatch", "start", "resolve", "verify"),
    State.CLOSED: ("accept", "dispatch", "start", "resolve", "verify", "close"),
    State.EVALUATED: ("accept", "dispatch", "start", "resolve", "verify", "close", "evaluate"),
    State.REJECTED: ("reject",),
    State.REOPENED: ("accept", "dispatch", "start", "resolve", "fail"),
}


def _bring(rig: Rig, state: State) -> Case:
    case = rig.report(level=Level.COMMUNITY)
    if state is State.MERGED:
        other = rig.report()
        return rig.engine.merge(case.id, case.version, "dispatcher", into=other.id)
    case = rig.walk(case, *REACH[state])
    assert case.state is state
    return case


def _calls(rig: Rig) -> dict[Action, Callable[[Case, str], Case]]:
    e = rig.engine
    return {
        Action.ACCEPT: lambda c, _: e.accept(c.id, c.version, "a"),
        Action.REJECT: lambda c, _: e.reject(c.id, c.version, "a", "not our matter"),
        Action.MERGE: lambda c, other: e.merge(c.id, c.version, "a", into=other),
        Action.DISPATCH: lambda c, _: e.dispatch(c.id, c.version, "a", ["worker-2"]),
        Action.START: lambda c, _: e.start(c.id, c.version, "a"),
        Action.RESOLVE: lambda c, _: e.resolve(c.id, c.version, "a"),
        Action.VERIFY: lambda c, _: e.verify(c.id, c.version, "a"),
        Action.FAIL_VERIFICATION: lambda c, _: e.verify(c.id, c.version, "a", passed=False),
        Action.CLOSE: lambda c, _: e.close(c.id, c.version, "a"),
        Action.EVALUATE: lambda c, _: e.evaluate(c.id, c.version, "a", 4),
        Action.REOPEN: lambda c, _: e.evaluate(c.id, c.version, "a", 1),
        Action.ESCALATE: lambda c, _: e.escalate(c.id, c.version, "a"),
        Action.RETURN: lambda c, _: e.return_for_rework(c.id, c.version, "a"),
        Action.DECLINE: lambda c, _: e.decline(c.id, c.version, "a"),
        Action.EXTEND: lambda c, _: e.extend(c.id, c.version, "a", 60.0, "waiting for a part"),
        Action.APPROVE_EXTENSION: lambda c, _: e.approve_extension(c.id, c.version, "a"),
        Action.REFUSE_EXTENSION: lambda c, _: e.refuse_extension(c.id, c.version, "a", "no"),
        Action.SUSPEND: lambda c, _: e.suspend(c.id, c.version, "a", "court date"),
        Action.RESUME: lambda c, _: e.resume(c.id, c.version, "a"),
        Action.REASSIGN: lambda c, _: e.reassign(c.id, c.version, "a", ["worker-9"]),
        Action.REPLY: lambda c, _: e.reply(c.id, c.version, "a", "we are on it"),
        Action.WARN: lambda c, _: e.warn(c.id, c.version, "a", "yellow"),
    }


#: Actions that need something pending first (done only where the action itself is legal).
PREPARE: dict[Action, Callable[[Rig, Case], Case]] = {
    Action.APPROVE_EXTENSION: lambda rig, c: rig.engine.extend(c.id, c.version, "w", 60.0, "parts"),
    Action.REFUSE_EXTENSION: lambda rig, c: rig.engine.extend(c.id, c.version, "w", 60.0, "parts"),
    Action.RESUME: lambda rig, c: rig.engine.suspend(c.id, c.version, "d", "court date"),
}


@pytest.mark.parametrize("state", list(State))
def test_every_action_from_every_state_follows_the_table(rig: Rig, state: State) -> None:
    calls = _calls(rig)
    assert set(calls) == set(TRANSITIONS), "every transition action is exercised"
    for action, call in calls.items():
        case = _bring(rig, state)
        if action in PREPARE and state in TRANSITIONS[action]:
            case = PREPARE[action](rig, case)
        other = rig.report().id  # a merge target, made before the snapshot
        before = snapshot(rig, case.id)
        version = case.version  # MemoryStore hands out the live case: remember the number
        target = TRANSITIONS[action].get(state)
        if target is None:
            with pytest.raises(IllegalTransition) as err:
                call(case, other)
            asked = "evaluate" if action is Action.REOPEN else action.value  # a reopen is asked for as an evaluation
            assert err.value.action == asked and err.value.state == state.value
            assert f"'{asked}'" in str(err.value) and f"'{state.value}'" in str(err.value)
            assert snapshot(rig, case.id) == before, f"{action} from {state} changed something"
        else:
            after = call(case, other)
            assert after.state is target
            assert after.version == version + 1
            stored = rig.store.get(case.id)
            assert stored is not None and stored.state is target and stored.version == after.version
            last = list(rig.store.events(case.id))[-1]
            assert (last.action, last.from_state, last.to_state) == (action, state, target)
            assert (state, target) in LEGAL_EDGES
    rig.check_audit()


def test_full_lifecycle_records_every_time(rig: Rig) -> None:
    c = rig.report()
    assert (c.state, c.version, c.level) == (State.REPORTED, 1, Level.GRID)
    for step, attr in (
        ("accept", "accepted_at"),
        ("dispatch", "dispatched_at"),
        ("start", "started_at"),
        ("resolve", "resolved_at"),
        ("verify", "verified_at"),
        ("close", "closed_at"),
        ("evaluate", "evaluated_at"),
    ):
        t = rig.clock.advance(7.0)
        c = rig.walk(c, step)
        assert getattr(c, attr) == t
    assert c.state is State.EVALUATED and c.version == 8
    assert [e.action.value for e in rig.engine.history(c.id)] == [
        "report",
        "accept",
        "dispatch",
        "start",
        "resolve",
        "verify",
        "close",
        "evaluate",
    ]
    assert rig.engine.get(c.id).to_dict() == c.to_dict()
    rig.check_audit()


def test_resolve_directly_from_dispatched_and_decline_returns_to_dispatcher(rig: Rig) -> None:
    c = rig.walk(rig.report(), "accept", "dispatch")
    assert c.assignees == ("worker-1",)
    c = rig.engine.decline(c.id, c.version, "worker-1", "not my grid")
    assert c.state is State.ACCEPTED and c.assignees == ()
    c = rig.walk(c, "dispatch", "resolve")
    assert c.state is State.RESOLVED and c.resolved_by == "handler"


def test_failed_verification_reopens_for_rework(rig: Rig) -> None:
    c = rig.walk(rig.report(), "accept", "dispatch", "start", "resolve")
    first_resolved = c.resolved_at
    rig.clock.advance(30)
    c = rig.walk(c, "fail")
    assert c.state is State.REOPENED and c.reopen_count == 1 and c.verified_at is None
    c = rig.walk(c, "dispatch", "start", "resolve", "verify", "close", "evaluate")
    assert c.state is State.EVALUATED
    assert c.resolved_at == first_resolved, "on-time is judged by the first resolution"
    rig.check_audit()


def test_merge_needs_a_real_other_case(rig: Rig) -> None:
    a, b = rig.report(), rig.report()
    with pytest.raises(InvalidInput, match="into"):
        rig.engine.merge(a.id, a.version, "d", into=a.id)
    with pytest.raises(InvalidInput, match="into"):
        rig.engine.merge(a.id, a.version, "d", into="no-such-case")
    m = rig.engine.merge(a.id, a.version, "d", into=b.id)
    assert m.state is State.MERGED and m.merged_into == b.id
    c = rig.report()
    with pytest.raises(InvalidInput, match="merged"):
        rig.engine.merge(c.id, c.version, "d", into=a.id)


def test_transition_by_name_and_bad_arguments(rig: Rig) -> None:
    c = rig.report()
    c = rig.engine.transition(c.id, "accept", c.version, "a")
    c = rig.engine.transition(c.id, "dispatch", c.version, "a", assignees=["w"])
    assert c.state is State.DISPATCHED
    before = snapshot(rig, c.id)
    with pytest.raises(InvalidInput, match="action"):
        rig.engine.transition(c.id, "fly", c.version, "a")
    with pytest.raises(InvalidInput, match="report"):
        rig.engine.transition(c.id, "report", c.version, "a")
    with pytest.raises(InvalidInput, match="wrong arguments"):
        rig.engine.transition(c.id, "start", c.version, "a", colour="red")
    assert snapshot(rig, c.id) == before
    c = rig.engine.transition(c.id, "resolve", c.version, "a")
    c = rig.engine.transition(c.id, "fail_verification", c.version, "a", note="still dirty")
    assert c.state is State.REOPENED


def test_bad_report_input_names_the_field(rig: Rig) -> None:
    for kw, field in (
        ({"source": "pigeon"}, "source"),
        ({"level": 7}, "level"),
        ({"category": ""}, "category"),
        ({"tier": "T9"}, "tier"),
    ):
        with pytest.raises(InvalidInput) as err:
            rig.report(**kw)
        assert err.value.field == field
    assert rig.store.count() == 0


def test_dispatch_input_is_checked(rig: Rig) -> None:
    c = rig.walk(rig.report(), "accept")
    for bad in ([], [""], ["w", "w"]):
        with pytest.raises(InvalidInput, match="assignees"):
            rig.engine.dispatch(c.id, c.version, "d", bad)
    assert rig.engine.get(c.id).version == c.version


def test_stale_version_is_a_conflict_and_changes_nothing(rig: Rig) -> None:
    c = rig.report()
    c1 = rig.engine.accept(c.id, 1, "a")
    before = snapshot(rig, c.id)
    with pytest.raises(VersionConflict) as err:
        rig.engine.dispatch(c.id, 1, "b", ["w"])
    assert (err.value.expected, err.value.actual) == (1, c1.version)
    assert snapshot(rig, c.id) == before
