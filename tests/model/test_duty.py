"""Night and duty rules: non-emergency handling happens in the units' working hours;
the duty roster (值班) answers emergencies at night and on rest days."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tests.model.cached_runs import street_run
from twin.run import RunResult
from twin.scenario import load_scenario

DAYS = 8


def _run(*overrides: str) -> RunResult:
    return street_run(6, DAYS, *overrides)


def _done_events(r: RunResult) -> pd.DataFrame:
    ev = r.events
    assert ev is not None
    e = ev[ev["action"].isin(["resolve", "verify"])].merge(r.cases[["case_id", "tier"]], on="case_id")
    e["hour"] = (e["t_min"].to_numpy() % 1440.0) / 60.0
    e["unit"] = e["actor"].str.split("-").str[0]
    return e


def _inside(hours: np.ndarray, windows: list[tuple[float, float]]) -> np.ndarray:
    return np.logical_or.reduce([(hours >= a) & (hours <= b) for a, b in windows])


def test_no_non_emergency_handling_outside_working_hours() -> None:
    sc = load_scenario()
    st = sc.staffing
    e = _done_events(_run())
    routine = e[e["tier"].astype(str) != "T0"]
    for unit, windows in (("W", st.worker_hours), ("CO", st.community_hours), ("B", sc.staffing.boards["livelihood"].hours),
                          ("D", sc.staffing.departments["urban_management"].hours),
                          ("WY", sc.property_management.hours)):
        h = routine.loc[routine["unit"] == unit, "hour"].to_numpy()
        assert h.size > 0, unit
        assert _inside(h, [tuple(w) for w in windows]).all(), (unit, h[~_inside(h, [tuple(w) for w in windows])][:5])


def test_emergencies_are_answered_at_night_by_the_duty_roster() -> None:
    st = load_scenario().staffing
    e = _done_events(_run())
    t0 = e[(e["tier"].astype(str) == "T0") & (e["action"] == "resolve")]
    night = t0[~_inside(t0["hour"].to_numpy(), [tuple(w) for w in st.worker_hours])]
    duty = t0[t0["unit"] == "DUTY"]
    assert len(duty) > 0
    assert len(night) > 0 and (night["unit"].isin(["DUTY", "W"])).all()
    # the duty roster is called only while the grid worker is off duty (answers land later, on site)
    ev = _run().events
    assert ev is not None
    rep = ev[ev["action"] == "report"].set_index("case_id")["t_min"]
    called = (rep.loc[duty["case_id"]].to_numpy() % 1440.0) / 60.0
    assert not _inside(called, [tuple(w) for w in st.worker_hours]).any()
    s = _run().summary
    assert s["utilisation"]["duty"] is not None and s["utilisation"]["duty"] > 0.0


def test_without_a_duty_roster_the_grid_worker_answers_at_any_hour() -> None:
    r = _run("staffing.duty.per_community=0")
    e = _done_events(r)
    assert not (e["unit"] == "DUTY").any()
    t0 = e[(e["tier"].astype(str) == "T0") & (e["action"] == "resolve")]
    assert (t0["unit"] == "W").all()
    assert r.summary["utilisation"]["duty"] is None
