"""Both lanes answer alike: every hot request shape — a report and a transition, valid and each
way they fail — sent through the fast lane (twin/service/fastpath.py) and through FastAPI alone,
over one service with the engine's clock fixed, must give the same status, the same headers that
matter and the same body (case ids aside: each lane works on its own twin case).

The fast lane serves only what it can (a valid token — cached, or looked up once for the
requests that miss on it together —, a body its model accepts, the headers
within their limits) and hands the rest to FastAPI; the test checks it did serve the shapes it
should, so the comparison is between two implementations, not one answer twice."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from twin.service.app import ServiceApp, ServiceConfig, build_service, create_app
from twin.service.auth import Principal, new_token, token_hash
from twin.service.limits import RateLimiter

from .helpers import OTHER_PLACE, PLACE, ROLE_SCOPES

#: Headers whose values both lanes must agree on (present or absent alike).
HEADERS = ("content-type", "etag", "location", "retry-after", "www-authenticate", "idempotent-replayed")
FIXED_MINUTES = 29_410_000.0  # 2025-12-02 ~05:20 UTC: the engine's clock, the same in both lanes


@pytest.fixture
def lanes(tmp_path: Path) -> Iterator[tuple[Any, ServiceApp, ServiceApp, dict[str, str]]]:
    svc = build_service(ServiceConfig(db=str(tmp_path / "lanes.db"), group_commit=True))
    svc.engine.clock = lambda: FIXED_MINUTES
    tokens: dict[str, str] = {}
    for name, (role, kind, unit) in ROLE_SCOPES.items():
        tokens[name] = new_token()
        svc.sstore.add_token(token_hash(tokens[name]), Principal(name, role, kind, unit), time.time())
    fast, slow = create_app(service=svc), create_app(service=svc, fast_lane=False)
    try:
        yield svc, fast, slow, tokens
    finally:
        svc.engine.store.close()
        svc.sstore.close()


def _normal(r: httpx.Response, ids: dict[str, str]) -> tuple[int, dict[str, str | None], str]:
    text = r.text
    for real, alias in ids.items():
        text = text.replace(real, alias)
    heads = {h: r.headers.get(h) for h in HEADERS}
    if heads["location"]:
        for real, alias in ids.items():
            heads["location"] = heads["location"].replace(real, alias)
    return r.status_code, heads, text


Shape = tuple[str, Callable[[str], tuple[str, str, dict[str, str], Any]], bool]


def test_every_hot_request_shape_gets_the_same_answer_from_both_lanes(lanes: tuple[Any, ServiceApp, ServiceApp, dict[str, str]]) -> None:
    svc, fast, slow, tok = lanes

    def auth(name: str, scheme: str = "Bearer") -> dict[str, str]:
        return {"Authorization": f"{scheme} {tok[name]}"}

    def fresh(name: str, expires_in: float | None = None) -> dict[str, str]:
        """A new token of ``name``'s principal, in no cache yet (a new one at each call: each
        lane meets it first); ``expires_in`` seconds (negative: already expired)."""
        role, kind, unit = ROLE_SCOPES[name]
        token, now = new_token(), time.time()
        svc.sstore.add_token(token_hash(token), Principal(name, role, kind, unit), now, None if expires_in is None else now + expires_in)
        return {"Authorization": f"Bearer {token}"}

    expired = fresh("grid_worker", -1.0)  # one for both lanes: its id is in the 401's text
    body = {"category": "environment", "tier": "T1", **PLACE, "description": "litter by gate 3"}
    # (name, request(case id) → (method, path, headers, json), served by the fast lane)
    shapes: list[Shape] = [
        ("report", lambda cid: ("POST", "/cases", auth("grid_worker"), body), True),
        ("report, lower-case scheme", lambda cid: ("POST", "/cases", auth("grid_worker", "bearer"), body), True),
        ("report with contact", lambda cid: ("POST", "/cases", auth("resident"), {**body, "contact": "13800000000"}), True),
        ("report, unknown category", lambda cid: ("POST", "/cases", auth("grid_worker"), {**body, "category": "environmnet"}), True),
        ("report, resident as device", lambda cid: ("POST", "/cases", auth("resident"), {**body, "source": "device"}), True),
        ("report outside scope", lambda cid: ("POST", "/cases", auth("grid_worker"), {**body, **OTHER_PLACE}), True),
        ("report by a role that may not", lambda cid: ("POST", "/cases", auth("department"), body), True),
        ("report, no token", lambda cid: ("POST", "/cases", {}, body), False),
        ("report, unknown token", lambda cid: ("POST", "/cases", {"Authorization": "Bearer nope"}, body), False),
        ("report, token not cached yet", lambda cid: ("POST", "/cases", fresh("grid_worker"), body), True),
        ("report, expired token", lambda cid: ("POST", "/cases", expired, body), False),
        ("report, missing field", lambda cid: ("POST", "/cases", auth("grid_worker"), {"category": "environment"}), False),
        ("report, server-owned field", lambda cid: ("POST", "/cases", auth("grid_worker"), {**body, "state": "closed"}), False),
        ("accept", lambda cid: ("POST", f"/cases/{cid}/accept", {**auth("grid_worker"), "If-Match": '"1"'}, {}), True),
        ("accept, If-Match *", lambda cid: ("POST", f"/cases/{cid}/accept", {**auth("grid_worker"), "If-Match": "*"}, {}), True),
        ("accept, token not cached yet", lambda cid: ("POST", f"/cases/{cid}/accept", {**fresh("grid_worker"), "If-Match": '"1"'}, {}), True),
        ("accept, no If-Match", lambda cid: ("POST", f"/cases/{cid}/accept", auth("grid_worker"), {}), False),
        ("accept, stale If-Match", lambda cid: ("POST", f"/cases/{cid}/accept", {**auth("grid_worker"), "If-Match": '"7"'}, {}), True),
        ("accept, weak If-Match", lambda cid: ("POST", f"/cases/{cid}/accept", {**auth("grid_worker"), "If-Match": 'W/"1"'}, {}), True),
        ("accept, If-Match too long", lambda cid: ("POST", f"/cases/{cid}/accept", {**auth("grid_worker"), "If-Match": "1" * 65}, {}), False),
        ("resolve a reported case", lambda cid: ("POST", f"/cases/{cid}/resolve", {**auth("grid_worker"), "If-Match": '"1"'}, {}), True),
        ("accept by a resident", lambda cid: ("POST", f"/cases/{cid}/accept", {**auth("resident"), "If-Match": '"1"'}, {}), True),
        ("accept out of scope", lambda cid: ("POST", f"/cases/{cid}/accept", {**auth("grid_worker_g2"), "If-Match": '"1"'}, {}), True),
        ("accept an unknown case", lambda cid: ("POST", "/cases/no-such-case/accept", {**auth("grid_worker"), "If-Match": '"1"'}, {}), True),
        ("accept, id too long", lambda cid: ("POST", f"/cases/{'x' * 65}/accept", {**auth("grid_worker"), "If-Match": '"1"'}, {}), False),
        ("reject without its body", lambda cid: ("POST", f"/cases/{cid}/reject", {**auth("grid_worker"), "If-Match": '"1"'}, {"why": 1}), False),
        ("dispatch to an unknown board", lambda cid: ("POST", f"/cases/{cid}/dispatch", {**auth("grid_worker"), "If-Match": '"1"'}, {"assignees": ["board:x"]}), False),
    ]

    async def run() -> None:
        clients = [httpx.AsyncClient(transport=httpx.ASGITransport(app=a), base_url="http://lane") for a in (fast, slow)]
        try:
            for name in tok:  # FastAPI checks each token once; the fast lane serves cached ones
                for c in clients:
                    assert (await c.get("/me", headers=auth(name))).status_code == 200
            twins = []
            for c in clients:  # a reported case per lane, made alike
                r = await c.post("/cases", headers=auth("grid_worker"), json=body)
                assert r.status_code == 201, r.text
                twins.append(r.json()["id"])
            for name, make, served in shapes:
                answers = []
                for lane, c in enumerate(clients):
                    cid = twins[lane]
                    method, path, headers, payload = make(cid)
                    before = fast.fast_path.served
                    r = await c.request(method, path, headers=headers, json=payload)
                    if lane == 0:
                        assert (fast.fast_path.served > before) == served, f"{name}: fast lane served={not served}"
                    created = r.json().get("id") if r.status_code == 201 else None
                    ids = {cid: "<case>", **({created: "<new>"} if created else {})}
                    answers.append(_normal(r, ids))
                assert answers[0] == answers[1], f"{name}: lanes differ\n fast: {answers[0]}\n fastapi: {answers[1]}"
                if answers[0][0] == 200:  # a case changed: fresh twins for the shapes that follow
                    twins = []
                    for c in clients:
                        r = await c.post("/cases", headers=auth("grid_worker"), json=body)
                        twins.append(r.json()["id"])
            # the 429 answer: a principal over its rate, on both lanes
            svc.rate = RateLimiter(0.001, 1.0)
            assert (await clients[0].post("/cases", headers=auth("grid_worker"), json=body)).status_code == 201
            limited = [_normal(await c.post("/cases", headers=auth("grid_worker"), json=body), {}) for c in clients]
            assert limited[0][0] == 429 and limited[0] == limited[1], limited
        finally:
            for c in clients:
                await c.aclose()

    asyncio.run(run())
