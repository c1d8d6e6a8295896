"""POST /mode follows the mode controller's policy (twin/modes.py: normal ⇄ emergency 应下尽下 ⇄
extreme 全员下沉): by default a step may skip a rung (the source does not forbid it); a service
started with ``--no-mode-skip`` allows one rung at a time. Every case event records the mode in force."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .helpers import Server, act, make_tokens, report, start_server


@pytest.fixture(scope="module")
def one_rung_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``twin serve --no-mode-skip`` on SQLite."""
    d = tmp_path_factory.mktemp("one-rung")
    db = str(d / "gridtwin.db")
    tokens = make_tokens(db)
    srv = start_server(db, d / "serve.log", "--no-mode-skip")
    srv.tokens = tokens
    yield srv
    srv.stop()


def test_mode_changes_may_skip_a_rung_and_events_record_the_mode(any_server: Server) -> None:
    t = any_server.tokens
    with any_server.client(t["admin"]) as adm, any_server.client(t["grid_worker"]) as gw, any_server.client(t["resident"]) as res:
        assert adm.get("/mode").json()["mode"] == "normal"
        case = report(res).json()  # reported in normal mode

        r = adm.post("/mode", json={"mode": "extreme", "reason": "dam breach: straight to 全员下沉"})
        assert r.status_code == 200, r.text
        assert r.json()["mode"] == "extreme"
        case = act(gw, case, "accept").json()  # accepted in 全员下沉
        assert adm.post("/mode", json={"mode": "extreme"}).json()["error"] == "same_mode"

        assert adm.post("/mode", json={"mode": "normal", "reason": "all clear"}).status_code == 200
        case = act(gw, case, "dispatch", {"assignees": ["board:民生服务"]}).json()  # in normal mode
        assert adm.post("/mode", json={"mode": "emergency", "reason": "second wave"}).status_code == 200
        assert act(gw, case, "start").status_code == 200

        hist = [h["mode"] for h in adm.get("/modes").json()]
        assert hist == ["extreme", "normal", "emergency"]
        events = gw.get(f"/cases/{case['id']}/events").json()
        assert [(e["action"], e["mode"]) for e in events] == [
            ("report", "normal"),
            ("accept", "extreme"),
            ("dispatch", "normal"),
            ("start", "emergency"),
        ]
        assert adm.post("/mode", json={"mode": "normal", "reason": "over"}).status_code == 200


def test_no_mode_skip_allows_one_rung_at_a_time(one_rung_server: Server) -> None:
    t = one_rung_server.tokens
    with one_rung_server.client(t["admin"]) as adm:
        r = adm.post("/mode", json={"mode": "extreme", "reason": "skip a rung"})
        assert r.status_code == 409, r.text
        err = r.json()
        assert err["error"] == "illegal_mode_change"
        assert "'normal'" in err["reason"] and "'extreme'" in err["reason"] and "one step at a time" in err["reason"]
        assert adm.get("/mode").json()["mode"] == "normal"  # nothing recorded

        assert adm.post("/mode", json={"mode": "emergency", "reason": "flood"}).status_code == 200
        assert adm.post("/mode", json={"mode": "extreme", "reason": "dam breach"}).status_code == 200
        r = adm.post("/mode", json={"mode": "normal", "reason": "skip down"})
        assert r.status_code == 409 and r.json()["error"] == "illegal_mode_change"
        assert "'extreme'" in r.json()["reason"] and "'normal'" in r.json()["reason"]
        assert adm.post("/mode", json={"mode": "emergency", "reason": "receding"}).status_code == 200
        assert adm.post("/mode", json={"mode": "normal", "reason": "over"}).status_code == 200
        assert [h["mode"] for h in adm.get("/modes").json()] == ["emergency", "extreme", "emergency", "normal"]
