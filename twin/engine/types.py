"""The nouns of the case engine: states, actions, levels, tiers, sources, cases and events.

A :class:`Case` is the current picture of one incident; an :class:`Event` is one accepted
change to it. The picture is always the fold of its events (see :mod:`twin.engine.audit`),
which is what makes the audit log trustworthy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any


class State(StrEnum):
    REPORTED = "reported"
    ACCEPTED = "accepted"
    DISPATCHED = "dispatched"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    VERIFIED = "verified"
    CLOSED = "closed"
    EVALUATED = "evaluated"
    REJECTED = "rejected"
    MERGED = "merged"
    REOPENED = "reopened"


class Action(StrEnum):
    REPORT = "report"
    ACCEPT = "accept"
    REJECT = "reject"
    MERGE = "merge"
    DISPATCH = "dispatch"
    START = "start"
    RESOLVE = "resolve"
    VERIFY = "verify"
    FAIL_VERIFICATION = "fail_verification"
    CLOSE = "close"
    EVALUATE = "evaluate"
    REOPEN = "reopen"
    ESCALATE = "escalate"
    RETURN = "return"
    DECLINE = "decline"
    EXTEND = "extend"  # 延期申请: a handler asks for more time
    APPROVE_EXTENSION = "approve_extension"
    REFUSE_EXTENSION = "refuse_extension"
    SUSPEND = "suspend"  # 挂账: the clock stops while the case waits on something outside the unit
    RESUME = "resume"
    REASSIGN = "reassign"  # 改派: the dispatcher sends the case to another unit (a wrong dispatch)
    REPLY = "reply"  # 答复: an answer to the reporter (what "done" means for reply matters)
    WARN = "warn"  # 督办: a yellow or red warning on the handling unit


class Level(IntEnum):
    """The escalation ladder: grid → community → street command centre → district centre."""

    GRID = 0
    COMMUNITY = 1
    STREET = 2
    DISTRICT = 3

    @property
    def label(self) -> str:
        return self.name.lower()


class Source(StrEnum):
    APP = "app"  # resident app / QR scan (一键点单)
    HOTLINE = "hotline"  # 12345
    PATROL = "patrol"  # grid-worker patrol
    DEVICE = "device"  # SOS caller, water meter, facility sensor
    RIDER = "rider"  # 随手拍 snapshot by a delivery rider
    DEPARTMENT = "department"


#: States in which a case is still being worked on (its SLA clock runs).
ACTIVE_STATES: frozenset[State] = frozenset(
    {State.REPORTED, State.ACCEPTED, State.DISPATCHED, State.IN_PROGRESS, State.REOPENED}
)
#: States in which nothing may change any more.
TERMINAL_STATES: frozenset[State] = frozenset({State.EVALUATED, State.REJECTED, State.MERGED})


@dataclass(slots=True)
class Place:
    """Where a case belongs: the grid and the units above it."""

    grid: str
    community: str
    street: str
    district: str

    def unit_at(self, level: Level) -> str:
        """The unit responsible for a case of this place at the given level."""
        return (self.grid, self.community, self.street, self.district)[level]


@dataclass(slots=True)
class Case:
    """One incident in the closed loop (事件处置闭环)."""

    id: str
    category: str
    tier: str
    place: Place
    source: Source
    reporter: str | None  # a pseudonymous reference, never raw personal data
    reported_at: float
    due_at: float
    description: str = ""
    lat: float | None = None
    lon: float | None = None
    state: State = State.REPORTED
    level: Level = Level.GRID
    level_since: float = 0.0
    assignees: tuple[str, ...] = ()
    version: int = 1
    accepted_at: float | None = None
    dispatched_at: float | None = None
    started_at: float | None = None
    resolved_at: float | None = None
    verified_at: float | None = None
    closed_at: float | None = None
    evaluated_at: float | None = None
    resolved_level: Level | None = None
    resolved_by: str | None = None
    satisfaction: int | None = None
    reopen_count: int = 0
    reopened_by_evaluation: bool = False
    escalations: int = 0
    merged_into: str | None = None
    volunteer: str | None = None
    service_hours: float | None = None
    points: float | None = None
    mode: str = "normal"
    # --- platform time rules: the current handling unit's stint and its counters.
    # A stint runs from when a unit receives the case (dispatch, escalate, return, reassign,
    # decline, rework) until the case leaves it or is done; ``late_stints`` counts stints that
    # ended after their unit's limit. ``warning``: 0/1/2 = none/yellow/red issued this stint.
    unit_since: float | None = None
    unit_due_at: float | None = None
    done_by: str = "resolve"
    replied_at: float | None = None
    suspended_at: float | None = None
    suspended_minutes: float = 0.0
    suspensions: int = 0
    extension_pending: float | None = None
    extensions_requested: int = 0
    extensions_approved: int = 0
    reassignments: int = 0
    returns: int = 0
    stints: int = 0
    late_stints: int = 0
    warning: int = 0
    warnings_yellow: int = 0
    warnings_red: int = 0

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    def overdue(self, now: float) -> bool:
        """Unresolved past its due time (a resolved case is judged by ``on_time``)."""
        return self.state in ACTIVE_STATES and now > self.due_at

    @property
    def on_time(self) -> bool | None:
        """Whether the case was first resolved by its due time (None while unresolved)."""
        if self.resolved_at is None:
            return None
        return self.resolved_at <= self.due_at

    @property
    def done_at(self) -> float | None:
        """When the matter was done in the sense of its rule: replied (reply matters) or resolved."""
        return self.replied_at if self.done_by == "reply" else self.resolved_at

    @property
    def suspended(self) -> bool:
        """Whether the case is on hold (挂账): its clocks stand still."""
        return self.suspended_at is not None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (the place flattened), in field order.

        Written out rather than looped over the fields: it runs twice on every transition the
        service handles (the stored document and the response), and the loop with its type
        tests cost several times as much. ``tests/engine/test_types.py`` checks that every
        field is here and that :meth:`from_dict` reverses it.
        """
        p = self.place
        rl = self.resolved_level
        return {
            "id": self.id,
            "category": self.category,
            "tier": self.tier,
            "grid": p.grid,
            "community": p.community,
            "street": p.street,
            "district": p.district,
            "source": self.source._value_,
            "reporter": self.reporter,
            "reported_at": self.reported_at,
            "due_at": self.due_at,
            "description": self.description,
            "lat": self.lat,
            "lon": self.lon,
            "state": self.state._value_,
            "level": self.level._value_,
            "level_since": self.level_since,
            "assignees": list(self.assignees),
            "version": self.version,
            "accepted_at": self.accepted_at,
            "dispatched_at": self.dispatched_at,
            "started_at": self.started_at,
            "resolved_at": self.resolved_at,
            "verified_at": self.verified_at,
            "closed_at": self.closed_at,
            "evaluated_at": self.evaluated_at,
            "resolved_level": None if rl is None else rl._value_,
            "resolved_by": self.resolved_by,
            "satisfaction": self.satisfaction,
            "reopen_count": self.reopen_count,
            "reopened_by_evaluation": self.reopened_by_evaluation,
            "escalations": self.escalations,
            "merged_into": self.merged_into,
            "volunteer": self.volunteer,
            "service_hours": self.service_hours,
            "points": self.points,
            "mode": self.mode,
            "unit_since": self.unit_since,
            "unit_due_at": self.unit_due_at,
            "done_by": self.done_by,
            "replied_at": self.replied_at,
            "suspended_at": self.suspended_at,
            "suspended_minutes": self.suspended_minutes,
            "suspensions": self.suspensions,
            "extension_pending": self.extension_pending,
            "extensions_requested": self.extensions_requested,
            "extensions_approved": self.extensions_approved,
            "reassignments": self.reassignments,
            "returns": self.returns,
            "stints": self.stints,
            "late_stints": self.late_stints,
            "warning": self.warning,
            "warnings_yellow": self.warnings_yellow,
            "warnings_red": self.warnings_red,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Case:
        """The case :meth:`to_dict` gave (fields missing from ``d`` take their defaults)."""
        if len(d) < _FULL_DICT:  # an older or partial document: field by field
            kw = {k: d[k] for k in CASE_FIELDS if k in d and k != "place"}
            kw["place"] = Place(d["grid"], d["community"], d["street"], d["district"])
            kw["source"] = Source(kw["source"])
            kw["state"] = State(kw["state"])
            kw["level"] = Level(kw["level"])
            if kw.get("resolved_level") is not None:
                kw["resolved_level"] = Level(kw["resolved_level"])
            kw["assignees"] = tuple(kw.get("assignees", ()))
            return cls(**kw)
        rl = d["resolved_level"]
        return cls(
            d["id"],
            d["category"],
            d["tier"],
            Place(d["grid"], d["community"], d["street"], d["district"]),
            _enum(_SOURCES, Source, d["source"]),
            d["reporter"],
            d["reported_at"],
            d["due_at"],
            d["description"],
            d["lat"],
            d["lon"],
            _enum(_STATES, State, d["state"]),
            _enum(_LEVELS, Level, d["level"]),
            d["level_since"],
            tuple(d["assignees"]),
            d["version"],
            d["accepted_at"],
            d["dispatched_at"],
            d["started_at"],
            d["resolved_at"],
            d["verified_at"],
            d["closed_at"],
            d["evaluated_at"],
            None if rl is None else _enum(_LEVELS, Level, rl),
            d["resolved_by"],
            d["satisfaction"],
            d["reopen_count"],
            d["reopened_by_evaluation"],
            d["escalations"],
            d["merged_into"],
            d["volunteer"],
            d["service_hours"],
            d["points"],
            d["mode"],
            d["unit_since"],
            d["unit_due_at"],
            d["done_by"],
            d["replied_at"],
            d["suspended_at"],
            d["suspended_minutes"],
            d["suspensions"],
            d["extension_pending"],
            d["extensions_requested"],
            d["extensions_approved"],
            d["reassignments"],
            d["returns"],
            d["stints"],
            d["late_stints"],
            d["warning"],
            d["warnings_yellow"],
            d["warnings_red"],
        )

    def copy(self) -> Case:
        """A shallow copy. Every field is immutable (the place, the assignees tuple) or replaced,
        never mutated, by ``apply``, so a store can apply an event to the copy and keep the
        original as it was until the write succeeded — far cheaper than a deep copy."""
        return Case(
            self.id,
            self.category,
            self.tier,
            self.place,
            self.source,
            self.reporter,
            self.reported_at,
            self.due_at,
            self.description,
            self.lat,
            self.lon,
            self.state,
            self.level,
            self.level_since,
            self.assignees,
            self.version,
            self.accepted_at,
            self.dispatched_at,
            self.started_at,
            self.resolved_at,
            self.verified_at,
            self.closed_at,
            self.evaluated_at,
            self.resolved_level,
            self.resolved_by,
            self.satisfaction,
            self.reopen_count,
            self.reopened_by_evaluation,
            self.escalations,
            self.merged_into,
            self.volunteer,
            self.service_hours,
            self.points,
            self.mode,
            self.unit_since,
            self.unit_due_at,
            self.done_by,
            self.replied_at,
            self.suspended_at,
            self.suspended_minutes,
            self.suspensions,
            self.extension_pending,
            self.extensions_requested,
            self.extensions_approved,
            self.reassignments,
            self.returns,
            self.stints,
            self.late_stints,
            self.warning,
            self.warnings_yellow,
            self.warnings_red,
        )


def _enum(table: dict[Any, Any], kind: type, value: Any) -> Any:
    """``kind(value)`` through a lookup table (the enum call is slow); unknown values still raise."""
    hit = table.get(value)
    return kind(value) if hit is None else hit


_STATES: dict[Any, State] = {s.value: s for s in State}
_SOURCES: dict[Any, Source] = {s.value: s for s in Source}
_LEVELS: dict[Any, Level] = {lv.value: lv for lv in Level}


CASE_FIELDS: tuple[str, ...] = tuple(Case.__dataclass_fields__)
#: The number of keys of a full :meth:`Case.to_dict` (the place counts four).
_FULL_DICT = len(CASE_FIELDS) + 3


@dataclass(slots=True)
class Event:
    """One accepted change to a case: the audit record and the unit of the fold.

    ``version`` is the case's version *after* this event; ``seq`` is assigned by storage
    and orders the whole log.
    """

    case_id: str
    version: int
    action: Action
    from_state: State | None
    to_state: State
    at: float
    actor: str
    mode: str = "normal"
    data: dict[str, Any] = field(default_factory=dict)
    seq: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "case_id": self.case_id,
            "version": self.version,
            "action": str(self.action),
            "from_state": None if self.from_state is None else str(self.from_state),
            "to_state": str(self.to_state),
            "at": self.at,
            "actor": self.actor,
            "mode": self.mode,
            "data": self.data,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Event:
        return cls(
            case_id=d["case_id"],
            version=d["version"],
            action=Action(d["action"]),
            from_state=None if d["from_state"] is None else State(d["from_state"]),
            to_state=State(d["to_state"]),
            at=d["at"],
            actor=d["actor"],
            mode=d.get("mode", "normal"),
            data=d.get("data") or {},
            seq=d.get("seq"),
        )


@dataclass(slots=True, frozen=True)
class Notice:
    """A supervision notice: 一天一提醒 (reminder), 一周一通报 (bulletin), 一月一点评 (review).

    ``key`` is unique per notice; storage keeps each key once, so a notice is emitted
    exactly once even across restarts.
    """

    kind: str
    key: str
    unit: str
    at: float
    payload: dict[str, Any]
