"""Ctrl-C during ``twin run`` or ``twin sweep`` exits 130 and says what became of the output
(the interrupt is raised from inside the work, so the test does not depend on timing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from twin.cli import run_cli


def _ctrl_c(*_a: object, **_k: object) -> None:
    raise KeyboardInterrupt


def test_an_interrupted_run_says_nothing_was_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import twin.run

    monkeypatch.setattr(twin.run, "simulate", _ctrl_c)
    out = tmp_path / "r"
    assert run_cli(["run", "--out", str(out)]) == 130
    assert capsys.readouterr().err == f"interrupted: the simulation was stopped; nothing written to {out}\n"
    assert not out.exists()


def test_an_interrupted_sweep_says_how_to_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import twin.study.sweep

    monkeypatch.setattr(twin.study.sweep, "run_sweep", _ctrl_c)
    out = tmp_path / "s"
    assert run_cli(["sweep", "--vary", "staffing.households_per_worker=300,400", "--out", str(out)]) == 130
    assert capsys.readouterr().err == (
        f"interrupted: finished replications are kept in {out}; run the same command again to resume\n"
    )


def test_ctrl_c_elsewhere_still_says_interrupted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import twin.cli.demo

    monkeypatch.setattr(twin.cli.demo, "CaseEngine", _ctrl_c)
    assert run_cli(["demo"]) == 130
    assert capsys.readouterr().err == "interrupted\n"
