"""The FastAPI dependencies every router shares: the running service and the caller.

Each router (cases, supervision, modes) reaches the one :class:`~twin.service.app.Service` of
the application through the app state (:func:`service_of`) and the caller through
:func:`authenticate`; the fast lane takes :func:`authorise` for the rate limit, so both lanes
answer a missing token, an unknown one and a caller over its rate alike.
"""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials

from twin.service.app import ApiError, Service
from twin.service.auth import Principal
from twin.service.edge import BEARER, bearer_token


def service_of(request: Request) -> Service:
    """The running service of the application serving the request."""
    svc: Service = request.app.state.service
    return svc


async def authenticate(request: Request, _doc: HTTPAuthorizationCredentials | None = Depends(BEARER)) -> Principal:
    """The authenticated, rate-limited caller. Async on purpose: a cached token costs no trip to
    the thread pool; a miss reads the store in a worker thread (one read for all the requests
    that miss on that token meanwhile: :meth:`~twin.service.app.Service.principal`). The header is read as the fast
    lane reads it (:func:`~twin.service.edge.bearer_token`); ``BEARER`` only declares the scheme
    in OpenAPI."""
    svc = service_of(request)
    token = bearer_token(request.headers.get("authorization"))
    if token is None:
        raise ApiError(401, "unauthenticated", "send Authorization: Bearer <token>", {"WWW-Authenticate": "Bearer"})
    p, why = await svc.principal(token)
    if p is None:
        raise ApiError(401, "unauthenticated", why, {"WWW-Authenticate": 'Bearer error="invalid_token"'})
    limited = svc.over_rate(p)
    if limited is not None:
        raise limited
    return p


def authorise(svc: Service, who: Principal) -> Response | None:
    """What :func:`authenticate` does after the token (the rate limit), for the fast lane."""
    limited = svc.over_rate(who)
    return None if limited is None else limited.response()
