"""Ending a drill: the run directory and the after-action report (no browser)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from reports.drill_report import human, write_drill_report
from tests.drill.conftest import fake_wall
from twin.drill.record import read_actions, write_drill_dir
from twin.drill.script import DrillScript
from twin.drill.session import DrillSession, outcome_of, replay
from twin.scenario import Scenario

T0 = 73 * 60.0


def test_run_directory_and_report(flood_short: tuple[Scenario, DrillScript], tmp_path: Path) -> None:
    sc, script = flood_short
    s = DrillSession(sc, script, wall_clock=fake_wall(), team="red", label="flood")
    s.advance(T0)
    s.note("start", {"speed": 60.0})
    s.advance(T0 + 30.0)
    s.act("mode", {"to": "emergency", "cause": "trapped people in C02"})
    s.advance(T0 + 200.0)
    s.act("team", {"community": "S01-C02", "size": 15})
    s.act("marker", {"place": "S01-C02", "note": "pump failed at the market"})
    s.act("mode", {"to": "normal"})
    s.act("mode", {"to": "normal"})  # refused: already normal (skipping a rung is allowed by default)
    s.advance(T0 + 8 * 60.0)
    out = tmp_path / "run"
    assert write_drill_dir(s, out, live_from_min=T0) == out and s.ended
    assert not (out / "report.html").exists()  # the drill writes data; the report is its caller's
    path = write_drill_report(out)
    assert path == out / "report.html"
    for name in (
        "drill.json",
        "actions.jsonl",
        "series.csv",
        "outcome.json",
        "report.html",
        "figures/drill_timeline.png",
    ):
        assert (out / name).is_file(), name
    # the log on disk is the log in memory, ending with the end action
    actions = read_actions(out / "actions.jsonl")
    assert actions == [a.to_dict() for a in s.log] and actions[-1]["kind"] == "end"
    assert [a["kind"] for a in actions if a["source"] == "trainer"] == [
        "start",
        "mode",
        "team",
        "marker",
        "mode",
        "mode",
        "end",
    ]
    # the log is enough to replay the drill
    assert outcome_of(replay(sc, script, None, actions, s.now)) == outcome_of(s)
    meta = json.loads((out / "drill.json").read_text(encoding="utf-8"))
    assert meta["seed"] == sc.run.seed and meta["team"] == "red" and meta["live_from_min"] == T0
    assert meta["script_table"]["name"] == "rainstorm, first night"
    outcome = json.loads((out / "outcome.json").read_text(encoding="utf-8"))
    assert outcome["drill"] == outcome_of(s)
    assert outcome["baseline"]["peak_on_site"] == 0 < outcome["drill"]["peak_on_site"]
    ser = pd.read_csv(out / "series.csv")
    assert set(ser["run"]) == {"drill", "baseline"}
    assert ser[ser.run == "drill"]["t_min"].max() == ser[ser.run == "baseline"]["t_min"].max()
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "After-action report — flood — team red" in html
    for text in (
        "switch mode to emergency (trapped people in C02)",
        "send 15 people to S01-C02",
        "marker at S01-C02: pump failed at the market",
        "refused: illegal mode change",
        "inject 2 × trapped_people at S01-C02",  # the script's injects are on the timeline too
        "surge of waterlogging at S01-C03",
        "Outcome: with and without the trainee",
        "应下尽下",
        "data:image/png;base64,",
    ):
        assert text in html, text
    # wall times of every action are in the report beside the simulated times
    for a in actions:
        assert a["wall"] in html
    # the outcome table shows both runs' figures
    assert f"<td>{human(outcome['drill']['vulnerable_checked'])}</td>" in html
    assert f"<td>{human(outcome['baseline']['emergency_reported'])}</td>" in html
    # issue 14: load is not merit, refused actions have no effect, no scientific notation
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)
    assert not re.search(r"\de[+-]\d", text) and "none (refused)" in text
    assert "injected by the trainee" in html
    reported_row = html.split("emergency cases reported")[1].split("</tr>")[0]
    assert "better" not in reported_row and "worse" not in reported_row


def test_people_read_the_numbers() -> None:
    assert human(14360.0, "member_hours_on_site") == "14,360"
    assert human(0.8734, "emergency_on_time_share") == "87.3 %"
    assert human(12.345) == "12.3" and human(-3.0, signed=True) == "-3" and human(52, signed=True) == "+52"
    assert human(None) == "—" and human(float("nan")) == "—" and human(1234567) == "1,234,567"
