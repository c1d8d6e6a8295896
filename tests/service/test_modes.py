"""POST /mode follows the mode controller's legal paths (twin/modes.py: normal ⇄ emergency
应下尽下 ⇄ extreme 全员下沉, one step at a time), and every case event records the mode in force."""

from __future__ import annotations

from .helpers import Server, act, report


def test_mode_changes_follow_legal_steps_and_events_record_the_mode(any_server: Server) -> None:
    t = any_server.tokens
    with any_server.client(t["admin"]) as adm, any_server.client(t["grid_worker"]) as gw, any_server.client(t["resident"]) as res:
        assert adm.get("/mode").json()["mode"] == "normal"
        case = report(res).json()  # reported in normal mode

        r = adm.post("/mode", json={"mode": "extreme", "reason": "skip a rung"})
        assert r.status_code == 409, r.text
        err = r.json()
        assert err["error"] == "illegal_mode_change"
        assert "'normal'" in err["reason"] and "'extreme'" in err["reason"]
        assert adm.get("/mode").json()["mode"] == "normal"  # nothing recorded

        assert adm.post("/mode", json={"mode": "emergency", "reason": "flood"}).status_code == 200
        case = act(gw, case, "accept").json()  # accepted in 应下尽下
        assert adm.post("/mode", json={"mode": "emergency"}).json()["error"] == "same_mode"
        assert adm.post("/mode", json={"mode": "extreme", "reason": "dam breach"}).status_code == 200

        r = adm.post("/mode", json={"mode": "normal", "reason": "skip down"})
        assert r.status_code == 409 and r.json()["error"] == "illegal_mode_change"
        assert "'extreme'" in r.json()["reason"] and "'normal'" in r.json()["reason"]
        case = act(gw, case, "dispatch", {"assignees": ["board:民生服务"]}).json()  # in 全员下沉

        assert adm.post("/mode", json={"mode": "emergency", "reason": "receding"}).status_code == 200
        assert adm.post("/mode", json={"mode": "normal", "reason": "over"}).status_code == 200
        assert act(gw, case, "start").status_code == 200

        hist = [h["mode"] for h in adm.get("/modes").json()]
        assert hist == ["emergency", "extreme", "emergency", "normal"]
        events = gw.get(f"/cases/{case['id']}/events").json()
        assert [(e["action"], e["mode"]) for e in events] == [
            ("report", "normal"),
            ("accept", "emergency"),
            ("dispatch", "extreme"),
            ("start", "normal"),
        ]
