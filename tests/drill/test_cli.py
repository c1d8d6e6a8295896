"""``twin drill`` on the command line: clear errors, and a headless drill that ends by itself."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.drill.conftest import FLOOD, ROOT, SHORT
from twin.cli import _load, app


def test_drill_is_a_command() -> None:
    _load()
    r = CliRunner().invoke(app, ["drill", "--help"])
    assert r.exit_code == 0
    for opt in ("--speed", "--port", "--no-browser", "--script", "--out", "--until-day", "--team"):
        assert opt in r.output, opt


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--script", "nope.toml"], "nope.toml: (file): expected an existing drill script file"),
        ([str(ROOT / "scenarios" / "street.toml")], "emergency: expected a scenario with an [emergency] section"),
        (["--script", str(SHORT), "--until-day", "3"], "--until-day: expected a day after the script's start_hours"),
        (["--speed", "0"], "--speed: expected simulated minutes per second"),
    ],
)
def test_errors_exit_2_with_a_message(args: list[str], expected: str, tmp_path: Path) -> None:
    _load()
    r = CliRunner().invoke(app, ["drill", *args, "--no-browser", "--port", "0", "--out", str(tmp_path)])
    assert r.exit_code == 2, r.output
    assert expected in " ".join(r.output.split()), r.output


@pytest.mark.slow
def test_headless_drill_runs_to_its_end(tmp_path: Path) -> None:
    script = tmp_path / "end.toml"
    script.write_text(
        '[drill]\nname = "last hour"\nstart_hours = 95\nuntil_day = 4\n'
        '[[drill.injects]]\nat_hours = 95.5\nplace = "S01-C02"\nwhat = "incident"\ncategory = "waterlogging"\n',
        encoding="utf-8",
    )
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-c",
        "from twin.cli import main; main()",
        "drill",
        str(FLOOD),
        "--script",
        str(script),
        "--speed",
        "240",
        "--port",
        "0",
        "--no-browser",
        "--exit-on-end",
        "--out",
        str(out),
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "drill console: http://127.0.0.1:" in r.stdout and "after-action report:" in r.stdout
    actions = [json.loads(x) for x in (out / "actions.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [a["kind"] for a in actions] == ["start", "incident", "end"]
    assert actions[1]["source"] == "script" and actions[1]["sim_min"] == 95.5 * 60
    assert json.loads((out / "outcome.json").read_text(encoding="utf-8"))["drill"]["at_min"] == 4 * 1440.0
    assert "inject 1 × waterlogging at S01-C02" in (out / "report.html").read_text(encoding="utf-8")
