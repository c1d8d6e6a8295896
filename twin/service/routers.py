"""Routers per resource beside the cases: supervision (KPIs, the 三个一 feeds, a supervision
round) and modes (常急转换). Each endpoint reaches the running service through the app state
(:func:`service_of`) and the caller through the one ``authenticate`` dependency the application
of twin/service/deps.py, so these modules hold no state of their own and ``create_app`` only
includes them. (The cases — reports, reads, transitions — are twin/service/cases.py; Open311 is
twin/service/open311.py.)
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from twin.engine import CaseQuery, jsoncodec
from twin.engine.kpi import compute_kpis
from twin.engine.types import Case, Notice
from twin.modes import MODE_LABELS, IllegalModeChange, check_step
from twin.service import models as m
from twin.service.app import COMMON_ERRORS, ApiError, Service, error_responses, wall_clock_minutes
from twin.service.auth import COMMAND_ROLES, SUPERVISING_ROLES, Principal, Role, ScopeKind
from twin.service.deps import authenticate, service_of
from twin.service.edge import scope_filter
from twin.service.times import iso, iso_times

_dumps = jsoncodec.dumps


def _json(data: Any) -> Response:
    return Response(_dumps(data), media_type="application/json")


# ---------------------------------------------------------------- supervision
def _notice_visible(svc: Service, who: Principal, n: Notice) -> bool:
    if who.role is Role.ADMIN or who.scope_kind is ScopeKind.DISTRICT:
        return True
    if n.kind == "reminder":
        if who.scope_kind is ScopeKind.STREET:
            return bool(n.payload.get("street") == who.scope_unit)
        case = svc.engine.store.get(str(n.payload.get("case_id")))
        return case is not None and who.can_see(case)
    return who.scope_kind is ScopeKind.STREET and n.unit == who.scope_unit


def _feed(svc: Service, kind: str, who: Principal, after: int, limit: int) -> Response:
    if who.role not in SUPERVISING_ROLES:
        raise ApiError(403, "forbidden", f"role {who.role.value} does not see supervision feeds")
    all_n = svc.engine.store.notices(kind)
    page: list[dict[str, Any]] = []
    pos = after
    for i in range(after, len(all_n)):
        pos = i + 1
        n = all_n[i]
        if _notice_visible(svc, who, n):
            payload = iso_times(json.loads(json.dumps(n.payload, default=str)))
            page.append({"kind": n.kind, "key": n.key, "unit": n.unit, "at": iso(n.at), "payload": payload})
            if len(page) >= limit:
                break
    return _json({"items": page, "next_after": pos if pos < len(all_n) else None})


def _scope_cases(svc: Service, who: Principal) -> list[Case]:
    return [c for c in svc.engine.query(CaseQuery(**scope_filter(who))) if who.can_see(c)]


FEEDS = (
    ("reminder", "reminders", "一天一提醒: one reminder per overdue case per day"),
    ("bulletin", "bulletins", "一周一通报: one bulletin per street per week"),
    ("review", "reviews", "一月一点评: one review per street per month"),
)


def supervision_router(max_page: int) -> APIRouter:
    """KPIs, the supervision feeds (pages of at most ``max_page``) and a supervision round."""
    r = APIRouter(tags=["supervision"])

    @r.get("/kpis", response_model=dict[str, Any], responses=error_responses(403))
    def kpis(who: Principal = Depends(authenticate), svc: Service = Depends(service_of)) -> Response:
        """KPIs (按期办结率, closure rate, time per stage, level shares …) over the cases in your scope."""
        if who.role not in SUPERVISING_ROLES:
            raise ApiError(403, "forbidden", f"role {who.role.value} does not see KPIs")
        return _json(compute_kpis(_scope_cases(svc, who), wall_clock_minutes()))

    for kind, plural, doc in FEEDS:
        f = _feed_endpoint(kind, max_page)
        f.__doc__ = f"Supervision feed — {doc}."
        r.get(f"/supervision/{plural}", response_model=m.NoticePage, responses=error_responses(403), operation_id=f"supervision_{plural}")(f)

    @r.post("/supervision/run", response_model=m.SupervisionRunOut, responses=error_responses(403))
    def run_supervision(who: Principal = Depends(authenticate), svc: Service = Depends(service_of)) -> m.SupervisionRunOut:
        """Emit the supervision notices due now (each is stored once, whoever runs it), and the
        yellow/red warnings (督办) due on cases' current units (each once per unit stint)."""
        if who.role not in COMMAND_ROLES:
            raise ApiError(403, "forbidden", f"role {who.role.value} may not run supervision")
        notices, warnings = svc.supervise()
        return m.SupervisionRunOut(new_notices=notices, new_warnings=warnings)

    return r


def _feed_endpoint(kind: str, max_page: int) -> Any:
    """The endpoint of one feed (``kind`` fixed in the closure, not a parameter FastAPI would see)."""

    def feed(
        who: Principal = Depends(authenticate),
        svc: Service = Depends(service_of),
        after: int = Query(default=0, ge=0, le=2**31),
        limit: int = Query(default=50, ge=1, le=max_page),
    ) -> Response:
        return _feed(svc, kind, who, after, limit)

    return feed


# ---------------------------------------------------------------------- modes
def _mode_out(svc: Service) -> m.ModeOut:
    cur = svc.sstore.current_mode()
    if cur is None:
        return m.ModeOut(mode="normal", since=None, actor=None, reason=None, seq=0)
    return m.ModeOut(mode=cur.mode, since=iso(cur.at), actor=cur.actor, reason=cur.reason, seq=cur.seq)


def modes_router() -> APIRouter:
    """The current mode, its history and the switch (常急转换)."""
    r = APIRouter(tags=["modes"])

    @r.get("/mode", response_model=m.ModeOut, responses=COMMON_ERRORS)
    def get_mode(who: Principal = Depends(authenticate), svc: Service = Depends(service_of)) -> m.ModeOut:
        """The current mode: normal, emergency (应下尽下) or extreme (全员下沉)."""
        return _mode_out(svc)

    @r.get("/modes", response_model=list[m.ModeOut], responses=error_responses(403))
    def mode_history(who: Principal = Depends(authenticate), svc: Service = Depends(service_of)) -> list[m.ModeOut]:
        """Every recorded mode change (常急转换), oldest first."""
        if who.role not in SUPERVISING_ROLES:
            raise ApiError(403, "forbidden", f"role {who.role.value} does not see the mode history")
        return [m.ModeOut(mode=c.mode, since=iso(c.at), actor=c.actor, reason=c.reason, seq=c.seq) for c in svc.sstore.modes()]

    @r.post("/mode", response_model=m.ModeOut, responses=error_responses(403, 409))
    def set_mode(body: m.ModeIn, who: Principal = Depends(authenticate), svc: Service = Depends(service_of)) -> m.ModeOut:
        """Switch mode (常急转换) along normal ⇄ emergency (应下尽下) ⇄ extreme (全员下沉); recorded with
        time, actor and reason. A step may skip a rung unless the service runs with
        ``--no-mode-skip`` (the policy ``allow_skip`` of :mod:`twin.modes`; the source does not
        forbid skipping). District centre or admin. An illegal step or the current mode is 409."""
        if who.role not in COMMAND_ROLES:
            raise ApiError(403, "forbidden", f"role {who.role.value} may not change the mode")
        allow_skip = svc.config.mode_allow_skip
        before: list[str] = []

        def legal(current: str) -> None:
            """Checked inside the recording transaction (two concurrent changes cannot both pass)."""
            before.append(current)
            if current == body.mode:
                raise ApiError(409, "same_mode", f"already in mode {body.mode} ({MODE_LABELS[body.mode]})")
            try:
                check_step(current, body.mode, allow_skip)
            except IllegalModeChange as exc:
                raise ApiError(
                    409, "illegal_mode_change", f"{exc} ({MODE_LABELS.get(current, current)} → {MODE_LABELS[body.mode]}: one step at a time)"
                ) from None

        rec = svc.sstore.record_mode(body.mode, wall_clock_minutes(), who.id, body.reason, check=legal)
        svc.engine.mode = body.mode  # recorded on every case event from now on (other workers: next tick)
        svc.mobilisation.on_mode_change(before[-1], rec, body.expected_members)  # opens / closes the mobilisation
        return _mode_out(svc)

    return r
