"""End to end with the real district model: `twin sweep` and `twin compare` on a short street run."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from twin.cli import FAMILIES
from twin.cli.study import register

ROOT = Path(__file__).resolve().parents[2]
STREET = ROOT / "scenarios" / "street.toml"
POLICIES = ROOT / "scenarios" / "policies"


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def _run(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(_app(), [str(a) for a in args])
    if res.exception and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code, res.output


def test_study_is_a_cli_family() -> None:
    assert "study" in FAMILIES


def test_sweep_street_dispatchers_end_to_end(tmp_path: Path) -> None:
    code, out = _run("sweep", STREET, "--vary", "staffing.street_dispatchers=1,2", "--reps", "2", "--days", "3",
                     "--set", "run.warmup_days=1", "--target", "on_time_rate>=0.5", "--workers", "1", "--out", tmp_path / "s")
    assert code == 0, out
    assert "on_time_rate>=0.5" in out and "staffing.street_dispatchers=1 (with 95 % confidence)" in out
    summary = json.loads((tmp_path / "s" / "reps" / "p0000" / "r0001" / "summary.json").read_text())
    assert summary["days"] == 3.0 and summary["derived"]["street_centre_minutes"] > 0
    results = pd.read_parquet(tmp_path / "s" / "results.parquet")
    assert len(results) == 4 and results.groupby("rep")["seed"].nunique().eq(1).all()  # CRN
    html = (tmp_path / "s" / "report.html").read_text(encoding="utf-8")
    assert 'id="fig-erlang_staffing_street_dispatchers"' in html
    # a rerun resumes: nothing to run again
    code, out = _run("sweep", STREET, "--vary", "staffing.street_dispatchers=1,2", "--reps", "2", "--days", "3",
                     "--set", "run.warmup_days=1", "--workers", "1", "--out", tmp_path / "s")
    assert code == 0 and "0 replications run, 4 reused" in out


@pytest.mark.slow
def test_sweep_process_pool_matches_inline(tmp_path: Path) -> None:
    args = ("sweep", STREET, "--vary", "staffing.households_per_worker=400,800", "--reps", "2", "--days", "2",
            "--set", "run.warmup_days=1", "--no-report")
    assert _run(*args, "--workers", "1", "--out", tmp_path / "a")[0] == 0
    assert _run(*args, "--workers", "2", "--out", tmp_path / "b")[0] == 0
    a, b = (pd.read_parquet(tmp_path / d / "results.parquet") for d in ("a", "b"))
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize(
    ("vary", "needle"),
    [
        ("staffing.households_per_worker=0,400", "staffing.households_per_worker"),
        ("staffing.street_dispatchers=1:3", "START:STOP:STEP"),
        ("staffing.no_such_field=1,2", "staffing.no_such_field"),
    ],
)
def test_bad_vary_is_a_clear_error(tmp_path: Path, vary: str, needle: str) -> None:
    code, out = _run("sweep", STREET, "--vary", vary, "--reps", "2", "--days", "5", "--out", tmp_path / "x")
    assert code == 2
    assert "error:" in out and needle in out and "--vary" in out
    assert not (tmp_path / "x").exists()


def test_run_no_longer_than_the_warm_up_is_refused(tmp_path: Path) -> None:
    code, out = _run("sweep", STREET, "--vary", "staffing.street_dispatchers=1,2", "--days", "3", "--out", tmp_path / "x")
    assert code == 2 and "--days 3: expected more than run.warmup_days = 3" in out


def test_bad_target_is_a_clear_error(tmp_path: Path) -> None:
    code, out = _run("sweep", STREET, "--vary", "staffing.street_dispatchers=1,2", "--target", "on_time>=0.99",
                     "--out", tmp_path / "x")
    assert code == 2 and "--target on_time: unknown KPI" in out


def test_compare_shipped_policies_end_to_end(tmp_path: Path) -> None:
    code, out = _run("compare", POLICIES / "baseline.toml", POLICIES / "report_everything.toml", "--reps", "3",
                     "--days", "3", "--set", "run.warmup_days=1", "--workers", "1", "--out", tmp_path / "c")
    assert code == 0, out
    paired = pd.read_parquet(tmp_path / "c" / "paired.parquet")
    grid = paired[paired["kpi"] == "closed_at_level.grid"].iloc[0]
    # reporting everything takes away what grid workers settle on the spot (0.9 → 0): fewer close at grid level
    assert grid["a"] == "baseline" and grid["b"] == "report-everything"
    assert grid["diff"] < 0 and grid["better"] == "baseline"
    assert (tmp_path / "c" / "report.html").exists()


def test_every_shipped_policy_validates() -> None:
    from twin.study.model import validate_district
    from twin.study.policy import load_policy

    files = sorted(POLICIES.glob("*.toml"))
    assert {f.stem for f in files} >= {"baseline", "micro_grids", "report_everything", "on_the_spot", "elder_devices",
                                      "rider_incentive", "early_escalation"}
    for f in files:
        p = load_policy(f)
        validate_district(p.scenario.path, p.overrides)
        assert p.description


def test_street_centre_minutes_from_the_audit_log() -> None:
    from twin.study.model import street_centre_minutes

    ev = pd.DataFrame(
        [  # case a: escalated to the street at 100, dispatched by the street centre at 112
            (1, "a", "escalate", "CO-S01-C01", 100.0), (2, "a", "dispatch", "SC-S01", 112.0),
            # case b: 30 minutes from its escalation to the street centre's dispatch
            (3, "b", "escalate", "CO-S01-C02", 200.0), (4, "b", "dispatch", "SC-S01", 230.0),
            # a community dispatch does not count
            (5, "c", "escalate", "W-S01-C01-G01", 10.0), (6, "c", "dispatch", "CO-S01-C01", 15.0),
        ],
        columns=["seq", "case_id", "action", "actor", "t_min"],
    )
    assert street_centre_minutes(ev) == pytest.approx(21.0)
    assert street_centre_minutes(None) is None and street_centre_minutes(ev.iloc[4:]) is None
