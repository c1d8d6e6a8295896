"""A direct lane for the hot write requests: reports and transitions, as plain ASGI.

Profiling the service showed most of a request's CPU in FastAPI's machinery around the work
(dependency solving, parameter models, four middleware layers, exception wrapping), not in
the work. :class:`FastPath` sits inside the limits (concurrency, body size) and serves the
common, well-formed case of ``POST /cases`` (no Idempotency-Key) and
``POST /cases/{id}/{action}`` itself: a valid bearer token (cached, or looked up once for all
the requests that miss on it together), a JSON body that the endpoint's
own pydantic model accepts, headers within their limits. It then does exactly what the
FastAPI endpoint does — the same model validation, the same authentication and rate limit,
the same function producing the same response, the same exception handlers for errors.

Anything else (an unknown, expired or revoked token, a body the model rejects, a missing header, an
unusual content type, any other path) is passed on untouched to the FastAPI application, with
the body already read handed on, so errors and edge cases keep their one implementation.
Nothing with an effect happens before that decision.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from twin.engine.jsoncodec import loads
from twin.service.auth import Principal
from twin.service.edge import MAX_ID, MAX_IF_MATCH, bearer_token

#: ``run(case_id, who, if_match, body)`` → the response (on the committer thread).
TransitionRun = Callable[[str, Principal, str, Any], Response]
#: ``report(who, body)`` → the response (awaitable; stores through the group commit).
ReportRun = Callable[[Principal, Any], Awaitable[Response]]
#: ``authorise(who)`` → None, or the error response (rate limit) the endpoint would give.
Authorise = Callable[[Principal], Response | None]


class FastPath:
    """Pure ASGI middleware: hot requests served directly, everything else passed on."""

    def __init__(
        self,
        app: ASGIApp,
        principal: Callable[[str], Principal | None | object],
        lookup: Callable[[str], Awaitable[tuple[Principal | None, str]]],
        authorise: Authorise,
        execute: Callable[[Callable[[], Any], str | None], Awaitable[Any]],
        transitions: Mapping[str, tuple[type[BaseModel], bool, TransitionRun]],
        report_model: type[BaseModel],
        report: ReportRun,
        handlers: dict[Any, Callable[..., Any]],
    ) -> None:
        self.app = app
        self.principal = principal
        self.lookup = lookup
        self.authorise = authorise
        self.execute = execute
        self.transitions = transitions
        self.report_model = report_model
        self.report = report
        self.handlers = handlers
        self.served = 0  # requests this lane answered itself (the rest went to FastAPI)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path == "/cases":
            target: tuple[type[BaseModel], bool, TransitionRun] | None = None
            case_id = ""
        elif path.startswith("/cases/"):
            case_id, sep, action = path[7:].partition("/")
            target = self.transitions.get(action) if sep else None
            if target is None or not case_id or len(case_id) > MAX_ID:
                await self.app(scope, receive, send)
                return
        else:
            await self.app(scope, receive, send)
            return

        token = if_match = ctype = None
        plain = True
        for name, value in scope["headers"]:
            if name == b"authorization":
                if token is None:
                    token = value
            elif name == b"if-match":
                if if_match is None:
                    if_match = value
            elif name == b"content-type":
                if ctype is None:
                    ctype = value
            elif name == b"idempotency-key":
                plain = False
        body, message = await _read_body(receive)
        if message is not None:  # the client went away (or an odd message): let the app see it
            await self.app(scope, _replay(b"", message, receive), send)
            return
        response = await self._serve(scope, receive, target, case_id, token, if_match, ctype, plain, body)
        if response is None:
            await self.app(scope, _replay(body, None, receive), send)
            return
        self.served += 1
        await response(scope, receive, send)

    async def _serve(
        self,
        scope: Scope,
        receive: Receive,
        target: tuple[type[BaseModel], bool, TransitionRun] | None,
        case_id: str,
        token: bytes | None,
        if_match: bytes | None,
        ctype: bytes | None,
        plain: bool,
        body: bytes,
    ) -> Response | None:
        """The response, or None to hand the request to the application."""
        bearer = bearer_token(token)
        if bearer is None or ctype is None:
            return None
        if not ctype.startswith(b"application/json") or not body:
            return None
        who = self.principal(bearer)
        if not isinstance(who, Principal):  # not cached: look it up (no effect) and stay here if valid
            try:
                who, _why = await self.lookup(bearer)
            except Exception:  # the store is away: the application answers (503) as usual
                return None
            if who is None:  # unknown, expired or revoked: the application answers the 401
                return None
        try:
            data = loads(body)
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        if target is None:
            if not plain:
                return None
            try:
                parsed: Any = self.report_model.model_validate(data)
            except ValidationError:
                return None
        else:
            model, empty, run = target
            if if_match is None or len(if_match) > MAX_IF_MATCH:
                return None
            try:
                parsed = model.model_validate(data)
            except ValidationError:
                return None
        denied = self.authorise(who)
        if denied is not None:
            return denied
        try:
            if target is None:
                return await self.report(who, parsed)
            im = if_match.decode("latin-1") if if_match is not None else ""
            arg = None if empty else parsed
            result: Response = await self.execute(lambda: run(case_id, who, im, arg), case_id)
            return result
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise
            out: Response = await handler(Request(scope, receive), exc)
            return out

    def _handler(self, exc: Exception) -> Callable[..., Any] | None:
        for cls in type(exc).__mro__:
            h = self.handlers.get(cls)
            if h is not None:
                return h
        return None


async def _read_body(receive: Receive) -> tuple[bytes, Message | None]:
    """The whole request body, or (what was read, the message that was not a body part)."""
    chunks: list[bytes] = []
    while True:
        msg = await receive()
        if msg["type"] != "http.request":
            return b"".join(chunks), msg
        chunks.append(msg.get("body", b""))
        if not msg.get("more_body", False):
            return b"".join(chunks), None


def _replay(body: bytes, message: Message | None, receive: Receive) -> Receive:
    """A receive that first gives back what was read, then continues with ``receive``."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}] if message is None else [message]

    async def again() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return again
