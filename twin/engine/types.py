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

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (the place flattened)."""
        d: dict[str, Any] = {}
        for name in CASE_FIELDS:
            v = getattr(self, name)
            if name == "place":
                d.update(grid=v.grid, community=v.community, street=v.street, district=v.district)
            elif name == "assignees":
                d[name] = list(v)
            elif name in ("level", "resolved_level"):
                d[name] = None if v is None else int(v)
            elif isinstance(v, StrEnum):
                d[name] = str(v)
            else:
                d[name] = v
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Case:
        kw = {k: d[k] for k in CASE_FIELDS if k in d and k != "place"}
        kw["place"] = Place(d["grid"], d["community"], d["street"], d["district"])
        kw["source"] = Source(kw["source"])
        kw["state"] = State(kw["state"])
        kw["level"] = Level(kw["level"])
        if kw.get("resolved_level") is not None:
            kw["resolved_level"] = Level(kw["resolved_level"])
        kw["assignees"] = tuple(kw.get("assignees", ()))
        return cls(**kw)


CASE_FIELDS: tuple[str, ...] = tuple(Case.__dataclass_fields__)


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
