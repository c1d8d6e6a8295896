"""Several teams, the same exercise: their run directories side by side."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.drill.conftest import fake_wall
from twin.cli import _load, app
from twin.drill.compare import DrillCompareError, compare_runs
from twin.drill.record import write_drill_dir
from twin.drill.script import DrillScript
from twin.drill.session import DrillSession
from twin.scenario import Scenario

T0 = 73 * 60.0


def _team(sc: Scenario, script: DrillScript, team: str, switch_at: float | None, out: Path) -> Path:
    s = DrillSession(sc, script, wall_clock=fake_wall(), team=team, label="flood")
    s.advance(T0)
    if switch_at is not None:
        s.advance(switch_at)
        s.act("mode", {"to": "emergency"})
    s.advance(T0 + 240.0)
    write_drill_dir(s, out / team, live_from_min=T0)
    return out / team


@pytest.fixture(scope="module")
def two_teams(flood_short: tuple[Scenario, DrillScript], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    sc, script = flood_short
    out = tmp_path_factory.mktemp("teams")
    return _team(sc, script, "early", T0 + 10.0, out), _team(sc, script, "never", None, out)


def test_teams_side_by_side(two_teams: tuple[Path, Path], tmp_path: Path) -> None:
    early, never = two_teams
    cols, rows, runs = compare_runs([early, never])
    assert cols == ["", "team early", "team never", "baseline (no actions)"]
    by = {r[0]: r[1:] for r in rows}
    assert by["first switch (simulated minute)"] == [T0 + 10.0, None, None]
    assert by["mode steps"] == ["emergency", "none", "none"]
    # the team that did nothing is the baseline, figure for figure
    for label in ("emergency cases resolved", "vulnerable residents checked", "ordinary cases open"):
        assert by[label][1] == by[label][2], label
    assert by["vulnerable residents checked"][0] > 0 == by["vulnerable residents checked"][1]
    _load()
    out = tmp_path / "cmp.html"
    r = CliRunner().invoke(app, ["drill-compare", str(early), str(never), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "team early" in r.output and "team never" in out.read_text(encoding="utf-8")


def test_different_exercises_are_refused(
    flood_short: tuple[Scenario, DrillScript], two_teams: tuple[Path, Path], tmp_path: Path
) -> None:
    sc, script = flood_short
    a = two_teams[1]
    b = _team(sc, script.model_copy(update={"name": "another exercise"}), "b", None, tmp_path)
    with pytest.raises(DrillCompareError, match=r"b: drill.json: expected the same scenario, seed and script"):
        compare_runs([a, b])
    with pytest.raises(DrillCompareError, match=r"nowhere: drill.json: expected a drill run directory"):
        compare_runs([tmp_path / "nowhere"])
