"""Issue 12 over HTTP, on SQLite and PostgreSQL: extend / approve-extension / refuse-extension,
suspend / resume, reassign and reply, with If-Match, per-role authorisation (a grid worker asks,
the dispatching level decides), clear 4xx on bad input, and the paths listed in OpenAPI."""

from __future__ import annotations

from typing import Any

from .helpers import Server, act, report

NEW_PATHS = ("extend", "approve-extension", "refuse-extension", "suspend", "resume", "reassign", "reply")


def _dispatched(srv: Server, tier: str = "T1") -> dict[str, Any]:
    """A case reported by the grid worker, accepted and dispatched to them by the community."""
    with srv.client(srv.tokens["grid_worker"]) as gw, srv.client(srv.tokens["community"]) as cm:
        case = report(gw, tier=tier).json()
        case = act(gw, case, "accept").json()
        case = act(gw, case, "escalate", {"reason": "the community's matter"}).json()
        r = act(cm, case, "dispatch", {"assignees": ["worker:grid_worker"]})
        assert r.status_code == 200, r.text
        return dict(r.json())


def test_openapi_lists_the_new_paths(any_server: Server) -> None:
    with any_server.client() as c:
        paths = c.get("/openapi.json").json()["paths"]
    for p in NEW_PATHS:
        op = paths[f"/cases/{{case_id}}/{p}"]["post"]
        assert any(prm["name"].lower() == "if-match" and prm["required"] for prm in op["parameters"]), p


def test_extension_asked_by_the_worker_decided_by_the_community(any_server: Server) -> None:
    case = _dispatched(any_server)
    assert case["unit_due_at"] is not None and case["unit_since"] == case["dispatched_at"]
    with any_server.client(any_server.tokens["grid_worker"]) as gw, any_server.client(any_server.tokens["community"]) as cm:
        r = act(gw, case, "extend", {"minutes": 60, "reason": "waiting for the owner"})
        assert r.status_code == 200, r.text
        case = r.json()
        assert (case["extension_pending"], case["extensions_requested"]) == (60.0, 1)
        denied = act(gw, case, "approve-extension", {})
        assert denied.status_code == 403 and "approve_extension" in denied.text
        stale = cm.post(f"/cases/{case['id']}/approve-extension", json={}, headers={"If-Match": '"1"'})
        assert stale.status_code == 412
        before = case["unit_due_at"]
        r = act(cm, case, "approve-extension", {"minutes": 30})
        assert r.status_code == 200, r.text
        case = r.json()
        assert case["extensions_approved"] == 1 and case["extension_pending"] is None and case["unit_due_at"] > before
        case = act(gw, case, "extend", {"minutes": 90, "reason": "more"}).json()
        r = act(cm, case, "refuse-extension", {"reason": "finish today"})
        assert r.status_code == 200 and r.json()["extensions_approved"] == 1
        events = [e["action"] for e in cm.get(f"/cases/{case['id']}/events").json()]
        assert events[-4:] == ["extend", "approve_extension", "extend", "refuse_extension"]


def test_suspend_blocks_work_until_resumed_and_reassign_counts(any_server: Server) -> None:
    case = _dispatched(any_server)
    with any_server.client(any_server.tokens["grid_worker"]) as gw, any_server.client(any_server.tokens["community"]) as cm:
        assert act(gw, case, "suspend", {"reason": "court date"}).status_code == 403
        r = act(cm, case, "suspend", {"reason": "waiting for the court date"})
        assert r.status_code == 200, r.text
        case = r.json()
        assert case["suspended_at"] is not None and case["suspensions"] == 1
        blocked = act(gw, case, "resolve", {"note": "x"})
        assert blocked.status_code == 409 and "suspended" in blocked.text
        case = act(cm, case, "resume").json()
        assert case["suspended_at"] is None
        r = act(cm, case, "reassign", {"assignees": ["department:urban-management"], "reason": "a pavement matter"})
        assert r.status_code == 200, r.text
        case = r.json()
        assert case["reassignments"] == 1 and case["assignees"] == ["department:urban-management"]
        r = act(gw, case, "reply", {"text": "the department has it"})
        assert r.status_code == 200 and r.json()["replied_at"] is not None
        k = cm.get("/kpis").json()
        assert k["suspended_cases"] >= 1 and k["reassigned_cases"] >= 1


def test_only_the_cases_level_or_above_decides(any_server: Server) -> None:
    with any_server.client(any_server.tokens["street_centre"]) as sc, any_server.client(any_server.tokens["community"]) as cm:
        case = act(sc, report(sc).json(), "accept").json()
        for _ in range(2):
            case = act(sc, case, "escalate", {"reason": "up to the street"}).json()
        assert case["level"] == 2
        case = act(sc, case, "dispatch", {"assignees": ["board:民生服务"]}).json()
        r = act(cm, case, "suspend", {"reason": "x"})
        assert r.status_code == 403 and "dispatching level" in r.text
        assert act(sc, case, "suspend", {"reason": "x"}).status_code == 200


def test_bad_input_names_the_field(any_server: Server) -> None:
    case = _dispatched(any_server)
    with any_server.client(any_server.tokens["grid_worker"]) as gw, any_server.client(any_server.tokens["community"]) as cm:
        for body, field in (
            ({"minutes": 0, "reason": "x"}, "minutes"),
            ({"minutes": 60}, "reason"),
            ({"minutes": 60, "reason": "   "}, "reason"),
            ({"minutes": "an hour", "reason": "x"}, "minutes"),
        ):
            r = act(gw, case, "extend", body)
            assert r.status_code == 422 and field in r.text, (body, r.text)
        r = act(cm, case, "reassign", {"assignees": ["worker:grid_worker"]})
        assert r.status_code == 422 and "assignees" in r.text
        assert act(cm, case, "resume").status_code == 409  # not suspended
        assert act(cm, case, "approve-extension", {}).status_code == 409  # nothing pending
