"""The service edge (issue 15) over a real ``twin serve`` on SQLite: tokens that expire and can
be revoked and listed, the 401 texts, no negative cache; strong If-Match and ``*``; the 428 hint
with the case's version; ``source`` forced by role; Open311 public reads, a place from
``address_string`` and errors naming the form field."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from twin.service.auth import Principal, Role, ScopeKind, new_token, token_hash
from twin.service.storage import open_service_store

from .helpers import PLACE, Server, report


def _add_token(db: str, name: str, expires_in: float | None = None) -> str:
    tok = new_token()
    store = open_service_store(db)
    try:
        now = time.time()
        store.add_token(token_hash(tok), Principal(name, Role.GRID_WORKER, ScopeKind.GRID, "G1"), now, None if expires_in is None else now + expires_in)
    finally:
        store.close()
    return tok


def test_fresh_token_is_not_refused_after_a_failed_lookup(sqlite_server: Server) -> None:
    tok = new_token()
    with sqlite_server.client(tok) as c:
        r = c.get("/me")
        assert r.status_code == 401 and r.json()["reason"] == "unknown token"
        store = open_service_store(sqlite_server.db)
        try:
            store.add_token(token_hash(tok), Principal("fresh", Role.GRID_WORKER, ScopeKind.GRID, "G1"), time.time())
        finally:
            store.close()
        assert c.get("/me").status_code == 200  # no negative cache


def test_expired_token_is_refused_with_its_reason(sqlite_server: Server) -> None:
    tok = _add_token(sqlite_server.db, "short-lived", expires_in=-1.0)
    with sqlite_server.client(tok) as c:
        r = c.get("/me")
    assert r.status_code == 401 and "expired at" in r.json()["reason"]
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_revocation_reaches_the_running_service_within_a_second(sqlite_server: Server) -> None:
    tok = _add_token(sqlite_server.db, "to-revoke")
    with sqlite_server.client(tok) as c:
        assert c.get("/me").status_code == 200  # now cached
        store = open_service_store(sqlite_server.db)
        try:
            assert store.revoke_tokens(time.time(), name="to-revoke") == 1
        finally:
            store.close()
        time.sleep(1.1)  # the cache's bound, not a race: the answer after it is certain
        r = c.get("/me")
        assert r.status_code == 401 and "revoked at" in r.json()["reason"]
        assert c.post("/cases", json={"category": "environment", **PLACE}).status_code == 401  # the fast lane too


def test_token_cli_create_list_revoke(tmp_path: Path) -> None:
    from twin.cli import _load, app

    _load()
    db = str(tmp_path / "t.db")
    run = CliRunner().invoke
    out = run(app, ["token", "create", "--role", "grid_worker", "--scope", "grid:G1", "--name", "w1", "--ttl", "8h", "--db", db])
    assert out.exit_code == 0, out.output
    token = out.stdout.strip().splitlines()[-1]
    dev = run(app, ["token", "create", "--role", "device", "--scope", "grid:G1", "--name", "meter", "--db", db])
    assert dev.exit_code == 0
    store = open_service_store(db)
    try:
        recs = {r.principal.id: r for r in store.tokens()}
    finally:
        store.close()
    assert 8 * 3600 - 60 < recs["w1"].expires_at - recs["w1"].created_at <= 8 * 3600  # type: ignore[operator]
    assert abs(recs["meter"].expires_at - recs["meter"].created_at - 365 * 86400) < 1  # type: ignore[operator]
    listed = run(app, ["token", "list", "--db", db])
    assert listed.exit_code == 0 and token not in listed.stdout and token_hash(token)[:12] in listed.stdout
    assert run(app, ["token", "revoke", "--id", recs["meter"].id, "--db", db]).exit_code == 0
    assert run(app, ["token", "revoke", "--name", "w1", "--db", db]).exit_code == 0
    assert run(app, ["token", "revoke", "--name", "w1", "--db", db]).exit_code == 1  # nothing live left
    assert run(app, ["token", "list", "--db", db]).stdout.count("\trevoked\n") == 2
    bad = run(app, ["token", "create", "--role", "admin", "--scope", "grid:G1", "--ttl", "soon", "--db", db])
    assert bad.exit_code == 2 and "--ttl" in bad.output


def test_if_match_strong_comparison_star_and_428_hint(sqlite_server: Server) -> None:
    with sqlite_server.client(sqlite_server.tokens["grid_worker"]) as gw:
        case = report(gw).json()
        url = f"/cases/{case['id']}/accept"
        r = gw.post(url, json={})
        assert r.status_code == 428 and 'If-Match: "1"' in r.json()["reason"]
        assert gw.post(url, json={}, headers={"If-Match": 'W/"1"'}).status_code == 412
        r = gw.post(url, json={}, headers={"If-Match": "*"})
        assert r.status_code == 200, r.text
        r = gw.post(f"/cases/{case['id']}/escalate", json={"reason": "x"})
        assert r.status_code == 428 and 'If-Match: "2"' in r.json()["reason"]
        assert gw.post("/cases/nope/accept", json={}, headers={"If-Match": "*"}).status_code == 404


@pytest.mark.parametrize("source", ["device", "patrol"])
def test_resident_cannot_claim_another_source(sqlite_server: Server, source: str) -> None:
    with sqlite_server.client(sqlite_server.tokens["resident"]) as res:
        r = report(res, source=source, tier="T0")
        assert r.status_code == 422 and r.json()["reason"].startswith("source:")
        assert report(res, source="app").status_code == 201
        assert report(res, source="hotline").status_code == 201  # a resident calling 12345


def test_open311_public_reads_and_address_string(sqlite_server: Server) -> None:
    t = sqlite_server.tokens
    with sqlite_server.client() as c:
        form = {"api_key": t["resident"], "service_code": "environment", "description": "litter", "address_string": "D/S1/C1/G1",
                "lat": "31.2", "long": "121.4", "phone": "13800000042"}
        r = c.post("/open311/v2/requests.json", data=form)
        assert r.status_code == 201, r.text
        rid = r.json()[0]["service_request_id"]
        one = c.get(f"/open311/v2/requests/{rid}.json")  # no api_key: public
        assert one.status_code == 200 and one.json()[0]["address"] == "D/S1/C1/G1"
        assert "13800000042" not in one.text and "resident" not in one.text
        assert rid in {x["service_request_id"] for x in c.get("/open311/v2/requests.json").json()}
        assert one.json()[0]["requested_datetime"].endswith("+08:00")
        bad = c.post("/open311/v2/requests.json", data={**form, "address_string": "somewhere"})
        assert bad.status_code == 400 and bad.json()[0]["description"].startswith("address_string:")
        none = c.post("/open311/v2/requests.json", data={k: v for k, v in form.items() if k not in ("address_string", "lat", "long")})
        assert none.status_code == 400 and none.json()[0]["description"].startswith("attribute[grid]:")
        outside = c.post("/open311/v2/requests.json", data={k: v for k, v in form.items() if k != "address_string"})
        assert outside.status_code == 400 and outside.json()[0]["description"].startswith("lat/long: the point 31.2,121.4 lies outside the territory")
        far = c.post("/open311/v2/requests.json", data={**form, "lat": "95"})
        assert far.status_code == 400 and far.json()[0]["description"].startswith("lat:")
        assert c.post("/open311/v2/requests.json", data={k: v for k, v in form.items() if k != "api_key"}).status_code == 401


def test_third_party_georeport_client_session(sqlite_server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ``georeport`` package (a GeoReport v2 client on PyPI) lists the services and reads
    requests back without a key; it has no POST, so the POST is the spec's form-encoded one,
    sent with ``requests`` as such clients do."""
    import requests
    from georeport import GeoReport

    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    root = f"{sqlite_server.url}/open311/v2"
    client = GeoReport(root)  # no api_key: reads are public
    codes = {s["service_code"] for s in client.get_service_list()}
    assert {"environment", "facility"} <= codes
    assert [a["code"] for a in client.get_service_definition("facility")["attributes"]] == ["grid", "community", "street", "district"]
    form = {"api_key": sqlite_server.tokens["resident"], "service_code": "facility", "description": "street light out",
            "lat": "31.23", "long": "121.47", "address_string": "D/S1/C1/G1", "email": "a@example.org"}
    posted = requests.post(f"{root}/requests.json", data=form, timeout=30)
    assert posted.status_code == 201, posted.text
    rid = posted.json()[0]["service_request_id"]
    one = client.get_service_request(rid)
    assert one["service_code"] == "facility" and one["status"] == "open" and one["lat"] == 31.23
    assert "a@example.org" not in str(one)
    assert rid in {r["service_request_id"] for r in client.get_service_requests(service_code="facility", status="open")}
    xml = GeoReport(root, output_format="xml").get_service_request(rid)
    assert xml["service_request_id"] == rid
    # spec-minimal: service_code, lat/long, description — the place comes from the grid holding the point
    citizen = new_token()
    store = open_service_store(sqlite_server.db)
    try:
        store.add_token(token_hash(citizen), Principal("citizen", Role.RESIDENT, ScopeKind.DISTRICT, "Jiangbei"), time.time())
    finally:
        store.close()
    minimal = {"api_key": citizen, "service_code": "environment", "lat": "29.5899", "long": "106.5201", "description": "litter by the gate"}
    posted = requests.post(f"{root}/requests.json", data=minimal, timeout=30)
    assert posted.status_code == 201, posted.text
    got = client.get_service_request(posted.json()[0]["service_request_id"])
    assert got["address"] == "Jiangbei/S01/S01-C01/S01-C01-G01" and got["long"] == 106.5201


def test_unknown_category_is_422_naming_it_on_both_lanes(tmp_path: Path) -> None:
    """By default the catalogue is the street scenario's: a typo is refused, whether the report
    takes the fast lane (no key) or FastAPI's (an Idempotency-Key), with the same answer that
    lists the known categories; ``--any-category`` switches the check off; ``--categories``
    names another scenario (flood adds its emergency incidents)."""
    from .helpers import make_tokens, start_server

    db = str(tmp_path / "cat.db")
    tokens = make_tokens(db)
    for extra, typo_ok in (((), False), (("--any-category",), True), (("--categories", "flood"), False)):
        srv = start_server(db, tmp_path / "serve.log", *extra)
        try:
            with srv.client(tokens["grid_worker"]) as gw:
                spec = gw.get("/openapi.json").json()["components"]["schemas"]["ReportIn"]["properties"]["category"]
                assert ("enum" not in spec) if typo_ok else ("environment" in spec["enum"] and "environmnet" not in spec["enum"])
                fast = report(gw, category="environmnet")
                slow = report(gw, category="environmnet", key=f"cat-{len(extra)}", contact="13800000000")
                if typo_ok:
                    assert fast.status_code == slow.status_code == 201
                    continue
                for r in (fast, slow):
                    assert r.status_code == 422 and r.json()["reason"].startswith("category: unknown 'environmnet'"), r.text
                    assert "'environment'" in r.json()["reason"] and "'street_order'" in r.json()["reason"]
                assert fast.json() == slow.json()
                assert report(gw, category="facility").status_code == 201
                assert (report(gw, category="waterlogging").status_code == 201) == ("flood" in extra)
        finally:
            srv.stop()


def test_times_are_iso_8601_with_offset_in_every_body(sqlite_server: Server) -> None:
    """Case, events, notices and mode answer times as ISO 8601 with +08:00 (the engine keeps
    minutes inside): the case's report time is the report event's, and both parse back."""
    from datetime import datetime

    from twin.service.times import minutes_of

    t = sqlite_server.tokens
    with sqlite_server.client(t["grid_worker"]) as gw:
        case = report(gw).json()
        events = gw.get(f"/cases/{case['id']}/events").json()
    for v in (case["reported_at"], case["due_at"], case["level_since"], events[0]["at"]):
        assert isinstance(v, str) and v.endswith("+08:00") and datetime.fromisoformat(v).utcoffset() is not None, v
    assert case["accepted_at"] is None and events[0]["at"] == case["reported_at"]
    assert isinstance(events[0]["data"]["due_at"], str) and events[0]["data"]["due_at"] == case["due_at"]
    rep, due = minutes_of(case["reported_at"], "reported_at"), minutes_of(case["due_at"], "due_at")
    assert rep is not None and due is not None and due > rep
    assert minutes_of(rep, "x") == rep  # numeric minutes are accepted as they are
    with sqlite_server.client(t["admin"]) as adm:
        mode = adm.get("/mode").json()
        assert mode["since"] is None or mode["since"].endswith("+08:00")
