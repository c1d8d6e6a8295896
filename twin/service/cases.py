"""The cases resource: reports (立案), reads, the audit trail, the transitions, the boards and
``/me``, as one router. Its endpoints reach the running service through the app state
(:func:`~twin.service.deps.service_of`) and the caller through the shared
:func:`~twin.service.deps.authenticate`; the fast lane (twin/service/fastpath.py) is wired to
the same functions (:func:`report_plain`, :func:`fast_transitions`), so both lanes answer alike.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Body, Depends, Header, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from twin.engine import CaseEngine, CaseQuery, jsoncodec
from twin.engine.types import Action, Case, Level, State
from twin.service import models as m
from twin.service.app import (
    ACTION_BODIES,
    COMMON_ERRORS,
    MASK,
    ApiError,
    JsonResponse,
    Service,
    do_report,
    error_responses,
    event_json,
    parse_if_match,
    wall_clock_minutes,
)
from twin.service.auth import DISPATCHING_ACTIONS, Principal
from twin.service.deps import authenticate, service_of
from twin.service.edge import MAX_ID, MAX_IF_MATCH, action_path, scoped

_dumps = jsoncodec.dumps

#: Each action's engine method (the pydantic body already matches its keyword arguments).
ENGINE_METHOD: dict[Action, Callable[..., Case]] = {
    Action.ACCEPT: CaseEngine.accept,
    Action.REJECT: CaseEngine.reject,
    Action.MERGE: CaseEngine.merge,
    Action.DISPATCH: CaseEngine.dispatch,
    Action.START: CaseEngine.start,
    Action.RESOLVE: CaseEngine.resolve,
    Action.VERIFY: CaseEngine.verify,
    Action.FAIL_VERIFICATION: functools.partial(CaseEngine.verify, passed=False),
    Action.CLOSE: CaseEngine.close,
    Action.EVALUATE: CaseEngine.evaluate,
    Action.ESCALATE: CaseEngine.escalate,
    Action.RETURN: CaseEngine.return_for_rework,
    Action.DECLINE: CaseEngine.decline,
    Action.EXTEND: CaseEngine.extend,
    Action.APPROVE_EXTENSION: CaseEngine.approve_extension,
    Action.REFUSE_EXTENSION: CaseEngine.refuse_extension,
    Action.SUSPEND: CaseEngine.suspend,
    Action.RESUME: CaseEngine.resume,
    Action.REASSIGN: CaseEngine.reassign,
    Action.REPLY: CaseEngine.reply,
}
#: A transition as the fast lane runs it: (case id, caller, If-Match, body or None) → response.
TransitionRun = Callable[[str, Principal, "str | None", Any], Response]


def case_response(svc: Service, case: Case, who: Principal, status: int = 200) -> Response:
    """The case as ``who`` may see it, its version in the ETag."""
    return JsonResponse(_dumps(svc.case_json(case, who)), status, [(b"etag", b'"%d"' % case.version)])


def report_response(status: int, payload: bytes, case_id: str, replayed: bool) -> Response:
    headers = [(b"etag", b'"1"'), (b"location", f"/cases/{case_id}".encode())]
    if replayed:
        headers.append((b"idempotent-replayed", b"true"))
    return JsonResponse(payload, status, headers)


async def report_plain(svc: Service, who: Principal, body: m.ReportIn) -> Response:
    """A report without Idempotency-Key: one job in the group-commit batch."""
    status, payload, case_id, replayed = await svc.execute(lambda: do_report(svc, who, body, None))
    return report_response(status, payload, case_id, replayed)


def run_transition(svc: Service, action: Action, case_id: str, who: Principal, if_match: str | None, body: BaseModel | None) -> Response:
    """Apply ``action`` to a case for ``who``: scope, role, dispatching level and If-Match
    checked here, the rest by the engine."""
    case = svc.visible(who, case_id)
    if not who.may(action):
        raise ApiError(403, "forbidden", f"role {who.role.value} may not {action.value} a case")
    if action in DISPATCHING_ACTIONS and not who.dispatches_for(case):
        raise ApiError(403, "forbidden", f"{action.value}: only the dispatching level ({Level(case.level).label}) or above may decide it; you are {who.scope}")
    if if_match is None:
        raise ApiError(428, "precondition_required", f'send If-Match with the case\'s current version: If-Match: "{case.version}"')
    version = parse_if_match(if_match, case.version)
    if version is None or version != case.version:
        raise ApiError(412, "version_conflict", f"case {case_id!r} is at version {case.version}, If-Match was {if_match!r}")
    kw: dict[str, Any] = {} if body is None else body.model_dump()
    if action is Action.MERGE and kw["into"] != case_id:
        try:
            svc.visible(who, kw["into"])
        except ApiError:
            raise ApiError(422, "invalid_input", f"into: no case {kw['into']!r} in your scope") from None
    out = ENGINE_METHOD[action](svc.engine, case_id, version, who.id, **kw)
    return case_response(svc, out, who)


def fast_transitions(svc: Service) -> dict[str, tuple[type[BaseModel], bool, TransitionRun]]:
    """Path segment → (body model, whether the body is empty, the run) for the fast lane."""
    return {action_path(a): (model, model is m.EmptyIn, functools.partial(run_transition, svc, a)) for a, model in ACTION_BODIES.items()}


def cases_router(max_page: int) -> APIRouter:
    """``/me``, reports, case reads (pages of at most ``max_page``), events, every transition and
    the boards."""
    r = APIRouter()

    @r.get("/me", response_model=m.PrincipalOut, responses=COMMON_ERRORS, tags=["service"])
    def me(who: Principal = Depends(authenticate)) -> m.PrincipalOut:
        """Who the token belongs to."""
        return m.PrincipalOut(id=who.id, role=who.role.value, scope=who.scope)

    @r.post("/cases", status_code=201, response_model=m.CaseOut, responses=error_responses(403, 409), tags=["cases"])
    async def report(
        body: m.ReportIn,
        who: Principal = Depends(authenticate),
        idempotency_key: str | None = Header(default=None, min_length=1, max_length=200),
        svc: Service = Depends(service_of),
    ) -> Response:
        """Report a case (立案). With ``Idempotency-Key`` a retry with the same body replays the
        original response byte for byte; the same key with another body is 422; a retry while the
        first is still being handled is 409."""
        if idempotency_key is None:  # the case (and its contact) in one job of the batch
            return await report_plain(svc, who, body)
        # the key's claim is committed first, on its own
        status, payload, case_id, replayed = await run_in_threadpool(do_report, svc, who, body, idempotency_key)
        return report_response(status, payload, case_id, replayed)

    @r.get("/cases", response_model=m.CasePage, responses=COMMON_ERRORS, tags=["cases"])
    def list_cases(
        who: Principal = Depends(authenticate),
        state: list[State] | None = Query(default=None, description="any of these states"),
        level: int | None = Query(default=None, ge=0, le=3),
        grid: str | None = Query(default=None, max_length=64),
        community: str | None = Query(default=None, max_length=64),
        street: str | None = Query(default=None, max_length=64),
        district: str | None = Query(default=None, max_length=64),
        category: str | None = Query(default=None, max_length=64),
        assignee: str | None = Query(default=None, max_length=80),
        overdue: bool = Query(default=False, description="only cases past their due time and unresolved"),
        after: str | None = Query(default=None, max_length=64, description="keyset pagination: ids after this one"),
        limit: int = Query(default=50, ge=1, le=max_page),
        svc: Service = Depends(service_of),
    ) -> Response:
        """Cases in your scope, ordered by id, one page at a time."""
        filt = scoped(who, {"grid": grid, "community": community, "street": street, "district": district, "assignee": assignee})
        if filt is None:  # a filter outside your scope: nothing to show
            return Response(_dumps({"items": [], "next_after": None}), media_type="application/json")
        q = CaseQuery(
            states=frozenset(state) if state else None,
            level=None if level is None else Level(level),
            category=category,
            overdue_at=wall_clock_minutes() if overdue else None,
            after_id=after,
            limit=limit + 1,
            **filt,
        )
        found = [c for c in svc.engine.query(q) if who.can_see(c)]
        more = len(found) > limit
        found = found[:limit]
        items = [svc.case_json(c, who) for c in found]
        return Response(_dumps({"items": items, "next_after": found[-1].id if more else None}), media_type="application/json")

    @r.get("/cases/{case_id}", response_model=m.CaseOut, responses=error_responses(404), tags=["cases"])
    def get_case(case_id: str = Path(max_length=MAX_ID), who: Principal = Depends(authenticate), svc: Service = Depends(service_of)) -> Response:
        """One case; its version is in the ETag header and in the body."""
        return case_response(svc, svc.visible(who, case_id), who)

    @r.get("/cases/{case_id}/events", response_model=list[m.EventOut], responses=error_responses(404), tags=["cases"])
    def case_events(case_id: str = Path(max_length=MAX_ID), who: Principal = Depends(authenticate), svc: Service = Depends(service_of)) -> Response:
        """The audit trail of a case, oldest first."""
        case = svc.visible(who, case_id)
        events = [event_json(e.to_dict()) for e in svc.engine.store.events(case.id)]
        if not who.sees_contact_of(case):
            for e in events:
                if e["action"] == "report":
                    e["data"] = {**e["data"], "reporter": MASK if e["data"].get("reporter") is not None else None}
                    if e["actor"] == case.reporter:
                        e["actor"] = MASK
        return Response(_dumps(events), media_type="application/json")

    for action, body_model in ACTION_BODIES.items():
        r.post(
            f"/cases/{{case_id}}/{action_path(action)}",
            response_model=m.CaseOut,
            responses=error_responses(403, 404, 409, 412, 428),
            tags=["transitions"],
            operation_id=f"case_{action.value}",
        )(_transition_endpoint(action, body_model))

    @r.get("/directory/boards", response_model=list[str], responses=COMMON_ERRORS, tags=["cases"])
    def boards(who: Principal = Depends(authenticate)) -> list[str]:
        """The four boards (板块) a case can be dispatched to as ``board:<name>``."""
        return list(m.BOARDS)

    return r


def _transition_endpoint(action: Action, body_model: type[BaseModel]) -> Callable[..., Any]:
    """The endpoint of one transition (``action`` fixed in the closure; a body of ``body_model``,
    none at all for :class:`~twin.service.models.EmptyIn`)."""
    if body_model is m.EmptyIn:

        async def endpoint_empty(
            body: m.EmptyIn | None = Body(default=None),
            case_id: str = Path(max_length=MAX_ID),
            who: Principal = Depends(authenticate),
            if_match: str | None = Header(default=None, max_length=MAX_IF_MATCH),
            svc: Service = Depends(service_of),
        ) -> Response:
            return await svc.execute(lambda: run_transition(svc, action, case_id, who, if_match, None), case_id)  # type: ignore[no-any-return]

        endpoint: Callable[..., Any] = endpoint_empty
    else:

        async def endpoint_body(
            body: body_model,  # type: ignore[valid-type]
            case_id: str = Path(max_length=MAX_ID),
            who: Principal = Depends(authenticate),
            if_match: str | None = Header(default=None, max_length=MAX_IF_MATCH),
            svc: Service = Depends(service_of),
        ) -> Response:
            return await svc.execute(lambda: run_transition(svc, action, case_id, who, if_match, body), case_id)  # type: ignore[no-any-return]

        endpoint_body.__annotations__["body"] = body_model  # a local: resolve it for FastAPI
        endpoint = endpoint_body
    endpoint.__name__ = f"case_{action.value}"
    endpoint.__doc__ = f"Apply `{action.value}` to a case (If-Match: the case version)."
    return endpoint
