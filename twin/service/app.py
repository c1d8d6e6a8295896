"""The FastAPI application: the case engine over HTTP, with auth, limits and Open311.

``create_app(config)`` builds one application over one database; ``app_from_env()`` is the
factory uvicorn's worker processes call (``twin serve`` passes the configuration through the
environment). Engine time is wall time in minutes since the Unix epoch. Each process runs
its own engine timers and supervision; the database is the truth (optimistic versions in the
database, supervision notices stored once per key), so several workers can share it.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import hashlib
import json
import logging
import os
import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, fields
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from twin.engine import CaseEngine, Supervisor, jsoncodec
from twin.engine.errors import (
    CaseNotFound,
    DuplicateKey,
    EngineError,
    IdempotencyConflict,
    IllegalTransition,
    InvalidInput,
    StoreError,
    VersionConflict,
)
from twin.engine.sla import SlaPolicy
from twin.engine.transitions import new_case
from twin.engine.types import Action, Case, Place
from twin.engine.worktime import ClockKind, WorkTime
from twin.service import models as m
from twin.service.auth import (
    REPORTING_ROLES,
    Principal,
    Role,
    token_hash,
)
from twin.service.catalogue import DEFAULT_CATALOGUE
from twin.service.catalogue import resolve as resolve_catalogue
from twin.service.edge import (
    action_path,
    rate_limited,
)
from twin.service.fastpath import FastPath
from twin.service.geometry import DEFAULT_BBOX, TerritoryMap, territory_map
from twin.service.groupcommit import GroupCommitStore
from twin.service.limits import BodyLimitMiddleware, ConcurrencyLimitMiddleware, NulGuardMiddleware, RateLimiter
from twin.service.metrics import process_metrics
from twin.service.open311 import open311_error
from twin.service.storage import ServiceStore, migrate_contacts, open_stores
from twin.service.times import case_times, iso_times

log = logging.getLogger("twin.service")

#: Default source of a report by role, when the client names none.
DEFAULT_SOURCE: dict[Role, str] = {
    Role.RESIDENT: "app",
    Role.DEVICE: "device",
    Role.GRID_WORKER: "patrol",
}
#: Channels a role may report through: a resident through the app, by calling 12345 or as a
#: rider's 随手拍 — never as a device or a grid worker's patrol; a device only as a device.
ALLOWED_SOURCES: dict[Role, tuple[str, ...]] = {Role.RESIDENT: ("app", "hotline", "rider"), Role.DEVICE: ("device",)}
MASK = "***"
_MISS = object()


@dataclass
class ServiceConfig:
    """Everything a running service is configured with (``twin serve`` flags)."""

    db: str = "gridtwin.db"
    max_body_bytes: int = 64 * 1024
    max_page: int = 200
    rate_per_second: float = 2000.0  # per principal and process; 0 switches the limit off
    rate_burst: float = 4000.0
    max_in_flight: int = 64  # per process
    idempotency_lease_seconds: float = 10.0
    tick_seconds: float = 5.0
    supervision_seconds: float = 60.0
    categories: str = DEFAULT_CATALOGUE  # the catalogue a report's category must be in (twin.service.catalogue)
    any_category: bool = False  # accept any category (no catalogue)
    territory: str = "street"  # the grids' geometry for Open311 points: a scenario (lattice over the box) or a .geojson
    territory_bbox: str = ",".join(f"{x:g}" for x in DEFAULT_BBOX)  # south,west,north,east of the lattice
    open311_public_reads: bool = True  # GeoReport v2: reading requests needs no api_key
    token_cache_seconds: float = 1.0  # how long a revocation may take to reach this process
    group_commit: bool = True
    committers: int = 0  # group-commit threads; 0: one for SQLite (one writer at a time), two for PostgreSQL
    switch_interval_ms: float = 0.5  # the process's GIL switch interval (see app_from_env); 0: Python's default
    auto_escalate: bool = False  # escalate a case whose level allowance lapsed (off: 督办 warns, the case stays)
    mode_allow_skip: bool = True  # POST /mode may skip a rung (normal → 全员下沉): the source does not forbid it
    mobilisation_teams: str = ""  # the mobilisation's teams: a scenario's [emergency.teams]; empty: flood's (twin/service/mobilisation.py)
    member_token_hours: float = 72.0  # a member token's lifetime from check-in, if the mobilisation lasts that long [A]

    ENV_PREFIX = "GRIDTWIN_SERVE_"

    def to_env(self) -> dict[str, str]:
        return {self.ENV_PREFIX + f.name.upper(): str(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> ServiceConfig:
        env = dict(os.environ) if env is None else env
        kw: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(cls.ENV_PREFIX + f.name.upper())
            if raw is not None:
                kind = type(getattr(cls(), f.name))
                kw[f.name] = raw.lower() in ("1", "true", "yes") if kind is bool else kind(raw)
        return cls(**kw)


class JsonResponse(Response):
    """A response of JSON bytes already encoded, with its headers given as raw pairs: what the
    hot endpoints answer with (Starlette's general constructor costs as much as the encoding)."""

    media_type = "application/json"

    def __init__(self, body: bytes, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        self.status_code = status
        self.body = body
        self.background = None
        self.raw_headers = [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json"), *headers]


class ApiError(Exception):
    """An error answered with ``status`` and ``{"error": code, "reason": reason}``."""

    def __init__(self, status: int, error: str, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.error = error
        self.reason = reason
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        """The error as its JSON answer."""
        return _error(self.status, self.error, self.reason, self.headers)


def _error(status: int, error: str, reason: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "reason": reason}, status_code=status, headers=headers)


_dumps = jsoncodec.dumps


@dataclass
class Service:
    """The running service's state: engine, stores, caches and background timers."""

    config: ServiceConfig
    engine: CaseEngine
    sstore: ServiceStore
    rate: RateLimiter
    _tokens: dict[str, tuple[Principal, float]] = field(default_factory=dict)
    _contacts: dict[str, str | None] = field(default_factory=dict)
    _lookups: dict[str, asyncio.Task[tuple[Principal | None, str]]] = field(default_factory=dict)  # token lookups under way
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _next_supervision: float | None = None  # monotonic seconds of the loop's next supervision round

    @functools.cached_property
    def catalogue(self) -> frozenset[str]:
        """The categories a report may name (empty: any), from ``config.categories``."""
        return frozenset() if self.config.any_category else resolve_catalogue(self.config.categories)

    @functools.cached_property
    def territory(self) -> TerritoryMap:
        """The grids' geometry: which grid a reported point lies in (Open311 lat/long)."""
        return territory_map(self.config.territory, self.config.territory_bbox)

    @functools.cached_property
    def mobilisation(self) -> Any:
        """The mobilisation (check-ins, teams, tasks): :class:`twin.service.mobilisation.Mobilisations`."""
        from twin.service.mobilisation import Mobilisations

        return Mobilisations(self)

    # ------------------------------------------------------------- principals
    def over_rate(self, who: Principal) -> ApiError | None:
        """The 429 for ``who`` when over its rate (every lane answers it alike), else None."""
        wait = self.rate.take(who.id)
        return None if wait is None else ApiError(*rate_limited(wait, self.config.rate_per_second))

    def cached_principal(self, token: str) -> Principal | object:
        """The cached principal of a valid token, or ``_MISS`` when the store must be asked.
        Only valid tokens are cached (no negative cache: a token created a moment ago is
        never refused), each for at most ``token_cache_seconds`` and never past its expiry."""
        hit = self._tokens.get(token)
        if hit is not None and hit[1] > time.time():
            return hit[0]
        return _MISS

    def check_token(self, token: str) -> tuple[Principal | None, str]:
        """(the principal, "") for a valid token, else (None, why it is refused: unknown,
        expired or revoked — the 401 text)."""
        now = time.time()
        hit = self._tokens.get(token)
        if hit is not None and hit[1] > now:
            return hit[0], ""
        rec = self.sstore.token(token_hash(token))
        if rec is None:
            return None, "unknown token"
        why = rec.refusal(now)
        if why is not None:
            self._tokens.pop(token, None)
            return None, why
        if len(self._tokens) > 10_000:  # bounded
            self._tokens.clear()
        until = now + self.config.token_cache_seconds
        self._tokens[token] = (rec.principal, until if rec.expires_at is None else min(until, rec.expires_at))
        return rec.principal, ""

    async def principal(self, token: str) -> tuple[Principal | None, str]:
        """:meth:`check_token` from the event loop: the cache, else one store lookup in the thread
        pool shared by every request that misses on the same token meanwhile (when a busy
        token's cache entry lapses, each second, dozens of requests in flight miss at once;
        one lookup answers them all, and none of them leaves the fast lane for it)."""
        hit = self._tokens.get(token)
        if hit is not None and hit[1] > time.time():
            return hit[0], ""
        loop = asyncio.get_running_loop()
        pending = self._lookups.get(token)
        if pending is None or pending.get_loop() is not loop:
            pending = loop.create_task(run_in_threadpool(self.check_token, token))
            self._lookups[token] = pending
            pending.add_done_callback(lambda done: self._lookups.pop(token, None) if self._lookups.get(token) is done else None)
        return await asyncio.shield(pending)

    # ------------------------------------------------------------- execution
    async def execute(self, fn: Callable[[], Any], key: str | None = None) -> Any:
        """Run a request's store work off the event loop: with group commit on a committer
        thread inside the batch (acknowledged once durable, no thread-pool hop; ``key``, the
        case id, keeps one case's requests on one committer), else in the thread pool."""
        store = self.engine.store
        if isinstance(store, GroupCommitStore):
            return await store.run(fn, key)
        return await run_in_threadpool(fn)

    # ---------------------------------------------------------------- views
    def contact(self, case_id: str) -> str | None:
        """The reporter's contact of a case. Cached in-process: a contact is committed with its
        case and never changes, so once a case exists its answer is final."""
        if case_id in self._contacts:
            return self._contacts[case_id]
        contact = self.engine.store.contact(case_id)
        self.remember_contact(case_id, contact)
        return contact

    def remember_contact(self, case_id: str, contact: str | None) -> None:
        if len(self._contacts) >= 100_000:  # bounded
            self._contacts.clear()
        self._contacts[case_id] = contact

    def contact_view(self, case: Case, who: Principal) -> str | None:
        contact = self.contact(case.id)
        if contact is None:
            return None
        return contact if who.sees_contact_of(case) else MASK

    def case_json(self, case: Case, who: Principal, contact: str | None = None, known: bool = False) -> dict[str, Any]:
        """The case as ``who`` may see it: the reporter masked unless entitled, and the
        reporter's contact (masked likewise) as the last field."""
        out = case.to_dict()
        if not who.sees_contact_of(case) and out["reporter"] is not None:
            out["reporter"] = MASK
        out["contact"] = contact if known else self.contact_view(case, who)
        return case_times(out)

    def visible(self, who: Principal, case_id: str) -> Case:
        case = self.engine.store.get(case_id)
        if case is None or not who.can_see(case):
            raise ApiError(404, "not_found", f"no case {case_id!r} in your scope {who.scope}")
        return case

    # ------------------------------------------------------------ background
    def start(self) -> None:
        self.refresh_mode()
        self._thread = threading.Thread(target=self._loop, name="engine-timers", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if "mobilisation" in self.__dict__:
            self.mobilisation.close()

    def refresh_mode(self) -> None:
        cur = self.sstore.current_mode()
        self.engine.mode = "normal" if cur is None else cur.mode

    def supervise(self) -> tuple[int, int]:
        """Emit the supervision notices due now (each stored once, whichever worker runs it) and
        the yellow/red warnings (督办) due on cases' current units (each once per unit stint), as
        the model's supervision does; (new notices, new warnings)."""
        notices = Supervisor(self.engine.store, self.engine.clock).run()
        return len(notices), len(self.engine.warn_due())

    def beat(self, monotonic: float) -> None:
        """One round of the background loop at ``monotonic`` seconds: the mode, the engine's
        timers, and supervision when its period has come round (the first within 5 s)."""
        self.refresh_mode()
        self.engine.tick()
        if self.engine.mode != "normal":
            self.mobilisation.sweep()  # emergency reports → their team's tasks
        if self._next_supervision is None:
            self._next_supervision = monotonic + min(self.config.supervision_seconds, 5.0)
        if monotonic >= self._next_supervision:
            self.supervise()
            self._next_supervision = monotonic + self.config.supervision_seconds

    def _loop(self) -> None:
        self._next_supervision = time.monotonic() + min(self.config.supervision_seconds, 5.0)
        while not self._stop.wait(min(1.0, self.config.tick_seconds)):
            try:
                self.beat(time.monotonic())
            except Exception:  # the database may be away for a moment; the next tick retries
                log.exception("engine timers: tick failed; retrying")


#: The service's working day (a city office's 8:30–12:00 and 13:30–17:30) [A]; limits of
#: working-time matters count these minutes on PRC working days (holidays and 调休 included).
SERVICE_WORKING_WINDOWS: tuple[tuple[float, float], ...] = ((8.5, 12.0), (13.5, 17.5))


@functools.cache
def service_calendar() -> WorkTime:
    """The working calendar of the service's matter limits, in Unix-epoch minutes, 2020–2060."""
    start = datetime.date(2020, 1, 1)
    return WorkTime(SERVICE_WORKING_WINDOWS, ClockKind.WORKING, start=start, days=(datetime.date(2061, 1, 1) - start).days)


def wall_clock_minutes() -> float:
    return time.time() / 60.0


COMMON_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": m.ErrorOut, "description": "the body could not be parsed"},
    401: {"model": m.ErrorOut, "description": "missing or unknown bearer token"},
    413: {"model": m.ErrorOut, "description": "request body too large"},
    422: {"model": m.ErrorOut, "description": "invalid input (names the field)"},
    429: {"model": m.ErrorOut, "description": "rate limit of the principal exceeded; see Retry-After"},
    503: {"model": m.ErrorOut, "description": "overloaded or database unavailable; see Retry-After"},
}


#: What the case endpoints' own errors mean (the OpenAPI descriptions of :func:`error_responses`).
CASE_ERRORS: dict[int, str] = {
    403: "your role may not do this",
    404: "no such case in your scope",
    409: "illegal transition, or an idempotent request still in flight",
    412: "If-Match does not carry the case's current version",
    428: "If-Match (the case version) is required",
}


def error_responses(
    *codes: int, described: dict[int, str] = CASE_ERRORS, repeat: type[BaseModel] | None = None
) -> dict[int | str, dict[str, Any]]:
    """An endpoint's OpenAPI responses: :data:`COMMON_ERRORS` (400, 401, 413, 422, 429, 503:
    every route answers them alike) and ``codes``, each an :class:`~twin.service.models.ErrorOut`
    described by ``described`` — except 200, the answer to a repeat, whose model is ``repeat``."""
    out = dict(COMMON_ERRORS)
    for c in codes:
        out[c] = {"model": repeat, "description": described[c]} if c == 200 else {"model": m.ErrorOut, "description": described[c]}
    return out


def parse_if_match(value: str | None, current: int) -> int | None:
    """The version an If-Match header asks for, by the strong comparison RFC 9110 requires:
    ``"3"`` → 3, ``*`` → ``current`` (any existing case); a weak tag (``W/"3"``) or anything
    else → None, which never matches. A bare ``3`` is taken as ``"3"`` for older clients."""
    if value is None:
        return None
    v = value.strip()
    if v == "*":
        return current
    if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
        v = v[1:-1]
    return int(v) if v.isdigit() and len(v) < 10 else None


def body_fingerprint(principal: Principal, body: dict[str, Any]) -> str:
    blob = json.dumps([principal.id, body], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def build_service(config: ServiceConfig) -> Service:
    store, sstore = open_stores(config.db, group_commit=config.group_commit, committers=config.committers)
    moved = migrate_contacts(store, sstore)
    if moved:
        log.info("moved %d contact(s) beside their cases; orphans dropped", moved)
    sla = SlaPolicy(calendar=service_calendar())
    engine = CaseEngine(store, wall_clock_minutes, sla=sla, auto_escalate=config.auto_escalate)
    svc = Service(config, engine, sstore, RateLimiter(config.rate_per_second, config.rate_burst))
    _ = svc.catalogue  # resolved now: a bad --categories stops the start, not the first report
    return svc


def create_app(config: ServiceConfig | None = None, service: Service | None = None, fast_lane: bool = True) -> ServiceApp:
    """The application over ``config.db`` (or an already built ``service``). ``fast_lane``
    off: every request goes through FastAPI (the other lane, for the lanes' differential test)."""
    config = config or (service.config if service is not None else ServiceConfig())
    svc = service or build_service(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc.start()
        try:
            yield
        finally:
            svc.stop()
            svc.engine.store.close()
            svc.sstore.close()

    app = FastAPI(
        title="gridtwin case engine",
        version="1",
        description=(
            "The grid-governance case engine (网格化管理 事件处置闭环) over HTTP. Bearer tokens from "
            "`twin token create`; every change of a case carries `If-Match: \"<version>\"`; reports take an "
            "`Idempotency-Key`. Times are ISO 8601 with offset (+08:00, e.g. `2026-12-03T20:15:07.250+08:00`); "
            "durations are minutes. An Open311 GeoReport v2 facade "
            "lives at /open311/v2."
        ),
        lifespan=lifespan,
    )
    app.state.service = svc

    # --------------------------------------------------------------- errors
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        parts = []
        for e in exc.errors()[:5]:
            loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
            parts.append(f"{loc}: {e.get('msg', 'invalid')}")
        if request.url.path.startswith("/open311/"):
            return open311_error(request.url.path, 400, "; ".join(parts))
        return _error(422, "invalid_input", "; ".join(parts))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # name every method of the path, not just the first route's
            methods: set[str] = set()
            for route in app.routes:
                match, _ = route.matches({"type": "http", "path": request.url.path, "method": "__none__"})
                if match is not Match.NONE:
                    methods |= set(getattr(route, "methods", None) or ())
            headers["Allow"] = ", ".join(sorted(methods))
        if request.url.path.startswith("/open311/"):
            r = open311_error(request.url.path, exc.status_code, str(exc.detail))
            r.headers.update(headers)
            return r
        code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "error")
        return _error(exc.status_code, code, str(exc.detail), headers)

    @app.exception_handler(IllegalTransition)
    async def _illegal(request: Request, exc: IllegalTransition) -> JSONResponse:
        msg = f"illegal transition {str(exc.action)!r} from state {str(exc.state)!r}"
        return _error(409, "illegal_transition", msg + (f": {exc.reason}" if exc.reason else ""))

    engine_errors: list[tuple[type[Exception], int, str]] = [
        (CaseNotFound, 404, "not_found"),
        (VersionConflict, 412, "version_conflict"),
        (IdempotencyConflict, 422, "idempotency_conflict"),
        (InvalidInput, 422, "invalid_input"),
        (DuplicateKey, 409, "duplicate"),
    ]
    for exc_type, status, code in engine_errors:

        def _make(status: int = status, code: str = code) -> Callable[..., Any]:
            async def handler(request: Request, exc: Exception) -> JSONResponse:
                return _error(status, code, str(exc))

            return handler

        app.add_exception_handler(exc_type, _make())

    async def _engine_other(request: Request, exc: Exception) -> JSONResponse:
        return _error(422, "rejected", str(exc))

    app.add_exception_handler(EngineError, _engine_other)

    async def _db_down(request: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable: %s", exc)
        return _error(503, "database_unavailable", "the database is not reachable right now; retry later", {"Retry-After": "1"})

    async def _db_failed(request: Request, exc: Exception) -> JSONResponse:
        # A statement failed in the database (or took its batch with it): nothing of the request
        # was committed. Logged for the operator; the client may retry.
        log.warning("database error: %s: %s", type(exc).__name__, exc)
        return _error(503, "database_error", "the database could not store this request; nothing was committed; retry later", {"Retry-After": "1"})

    import psycopg  # a dependency; imported here so that a SQLite service does not load it at import
    import psycopg_pool

    for t in (sqlite3.OperationalError, psycopg.OperationalError, psycopg_pool.PoolTimeout):
        app.add_exception_handler(t, _db_down)
    for failed in (StoreError, psycopg.DatabaseError):  # the most specific class answers: OperationalError is "down"
        app.add_exception_handler(failed, _db_failed)

    # --------------------------------------------------------------- health
    @app.get("/health", response_model=m.HealthOut, tags=["service"])
    async def health() -> Response:
        """Liveness: the process answers (no authentication)."""
        return Response(b'{"status":"ok"}', media_type="application/json")

    @app.get("/metrics", response_model=m.MetricsOut, tags=["service"])
    async def metrics() -> Response:
        """This worker process's load: CPU seconds, memory, the group committer's queue and
        COMMIT timings, requests served and in flight (no authentication, no personal data;
        answered even at the in-flight limit). Each worker answers for itself (``pid``)."""
        fast = getattr(app.state, "fast_path", None)
        body = process_metrics(svc.engine.store, config.db, getattr(app.state, "front", None), 0 if fast is None else fast.served)
        return Response(_dumps(body), media_type="application/json")

    from twin.service.cases import cases_router, fast_transitions, report_plain
    from twin.service.deps import authorise
    from twin.service.mobilisation import mobilisation_router
    from twin.service.routers import modes_router, supervision_router

    app.include_router(cases_router(config.max_page))
    app.include_router(supervision_router(config.max_page))
    app.include_router(modes_router())
    app.include_router(mobilisation_router(config.max_page))

    def openapi_with_links() -> dict[str, Any]:
        """The generated spec plus OpenAPI links (report → get / events / every transition,
        transition → next transition, If-Match from the ETag) for stateful clients and tests."""
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            paths = spec["paths"]
            targets = {"GetCase": ("get_case_cases__case_id__get", False), "GetEvents": ("case_events_cases__case_id__events_get", False)}
            for action in ACTION_BODIES:
                targets[f"Do_{action.value}"] = (f"case_{action.value}", True)

            def links() -> dict[str, Any]:
                out: dict[str, Any] = {}
                for name, (op_id, needs_version) in targets.items():
                    params: dict[str, str] = {"case_id": "$response.body#/id"}
                    if needs_version:
                        params["header.If-Match"] = "$response.header.ETag"
                    out[name] = {"operationId": op_id, "parameters": params}
                return out

            paths["/cases"]["post"]["responses"]["201"]["links"] = links()
            if svc.catalogue:  # the catalogue in the spec: clients (and generated tests) see the known categories
                category = spec["components"]["schemas"]["ReportIn"]["properties"]["category"]
                category["enum"] = sorted(svc.catalogue)
            for action in ACTION_BODIES:
                path = f"/cases/{{case_id}}/{action_path(action)}"
                paths[path]["post"]["responses"]["200"]["links"] = links()
            ok = paths["/cases/{case_id}"]["get"]["responses"]["200"]
            ok["links"] = links()
            for item in paths.values():
                for op in item.values():
                    for prm in op.get("parameters", []):
                        if prm["in"] == "header" and prm["name"].lower() == "if-match":
                            prm["required"] = True  # missing: 428 (RFC 6585), not a validation error
                            prm["schema"] = {"type": "string", "maxLength": 64, "description": 'the case version, e.g. "3"'}
                    for resp in op.get("responses", {}).values():
                        if resp.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref", "").endswith("/CaseOut"):
                            resp.setdefault("headers", {})["ETag"] = {"description": "the case version", "schema": {"type": "string"}}
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi_with_links  # type: ignore[method-assign]

    from twin.service.open311 import mount_open311

    mount_open311(app, svc, config)
    # The limits and the fast lane sit in front of FastAPI, not inside it: the hot writes skip
    # FastAPI's own middleware layers (error page, telemetry, body limit), which cost as much as
    # the rest of their way through the server; everything FastPath hands on meets them as usual.
    fast = FastPath(
        app,
        principal=svc.cached_principal,
        lookup=svc.principal,
        authorise=functools.partial(authorise, svc),
        execute=svc.execute,
        transitions=fast_transitions(svc),
        report_model=m.ReportIn,
        report=functools.partial(report_plain, svc),
        handlers=app.exception_handlers,
    )
    lane: Any = fast if fast_lane else app
    guarded = NulGuardMiddleware(BodyLimitMiddleware(lane, max_bytes=config.max_body_bytes), open311_error=open311_error)
    front = ConcurrencyLimitMiddleware(guarded, max_in_flight=config.max_in_flight)
    app.state.front = front  # its counters (and the fast lane's) answer GET /metrics
    app.state.fast_path = fast if fast_lane else None
    return ServiceApp(app, front, fast if fast_lane else None)


class ServiceApp:
    """What uvicorn serves: the concurrency and body limits, then the fast lane, then the FastAPI
    application. Attribute access (``state``, ``openapi()``, routes…) goes to the FastAPI
    application, so callers can treat it as one."""

    def __init__(self, api: FastAPI, front: Callable[[Any, Any, Any], Any], fast_path: FastPath | None = None) -> None:
        self.api = api
        self.front = front
        self.fast_path = fast_path

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.front(scope, receive, send)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.api, name)


#: Each transition's request body.
ACTION_BODIES: dict[Action, type[m._In]] = {
    Action.ACCEPT: m.EmptyIn,
    Action.REJECT: m.ReasonIn,
    Action.MERGE: m.MergeIn,
    Action.DISPATCH: m.DispatchIn,
    Action.START: m.EmptyIn,
    Action.RESOLVE: m.ResolveIn,
    Action.VERIFY: m.NoteIn,
    Action.FAIL_VERIFICATION: m.NoteIn,
    Action.CLOSE: m.EmptyIn,
    Action.EVALUATE: m.EvaluateIn,
    Action.ESCALATE: m.ReasonIn,
    Action.RETURN: m.ReasonIn,
    Action.DECLINE: m.ReasonIn,
    Action.EXTEND: m.ExtendIn,
    Action.APPROVE_EXTENSION: m.ApproveExtensionIn,
    Action.REFUSE_EXTENSION: m.ReasonIn,
    Action.SUSPEND: m.SuspendIn,
    Action.RESUME: m.EmptyIn,
    Action.REASSIGN: m.ReassignIn,
    Action.REPLY: m.ReplyIn,
}


def do_report(svc: Service, who: Principal, body: m.ReportIn, idempotency_key: str | None) -> tuple[int, bytes, str, bool]:
    """Report a case for ``who``: (status, response body, case id, whether it was a replay).

    The reporter's contact is committed by the engine in the case's own transaction: a replay,
    a conflicting body or a refused report stores none, and a case never lacks its contact.
    """
    config = svc.config
    if who.role not in REPORTING_ROLES:
        raise ApiError(403, "forbidden", f"role {who.role.value} may not report cases")
    if not who.covers_place(body.grid, body.community, body.street, body.district):
        raise ApiError(403, "forbidden", f"place {body.grid}/{body.community}/{body.street}/{body.district} is outside your scope {who.scope}")
    known = svc.catalogue
    if known and body.category not in known:
        raise ApiError(422, "invalid_input", f"category: unknown {body.category!r}; expected one of {sorted(known)}")
    source = body.source or DEFAULT_SOURCE.get(who.role, "hotline")
    allowed = ALLOWED_SOURCES.get(who.role)
    if allowed is not None and source not in allowed:
        raise ApiError(422, "invalid_input", f"source: a {who.role.value} reports through {' or '.join(allowed)}, got {source!r}")
    case_id = str(uuid.uuid4())
    key = None if idempotency_key is None else f"{who.id}|{idempotency_key}"
    if key is not None:
        st = svc.sstore.idem_begin(key, body_fingerprint(who, body.model_dump()), case_id, time.time(), config.idempotency_lease_seconds)
        if st.outcome == "conflict":
            raise ApiError(422, "idempotency_conflict", f"Idempotency-Key {idempotency_key!r} was used with a different body")
        if st.outcome == "in_flight":
            raise ApiError(409, "in_flight", f"a request with Idempotency-Key {idempotency_key!r} is still being handled; retry", {"Retry-After": "1"})
        if st.outcome == "done":
            assert st.body is not None and st.status is not None and st.case_id is not None
            return st.status, st.body, st.case_id, True
    try:
        case = svc.engine.report(
            category=body.category,
            tier=body.tier,
            place=Place(body.grid, body.community, body.street, body.district),
            source=source,
            reporter=who.id,
            description=body.description,
            lat=body.lat,
            lon=body.lon,
            actor=who.id,
            idempotency_key=key,
            case_id=case_id,
            contact=body.contact,
        )
    except BaseException:
        if key is not None:
            svc.sstore.idem_abort(key)
        raise
    if case.id == case_id:  # a new case (not one a takeover found already made): its contact is final
        svc.remember_contact(case_id, body.contact)
    first = case if case.version == 1 else _first_picture(svc, case)
    payload = _dumps(svc.case_json(first, who))
    if key is not None:
        svc.sstore.idem_finish(key, case.id, 201, payload)
    return 201, payload, case.id, case.id != case_id


def event_json(e: dict[str, Any]) -> dict[str, Any]:
    """An audit event's body: its time, and the times in its data, as ISO 8601 with offset."""
    out = iso_times(e)
    out["data"] = iso_times(out["data"])
    return out


def _first_picture(svc: Service, case: Case) -> Case:
    """The case as its REPORT made it (for byte-identical replays after later changes)."""
    for e in svc.engine.store.events(case.id):
        if e.action is Action.REPORT:
            return new_case(e)
    return case


def app_from_env() -> ServiceApp:
    """uvicorn factory for ``twin serve`` (configuration from GRIDTWIN_SERVE_* variables)."""
    config = ServiceConfig.from_env()
    if config.switch_interval_ms > 0:
        # Two busy threads share the GIL here: the event loop (HTTP) and the group committer (the
        # requests' work). With Python's default 5 ms interval a request waits up to 5 ms at each
        # hand-over; 0.5 ms measured p99 at 80 % load 78 -> 35-56 ms on SQLite (benchmark).
        sys.setswitchinterval(config.switch_interval_ms / 1000.0)
    return create_app(config)
