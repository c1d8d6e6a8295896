"""Principals, roles, scopes and bearer tokens: who may see and change which case.

A token belongs to one principal with one role and one scope (a unit on the ladder
grid → community → street → district). Only the token's SHA-256 is stored; the clear token is
shown once, when it is created. Every object access goes through :func:`can_see`: a case
outside one's scope is answered 404 (never 403, which would confirm that it exists).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

from twin.engine.types import Action, Case, Level


class Role(StrEnum):
    RESIDENT = "resident"
    DEVICE = "device"
    GRID_WORKER = "grid_worker"
    COMMUNITY = "community"
    STREET_CENTRE = "street_centre"
    DISTRICT_CENTRE = "district_centre"
    DEPARTMENT = "department"
    ADMIN = "admin"
    MEMBER = "member"  # a mobilised member (双报到 party member, 下沉干部): check-in and their team's tasks only
    APP = "app"  # the mobilisation mini-program's backend: checks members in on their behalf


class ScopeKind(StrEnum):
    GRID = "grid"
    COMMUNITY = "community"
    STREET = "street"
    DISTRICT = "district"


#: Which rung of the ladder each scope kind is.
SCOPE_LEVEL: dict[ScopeKind, Level] = {
    ScopeKind.GRID: Level.GRID,
    ScopeKind.COMMUNITY: Level.COMMUNITY,
    ScopeKind.STREET: Level.STREET,
    ScopeKind.DISTRICT: Level.DISTRICT,
}

#: Roles that act for the public: they see only the cases they reported themselves.
OWN_CASES_ONLY: frozenset[Role] = frozenset({Role.RESIDENT, Role.DEVICE})
#: Roles entitled to a reporter's contact (besides the reporter themselves).
CONTACT_ENTITLED: frozenset[Role] = frozenset(
    {Role.GRID_WORKER, Role.COMMUNITY, Role.STREET_CENTRE, Role.DISTRICT_CENTRE, Role.ADMIN}
)
#: Roles allowed to change the mode (常急转换) and to run supervision.
COMMAND_ROLES: frozenset[Role] = frozenset({Role.DISTRICT_CENTRE, Role.ADMIN})
#: Roles that see KPIs and supervision feeds of their scope.
SUPERVISING_ROLES: frozenset[Role] = frozenset(
    {Role.GRID_WORKER, Role.COMMUNITY, Role.STREET_CENTRE, Role.DISTRICT_CENTRE, Role.ADMIN}
)

#: Decisions of the dispatching level on a case's time (批准/拒绝延期, 挂账, 改派): only a role at
#: or above the case's level may take them (see :meth:`Principal.may_on`).
DISPATCHING_ACTIONS: frozenset[Action] = frozenset(
    {Action.APPROVE_EXTENSION, Action.REFUSE_EXTENSION, Action.SUSPEND, Action.RESUME, Action.REASSIGN}
)
#: Warnings (督办) are issued by supervision, not asked for over HTTP.
_HANDLING = frozenset(Action) - {Action.REPORT, Action.REOPEN, Action.WARN}
#: Which transitions each role may apply (to a case it can see).
ALLOWED_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.RESIDENT: frozenset({Action.EVALUATE}),
    Role.DEVICE: frozenset(),
    Role.GRID_WORKER: _HANDLING - {Action.RETURN} - DISPATCHING_ACTIONS,  # may ask to extend, not approve
    Role.COMMUNITY: _HANDLING,
    Role.STREET_CENTRE: _HANDLING,
    Role.DISTRICT_CENTRE: _HANDLING,
    Role.DEPARTMENT: frozenset({Action.START, Action.RESOLVE, Action.DECLINE, Action.EXTEND, Action.REPLY}),
    Role.ADMIN: _HANDLING,
    Role.MEMBER: frozenset(),
    Role.APP: frozenset(),
}
#: Roles of the mobilisation (twin/service/mobilisation.py): they see no cases and report none.
MOBILISATION_ROLES: frozenset[Role] = frozenset({Role.MEMBER, Role.APP})
#: Roles that may report a case (every role but a department and the mobilisation's).
REPORTING_ROLES: frozenset[Role] = frozenset(Role) - {Role.DEPARTMENT} - MOBILISATION_ROLES


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller: a stable pseudonymous id, a role and a scope."""

    id: str
    role: Role
    scope_kind: ScopeKind
    scope_unit: str

    @property
    def scope(self) -> str:
        return f"{self.scope_kind.value}:{self.scope_unit}"

    def covers_place(self, grid: str, community: str, street: str, district: str) -> bool:
        """Whether a place lies inside this principal's scope."""
        unit = {"grid": grid, "community": community, "street": street, "district": district}[self.scope_kind.value]
        return unit == self.scope_unit

    def can_see(self, case: Case) -> bool:
        """Object-level access: the one check every case read and change goes through."""
        if self.role in MOBILISATION_ROLES:
            return False
        p = case.place
        if not self.covers_place(p.grid, p.community, p.street, p.district):
            return False
        if self.role in OWN_CASES_ONLY:
            return case.reporter == self.id
        if self.role is Role.DEPARTMENT:
            return self.id in case.assignees
        return True

    def may(self, action: Action) -> bool:
        return action in ALLOWED_ACTIONS[self.role]

    def dispatches_for(self, case: Case) -> bool:
        """Whether this principal is at the case's dispatching level or above (admins always)."""
        return self.role is Role.ADMIN or SCOPE_LEVEL[self.scope_kind] >= case.level

    def sees_contact_of(self, case: Case) -> bool:
        return self.role in CONTACT_ENTITLED or case.reporter == self.id


def parse_scope(text: str) -> tuple[ScopeKind, str]:
    """``"grid:G001"`` → (GRID, "G001"); raises ValueError naming what was expected."""
    kind, sep, unit = text.partition(":")
    if not sep or not unit.strip():
        raise ValueError(f"scope {text!r}: expected KIND:UNIT with KIND one of {[k.value for k in ScopeKind]}")
    try:
        return ScopeKind(kind.strip()), unit.strip()
    except ValueError:
        raise ValueError(f"scope {text!r}: unknown kind {kind!r}; expected one of {[k.value for k in ScopeKind]}") from None


def new_token() -> str:
    """A fresh bearer token (256 bits of randomness, URL-safe)."""
    return "gt_" + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What is stored instead of the token."""
    return hashlib.sha256(token.encode()).hexdigest()
