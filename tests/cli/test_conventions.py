"""What a user of a scientific CLI expects: ``--version``, ``-h`` everywhere, every option
explained, help texts shown as written (brackets included), commands grouped by who uses them."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import pytest

from twin.cli import command, run_cli


def _commands(cmd: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found = [(path, cmd)]
    for name, sub in getattr(cmd, "commands", {}).items():
        found += _commands(sub, (*path, name))
    return found


COMMANDS = [p for p, _ in _commands(command())]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["--version"]) == 0
    assert capsys.readouterr().out == f"twin (gridtwin) {version('gridtwin')}\n"


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) or "twin" for p in COMMANDS])
def test_dash_h_is_help_everywhere(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli([*path, "-h"]) == 0
    out = capsys.readouterr().out
    assert "Usage: twin" in out and " ".join(path) in out


def test_every_option_and_argument_says_what_it_is() -> None:
    missing = [
        f"twin {' '.join(path)} {p.name}"
        for path, cmd in _commands(command())
        for p in cmd.params
        if not getattr(p, "help", None) and p.name not in ("help",)
    ]
    assert missing == []


def test_help_shows_brackets_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    """Rich markup must not swallow ``[emergency]`` or ``[drill]`` (it did: "with an  section")."""
    assert run_cli(["drill", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.replace("│", " ").split())
    assert "with an [emergency] section" in out
    assert "([drill] table;" in out


def test_commands_are_grouped_by_user_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["--help"]) == 0
    out = capsys.readouterr().out
    panels = ["Planner and researcher", "Engineer", "Trainer", "First look"]
    at = [out.index(p) for p in panels]
    assert at == sorted(at)
    order = [out.index(f"│ {c} ") for c in ("run", "stream", "sweep", "compare", "serve", "loadtest", "drill", "demo")]
    assert order == sorted(order)


@pytest.mark.parametrize(
    "args",
    [["run"], ["stream", "--out", "x.jsonl"], ["sweep", "--vary", "a=1"], ["compare", "a.toml", "b.toml"],
     ["drill", "--until-day", "0.005"]],
    ids=["run", "stream", "sweep", "compare", "drill"],
)
def test_days_have_one_minimum_everywhere(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    days = [] if "--until-day" in args else ["--days", "0.005"]
    assert run_cli([*args, *days]) == 2
    assert "Input should be greater than or equal to 0.01; got 0.005" in capsys.readouterr().err
