"""Authorisation matrix: every case endpoint × every role × own and foreign objects — 0 leaks.

The oracle below restates the issue's rules independently of the service code: a resident or a
device sees only the cases it reported; a grid worker, community, street centre or district
centre sees the cases of its unit; a department sees the cases dispatched to it; admin sees all.
An invisible case is always 404 (never 403/409/412, which would confirm it exists), and the
reporter's contact is shown only to entitled roles and to the reporter.
"""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import DEPARTMENT_ID, OTHER_PLACE, PLACE, ROLE_SCOPES, Server, act, report

TRANSITIONS: dict[str, dict[str, Any]] = {
    "accept": {},
    "reject": {"reason": "x"},
    "merge": {"into": "{other}"},
    "dispatch": {"assignees": ["board:民生服务"]},
    "start": {},
    "resolve": {"note": "x"},
    "verify": {},
    "fail-verification": {},
    "close": {},
    "evaluate": {"satisfaction": 4},
    "escalate": {"reason": "x"},
    "return": {"reason": "x"},
    "decline": {"reason": "x"},
    "extend": {"minutes": 60, "reason": "waiting for a part"},
    "approve-extension": {},
    "refuse-extension": {"reason": "x"},
    "suspend": {"reason": "court date"},
    "resume": {},
    "reassign": {"assignees": ["board:经济发展"]},
    "reply": {"text": "x"},
}
#: The dispatching level's decisions on a case's time (issue 12): a grid worker may ask for an
#: extension, only community / street / district centres (at or above the case's level) and
#: admin decide.
DISPATCHING = {"approve-extension", "refuse-extension", "suspend", "resume", "reassign"}
SCOPE_RUNG = {"grid": 0, "community": 1, "street": 2, "district": 3}
ALLOWED = {
    "resident": {"evaluate"},
    "resident2": {"evaluate"},
    "device": set(),
    "department": {"start", "resolve", "decline", "extend", "reply"},
    "grid_worker": set(TRANSITIONS) - {"return"} - DISPATCHING,
    "grid_worker_g2": set(TRANSITIONS) - {"return"} - DISPATCHING,
}


def may(role: str, action: str, case: dict[str, Any]) -> bool:
    """Whether ``role`` may apply ``action`` to ``case`` (the oracle of the matrix)."""
    if action not in ALLOWED.get(role, set(TRANSITIONS) - ({"return"} if role.startswith("grid_worker") else set())):
        return False
    if action in DISPATCHING and role != "admin":
        return SCOPE_RUNG[ROLE_SCOPES[role][1].value] >= case["level"]
    return True
CONTACT_ENTITLED = {"grid_worker", "grid_worker_g2", "community", "street_centre", "street_centre_s2", "district_centre", "admin"}


def sees(role: str, case: dict[str, Any]) -> bool:
    _, kind, unit = ROLE_SCOPES[role]
    if case[kind.value] != unit:
        return False
    if role.startswith(("resident", "device")):
        return bool(case["reporter_id"] == role)
    if role == "department":
        return DEPARTMENT_ID in case["assignees"]
    return True


@pytest.fixture(scope="module")
def world(any_server: Server) -> dict[str, dict[str, Any]]:
    """Four cases: two residents' and a device's in G1, a grid worker's in G2; one dispatched to the department."""
    t = any_server.tokens
    out: dict[str, dict[str, Any]] = {}
    with any_server.client(t["resident"]) as c:
        out["resident_case"] = report(c, contact="13900000001").json()
    with any_server.client(t["resident2"]) as c:
        out["resident2_case"] = report(c, contact="13900000002").json()
    with any_server.client(t["device"]) as c:
        out["device_case"] = report(c, contact="meter-77").json()
    with any_server.client(t["grid_worker_g2"]) as c:
        out["g2_case"] = report(c, place=OTHER_PLACE, contact="13900000003").json()
    with any_server.client(t["district_centre"]) as c:
        cs = out["resident_case"]
        cs = act(c, cs, "accept").json()
        for _ in range(3):
            cs = act(c, cs, "escalate").json()
        cs = act(c, cs, "dispatch", {"assignees": [DEPARTMENT_ID]}).json()
        out["resident_case"] = cs
    reporters = {"resident_case": "resident", "resident2_case": "resident2", "device_case": "device", "g2_case": "grid_worker_g2"}
    for k, v in out.items():
        v["reporter_id"] = reporters[k]
    return out


@pytest.mark.parametrize("role", sorted(ROLE_SCOPES))
def test_matrix_every_case_endpoint(any_server: Server, world: dict[str, dict[str, Any]], role: str) -> None:
    leaks: list[str] = []
    with any_server.client(any_server.tokens[role]) as c:
        for name, case in world.items():
            visible = sees(role, case)
            cid = case["id"]
            other = next(w["id"] for n, w in world.items() if n != name)
            for path in (f"/cases/{cid}", f"/cases/{cid}/events"):
                r = c.get(path)
                if visible and r.status_code != 200:
                    leaks.append(f"{role} denied {path} of visible {name}: {r.status_code}")
                if not visible and (r.status_code != 404 or cid in r.text and "no case" not in r.text):
                    leaks.append(f"{role} got {r.status_code} for foreign {name} at {path}")
                if visible and r.status_code == 200 and path.endswith(cid):
                    contact = r.json()["contact"]
                    entitled = role in CONTACT_ENTITLED or case["reporter_id"] == role
                    if entitled != (contact not in (None, "***")):
                        leaks.append(f"{role} contact of {name}: {contact!r} (entitled={entitled})")
                hidden = role not in CONTACT_ENTITLED and case["reporter_id"] != role
                if visible and r.status_code == 200 and path.endswith("events") and hidden and any(
                    e["data"].get("reporter") == case["reporter_id"] or e["actor"] == case["reporter_id"] for e in r.json()
                ):
                    leaks.append(f"{role} sees the reporter of {name} in its audit trail")
            for action, body in TRANSITIONS.items():
                b = {k: (v.replace("{other}", other) if isinstance(v, str) else v) for k, v in body.items()}
                r = c.post(f"/cases/{cid}/{action}", json=b, headers={"If-Match": '"999"'})  # stale: never changes anything
                allowed = may(role, action, case)
                want = 404 if not visible else (412 if allowed else 403)
                if r.status_code != want:
                    leaks.append(f"{role} {action} on {'visible' if visible else 'foreign'} {name}: {r.status_code} (want {want}) {r.text[:120]}")
            # Open311 view of the same object
            r = c.get(f"/open311/v2/requests/{cid}.json")
            if (r.status_code == 200) != visible:
                leaks.append(f"{role} open311 {name}: {r.status_code}")
        # lists: only visible cases, and all of them
        listed = {x["id"] for x in c.get("/cases", params={"limit": 200}).json()["items"]}
        want_ids = {w["id"] for w in world.values() if sees(role, w)}
        if listed & {w["id"] for w in world.values()} != want_ids:
            leaks.append(f"{role} /cases lists {listed} instead of {want_ids}")
        listed311 = {x["service_request_id"] for x in c.get("/open311/v2/requests.json").json()}
        if listed311 & {w["id"] for w in world.values()} != want_ids:
            leaks.append(f"{role} open311 list {listed311} instead of {want_ids}")
        # reports: only inside one's scope, never by a department
        outside = PLACE if role.endswith(("_g2", "_s2")) else OTHER_PLACE
        r = report(c, place=PLACE if ROLE_SCOPES[role][2] == "D" else outside)
        may_report = role != "department" and ROLE_SCOPES[role][2] == "D"
        if (r.status_code == 201) != may_report:
            leaks.append(f"{role} report outside/inside scope: {r.status_code}")
        # KPIs and supervision only for supervising roles, and only over their scope
        k = c.get("/kpis")
        if role.startswith(("resident", "device", "department")):
            if k.status_code != 403:
                leaks.append(f"{role} KPIs: {k.status_code}")
        elif k.status_code != 200:
            leaks.append(f"{role} denied KPIs: {k.status_code}")
        m = c.post("/mode", json={"mode": "emergency"})
        if role not in ("admin", "district_centre") and m.status_code != 403:
            leaks.append(f"{role} changed the mode: {m.status_code}")
    assert not leaks, "\n".join(leaks)


def test_kpis_count_only_the_scope(any_server: Server, world: dict[str, dict[str, Any]]) -> None:
    t = any_server.tokens
    with any_server.client(t["grid_worker_g2"]) as g2, any_server.client(t["street_centre"]) as s1:
        n_g2 = g2.get("/kpis").json()["cases_total"]
        n_s1 = s1.get("/kpis").json()["cases_total"]
        all_g2 = g2.get("/cases", params={"limit": 200}).json()["items"]
        all_s1 = s1.get("/cases", params={"limit": 200}).json()["items"]
    assert n_g2 == len(all_g2) and all(c["grid"] == "G2" for c in all_g2)
    assert n_s1 == len(all_s1) and all(c["street"] == "S1" for c in all_s1)


def test_merge_into_a_foreign_case_looks_like_merging_into_nothing(any_server: Server, world: dict[str, dict[str, Any]]) -> None:
    with any_server.client(any_server.tokens["grid_worker"]) as gw:
        case = gw.get(f"/cases/{world['resident2_case']['id']}").json()
        foreign = act(gw, case, "merge", {"into": world["g2_case"]["id"]})
        missing = act(gw, case, "merge", {"into": "no-such-case"})
        assert foreign.status_code == missing.status_code == 422
        assert foreign.json()["error"] == missing.json()["error"]
        assert gw.get(f"/cases/{case['id']}").json()["version"] == case["version"]
