"""The mobilisation over HTTP on a real ``twin serve`` (SQLite and PostgreSQL): the switch opens
it, check-ins stay single under concurrent device/app retries, members see and claim only their
team's tasks in their community, a restart keeps everything, the return to normal closes it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from twin.cli import run_cli
from twin.service.auth import Principal, Role, ScopeKind, new_token, token_hash
from twin.service.storage import open_service_store

from .helpers import Server, make_tokens, restart, start_server

EXPECTED = 24


def _add_tokens(db: str, tokens: dict[str, str]) -> None:
    """The mobilisation app's backend (district D) and the staff of community C2."""
    store = open_service_store(db)
    try:
        for name, role, kind, unit in (("app", Role.APP, ScopeKind.DISTRICT, "D"), ("community_c2", Role.COMMUNITY, ScopeKind.COMMUNITY, "C2")):
            tok = new_token()
            store.add_token(token_hash(tok), Principal(name, role, kind, unit), time.time())
            tokens[name] = tok
    finally:
        store.close()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Server]]:
    """A server of its own (the tests change its mode in order), in a list so a test can restart it."""
    d = tmp_path_factory.mktemp(f"mob-{request.param}")
    db = str(d / "gridtwin.db") if request.param == "sqlite" else request.getfixturevalue("pg_url")
    tokens = make_tokens(db)
    _add_tokens(db, tokens)
    srv = start_server(db, d / "serve.log")
    srv.tokens = tokens
    box = [srv]
    yield box
    box[0].stop()


def _c(srv: Server, who: str) -> httpx.Client:
    return srv.client(srv.tokens.get(who, who))


def _check_in(srv: Server, member: str, community: str = "C1", key: str | None = None) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    with _c(srv, "app") as c:
        return c.post("/mobilisation/checkins", json={"member_id": member, "community": community}, headers=headers)


def test_normal_mode_refuses_checkins_with_409(server: list[Server]) -> None:
    r = _check_in(server[0], "M000")
    assert r.status_code == 409, r.text
    assert "mode" in r.json()["detail"] and "normal" in r.json()["detail"]
    with _c(server[0], "admin") as c:
        stats = c.get("/mobilisation").json()
    assert stats["mobilisation_id"] is None and stats["checked_in"] == 0


def test_roles_outside_the_mobilisation_are_refused(server: list[Server]) -> None:
    srv = server[0]
    with _c(srv, "admin") as c:
        r = c.post("/mobilisation/checkins", json={"member_id": "M1", "community": "C1"})
    assert r.status_code == 403, "admins do not check members in"
    with _c(srv, "resident") as c:
        assert c.get("/mobilisation").status_code == 403
        assert c.get("/mobilisation/tasks").status_code == 403
    with _c(srv, "app") as c:
        r = c.post("/mobilisation/checkins", json={"member_id": "张三 13800000000", "community": "C1"})
        assert r.status_code == 422 and "member_id" in r.text, "names and phone numbers are not member ids"
        r = c.post("/mobilisation/checkins", json={"member_id": "M1"})
        assert r.status_code == 422 and "community" in r.text


def test_the_switch_opens_it_and_retries_never_double_a_member(server: list[Server]) -> None:
    srv = server[0]
    with _c(srv, "admin") as c:
        r = c.post("/mode", json={"mode": "emergency", "reason": "red rainstorm warning", "expected_members": EXPECTED})
        assert r.status_code == 200, r.text
    members = [f"M{i:03d}" for i in range(EXPECTED)]
    attempts = [(m, f"{m}-try{k}") for k in range(4) for m in members]  # four devices' retries, each its own key

    with httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {srv.tokens['app']}"}, trust_env=False, timeout=30) as c:

        def send(a: tuple[str, str]) -> tuple[str, int, dict[str, Any]]:
            r = c.post("/mobilisation/checkins", json={"member_id": a[0], "community": "C1"}, headers={"Idempotency-Key": a[1]})
            return a[0], r.status_code, r.json()

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(send, attempts))
    assert sorted(s for _, s, _ in results) == [200] * (3 * EXPECTED) + [201] * EXPECTED, "one 201 per member, 200 for every retry"
    for m in members:
        bodies = [b for mm, _, b in results if mm == m]
        assert all(b == bodies[0] for b in bodies), "every retry answers the same record"
        assert bodies[0]["checked_in_at"].endswith("+08:00") and bodies[0]["member_token"]
    with _c(srv, "admin") as c:
        stats = c.get("/mobilisation").json()
    assert stats["checked_in"] == EXPECTED and stats["by_community"] == {"C1": EXPECTED}
    assert stats["by_team"] == {"supply": 7, "patrol": 7, "transport": 4, "checks": 6}, "filled by shares, whatever the order of arrival"
    assert stats["checkins_basis"] == "expected_members" and stats["expected_members"] == EXPECTED
    assert 0 <= stats["checkins_first_at"] <= stats["checkins_p50_at"] <= stats["checkins_p90_at"]


def _member(srv: Server, member: str, community: str = "C1") -> dict[str, Any]:
    r = _check_in(srv, member, community)
    assert r.status_code in (200, 201), r.text
    return dict(r.json())


def test_members_see_and_claim_only_their_teams_tasks(server: list[Server]) -> None:
    srv = server[0]
    a = _member(srv, "M000")
    b = next(x for x in (_member(srv, f"M{i:03d}") for i in range(1, EXPECTED)) if x["team"] != a["team"])
    mate = next(x for x in (_member(srv, f"M{i:03d}") for i in range(1, EXPECTED)) if x["team"] == a["team"])
    far = _member(srv, "X001", "C2")
    with _c(srv, "community") as staff:
        r = staff.post("/mobilisation/tasks", json={"community": "C1", "team": a["team"], "kind": "supply_delivery", "note": "Bldg 3"})
        assert r.status_code == 201, r.text
        task = r.json()
        assert staff.post("/mobilisation/tasks", json={"community": "C2", "team": a["team"], "kind": "k"}).status_code == 403, "C1's staff cannot task C2"
        r = staff.post("/mobilisation/tasks", json={"community": "C1", "team": "nope", "kind": "k"})
        assert r.status_code == 422 and "team" in r.json()["reason"]
    with _c(srv, "community_c2") as staff2:
        far_task = staff2.post("/mobilisation/tasks", json={"community": "C2", "team": far["team"], "kind": "k"}).json()
    tid = task["task_id"]
    with _c(srv, b["member_token"]) as cb, _c(srv, far["member_token"]) as cf:
        assert tid not in [t["task_id"] for t in cb.get("/mobilisation/tasks").json()["items"]]
        assert cb.post(f"/mobilisation/tasks/{tid}/claim").status_code == 404, "another team's task does not exist for you"
        assert cf.post(f"/mobilisation/tasks/{tid}/claim").status_code == 404, "another community's task does not exist for you"
    with _c(srv, a["member_token"]) as ca, _c(srv, mate["member_token"]) as cm:
        listed = ca.get("/mobilisation/tasks", params={"status": "open"}).json()["items"]
        assert tid in [t["task_id"] for t in listed] and far_task["task_id"] not in [t["task_id"] for t in listed]
        assert ca.post(f"/mobilisation/tasks/{far_task['task_id']}/claim").status_code == 404
        first = ca.post(f"/mobilisation/tasks/{tid}/claim", headers={"Idempotency-Key": "k1"})
        assert first.status_code == 200 and first.json()["claimed_by"] == "M000" and first.json()["status"] == "claimed"
        again = ca.post(f"/mobilisation/tasks/{tid}/claim", headers={"Idempotency-Key": "k2"})
        assert again.status_code == 200 and again.json() == first.json(), "a repeat claim answers the same task"
        r = cm.post(f"/mobilisation/tasks/{tid}/claim")
        assert r.status_code == 409 and "another member" in r.json()["detail"]
        assert cm.post(f"/mobilisation/tasks/{tid}/complete", json={"result": "done"}).status_code == 409, "only the claimer completes"
        done = ca.post(f"/mobilisation/tasks/{tid}/complete", json={"result": "delivered to the door"})
        assert done.status_code == 200 and done.json()["status"] == "done" and done.json()["version"] == 3
        assert ca.post(f"/mobilisation/tasks/{tid}/complete", json={"result": "delivered to the door"}).json() == done.json()
        assert ca.get("/cases").json().get("items", []) == [], "a member sees no cases"


def test_a_member_checks_in_with_their_own_token(server: list[Server], capsys: pytest.CaptureFixture[str]) -> None:
    srv = server[0]
    assert run_cli(["token", "create", "--role", "member", "--scope", "community:C1", "--name", "OWN1", "--db", srv.db]) == 0
    own = capsys.readouterr().out.strip().splitlines()[-1]
    with _c(srv, own) as c:
        assert c.get("/mobilisation/tasks").status_code == 403, "not checked in yet"
        r = c.post("/mobilisation/checkins", json={"member_id": "SOMEONE", "community": "C1"})
        assert r.status_code == 403 and "member_id" in r.json()["detail"]
        r = c.post("/mobilisation/checkins", json={"member_id": "OWN1", "community": "C1"})
        assert r.status_code == 201 and r.json()["member_id"] == "OWN1"
        assert c.get("/mobilisation/tasks").status_code == 200, "the own token works for tasks once checked in"


def test_a_restart_keeps_checkins_and_the_return_to_normal_closes_it(server: list[Server]) -> None:
    srv = server[0]
    before = _check_in(srv, "M005").json()
    srv.kill()
    server[0] = srv = restart(srv)
    r = _check_in(srv, "M005", key="after-restart")
    assert r.status_code == 200 and r.json() == before, "the check-in survived the crash"
    with _c(srv, before["member_token"]) as cm:
        assert cm.get("/mobilisation/tasks").status_code == 200
    with _c(srv, "admin") as c:
        assert c.post("/mode", json={"mode": "normal", "reason": "warning lifted"}).status_code == 200
        stats = c.get("/mobilisation").json()
    assert stats["closed_at"] is not None and stats["checked_in"] >= EXPECTED, "the closed mobilisation's figures stay readable"
    assert _check_in(srv, "M999").status_code == 409
    with _c(srv, before["member_token"]) as cm:
        assert cm.get("/mobilisation/tasks").status_code in (401, 409), "closed: refused (401 once the revocation reached the token cache)"
    store = open_service_store(srv.db)
    try:
        rec = store.token(token_hash(before["member_token"]))
    finally:
        store.close()
    assert rec is not None and rec.revoked_at is not None, "the member token was revoked at the close"


def test_openapi_documents_the_mobilisation(server: list[Server]) -> None:
    with _c(server[0], "admin") as c:
        spec = c.get("/openapi.json").json()
    paths = spec["paths"]
    for p in ("/mobilisation", "/mobilisation/checkins", "/mobilisation/tasks", "/mobilisation/tasks/{task_id}/claim", "/mobilisation/tasks/{task_id}/complete"):
        assert p in paths, p
    assert set(paths["/mobilisation/checkins"]["post"]["responses"]) >= {"200", "201", "403", "409", "422"}
    assert "expected_members" in spec["components"]["schemas"]["ModeIn"]["properties"]
