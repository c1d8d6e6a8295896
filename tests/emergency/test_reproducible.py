"""Counts and timings of the switchover are a function of scenario and seed only."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from reports.run_report import write_run_report
from twin.emergency.component import emergency_of
from twin.run import build_model, simulate, write_run_dir
from twin.scenario import load_scenario

from .conftest import SCENARIOS, scheduled_flood


@pytest.fixture(scope="module")
def flood7() -> object:
    return load_scenario(SCENARIOS / "flood.toml", ["run.days=6"])


def test_same_seed_same_switchover(flood7: object) -> None:
    a = simulate(flood7, seed=7)  # type: ignore[arg-type]
    b = simulate(flood7, seed=7)  # type: ignore[arg-type]
    assert json.dumps(a.summary["modes"], sort_keys=True) == json.dumps(b.summary["modes"], sort_keys=True)
    assert a.modes is not None and b.modes is not None
    pd.testing.assert_frame_equal(a.modes, b.modes)
    assert a.events is not None and b.events is not None
    pd.testing.assert_frame_equal(a.events, b.events)
    m = a.summary["modes"]
    assert m["mobilised_peak"] == m["roster"]["mobilisable"]["emergency"] > 0
    assert 0 < m["minutes_to_50pct"] < m["minutes_to_90pct"]


def test_another_seed_other_timings(flood7: object) -> None:
    a = simulate(flood7, seed=7, tables=False).summary["modes"]  # type: ignore[arg-type]
    b = simulate(flood7, seed=8, tables=False).summary["modes"]  # type: ignore[arg-type]
    assert a["minutes_to_50pct"] != b["minutes_to_50pct"]
    assert a["emergency_cases"]["n"] != b["emergency_cases"]["n"]


def test_switch_does_not_change_the_storm_or_the_ordinary_stream(flood7: object) -> None:
    """Common random numbers: the emergency arrivals are the same whether or not the switch
    happens, and so is the ordinary incident stream up to the day of the first switch. After it
    the ordinary stream may differ, and should: what grid workers find on patrols and visits
    depends on how much of their day cases leave them (issue 13), which the switch changes."""
    on = build_model(flood7, seed=11)  # type: ignore[arg-type]
    off_sc = load_scenario(SCENARIOS / "flood.toml", ["run.days=6", "emergency.switching=false"])
    off = build_model(off_sc, seed=11)
    on.run_model()
    off.run_model()
    for k in ("time", "grid", "category", "effort", "travel"):
        assert (getattr(emergency_of(on).arrivals, k) == getattr(emergency_of(off).arrivals, k)).all()
    first_day = int(emergency_of(on).controller.history[0].at // 1440.0)  # simulation minutes
    assert first_day >= 1
    for d1, d2 in zip(on.stream_days[: first_day + 1], off.stream_days[: first_day + 1], strict=True):
        assert (d1.time == d2.time).all() and (d1.category == d2.category).all()
    assert emergency_of(off).controller.history == [] and emergency_of(off).controller.suppressed


def test_run_directory_and_report(tmp_path: object, flood7: object) -> None:
    sc = scheduled_flood(days=4.0, steps=[(76.0, "emergency"), (88.0, "extreme"), (92.0, "emergency")])
    r = simulate(sc, seed=3)
    out = write_run_dir(r, tmp_path)  # type: ignore[arg-type]
    write_run_report(r, out)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert [s["mode"] for s in summary["modes"]["timeline"]] == ["normal", "emergency", "extreme", "emergency"]
    series = pd.read_parquet(out / "modes.parquet")
    assert {"on_site", "emergency_backlog", "normal_backlog", "checks_done", "mode"} <= set(series.columns)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Emergency switchover" in html and "What the switch bought" in html
    png = out / "figures" / "modes_timeline.png"
    assert png.stat().st_size > 10_000


def test_street_run_has_no_modes_block() -> None:
    sc = load_scenario(SCENARIOS / "street.toml", ["run.days=2", "run.warmup_days=0"])
    r = simulate(sc, tables=False)
    assert "modes" not in r.summary and r.modes is None
