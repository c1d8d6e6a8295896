"""The drill script schema: what loads, and errors that name the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.drill.conftest import FLOOD, ROOT, SHORT
from twin.drill.script import DrillScriptError, load_drill, load_script
from twin.scenario import ScenarioError


def _script(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "s.toml"
    p.write_text(body, encoding="utf-8")
    return p


def test_short_script_loads() -> None:
    sc, script, label = load_drill(FLOOD, (), SHORT)
    assert script.name == "rainstorm, first night"
    assert script.start_hours == 73 and script.until_day == 4 and not script.automatic_switching
    assert [i.what for i in script.injects] == ["incident", "surge", "marker", "warning"]
    assert (script.injects[3].id, script.injects[3].colour) == ("drill-red", "red")
    assert script.injects[1].per_hour == 4.0 and script.injects[1].hours == 2.0
    assert sc.emergency is not None and label == str(FLOOD)


def test_default_scenario_is_the_flood() -> None:
    sc, script, label = load_drill(None)
    assert sc.meta.name == "flood" and label == "scenarios/flood.toml" and script.injects == []


def test_a_plain_drill_goes_live_shortly_before_the_first_warning_and_fits_an_hour() -> None:
    """Issue 14: not minute 0 of a ten-day scenario at one minute a second (≈ 4 wall hours)."""
    from twin.drill.script import default_speed

    sc, script, _ = load_drill(None)
    first = min(w.issued_hours for w in sc.emergency.warnings)  # type: ignore[union-attr]
    assert script.start_hours == first - 1.0  # one hour to read the situation
    assert script.until_day is not None and script.until_day * 24.0 == 122.0 + 2.0  # Ⅱ级 lifted + stand-down
    speed = default_speed(sc, script)
    wall_to_first_warning = (first - script.start_hours) * 60.0 / speed / 60.0
    wall_total = (script.until_day * 24.0 - script.start_hours) * 60.0 / speed / 60.0
    assert wall_to_first_warning <= 10.0 and 45.0 <= wall_total <= 90.0
    # what a script sets is kept
    _, short, _ = load_drill(FLOOD, (), SHORT)
    assert (short.start_hours, short.until_day) == (73, 4)


@pytest.mark.parametrize(
    ("body", "field", "expected"),
    [
        (
            '[[drill.injects]]\nat_hours = 80\nplace = "S01-C01"\nwhat = "incident"\ncategory = "fire"\n',
            "drill.injects.0.category",
            "expected an emergency category from",
        ),
        (
            '[[drill.injects]]\nat_hours = 80\nplace = "S09-C01"\nwhat = "incident"\ncategory = "waterlogging"\n',
            "drill.injects.0.place",
            "expected a street (S01…), community (S01-C01…) or grid",
        ),
        (
            '[[drill.injects]]\nat_hours = 80\nplace = "S01"\nwhat = "surge"\ncategory = "waterlogging"\n',
            "drill.injects.0",
            "expected per_hour and hours",
        ),
        (
            '[[drill.injects]]\nat_hours = 80\nplace = "S01"\nwhat = "flood"\n',
            "drill.injects.0.what",
            "'incident', 'surge', 'marker', 'warning' or 'lift_warning'",
        ),
        (
            '[[drill.injects]]\nat_hours = -1\nplace = "S01"\nwhat = "marker"\nnote = "x"\n',
            "drill.injects.0.at_hours",
            "greater than or equal to 0",
        ),
        (
            '[[drill.injects]]\nat_hours = 300\nplace = "S01"\nwhat = "marker"\nnote = "x"\n',
            "drill.injects.0.at_hours",
            "expected less than the run's 240 hours",
        ),
        (
            '[[drill.injects]]\nat_hours = 1\nplace = "S01"\nwhat = "marker"\nshade = "red"\nnote = "x"\n',
            "drill.injects.0.shade",
            "Extra inputs",
        ),
        ("start_hours = 100\nuntil_day = 4\n", "drill", "expected start_hours < until_day × 24 = 96"),
    ],
)
def test_errors_name_file_and_field(tmp_path: Path, body: str, field: str, expected: str) -> None:
    p = _script(tmp_path, "[drill]\n" + body)
    with pytest.raises(DrillScriptError) as exc:
        load_drill(FLOOD, (), p)
    msg = str(exc.value)
    assert msg.startswith(f"{p}: {field}"), msg
    assert expected in msg, msg


def test_script_file_errors(tmp_path: Path) -> None:
    with pytest.raises(DrillScriptError, match="no such file"):
        load_script(tmp_path / "missing.toml")
    with pytest.raises(DrillScriptError, match=r"\(syntax\): expected valid TOML"):
        load_script(_script(tmp_path, "[drill\n"))
    with pytest.raises(DrillScriptError, match=r"run: expected only a \[drill\] table"):
        load_script(_script(tmp_path, "[drill]\n[run]\ndays = 1\n"))
    with pytest.raises(DrillScriptError, match=r"drill: expected a \[drill\] table"):
        load_script(_script(tmp_path, ""))


def test_scenario_without_emergency_is_refused() -> None:
    with pytest.raises(
        DrillScriptError, match=r"street.toml: emergency: expected a scenario with an \[emergency\] section"
    ):
        load_drill(ROOT / "scenarios" / "street.toml")


def test_scenario_may_carry_its_own_drill_table(tmp_path: Path) -> None:
    text = FLOOD.read_text(encoding="utf-8")
    table = '\n[drill]\nname = "embedded"\nstart_hours = 70\n[[drill.injects]]\nat_hours = 71\nplace = "S01-C04"\nwhat = "marker"\nnote = "hello"\n'
    p = tmp_path / "flood_with_drill.toml"
    p.write_text(text + table, encoding="utf-8")
    sc, script, _ = load_drill(p)
    assert script.name == "embedded" and script.injects[0].note == "hello"
    assert sc.meta.name == "flood"
    # a separate --script file takes precedence over the scenario's table
    _, script2, _ = load_drill(p, (), SHORT)
    assert script2.name == "rainstorm, first night"
    # and every other command (twin run, sweep, loadtest) reads the same file as the scenario
    from twin.scenario import load_scenario

    assert load_scenario(p).model_dump() == load_scenario(FLOOD).model_dump()


def test_scenario_errors_stay_scenario_errors(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no such file"):
        load_drill(tmp_path / "nope.toml")
    with pytest.raises(ScenarioError, match="run.days"):
        load_drill(FLOOD, ("run.days=-1",))
