"""The HTTP edge's rules, written once: the fast lane (twin/service/fastpath.py), the FastAPI
dependencies and endpoints (twin/service/deps.py, twin/service/cases.py) and the Open311 facade (twin/service/open311.py)
all take them from here, so the lanes cannot drift apart (tests/service/test_lanes.py sends every
hot request shape through both lanes and compares the answers).

- :func:`bearer_token` — the token of an ``Authorization`` header (scheme case-insensitive, as
  RFC 9110 and FastAPI's ``HTTPBearer`` have it);
- :data:`MAX_ID`, :data:`MAX_IF_MATCH` — the length limits of a case id and an If-Match value;
- :func:`rate_limited` — the one 429 answer (error code, reason, Retry-After);
- :func:`action_path` / :data:`ACTION_OF_PATH` — a transition's path segment and back;
- :func:`scope_filter` — what a principal's scope (and role) adds to a case query.
"""

from __future__ import annotations

from typing import Any

from fastapi.security import HTTPBearer

from twin.engine.types import Action
from twin.service.auth import Principal, Role

#: Longest case id in a path, and longest If-Match value, either lane accepts (longer: 422).
MAX_ID = 64
MAX_IF_MATCH = 64
RATE_LIMITED = "rate_limited"
#: The bearer scheme as OpenAPI declares it (every authenticated route depends on it; the header
#: itself is read by :func:`bearer_token`).
BEARER = HTTPBearer(auto_error=False, description="a token from `twin token create`")


def bearer_token(header: str | bytes | None) -> str | None:
    """The token of ``Authorization: Bearer <token>`` (any case of ``Bearer``), else None."""
    if header is None:
        return None
    text = header.decode("latin-1") if isinstance(header, bytes) else header
    scheme, _, token = text.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def rate_limited(wait: int, rate_per_second: float) -> tuple[int, str, str, dict[str, str]]:
    """The 429 answer for a principal over its rate: (status, error code, reason, headers)."""
    return 429, RATE_LIMITED, f"more than {rate_per_second:g} requests a second", {"Retry-After": str(wait)}


def action_path(action: Action) -> str:
    """The path segment of a transition: ``/cases/{id}/<segment>`` (``fail_verification`` →
    ``fail-verification``)."""
    return action.value.replace("_", "-")


#: Path segment → transition (the inverse of :func:`action_path`) for every transition a client may ask for.
ACTION_OF_PATH: dict[str, Action] = {action_path(a): a for a in Action}


def scope_filter(who: Principal) -> dict[str, Any]:
    """The query fields a principal's scope and role impose on every case query: its unit; a
    resident's or device's own reports; a department's own assignments."""
    out: dict[str, Any] = {who.scope_kind.value: who.scope_unit}
    if who.role in (Role.RESIDENT, Role.DEVICE):
        out["reporter"] = who.id
    elif who.role is Role.DEPARTMENT:
        out["assignee"] = who.id
    return out


def scoped(who: Principal, asked: dict[str, Any]) -> dict[str, Any] | None:
    """``asked`` (query fields a client filtered by; None: any) narrowed to ``who``'s scope, or
    None when a filter contradicts the scope (the answer is then empty, not an error)."""
    out = {k: v for k, v in asked.items() if v is not None}
    for k, v in scope_filter(who).items():
        if out.get(k, v) != v:
            return None
        out[k] = v
    return out
