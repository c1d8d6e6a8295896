"""The legal-transition table of the closed loop, and the one function that applies an event.

``TRANSITIONS[action]`` maps each state the action may start from to the state it leads to.
:func:`apply` is the only code that changes a case; the engine uses it to make a change and
the audit fold uses it to replay one, so the two can never disagree.
"""

from __future__ import annotations

from collections.abc import Callable
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


_SOURCES: dict[str, Source] = {s.value: s for s in Source}
_LEVELS: tuple[Level, ...] = tuple(Level)


def new_case(event: Event, place: Place | None = None) -> Case:
    """The case a REPORT event creates (``place``: the caller's equal Place, to share it)."""
    d: dict[str, Any] = event.data
    at = event.at
    return Case(
        event.case_id,
        d["category"],
        d["tier"],
        Place(d["grid"], d["community"], d["street"], d["district"]) if place is None else place,
        _SOURCES[d["source"]],
        d.get("reporter"),
        at,
        d["due_at"],
        d.get("description", ""),
        d.get("lat"),
        d.get("lon"),
        State.REPORTED,
        _LEVELS[d.get("level", 0)],
        at,
        mode=event.mode,
    )


def _accept(case: Case, at: float, d: dict[str, Any]) -> None:
    case.accepted_at = at


def _dispatch(case: Case, at: float, d: dict[str, Any]) -> None:
    case.assignees = tuple(d["assignees"])
    if case.dispatched_at is None:
        case.dispatched_at = at


def _start(case: Case, at: float, d: dict[str, Any]) -> None:
    if case.started_at is None:
        case.started_at = at


def _resolve(case: Case, at: float, d: dict[str, Any]) -> None:
    if case.resolved_at is None:
        case.resolved_at = at
        case.resolved_level = case.level
    case.resolved_by = d.get("by")
    if "volunteer" in d:
        case.volunteer = d["volunteer"]
        case.service_hours = d["service_hours"]


def _verify(case: Case, at: float, d: dict[str, Any]) -> None:
    case.verified_at = at


def _fail_verification(case: Case, at: float, d: dict[str, Any]) -> None:
    case.reopen_count += 1
    case.verified_at = None
    case.level_since = at  # the rework gets a fresh allowance at this level


def _close(case: Case, at: float, d: dict[str, Any]) -> None:
    case.closed_at = at


def _evaluate(case: Case, at: float, d: dict[str, Any]) -> None:
    case.evaluated_at = at
    case.satisfaction = d["satisfaction"]
    if "points" in d:
        case.points = d["points"]


def _reopen(case: Case, at: float, d: dict[str, Any]) -> None:
    case.satisfaction = d["satisfaction"]
    case.reopen_count += 1
    case.reopened_by_evaluation = True
    case.verified_at = None
    case.closed_at = None
    case.level_since = at


def _escalate(case: Case, at: float, d: dict[str, Any]) -> None:
    case.level = _LEVELS[d["level"]]
    case.level_since = at
    case.assignees = ()
    case.escalations += 1


def _return(case: Case, at: float, d: dict[str, Any]) -> None:
    case.level = _LEVELS[d["level"]]
    case.level_since = at
    case.assignees = ()


def _decline(case: Case, at: float, d: dict[str, Any]) -> None:
    case.assignees = ()


def _merge(case: Case, at: float, d: dict[str, Any]) -> None:
    case.merged_into = d["into"]


def _reject(case: Case, at: float, d: dict[str, Any]) -> None:
    pass


_EFFECTS: dict[Action, Callable[[Case, float, dict[str, Any]], None]] = {
    A.ACCEPT: _accept,
    A.REJECT: _reject,
    A.MERGE: _merge,
    A.DISPATCH: _dispatch,
    A.START: _start,
    A.RESOLVE: _resolve,
    A.VERIFY: _verify,
    A.FAIL_VERIFICATION: _fail_verification,
    A.CLOSE: _close,
    A.EVALUATE: _evaluate,
    A.REOPEN: _reopen,
    A.ESCALATE: _escalate,
    A.RETURN: _return,
    A.DECLINE: _decline,
}


def apply(case: Case, event: Event) -> None:
    """Apply an accepted ``event`` to ``case`` in place (the case must be at ``event.version - 1``)."""
    case.state = event.to_state
    case.version = event.version
    case.mode = event.mode
    _EFFECTS[event.action](case, event.at, event.data)
