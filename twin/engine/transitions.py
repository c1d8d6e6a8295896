"""The legal-transition table of the closed loop, and the one function that applies an event.

``TRANSITIONS[action]`` maps each state the action may start from to the state it leads to.
:func:`apply` is the only code that changes a case; the engine uses it to make a change and
the audit fold uses it to replay one, so the two can never disagree.
"""

from __future__ import annotations

from typing import Any

from twin.engine.types import Action, Case, Event, Level, Place, Source, State

S = State
A = Action

TRANSITIONS: dict[Action, dict[State, State]] = {
    A.ACCEPT: {S.REPORTED: S.ACCEPTED},
    A.REJECT: {S.REPORTED: S.REJECTED, S.ACCEPTED: S.REJECTED},
    A.MERGE: {S.REPORTED: S.MERGED, S.ACCEPTED: S.MERGED},
    A.DISPATCH: {S.ACCEPTED: S.DISPATCHED, S.REOPENED: S.DISPATCHED},
    A.START: {S.DISPATCHED: S.IN_PROGRESS},
    A.RESOLVE: {S.DISPATCHED: S.RESOLVED, S.IN_PROGRESS: S.RESOLVED},
    A.VERIFY: {S.RESOLVED: S.VERIFIED},
    A.FAIL_VERIFICATION: {S.RESOLVED: S.REOPENED},
    A.CLOSE: {S.VERIFIED: S.CLOSED},
    A.EVALUATE: {S.CLOSED: S.EVALUATED},
    A.REOPEN: {S.CLOSED: S.REOPENED},
    A.ESCALATE: {
        S.REPORTED: S.ACCEPTED,
        S.ACCEPTED: S.ACCEPTED,
        S.DISPATCHED: S.ACCEPTED,
        S.IN_PROGRESS: S.ACCEPTED,
        S.REOPENED: S.ACCEPTED,
    },
    A.RETURN: {S.ACCEPTED: S.ACCEPTED, S.DISPATCHED: S.ACCEPTED, S.IN_PROGRESS: S.ACCEPTED},
    A.DECLINE: {S.DISPATCHED: S.ACCEPTED, S.IN_PROGRESS: S.ACCEPTED},
}

#: Every (from, to) edge of the state graph, REPORT included, for checks and diagrams.
LEGAL_EDGES: frozenset[tuple[State | None, State]] = frozenset(
    {(None, S.REPORTED)} | {(f, t) for table in TRANSITIONS.values() for f, t in table.items()}
)


def target(action: Action, state: State) -> State | None:
    """The state ``action`` leads to from ``state``, or None if it is not allowed."""
    table = TRANSITIONS.get(action)
    return None if table is None else table.get(state)


def new_case(event: Event) -> Case:
    """The case a REPORT event creates."""
    d: dict[str, Any] = event.data
    return Case(
        id=event.case_id,
        category=d["category"],
        tier=d["tier"],
        place=Place(d["grid"], d["community"], d["street"], d["district"]),
        source=Source(d["source"]),
        reporter=d.get("reporter"),
        reported_at=event.at,
        due_at=d["due_at"],
        description=d.get("description", ""),
        lat=d.get("lat"),
        lon=d.get("lon"),
        level=Level(d.get("level", 0)),
        level_since=event.at,
        mode=event.mode,
    )


def apply(case: Case, event: Event) -> None:
    """Apply an accepted ``event`` to ``case`` in place (the case must be at ``event.version - 1``)."""
    action = event.action
    at = event.at
    d = event.data
    case.state = event.to_state
    case.version = event.version
    case.mode = event.mode
    if action is A.ACCEPT:
        case.accepted_at = at
    elif action is A.DISPATCH:
        case.assignees = tuple(d["assignees"])
        if case.dispatched_at is None:
            case.dispatched_at = at
    elif action is A.START:
        if case.started_at is None:
            case.started_at = at
    elif action is A.RESOLVE:
        if case.resolved_at is None:
            case.resolved_at = at
            case.resolved_level = case.level
        case.resolved_by = d.get("by")
        if "volunteer" in d:
            case.volunteer = d["volunteer"]
            case.service_hours = d["service_hours"]
    elif action is A.VERIFY:
        case.verified_at = at
    elif action is A.FAIL_VERIFICATION:
        case.reopen_count += 1
        case.verified_at = None
        case.level_since = at  # the rework gets a fresh allowance at this level
    elif action is A.CLOSE:
        case.closed_at = at
    elif action is A.EVALUATE:
        case.evaluated_at = at
        case.satisfaction = d["satisfaction"]
        if "points" in d:
            case.points = d["points"]
    elif action is A.REOPEN:
        case.satisfaction = d["satisfaction"]
        case.reopen_count += 1
        case.reopened_by_evaluation = True
        case.verified_at = None
        case.closed_at = None
        case.level_since = at
    elif action is A.ESCALATE or action is A.RETURN:
        case.level = Level(d["level"])
        case.level_since = at
        case.assignees = ()
        if action is A.ESCALATE:
            case.escalations += 1
    elif action is A.DECLINE:
        case.assignees = ()
    elif action is A.MERGE:
        case.merged_into = d["into"]
