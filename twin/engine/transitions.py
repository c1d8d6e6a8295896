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
    A.EXTEND: {S.DISPATCHED: S.DISPATCHED, S.IN_PROGRESS: S.IN_PROGRESS},
    A.APPROVE_EXTENSION: {S.DISPATCHED: S.DISPATCHED, S.IN_PROGRESS: S.IN_PROGRESS},
    A.REFUSE_EXTENSION: {S.DISPATCHED: S.DISPATCHED, S.IN_PROGRESS: S.IN_PROGRESS},
    A.SUSPEND: {s: s for s in (S.ACCEPTED, S.DISPATCHED, S.IN_PROGRESS, S.REOPENED)},
    A.RESUME: {s: s for s in (S.ACCEPTED, S.DISPATCHED, S.IN_PROGRESS, S.REOPENED)},
    A.REASSIGN: {S.DISPATCHED: S.DISPATCHED, S.IN_PROGRESS: S.DISPATCHED},
    A.REPLY: {s: s for s in (S.REPORTED, S.ACCEPTED, S.DISPATCHED, S.IN_PROGRESS, S.REOPENED, S.RESOLVED)},
    A.WARN: {s: s for s in (S.ACCEPTED, S.DISPATCHED, S.IN_PROGRESS, S.REOPENED)},
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
        done_by=d.get("done_by", "resolve"),
    )


# --- stints: a handling unit's turn with the case, and its own time limit ---------------------
# The engine computes each new stint's due time with the calendar and puts it in the event
# (``unit_due_at``); the fold only reads it, so the audit log replays without a calendar.


def _end_stint(case: Case, at: float) -> None:
    """Close the current unit's stint at ``at`` (late when past its limit)."""
    if case.unit_since is not None and case.unit_due_at is not None:
        case.stints += 1
        if at > case.unit_due_at:
            case.late_stints += 1
    elif case.unit_since is not None:
        case.stints += 1
    case.unit_since = None
    case.unit_due_at = None
    case.extension_pending = None
    case.warning = 0


def _begin_stint(case: Case, at: float, d: dict[str, Any]) -> None:
    """The unit that now holds the case starts its own limit (due time from the event)."""
    _end_stint(case, at)
    case.unit_since = at
    case.unit_due_at = d.get("unit_due_at")


def _accept(case: Case, at: float, d: dict[str, Any]) -> None:
    case.accepted_at = at


def _dispatch(case: Case, at: float, d: dict[str, Any]) -> None:
    case.assignees = tuple(d["assignees"])
    if case.dispatched_at is None:
        case.dispatched_at = at
    _begin_stint(case, at, d)


def _start(case: Case, at: float, d: dict[str, Any]) -> None:
    if case.started_at is None:
        case.started_at = at


def _resolve(case: Case, at: float, d: dict[str, Any]) -> None:
    if case.resolved_at is None:
        case.resolved_at = at
        case.resolved_level = case.level
    _end_stint(case, at)  # a resolved case leaves the unit's hands, whatever the matter
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
    _begin_stint(case, at, d)


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
    _begin_stint(case, at, d)


def _escalate(case: Case, at: float, d: dict[str, Any]) -> None:
    case.level = _LEVELS[d["level"]]
    case.level_since = at
    case.assignees = ()
    case.escalations += 1
    _begin_stint(case, at, d)


def _return(case: Case, at: float, d: dict[str, Any]) -> None:
    case.level = _LEVELS[d["level"]]
    case.level_since = at
    case.assignees = ()
    case.returns += 1
    _begin_stint(case, at, d)


def _decline(case: Case, at: float, d: dict[str, Any]) -> None:
    case.assignees = ()
    _begin_stint(case, at, d)


def _extend(case: Case, at: float, d: dict[str, Any]) -> None:
    case.extension_pending = d["minutes"]
    case.extensions_requested += 1


def _approve_extension(case: Case, at: float, d: dict[str, Any]) -> None:
    case.extension_pending = None
    case.extensions_approved += 1
    case.unit_due_at = d["unit_due_at"]
    case.due_at = d["due_at"]
    case.warning = 0  # the new limit gets its own warnings


def _refuse_extension(case: Case, at: float, d: dict[str, Any]) -> None:
    case.extension_pending = None


def _suspend(case: Case, at: float, d: dict[str, Any]) -> None:
    case.suspended_at = at
    case.suspensions += 1


def _resume(case: Case, at: float, d: dict[str, Any]) -> None:
    case.suspended_at = None
    case.suspended_minutes += d["suspended_minutes"]
    case.due_at = d["due_at"]
    if case.unit_due_at is not None:
        case.unit_due_at = d["unit_due_at"]


def _reassign(case: Case, at: float, d: dict[str, Any]) -> None:
    case.assignees = tuple(d["assignees"])
    case.reassignments += 1
    _begin_stint(case, at, d)


def _reply(case: Case, at: float, d: dict[str, Any]) -> None:
    if case.replied_at is None:
        case.replied_at = at
        if case.done_by == "reply":
            _end_stint(case, at)


def _warn(case: Case, at: float, d: dict[str, Any]) -> None:
    if d["color"] == "red":
        case.warning = 2
        case.warnings_red += 1
    else:
        case.warning = 1
        case.warnings_yellow += 1


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
    A.EXTEND: _extend,
    A.APPROVE_EXTENSION: _approve_extension,
    A.REFUSE_EXTENSION: _refuse_extension,
    A.SUSPEND: _suspend,
    A.RESUME: _resume,
    A.REASSIGN: _reassign,
    A.REPLY: _reply,
    A.WARN: _warn,
}


def apply(case: Case, event: Event) -> None:
    """Apply an accepted ``event`` to ``case`` in place (the case must be at ``event.version - 1``)."""
    case.state = event.to_state
    case.version = event.version
    case.mode = event.mode
    _EFFECTS[event.action](case, event.at, event.data)


def apply_change(case: Case, action: Action, to: State, at: float, mode: str, data: dict[str, Any]) -> None:
    """:func:`apply` of the event (``action`` to ``to`` at ``at``) that would be the case's next
    version, for a store that keeps no audit record of it (see ``MemoryStore.commit_change``)."""
    case.state = to
    case.version += 1
    case.mode = mode
    _EFFECTS[action](case, at, data)
