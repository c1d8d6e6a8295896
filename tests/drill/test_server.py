"""The console's HTTP API with FastAPI's test client (no browser, no pacing thread)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from reports.drill_report import write_drill_report
from twin.drill.effects import DrillActionError
from twin.drill.runner import LiveRunner
from twin.drill.server import DrillConsole, create_app
from twin.drill.session import DrillSession

T0 = 73 * 60.0


class FakeWall:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def client(live: DrillSession, tmp_path: Path) -> tuple[TestClient, DrillConsole]:
    runner = LiveRunner(live, speed=30.0, wall=FakeWall())
    dc = DrillConsole(live, runner, tmp_path / "run", live_from_min=live.now, on_record=write_drill_report)
    return TestClient(create_app(dc)), dc


def test_page_and_layout(client: tuple[TestClient, DrillConsole]) -> None:
    c, _ = client
    page = c.get("/").text
    for el in (
        'id="map"',
        'id="kpi-onsite"',
        'id="kpi-enroute"',
        'id="kpi-checked"',
        'id="confirm-yes"',
        'id="btn-end"',
        "/api/state",
    ):
        assert el in page, el
    lay = c.get("/api/layout").json()
    comms = [cm["name"] for st in lay["streets"] for cm in st["communities"]]
    assert comms == [f"S01-C{i:02d}" for i in range(1, 11)]
    assert lay["hazard_communities"] == ["S01-C01", "S01-C02", "S01-C03", "S01-C04"]
    assert sum(len(cm["grids"]) for st in lay["streets"] for cm in st["communities"]) == 60
    assert "waterlogging" in lay["categories"] and lay["modes"]["emergency"].startswith("应下尽下")


def test_switch_needs_confirmation_then_mobilises(client: tuple[TestClient, DrillConsole]) -> None:
    c, dc = client
    r = c.post("/api/mode", json={"to": "emergency"})
    assert r.status_code == 400 and "confirm" in r.json()["detail"]
    assert c.get("/api/state").json()["mode"] == "normal"
    r = c.post("/api/mode", json={"to": "emergency", "confirm": True, "cause": "water rising"})
    assert r.status_code == 200 and r.json()["result"]["to"] == "emergency"
    st = c.get("/api/state").json()
    assert st["mode"] == "emergency" and st["kpis"]["en_route"] == st["kpis"]["mobilisable"]["emergency"] > 0
    assert st["kpis"]["redeployed"] > 0  # the hazard area's grid workers and community staff change jobs at once
    assert 'id="kpi-redeployed"' in c.get("/").text
    assert st["mode_history"][0]["cause"] == "water rising" and st["legal_targets"] == ["extreme", "normal"]
    assert len(st["grid_open"]) == len(st["grid_overdue"]) == 60
    r = c.post("/api/mode", json={"to": "emergency", "confirm": True})
    assert r.status_code == 400 and "illegal mode change" in r.json()["detail"]
    assert st["log"][-1]["kind"] == "mode" and st["log"][-1]["clock"].startswith("day 4")


def test_injects_teams_markers_and_errors(client: tuple[TestClient, DrillConsole]) -> None:
    c, _ = client
    r = c.post("/api/inject", json={"what": "incident", "place": "S01-C05", "category": "medical_escorts", "count": 2})
    assert r.status_code == 200 and len(r.json()["result"]["cases"]) == 2
    r = c.post("/api/inject", json={"what": "surge", "place": "S01", "category": "waterlogging"})
    assert r.status_code == 400 and "per_hour and hours" in r.json()["detail"]
    r = c.post(
        "/api/inject", json={"what": "surge", "place": "S01", "category": "waterlogging", "per_hour": 5, "hours": 1}
    )
    assert r.status_code == 200 and r.json()["kind"] == "surge"
    r = c.post("/api/inject", json={"what": "incident", "place": "S01-C05", "category": "fire"})
    assert r.status_code == 400 and "unknown emergency category 'fire'" in r.json()["detail"]
    r = c.post("/api/team", json={"community": "S01-C01", "size": 5})
    assert r.status_code == 400 and "应下尽下" in r.json()["detail"]
    r = c.post("/api/marker", json={"place": "S01-C05-G01", "note": "school used as a shelter"})
    assert r.status_code == 200
    assert c.get("/api/state").json()["markers"][0]["note"] == "school used as a shelter"
    r = c.post("/api/marker", json={"place": "S01", "note": "x", "colour": "red"})
    assert r.status_code == 422  # unknown fields are refused


def test_control_pause_resume_speed(client: tuple[TestClient, DrillConsole]) -> None:
    c, dc = client
    wall = dc.runner.wall
    assert isinstance(wall, FakeWall)
    dc.runner.running = True  # as after start(), without the thread
    wall.t += 10.0
    assert c.post("/api/control", json={"action": "pause"}).json() == {"running": False, "speed": 30.0}
    assert dc.session.now == pytest.approx(T0 + 300.0)  # 10 s at 30 simulated minutes a second
    wall.t += 50.0  # paused: the clock stands still
    assert c.post("/api/control", json={"action": "speed", "speed": 60}).json()["speed"] == 60.0
    assert dc.session.now == pytest.approx(T0 + 300.0)
    assert c.post("/api/control", json={"action": "resume"}).json()["running"] is True
    wall.t += 2.0
    c.post("/api/control", json={"action": "pause"})
    assert dc.session.now == pytest.approx(T0 + 420.0)
    r = c.post("/api/control", json={"action": "speed", "speed": 0})
    assert r.status_code == 400 and "speed" in r.json()["detail"]
    kinds = [a["kind"] for a in c.get("/api/state").json()["log"]]
    assert kinds[-4:] == ["pause", "speed", "resume", "pause"]  # the refused speed is not an action


def test_end_writes_the_report_and_closes_the_console(client: tuple[TestClient, DrillConsole]) -> None:
    c, dc = client
    c.post("/api/mode", json={"to": "emergency", "confirm": True})
    dc.session.advance(T0 + 120.0)
    assert c.get("/report").status_code == 404
    r = c.post("/api/end")
    assert r.status_code == 200 and Path(r.json()["path"]) == dc.out / "report.html"
    html = c.get("/report").text
    assert "After-action report" in html and "switch mode to emergency" in html
    assert c.get("/api/state").json()["report"] == "/report"
    r = c.post("/api/mode", json={"to": "extreme", "confirm": True})
    assert r.status_code == 409
    assert c.post("/api/end").json()["path"] == str(dc.out / "report.html")  # ending twice writes once


def test_runner_thread_reaches_the_end_and_calls_back(live: DrillSession) -> None:
    s = live
    s.advance(s.horizon - 30.0)
    done = threading.Event()
    runner = LiveRunner(s, speed=600.0, tick=0.02, on_finish=done.set)
    runner.start()
    try:
        assert done.wait(timeout=20.0), "the runner never reached the end of the exercise"
        assert s.finished and s.now == s.horizon and not runner.running
        with pytest.raises(DrillActionError, match="nothing to resume"):
            runner.resume()
    finally:
        runner.stop()
    assert [a.kind for a in s.log][-1] == "start"
    with pytest.raises(DrillActionError, match="speed"):
        LiveRunner(s, speed=-1.0)
    assert runner._thread is not None and not runner._thread.is_alive()


def test_skip_ahead_to_the_next_warning_level_or_inject(client: tuple[TestClient, DrillConsole]) -> None:
    """Issue 14: the trainer jumps to the next declared event or scripted inject (button and HTTP)."""
    c, dc = client
    s = dc.session
    assert 'id="btn-skip"' in c.get("/").text
    nxt = c.get("/api/state").json()["next_event"]
    assert nxt == {"at_min": 73.3 * 60, "what": "scripted warning at S01-C02", "clock": nxt["clock"]}
    assert c.post("/api/control", json={"action": "skip"}).status_code == 200
    assert s.now == 73.3 * 60
    st = c.get("/api/state").json()
    # the script's red warning was issued at that minute: the page shows it as advice (the trainee decides)
    assert [w["id"] for w in st["declared"]["warnings"]] == ["rain-orange", "drill-red"]
    assert st["advisories"][-1]["to_mode"] == "extreme" and "drill-red" in st["advisories"][-1]["cause"]
    assert st["log"][-1]["kind"] == "skip" and st["log"][-1]["params"]["to"] == "scripted warning at S01-C02"
    assert c.get("/api/state").json()["next_event"]["what"] == "level II response declared"
    c.post("/api/control", json={"action": "skip"})
    assert s.now == 73.5 * 60 and c.get("/api/state").json()["declared"]["levels"] == {"response-0": "II"}
    assert c.get("/api/state").json()["next_event"]["what"] == "scripted incident at S01-C02"
    c.post("/api/control", json={"action": "skip"})
    assert s.now == 74.5 * 60
    scripted = [a for a in s.log if a.source == "script" and a.kind == "incident"]
    assert len(scripted) == 1 and scripted[0].ok and len(scripted[0].result["cases"]) == 2
    for _ in range(2):  # the surge at 75 h, the marker at 76 h
        assert c.post("/api/control", json={"action": "skip"}).status_code == 200
    assert s.now == 76 * 60 and s.markers and c.get("/api/state").json()["next_event"] is None
    r = c.post("/api/control", json={"action": "skip"})  # nothing left before the end of the exercise
    assert r.status_code == 400 and "nothing ahead" in r.json()["detail"]
    assert s.now == 76 * 60
