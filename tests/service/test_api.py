"""The HTTP API over a real ``twin serve`` process on SQLite: lifecycle, idempotency, If-Match,
server-owned fields, error mapping, queries, KPIs, supervision, modes and limits."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from twin.service.app import body_fingerprint
from twin.service.auth import Principal, Role, ScopeKind, token_hash
from twin.service.models import ReportIn
from twin.service.storage import open_service_store

from .helpers import OTHER_PLACE, PLACE, Server, act, report, start_server


def test_health_openapi_docs(sqlite_server: Server) -> None:
    with sqlite_server.client() as c:
        assert c.get("/health").json() == {"status": "ok"}
        spec = c.get("/openapi.json").json()
        assert "/cases" in spec["paths"] and "/open311/v2/requests.{fmt}" in spec["paths"]
        assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
        assert "swagger" in c.get("/docs").text.lower()
        assert c.get("/cases").status_code == 401
        assert c.get("/cases", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_full_lifecycle_and_audit(sqlite_server: Server) -> None:
    t = sqlite_server.tokens
    with sqlite_server.client(t["resident"]) as res, sqlite_server.client(t["grid_worker"]) as gw, sqlite_server.client(t["street_centre"]) as sc:
        r = report(res, contact="13800001111", description="litter by gate 3")
        assert r.status_code == 201, r.text
        case = r.json()
        assert case["state"] == "reported" and case["version"] == 1 and case["reporter"] == "resident"
        assert r.headers["ETag"] == '"1"' and r.headers["Location"] == f"/cases/{case['id']}"
        assert case["contact"] == "13800001111"
        case = act(gw, case, "accept").json()
        case = act(gw, case, "escalate", {"reason": "needs the street"}).json()
        case = act(sc, case, "escalate", {"reason": "check"}).json() if False else case
        assert case["level"] == 1
        with sqlite_server.client(sqlite_server.tokens["community"]) as cm:
            case = act(cm, case, "dispatch", {"assignees": ["board:民生服务"]}).json()
            assert case["state"] == "dispatched" and case["assignees"] == ["board:民生服务"]
            for step, body in (("start", None), ("resolve", {"note": "cleaned"}), ("verify", {}), ("close", None)):
                r = act(cm, case, step, body)
                assert r.status_code == 200, (step, r.text)
                case = r.json()
        r = act(res, case, "evaluate", {"satisfaction": 5})
        assert r.status_code == 200, r.text
        case = r.json()
        assert case["state"] == "evaluated" and case["satisfaction"] == 5
        ev = gw.get(f"/cases/{case['id']}/events").json()
        assert [e["action"] for e in ev] == ["report", "accept", "escalate", "dispatch", "start", "resolve", "verify", "close", "evaluate"]
        assert [e["version"] for e in ev] == list(range(1, 10))
        got = sc.get(f"/cases/{case['id']}")
        assert got.status_code == 200 and got.headers["ETag"] == f'"{case["version"]}"'


def test_idempotent_report_replays_bytes_conflicts_and_in_flight(sqlite_server: Server) -> None:
    t = sqlite_server.tokens
    with sqlite_server.client(t["device"]) as dev:
        a = report(dev, key="evt-1", description="SOS pressed")
        b = report(dev, key="evt-1", description="SOS pressed")
        assert a.status_code == b.status_code == 201
        assert a.content == b.content
        assert b.headers.get("Idempotent-Replayed") == "true"
        c = report(dev, key="evt-1", description="another body")
        assert c.status_code == 422 and c.json()["error"] == "idempotency_conflict"
        # the case moves on; a later retry still replays the original response
        with sqlite_server.client(t["grid_worker"]) as gw:
            assert act(gw, a.json(), "accept").status_code == 200
        assert report(dev, key="evt-1", description="SOS pressed").content == a.content
        # a request holding the key right now (simulated in the service store) → 409
        store = open_service_store(sqlite_server.db)
        try:
            body = ReportIn(category="environment", tier="T1", **PLACE)
            fp = body_fingerprint(Principal("device", Role.DEVICE, ScopeKind.GRID, "G1"), body.model_dump())
            state = store.idem_begin("device|evt-2", fp, "case-x", time.time(), 10.0)
            assert state.outcome == "new"
        finally:
            store.close()
        d = report(dev, key="evt-2")
        assert d.status_code == 409 and d.headers["Retry-After"] == "1"


def test_if_match_missing_stale_and_lost_update(sqlite_server: Server) -> None:
    t = sqlite_server.tokens
    with sqlite_server.client(t["resident"]) as res, sqlite_server.client(t["grid_worker"]) as gw:
        case = report(res).json()
        r = gw.post(f"/cases/{case['id']}/accept")
        assert r.status_code == 428
        assert act(gw, case, "accept").status_code == 200
        stale = act(gw, case, "accept")
        assert stale.status_code == 412 and stale.json()["error"] == "version_conflict"
        bad = gw.post(f"/cases/{case['id']}/accept", headers={"If-Match": "abc"})
        assert bad.status_code == 412


def test_engine_errors_map_to_clear_4xx(sqlite_server: Server) -> None:
    t = sqlite_server.tokens
    with sqlite_server.client(t["resident"]) as res, sqlite_server.client(t["grid_worker"]) as gw:
        case = report(res).json()
        r = act(gw, case, "close")
        assert r.status_code == 409 and r.json()["error"] == "illegal_transition"
        assert "'close'" in r.json()["reason"] and "'reported'" in r.json()["reason"]
        assert gw.get("/cases/nope").status_code == 404
        r = act(gw, case, "merge", {"into": case["id"]})
        assert r.status_code == 422
        r = act(gw, case, "dispatch", {"assignees": ["board:nope"]})
        assert r.status_code == 422 and "board" in r.json()["reason"]


@pytest.mark.parametrize("field", ["state", "level", "due_at", "version", "reporter"])
def test_server_owned_fields_are_refused(sqlite_server: Server, field: str) -> None:
    with sqlite_server.client(sqlite_server.tokens["resident"]) as res:
        r = report(res, **{field: 1})
        assert r.status_code == 422
        assert field in r.json()["reason"] and "server" in r.json()["reason"]
        case = report(res).json()
    with sqlite_server.client(sqlite_server.tokens["grid_worker"]) as gw:
        r = act(gw, case, "accept", {field: 3})
        assert r.status_code == 422


def test_queries_pagination_and_filters(sqlite_server: Server) -> None:
    t = sqlite_server.tokens
    with sqlite_server.client(t["grid_worker"]) as gw:
        made = {report(gw, category="security_clue").json()["id"] for _ in range(7)}
        seen: list[str] = []
        after = None
        while True:
            params: dict[str, Any] = {"category": "security_clue", "limit": 3}
            if after:
                params["after"] = after
            page = gw.get("/cases", params=params).json()
            seen += [c["id"] for c in page["items"]]
            after = page["next_after"]
            if after is None:
                break
        assert seen == sorted(made)
        assert gw.get("/cases", params={"limit": 10_000}).status_code == 422
        accepted = act(gw, gw.get(f"/cases/{seen[0]}").json(), "accept").json()
        ids = [c["id"] for c in gw.get("/cases", params={"category": "security_clue", "state": "accepted"}).json()["items"]]
        assert ids == [accepted["id"]]
        assert gw.get("/cases", params={"grid": "G2"}).json()["items"] == []


def test_kpis_supervision_and_modes(sqlite_server: Server) -> None:
    t = sqlite_server.tokens
    with sqlite_server.client(t["street_centre"]) as sc, sqlite_server.client(t["admin"]) as adm:
        k = sc.get("/kpis").json()
        assert k["cases_total"] >= 1 and "on_time_rate" in k
        assert adm.post("/supervision/run").status_code == 200
        n1 = adm.get("/supervision/bulletins").json()["items"]
        assert adm.post("/supervision/run").json()["new_notices"] == 0  # stored once per key
        assert adm.get("/supervision/bulletins").json()["items"] == n1
        assert {n["unit"] for n in sc.get("/supervision/bulletins").json()["items"]} <= {"S1"}
        assert sc.post("/mode", json={"mode": "emergency"}).status_code == 403
        r = adm.post("/mode", json={"mode": "emergency", "reason": "flood warning"})
        assert r.status_code == 200 and r.json()["mode"] == "emergency"
        assert adm.post("/mode", json={"mode": "emergency"}).status_code == 409
        with sqlite_server.client(t["resident"]) as res:
            case = report(res).json()
            assert case["mode"] == "emergency"
            assert res.get("/kpis").status_code == 403
        assert adm.post("/mode", json={"mode": "normal", "reason": "over"}).status_code == 200
        hist = adm.get("/modes").json()
        assert [h["mode"] for h in hist][-2:] == ["emergency", "normal"] and hist[-2]["reason"] == "flood warning"


def test_body_and_page_limits(sqlite_server: Server) -> None:
    with sqlite_server.client(sqlite_server.tokens["resident"]) as res:
        r = report(res, description="x" * 70_000)
        assert r.status_code == 413
        r = res.post("/cases", content=b"{" + b" " * 100_000 + b"}", headers={"content-type": "application/json"})
        assert r.status_code == 413


def test_rate_limit_429_with_retry_after(tmp_path: Any) -> None:
    from .helpers import make_tokens

    db = str(tmp_path / "r.db")
    tokens = make_tokens(db)
    srv = start_server(db, tmp_path / "log", "--rate-limit", "2", "--burst", "3")
    try:
        with srv.client(tokens["resident"]) as res, srv.client(tokens["grid_worker"]) as gw:
            codes = [res.get("/me").status_code for _ in range(6)]
            assert codes[:3] == [200, 200, 200] and 429 in codes[3:]
            r = res.get("/me")
            assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
            assert gw.get("/me").status_code == 200  # per principal
    finally:
        srv.stop()


def test_open311_facade(sqlite_server: Server) -> None:
    t = sqlite_server.tokens
    with sqlite_server.client() as c:
        svcs = c.get("/open311/v2/services.json").json()
        assert {"service_code", "service_name", "metadata", "type"} <= set(svcs[0])
        assert c.get("/open311/v2/services.xml").text.startswith("<?xml")
        d = c.get("/open311/v2/services/facility.json").json()
        assert [a["code"] for a in d["attributes"]] == ["grid", "community", "street", "district"]
        assert c.get("/open311/v2/services/nope.json").status_code == 404
        form = {
            "api_key": t["resident"],
            "service_code": "facility",
            "description": "broken bench",
            "lat": "30.5",
            "long": "114.3",
            "email": "a@example.org",
            **{f"attribute[{k}]": v for k, v in PLACE.items()},
        }
        r = c.post("/open311/v2/requests.json", data=form)
        assert r.status_code == 201, r.text
        rid = r.json()[0]["service_request_id"]
        assert c.post("/open311/v2/requests.json", data={**form, "api_key": "bad"}).status_code == 401
        assert c.post("/open311/v2/requests.json", data={k: v for k, v in form.items() if k != "attribute[grid]"}).status_code == 400
        one = c.get(f"/open311/v2/requests/{rid}.json", params={"api_key": t["resident"]}).json()[0]
        assert one["status"] == "open" and one["service_code"] == "facility"
        assert one["expected_datetime"] and one["agency_responsible"] == "grid G1"
        assert one["status_notes"].startswith("reported")
        x = c.get(f"/open311/v2/requests/{rid}.xml", params={"api_key": t["resident"]})
        assert "<service_request_id>" + rid in x.text and x.headers["content-type"].startswith("application/xml")
        # close it through the engine; the facade says closed
        with sqlite_server.client(t["grid_worker"]) as gw:
            case = gw.get(f"/cases/{rid}").json()
            assert case["contact"] == "email=a@example.org"
            case = act(gw, case, "reject", {"reason": "duplicate"}).json()
        listed = c.get("/open311/v2/requests.json", params={"api_key": t["resident"], "status": "closed", "service_code": "facility"}).json()
        assert rid in [x["service_request_id"] for x in listed]
        assert all(x["status"] == "closed" for x in listed)
        opened = c.get("/open311/v2/requests.json", params={"api_key": t["resident"], "status": "open", "service_code": "facility"}).json()
        assert rid not in [x["service_request_id"] for x in opened]
        # foreign scope: 404, and the list of another grid's worker does not show it
        assert c.get(f"/open311/v2/requests/{rid}.json", params={"api_key": t["grid_worker_g2"]}).status_code == 404
        assert c.get(f"/open311/v2/requests/{rid}.json", params={"api_key": t["resident2"]}).status_code == 404
        assert c.get("/open311/v2/requests.json", params={"api_key": t["grid_worker_g2"], "service_request_id": rid}).json() == []
        future = c.get("/open311/v2/requests.json", params={"api_key": t["resident"], "start_date": "2999-01-01T00:00:00Z"}).json()
        assert future == []


def test_token_cli_creates_a_working_token(tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from twin.cli import _load, app

    _load()
    db = str(tmp_path / "t.db")
    out = CliRunner().invoke(app, ["token", "create", "--role", "street_centre", "--scope", "street:S9", "--db", db, "--name", "sc9"])
    assert out.exit_code == 0, out.output
    token = out.stdout.strip().splitlines()[-1]
    store = open_service_store(db)
    try:
        p = store.principal(token_hash(token))
    finally:
        store.close()
    assert p is not None and p.id == "sc9" and p.scope == "street:S9" and p.role.value == "street_centre"
    bad = CliRunner().invoke(app, ["token", "create", "--role", "admin", "--scope", "planet:X", "--db", db])
    assert bad.exit_code != 0 and "scope" in bad.output


def test_foreign_place_report_refused(sqlite_server: Server) -> None:
    with sqlite_server.client(sqlite_server.tokens["resident"]) as res:
        r = report(res, place=OTHER_PLACE)
        assert r.status_code == 403


def test_concurrency_limit_503_in_process() -> None:
    """The concurrency limit answers 503 + Retry-After at once when the process is full."""
    import asyncio

    from twin.service.limits import ConcurrencyLimitMiddleware

    gate = asyncio.Event()

    async def slow_app(scope: Any, receive: Any, send: Any) -> None:
        await gate.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    mw = ConcurrencyLimitMiddleware(slow_app, max_in_flight=2)

    async def main() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=mw), base_url="http://t") as c:
            held = [asyncio.create_task(c.get("/")) for _ in range(2)]
            await asyncio.sleep(0.05)
            over = await c.get("/")
            gate.set()
            return [over, *await asyncio.gather(*held)]

    over, *held = asyncio.run(main())
    assert over.status_code == 503 and over.headers["retry-after"] == "1"
    assert [r.status_code for r in held] == [200, 200]


def test_listening_socket_sets_tcp_nodelay_for_accepted_connections() -> None:
    """uvicorn #3149: with --workers > 1 nobody sets TCP_NODELAY; our shared socket does, and
    Linux hands it down to every accepted connection."""
    import socket

    from twin.service.server import bind

    lsock = bind("127.0.0.1", 0)
    try:
        assert lsock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        client = socket.create_connection(lsock.getsockname())
        conn, _ = lsock.accept()
        try:
            assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        finally:
            conn.close()
            client.close()
    finally:
        lsock.close()
