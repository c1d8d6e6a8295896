"""Emergency reports become their team's tasks (twin/service/mobilisation.py ``sweep``), run
in-process with the background loop's step called by hand, so nothing waits on a timer."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from twin.service.app import ServiceConfig, create_app
from twin.service.auth import Principal, Role, ScopeKind, new_token, token_hash
from twin.service.mobilisation import load_teams

from .helpers import PLACE, fresh_pg_database

PRINCIPALS = {
    "admin": Principal("admin", Role.ADMIN, ScopeKind.DISTRICT, "D"),
    "resident": Principal("resident", Role.RESIDENT, ScopeKind.GRID, "G1"),
    "app": Principal("app", Role.APP, ScopeKind.DISTRICT, "D"),
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str], object]]:
    """The application without its lifespan (no background loop): the test runs the sweep."""
    with contextlib.ExitStack() as stack:
        db = str(tmp_path / "s.db") if request.param == "sqlite" else stack.enter_context(fresh_pg_database())
        yield from _rig(db)


def _rig(db: str) -> Iterator[tuple[TestClient, dict[str, str], object]]:
    app = create_app(ServiceConfig(db=db, categories="flood", group_commit=False))
    svc = app.state.service
    tokens = {}
    for name, p in PRINCIPALS.items():
        tok = new_token()
        svc.sstore.add_token(token_hash(tok), p, time.time())
        tokens[name] = tok
    client = TestClient(app)
    yield client, tokens, svc
    svc.mobilisation.close()
    svc.engine.store.close()
    svc.sstore.close()


def _auth(tokens: dict[str, str], who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.get(who, who)}"}


def _report(c: TestClient, tokens: dict[str, str], category: str) -> str:
    r = c.post("/cases", json={"category": category, "tier": "E", **PLACE}, headers=_auth(tokens, "resident"))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_emergency_reports_become_their_teams_tasks_once(rig: tuple[TestClient, dict[str, str], object]) -> None:
    c, tokens, svc = rig
    before = _report(c, tokens, "supply_requests")  # normal mode: no task
    assert c.post("/mode", json={"mode": "emergency", "reason": "flood"}, headers=_auth(tokens, "admin")).status_code == 200
    svc.engine.mode = "emergency"  # what the background loop's refresh would do
    supply = _report(c, tokens, "supply_requests")
    trapped = _report(c, tokens, "trapped_people")
    _report(c, tokens, "environment" if "environment" in svc.catalogue else sorted(svc.catalogue)[0])
    assert svc.mobilisation.sweep() == 2, "the two categories a team handles; the ordinary one makes none"
    assert svc.mobilisation.sweep() == 0, "a case makes one task however often it is swept"
    member = c.post("/mobilisation/checkins", json={"member_id": "M1", "community": PLACE["community"]}, headers=_auth(tokens, "app")).json()
    assert member["team"] == "supply", "the open supply task pulls the first member to supply"
    items = c.get("/mobilisation/tasks", headers=_auth(tokens, member["member_token"])).json()["items"]
    assert [(t["case_id"], t["kind"], t["created_by"]) for t in items] == [(supply, "supply_requests", "system")]
    assert before not in {t["case_id"] for t in items}
    stats = c.get("/mobilisation", headers=_auth(tokens, "admin")).json()
    assert stats["tasks"] == {"open": 2, "claimed": 0, "done": 0} and trapped


def test_staff_may_link_a_task_to_a_case_in_their_scope_only(rig: tuple[TestClient, dict[str, str], object]) -> None:
    c, tokens, svc = rig
    case_id = _report(c, tokens, "supply_requests")
    assert c.post("/mode", json={"mode": "emergency"}, headers=_auth(tokens, "admin")).status_code == 200
    body = {"community": "C1", "team": "supply", "kind": "supply_delivery", "case_id": case_id}
    first = c.post("/mobilisation/tasks", json=body, headers=_auth(tokens, "admin"))
    assert first.status_code == 201 and first.json()["case_id"] == case_id
    again = c.post("/mobilisation/tasks", json=body, headers=_auth(tokens, "admin"))
    assert again.status_code == 200 and again.json() == first.json(), "one task per case"
    r = c.post("/mobilisation/tasks", json={**body, "case_id": "no-such-case"}, headers=_auth(tokens, "admin"))
    assert r.status_code == 422 and "case_id" in r.json()["detail"]


def test_flood_teams_are_the_default() -> None:
    from twin.engine.mobilisation import DEFAULT_TEAMS

    assert load_teams("") == DEFAULT_TEAMS == load_teams("flood"), "the default copies scenarios/flood.toml's [emergency.teams]"
