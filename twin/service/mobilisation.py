"""The mobilisation over HTTP: members check in (报到), get a team, claim and complete its tasks.

How practice runs it (Wuhan, 党员生活 2023-12-04; ../shared/CALIBRATION.md): ~400,000
residence-registered party members (双报到) callable, 1,574 to one community, 585,600 post
claims (认领岗位); on the switch the mobilisation app enters an emergency mode and places people
automatically in 保供 (supply) and the other emergency teams. Here:

- ``POST /mode`` to an emergency level opens a mobilisation (id ``m<seq>`` of that mode change;
  the body may carry ``expected_members``); the return to normal closes it and revokes the member
  tokens it issued (they also lapse after ``member_token_hours``).
- ``POST /mobilisation/checkins`` (an ``app`` token — the mini-program's backend — or the
  member's own ``member`` token): 201 with the check-in and a member token; the same member again
  in the same mobilisation → 200 with the same record, whatever the Idempotency-Key (the
  database's primary key on (mobilisation, member) makes a second row impossible). No
  mobilisation → 409.
- ``GET /mobilisation/tasks`` and ``POST /mobilisation/tasks/{id}/claim|complete`` (member):
  only the tasks of the member's community and team; any other task is 404 (no existence leak);
  another member's task is 409.
- ``POST /mobilisation/tasks`` (community, street or district staff, admin) adds a task; an
  emergency-mode report whose category a team handles becomes that team's task by itself
  (:meth:`Mobilisations.sweep`, from the background loop, linked by ``case_id``).
- ``GET /mobilisation`` (supervising roles): counts and the minutes from declaration to the
  first, 50 % and 90 % check-ins as the platform recorded them.

Scope: a community-scoped token is held to its community; the service keeps no register of
which street a community belongs to, so street-, district-scoped and admin tokens may name any
community. Personal data: member ids only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, Query
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from twin.engine import jsoncodec
from twin.engine.mobilisation import (
    DEFAULT_TEAMS,
    Checkin,
    EmergencyReport,
    MobilisationRow,
    MobilisationStore,
    Task,
    TeamSpec,
    open_mobilisation_store,
    team_of_category,
)
from twin.engine.types import Action
from twin.service import models as m
from twin.service.app import ApiError, Service, error_responses, wall_clock_minutes
from twin.service.auth import SUPERVISING_ROLES, Principal, Role, ScopeKind, token_hash
from twin.service.catalogue import bundled_scenario
from twin.service.deps import authenticate, service_of
from twin.service.storage import ModeRecord
from twin.service.times import iso
from twin.tomlfile import read_toml

#: A member id: pseudonymous, no names or phone numbers (letters, digits, ``_ . : -``).
MEMBER_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$"
#: Roles that may add tasks by hand (staff of a community, street or district, and admins).
TASK_MAKERS: frozenset[Role] = frozenset({Role.COMMUNITY, Role.STREET_CENTRE, Role.DISTRICT_CENTRE, Role.ADMIN})
#: How long an emergency report's event may take to become visible behind a later one (seconds):
#: the sweep keeps re-reading that window so a slow commit is not skipped.
SWEEP_LAG_SECONDS = 10.0


class MobilisationError(ApiError):
    """An ApiError whose body also carries ``detail`` (what the load side reads)."""

    def response(self) -> JSONResponse:
        return JSONResponse({"error": self.error, "reason": self.reason, "detail": self.reason}, status_code=self.status, headers=self.headers)


# ------------------------------------------------------------------- models
class _Body(BaseModel):
    """A request body: unknown fields refused, types strict, no NUL in text (as every body of the service)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="after")
    def _no_nul(self) -> Any:
        for name, value in self:
            if m.nul_in(value):
                raise ValueError(f"{name}: {m.NUL_REASON}")
        return self


class CheckinIn(_Body):
    member_id: str = Field(pattern=MEMBER_ID, description="the member's pseudonymous id (no name, no phone)")
    community: str = Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f]+$", description="the community reported to, e.g. S01-C03")


class CheckinOut(BaseModel):
    checkin_id: str
    mobilisation_id: str
    member_id: str
    community: str
    team: str
    checked_in_at: str = Field(description="ISO 8601 with offset (+08:00)")
    member_token: str = Field(description="bearer token of role member for this mobilisation (the same on every repeat)")
    expires_at: str


class TaskIn(_Body):
    community: str = Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f]+$")
    team: str = Field(min_length=1, max_length=64)
    kind: str = Field(min_length=1, max_length=64, description="what is to be done, e.g. supply_delivery")
    note: str = Field(default="", max_length=2000)
    case_id: str | None = Field(default=None, min_length=1, max_length=64, description="the case this task answers (in your scope)")


class ResultIn(_Body):
    result: str = Field(min_length=1, max_length=2000)


class TaskOut(BaseModel):
    task_id: str
    mobilisation_id: str
    community: str
    team: str
    kind: str
    note: str
    case_id: str | None
    status: Literal["open", "claimed", "done"]
    claimed_by: str | None
    result: str | None
    created_by: str
    created_at: str
    claimed_at: str | None
    done_at: str | None
    version: int


class TaskPage(BaseModel):
    items: list[TaskOut]
    next_after: str | None = Field(description="pass as ?after= for the next page; null at the end")


class MobilisationOut(BaseModel):
    mobilisation_id: str | None
    mode: str
    declared_at: str | None
    closed_at: str | None
    expected_members: int | None
    checked_in: int
    by_community: dict[str, int]
    by_team: dict[str, int]
    tasks: dict[str, int]
    checkins_first_at: float | None = Field(description="minutes from declaration to the first check-in")
    checkins_p50_at: float | None = Field(description="minutes from declaration until 50 % had checked in (of expected_members, else of those checked in so far)")
    checkins_p90_at: float | None = Field(description="the same for 90 %")
    checkins_basis: Literal["expected_members", "checked_in"]
    teams: list[str]


# --------------------------------------------------------------------- state
@dataclass(frozen=True, slots=True)
class Span:
    """A mobilisation as the mode log shows it: opened by the change ``seq`` out of normal,
    closed (``closed_at``) by the next change back to normal."""

    id: str
    declared_at: float
    closed_at: float | None


def spans(modes: list[ModeRecord]) -> list[Span]:
    """The mobilisations of a mode log, oldest first."""
    out: list[Span] = []
    open_: ModeRecord | None = None
    for rec in modes:
        if rec.mode != "normal" and open_ is None:
            open_ = rec
        elif rec.mode == "normal" and open_ is not None:
            out.append(Span(f"m{open_.seq}", open_.at, rec.at))
            open_ = None
    if open_ is not None:
        out.append(Span(f"m{open_.seq}", open_.at, None))
    return out


def load_teams(spec: str) -> tuple[TeamSpec, ...]:
    """The teams ``--mobilisation-teams SPEC`` names: empty → :data:`DEFAULT_TEAMS`; else a
    bundled scenario or a scenario .toml whose ``[emergency.teams]`` table is read (only the
    TOML, the model's scenario is not loaded). ValueError naming what was expected."""
    s = spec.strip()
    if not s:
        return DEFAULT_TEAMS
    path = bundled_scenario(s) or (Path(s) if s.endswith(".toml") else None)
    if path is None:
        raise ValueError(f"expected a bundled scenario (flood, epidemic …) or a scenario .toml, got {s!r}")
    data = read_toml(path, str(path), "scenario file")
    table = data.get("emergency", {}).get("teams")
    if not isinstance(table, dict) or not table:
        raise ValueError(f"expected an [emergency.teams] table in {path}, got none")
    teams = []
    for name, t in table.items():
        share = t.get("share") if isinstance(t, dict) else None
        if not isinstance(share, int | float) or not 0 < share <= 1:
            raise ValueError(f"emergency.teams.{name}.share in {path}: expected a share in (0, 1], got {share!r}")
        teams.append(TeamSpec(str(name), float(share), tuple(str(c) for c in t.get("handles", []))))
    return tuple(teams)


def member_token(secret: str, member_id: str) -> str:
    """The member's bearer token in a mobilisation: derived (HMAC-SHA256) from the
    mobilisation's secret, so a repeated check-in answers the same token while only its hash is
    stored with the tokens."""
    mac = hmac.new(secret.encode(), member_id.encode(), hashlib.sha256).digest()
    return "gt_m" + base64.urlsafe_b64encode(mac).decode().rstrip("=")


class Mobilisations:
    """The service's mobilisation: the store, the teams, and what one process caches (the
    current mobilisation per mode-log position, members' check-ins — both final once known)."""

    def __init__(self, svc: Service) -> None:
        self.svc = svc
        self.teams = load_teams(svc.config.mobilisation_teams)
        self.team_names = [t.name for t in self.teams]
        self.category_team = team_of_category(self.teams)
        self.store: MobilisationStore = open_mobilisation_store(svc.config.db)
        self._by_seq: dict[int, tuple[Span | None, MobilisationRow | None]] = {}
        self._fresh: tuple[float, tuple[Span | None, MobilisationRow | None]] | None = None  # (until, current())
        self._checkins: dict[tuple[str, str], Checkin] = {}  # members seated (tasks)
        self._issued: dict[tuple[str, str], Checkin] = {}  # check-ins answered, their token stored
        self._swept: set[str] = set()

    def close(self) -> None:
        self.store.close()

    # ------------------------------------------------------------- current
    def current(self) -> tuple[Span | None, MobilisationRow | None]:
        """(the latest mobilisation, open or closed, and its row), read from the mode log (one
        query while nothing changed: the log's last seq keys the cache). Another worker's mode
        change reaches this one within ``token_cache_seconds`` — the delay the service already
        allows a revocation; this worker's own changes at once."""
        fresh = self._fresh
        if fresh is not None and time.monotonic() < fresh[0]:
            return fresh[1]
        cur = self.svc.sstore.current_mode()
        seq = 0 if cur is None else cur.seq
        hit = self._by_seq.get(seq)
        if hit is not None:
            self._fresh = (time.monotonic() + self.svc.config.token_cache_seconds, hit)
            return hit
        all_spans = spans(self.svc.sstore.modes())
        if not all_spans:
            out: tuple[Span | None, MobilisationRow | None] = (None, None)
        else:
            span = all_spans[-1]
            row = self.store.mobilisation(span.id) or self.store.declare(span.id, span.declared_at, secrets.token_hex(32))
            out = (span, row)
        if len(self._by_seq) > 64:
            self._forget()
        self._by_seq[seq] = out
        self._fresh = (time.monotonic() + self.svc.config.token_cache_seconds, out)
        return out

    def _forget(self) -> None:
        """Drop what this process knows of the mode log (after it changed it)."""
        self._by_seq.clear()
        self._fresh = None

    def active(self) -> tuple[Span, MobilisationRow]:
        """The open mobilisation, else 409 naming the state."""
        span, row = self.current()
        if span is None or span.closed_at is not None or row is None:
            raise MobilisationError(409, "no_mobilisation", "mode: no mobilisation is active (the mode is normal); POST /mode to an emergency level opens one")
        return span, row

    def on_mode_change(self, before: str, rec: ModeRecord, expected_members: int | None) -> None:
        """After ``POST /mode`` recorded ``rec``: open the mobilisation (with the expected
        count) when it leaves normal, update the count within one, revoke its member tokens
        when it returns to normal."""
        self._forget()
        if rec.mode != "normal":
            span, _ = self.current()
            assert span is not None
            self.store.declare(span.id, span.declared_at, secrets.token_hex(32), expected_members)
            self._forget()
        elif before != "normal":
            span, _ = self.current()
            if span is not None:
                self.svc.sstore.revoke_token_hashes(time.time(), self.store.token_hashes(span.id))
            self._checkins.clear()
            self._issued.clear()

    # ------------------------------------------------------------- members
    def seat(self, who: Principal) -> tuple[Span, Checkin]:
        """The calling member's check-in in the open mobilisation (403 for another role or a
        member who has not checked in; 409 when none is open)."""
        if who.role is not Role.MEMBER:
            raise MobilisationError(403, "forbidden", f"role {who.role.value} has no tasks; a member token (from the check-in) does")
        span, _ = self.active()
        key = (span.id, who.id)
        ci = self._checkins.get(key)
        if ci is None:
            ci = self.store.checkin(span.id, who.id)
            if ci is None:
                raise MobilisationError(403, "not_checked_in", f"member {who.id!r} has not checked in to mobilisation {span.id}; POST /mobilisation/checkins first")
            if len(self._checkins) > 200_000:
                self._checkins.clear()
            self._checkins[key] = ci
        return span, ci

    def check_in(self, who: Principal, body: CheckinIn) -> tuple[int, dict[str, Any]]:
        if who.role is Role.MEMBER:
            if body.member_id != who.id:
                raise MobilisationError(403, "forbidden", f"member_id: a member checks in only themselves ({who.id!r}), got {body.member_id!r}")
        elif who.role is not Role.APP:
            raise MobilisationError(403, "forbidden", f"role {who.role.value} may not check members in; an app or member token may")
        if who.scope_kind is ScopeKind.GRID or (who.scope_kind is ScopeKind.COMMUNITY and who.role is Role.APP and body.community != who.scope_unit):
            raise MobilisationError(403, "forbidden", f"community: {body.community!r} is outside your scope {who.scope}")
        span, row = self.active()
        token = member_token(row.secret, body.member_id)
        expires_after = self.svc.config.member_token_hours * 3600.0
        key = (span.id, body.member_id)
        ci = self._issued.get(key)  # a repeat this process answered before: final, token stored
        created = False
        if ci is None:
            ci = self.store.checkin(span.id, body.member_id)  # a repeat: a plain read, no write lock
            if ci is None:
                ci, created = self.store.check_in(span.id, body.member_id, body.community, wall_clock_minutes(), self.teams, token_hash(token))
            if created or self.svc.sstore.token(ci.token_hash) is None:  # (a crash may have come between the two)
                try:
                    who_ = Principal(ci.member_id, Role.MEMBER, ScopeKind.COMMUNITY, ci.community)
                    self.svc.sstore.add_token(ci.token_hash, who_, time.time(), ci.checked_in_at * 60.0 + expires_after)
                except Exception as exc:  # a concurrent repeat stored it first: the same token
                    if not _duplicate(exc):
                        raise
            if len(self._issued) > 200_000:
                self._issued.clear()
            self._issued[key] = ci
        expires = ci.checked_in_at * 60.0 + expires_after
        out = {
            "checkin_id": ci.checkin_id, "mobilisation_id": ci.mobilisation_id, "member_id": ci.member_id,
            "community": ci.community, "team": ci.team, "checked_in_at": iso(ci.checked_in_at),
            "member_token": token, "expires_at": iso(expires / 60.0),
        }
        return (201 if created else 200), out

    # --------------------------------------------------------------- tasks
    def add_task(self, who: Principal, body: TaskIn) -> tuple[int, dict[str, Any]]:
        if who.role not in TASK_MAKERS:
            raise MobilisationError(403, "forbidden", f"role {who.role.value} may not add tasks")
        if who.scope_kind in (ScopeKind.GRID, ScopeKind.COMMUNITY) and body.community != who.scope_unit:
            raise MobilisationError(403, "forbidden", f"community: {body.community!r} is outside your scope {who.scope}")
        if body.team not in self.team_names:
            raise MobilisationError(422, "invalid_input", f"team: unknown {body.team!r}; expected one of {self.team_names}")
        if body.case_id is not None:
            case = self.svc.engine.store.get(body.case_id)
            if case is None or not who.can_see(case):
                raise MobilisationError(422, "invalid_input", f"case_id: no case {body.case_id!r} in your scope {who.scope}")
        span, _ = self.active()
        task, created = self.store.add_task(span.id, body.community, body.team, body.kind, body.note, who.id, wall_clock_minutes(), body.case_id)
        return (201 if created else 200), task_json(task)

    def sweep(self) -> int:
        """Turn the emergency-mode reports since the declaration whose category a team handles
        into that team's tasks in their community (one per case, whichever worker sees it
        first); how many tasks were made. Runs from the background loop while a mobilisation is
        open; re-reads the last ``SWEEP_LAG_SECONDS`` so a report committed late is not missed."""
        span, row = self.current()
        if span is None or span.closed_at is not None or row is None or not self.category_team:
            return 0
        horizon = wall_clock_minutes() - SWEEP_LAG_SECONDS / 60.0
        try:
            reports = self.store.emergency_reports(row.case_cursor)
        except LookupError:  # memory: the engine's log is in the process
            reports = [
                EmergencyReport(int(e.seq or 0), e.at, e.case_id, str(e.data.get("category")), str(e.data.get("community")))
                for e in self.svc.engine.store.events(after_seq=row.case_cursor)
                if e.action is Action.REPORT and e.mode != "normal"
            ]
        todo = [(r, self.category_team[r.category]) for r in reports if r.category in self.category_team and r.case_id not in self._swept]
        made = self.store.add_case_tasks(span.id, todo, wall_clock_minutes()) if todo else 0
        if len(self._swept) > 100_000:
            self._swept.clear()
        self._swept.update(r.case_id for r, _ in todo)
        safe = max((r.seq for r in reports if r.at <= horizon), default=row.case_cursor)
        if safe > row.case_cursor:
            self.store.advance_cursor(span.id, safe)
            self._forget()
        return made

    def stats(self) -> dict[str, Any]:
        span, row = self.current()
        cur = self.svc.sstore.current_mode()
        mode = "normal" if cur is None else cur.mode
        if span is None or row is None:
            empty = {"checked_in": 0, "by_community": {}, "by_team": {}, "tasks": {"open": 0, "claimed": 0, "done": 0}}
            return {"mobilisation_id": None, "mode": mode, "declared_at": None, "closed_at": None, "expected_members": None, **empty,
                    "checkins_first_at": None, "checkins_p50_at": None, "checkins_p90_at": None, "checkins_basis": "checked_in", "teams": self.team_names}
        counts = self.store.stats(span.id)
        base = row.expected_members if row.expected_members else counts["checked_in"]

        def after(n: int) -> float | None:
            at = self.store.nth_checkin_at(span.id, n)
            return None if at is None else round(at - span.declared_at, 3)

        return {
            "mobilisation_id": span.id, "mode": mode, "declared_at": iso(span.declared_at), "closed_at": iso(span.closed_at),
            "expected_members": row.expected_members, **counts,
            "checkins_first_at": after(1), "checkins_p50_at": after(math.ceil(0.5 * base)), "checkins_p90_at": after(math.ceil(0.9 * base)),
            "checkins_basis": "expected_members" if row.expected_members else "checked_in", "teams": self.team_names,
        }


def _duplicate(exc: Exception) -> bool:
    """Whether ``exc`` is a unique-key violation (SQLite or PostgreSQL)."""
    if isinstance(exc, sqlite3.IntegrityError):
        return True
    import psycopg

    return isinstance(exc, psycopg.errors.UniqueViolation)


def task_json(t: Task) -> dict[str, Any]:
    return {
        "task_id": t.task_id, "mobilisation_id": t.mobilisation_id, "community": t.community, "team": t.team, "kind": t.kind,
        "note": t.note, "case_id": t.case_id, "status": t.status, "claimed_by": t.claimed_by, "result": t.result,
        "created_by": t.created_by, "created_at": iso(t.created_at), "claimed_at": iso(t.claimed_at), "done_at": iso(t.done_at),
        "version": t.version,
    }


def _json(status: int, data: Any) -> Response:
    return Response(jsoncodec.dumps(data), status_code=status, media_type="application/json")


#: What the mobilisation endpoints' own answers mean (see :func:`~twin.service.app.error_responses`).
_DESCRIBED: dict[int, str] = {
    200: "the same record as before (a repeat)",
    403: "your role may not do this, or you have not checked in",
    404: "no such task in your team and community",
    409: "no mobilisation is active, or the task is another member's",
}


def _responses(*codes: int, repeat: type[BaseModel] | None = None) -> dict[int | str, dict[str, Any]]:
    return error_responses(*codes, described=_DESCRIBED, repeat=repeat)


_IDEM = Header(default=None, alias="Idempotency-Key", max_length=200, description="optional; a repeat is answered alike with or without it")


def mobilisation_router(max_page: int) -> APIRouter:
    """The mobilisation's endpoints (see the module doc)."""
    r = APIRouter(prefix="/mobilisation", tags=["mobilisation"])

    def mob(svc: Service) -> Mobilisations:
        return svc.mobilisation  # type: ignore[no-any-return]

    @r.get("", response_model=MobilisationOut, responses=_responses(403))
    def get_mobilisation(who: Principal = Depends(authenticate), svc: Service = Depends(service_of)) -> Response:
        """The latest mobilisation (open or closed): check-ins by community and team, tasks by
        status, minutes from declaration to the first, 50 % and 90 % check-ins."""
        if who.role not in SUPERVISING_ROLES:
            raise MobilisationError(403, "forbidden", f"role {who.role.value} does not see the mobilisation")
        return _json(200, mob(svc).stats())

    @r.post("/checkins", response_model=CheckinOut, status_code=201, responses=_responses(200, 403, 409, repeat=CheckinOut))
    def check_in(
        body: CheckinIn, who: Principal = Depends(authenticate), svc: Service = Depends(service_of), idempotency_key: str | None = _IDEM
    ) -> Response:
        """Check a member in (报到) to a community in the open mobilisation: 201 with the team
        and a member token; the same member again → 200 with the same record (no second row,
        whatever the Idempotency-Key). App token, or the member's own. 409 when the mode is normal."""
        status, out = mob(svc).check_in(who, body)
        return _json(status, out)

    @r.get("/tasks", response_model=TaskPage, responses=_responses(403, 409))
    def list_tasks(
        who: Principal = Depends(authenticate),
        svc: Service = Depends(service_of),
        status: Literal["open", "claimed", "done"] | None = Query(default=None),
        after: str | None = Query(default=None, max_length=64),
        limit: int = Query(default=50, ge=1, le=max_page),
    ) -> Response:
        """Your team's tasks in your community (member token), oldest first by id."""
        mm = mob(svc)
        span, ci = mm.seat(who)
        items = mm.store.tasks(span.id, ci.community, ci.team, status, after, limit)
        nxt = items[-1].task_id if len(items) == limit else None
        return _json(200, {"items": [task_json(t) for t in items], "next_after": nxt})

    @r.post("/tasks", response_model=TaskOut, status_code=201, responses=_responses(200, 403, 409, repeat=TaskOut))
    def add_task(body: TaskIn, who: Principal = Depends(authenticate), svc: Service = Depends(service_of)) -> Response:
        """Add a task for a team of a community (staff of the community, street or district;
        admin). With ``case_id``: one task per case (a repeat answers 200 with it)."""
        status, out = mob(svc).add_task(who, body)
        return _json(status, out)

    @r.post("/tasks/{task_id}/claim", response_model=TaskOut, responses=_responses(403, 404, 409))
    def claim(
        task_id: str = PathParam(max_length=64),
        who: Principal = Depends(authenticate),
        svc: Service = Depends(service_of),
        idempotency_key: str | None = _IDEM,
    ) -> Response:
        """Claim (认领) an open task of your team: 200 yours (a repeat: 200 again); 409 another
        member's; 404 outside your team and community."""
        mm = mob(svc)
        span, ci = mm.seat(who)
        outcome, task = mm.store.claim(span.id, task_id, ci.community, ci.team, who.id, wall_clock_minutes())
        if outcome == "not_found" or task is None:
            raise MobilisationError(404, "not_found", f"no task {task_id!r} for team {ci.team} in {ci.community}")
        if outcome == "taken":
            raise MobilisationError(409, "claimed_by_another", f"task {task_id!r} is {task.status} by another member")
        return _json(200, task_json(task))

    @r.post("/tasks/{task_id}/complete", response_model=TaskOut, responses=_responses(403, 404, 409))
    def complete(
        body: ResultIn, task_id: str = PathParam(max_length=64), who: Principal = Depends(authenticate), svc: Service = Depends(service_of)
    ) -> Response:
        """Complete a task you claimed, with its result: 200 (a repeat: 200 with the same
        task); 409 when you do not hold it; 404 outside your team and community."""
        mm = mob(svc)
        span, ci = mm.seat(who)
        outcome, task = mm.store.complete(span.id, task_id, ci.community, ci.team, who.id, body.result, wall_clock_minutes())
        if outcome == "not_found" or task is None:
            raise MobilisationError(404, "not_found", f"no task {task_id!r} for team {ci.team} in {ci.community}")
        if outcome == "not_yours":
            raise MobilisationError(409, "not_claimer", f"task {task_id!r} is {task.status}" + ("" if task.claimed_by is None else " by another member") + "; only its claimer completes it")
        return _json(200, task_json(task))

    return r
