"""The load-test plan, without processes: schedule from the stream, staffing, decisions,
thresholds and the read-back of Locust's CSVs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from twin.loadtest import results as res
from twin.loadtest.plan import Agenda, Plan, describe, ref_of, resolves_at, work_minutes
from twin.loadtest.schedule import PlanError, build_plan, window_for
from twin.loadtest.targets import Open311, Reference
from twin.loadtest.tokens import principals
from twin.run import simulate
from twin.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def street() -> tuple:
    sc = load_scenario(ROOT / "scenarios" / "street.toml")
    sim = simulate(sc, seed=7, days=2.0)
    return sc, sim


def test_schedule_replays_the_window_of_the_stream_compressed(street: tuple) -> None:
    sc, sim = street
    plan, win, _ = build_plan(sc, sim.incidents, seed=7, duration_s=60.0, speedup=1440.0, start_day=1.0, users=5)
    t = sim.incidents["t_min"].to_numpy()
    inside = sim.incidents[(t >= 1440.0) & (t < 2880.0)]
    assert win.start_min == 1440.0 and win.end_min == pytest.approx(2880.0)
    assert [a.ref for a in plan.arrivals] == list(inside["case_id"])
    for a, tm in zip(plan.arrivals, inside["t_min"], strict=True):
        assert a.at_s == pytest.approx((tm - 1440.0) * 60.0 / 1440.0, abs=1e-5)
        assert 0.0 <= a.at_s < 60.0
    assert sum(plan.rate_counts) == len(plan.arrivals)
    # the same seed gives the same plan (handling attributes included)
    again, _, _ = build_plan(sc, sim.incidents, seed=7, duration_s=60.0, speedup=1440.0, start_day=1.0, users=5)
    assert [a.to_json() for a in again.arrivals] == [a.to_json() for a in plan.arrivals]


def test_staff_users_come_from_the_scenario(street: tuple) -> None:
    sc, sim = street
    plan, _, terr = build_plan(sc, sim.incidents, seed=7, duration_s=60.0, speedup=1440.0, start_day=1.0, users=5)
    u = plan.units
    assert len(u["grid_worker"]) == sim.summary["grid_workers"]
    assert sorted({g for x in u["grid_worker"] for g in x["grids"]}) == sorted(terr["grids"])
    assert len(u["community"]) == sc.staffing.community_staff * len(terr["communities"])
    assert len(u["street_dispatcher"]) == sc.staffing.street_dispatchers * sc.territory.streets
    assert len(u["board"]) == sum(b.staff for b in sc.staffing.boards.values()) * sc.territory.streets
    assert len(u["district_dispatcher"]) == sc.staffing.district_dispatchers
    assert len(u["department"]) == sum(d.staff for d in sc.staffing.departments.values())
    # every token key the users look up has a principal
    keys = set(principals(terr, u))
    assert {f"worker:{g}" for g in terr["grids"]} <= keys and "kpi" in keys
    assert {f"board:{b['street']}:{b['assignee'].split(':', 1)[1]}" for b in u["board"]} <= keys


def test_open311_plan_has_no_staff_and_devices_get_users(street: tuple) -> None:
    sc, sim = street
    plan, _, _ = build_plan(sc, sim.incidents, seed=7, duration_s=60.0, speedup=1440.0, start_day=1.0, users=10, target="open311")
    assert all(not v for v in plan.units.values())
    kinds = [a.kind for a in plan.arrivals]
    assert ("device" in kinds) == (plan.device_users >= 1)


def test_bad_options_name_the_option(street: tuple) -> None:
    sc, sim = street
    with pytest.raises(PlanError, match="--speedup"):
        window_for(sc, 60.0, 0.0, None)
    with pytest.raises(PlanError, match="--duration"):
        window_for(sc, 60.0 * 60, 1440.0 * 60, 0.0)
    with pytest.raises(PlanError, match="--target"):
        build_plan(sc, sim.incidents, seed=1, duration_s=10, speedup=100, start_day=0, users=1, target="soap")


def test_shape_follows_the_rate_and_time_maps_both_ways(street: tuple, tmp_path: Path) -> None:
    sc, sim = street
    plan, _, _ = build_plan(sc, sim.incidents, seed=7, duration_s=60.0, speedup=1440.0, start_day=1.0, users=8, rate_window_s=2.0)
    plan.t0_epoch = 1_000_000.0
    plan = Plan.load(plan.save(tmp_path / "plan.json"))
    peak = int(np.argmax(plan.rate_counts))
    assert plan.arrival_users_at(peak * 2.0 + 0.5) == 8
    quiet = [i for i, c in enumerate(plan.rate_counts) if c == 0]
    assert quiet and plan.arrival_users_at(quiet[0] * 2.0) == 1
    # wall → simulated → engine minutes round trip
    assert plan.sim_now(plan.t0_epoch + 30.0) == pytest.approx(1440.0 + 30.0 * 1440.0 / 60.0)
    assert plan.sim_of_engine((plan.t0_epoch + 30.0) / 60.0) == pytest.approx(plan.sim_now(plan.t0_epoch + 30.0))
    assert plan.on_time(0.0, plan.tier_due("T1") / plan.speedup, "T1")
    assert not plan.on_time(0.0, plan.tier_due("T1") / plan.speedup * 1.01, "T1")


def test_agenda_pops_in_time_order() -> None:
    sc = load_scenario(ROOT / "scenarios" / "street.toml")
    sim = simulate(sc, seed=3, days=1.0)
    plan, _, _ = build_plan(sc, sim.incidents, seed=3, duration_s=30.0, speedup=2880.0, start_day=0.0, users=2)
    ag = Agenda(plan.arrivals)
    assert ag.pop_due(-1.0) is None
    got = []
    while (item := ag.pop_due(1e9)) is not None:
        got.append(item.due)
    assert got == sorted(got) and len(got) == len(plan.arrivals)


def test_decisions_follow_the_model() -> None:
    sc = load_scenario(ROOT / "scenarios" / "street.toml")
    sim = simulate(sc, seed=3, days=1.0)
    plan, _, _ = build_plan(sc, sim.incidents, seed=3, duration_s=30.0, speedup=2880.0, start_day=0.0, users=2)
    a = next(x for x in plan.arrivals if x.need == 2)
    assert not resolves_at(a, 0, False, 1.0) and not resolves_at(a, 1, False, 1.0)
    assert resolves_at(a, 2, False, 1.0) and resolves_at(a, 0, True, 0.0)  # rework resolves where it is
    assert work_minutes(a, 0, False) == pytest.approx(a.travel + a.assess)
    assert work_minutes(a, 2, True) == pytest.approx(a.effort[2])
    assert ref_of(describe(a.ref, a.category)) == a.ref
    # satisfaction draws from the arrival's uniform: an on-time case never scores worse than a late one
    assert plan.satisfaction(a, True) >= plan.satisfaction(a, False)


def test_adapters_build_requests(street: tuple) -> None:
    sc, sim = street
    plan, _, _ = build_plan(sc, sim.incidents, seed=7, duration_s=60.0, speedup=1440.0, start_day=1.0, users=2)
    plan.tokens = {"*": "tok"}
    plan.run_id = "lt1"
    a = plan.arrivals[0]
    r = Reference(plan).report(a)
    assert r.method == "POST" and r.path == "/cases" and r.headers["Idempotency-Key"] == f"lt1-{a.ref}"
    assert r.headers["Authorization"] == "Bearer tok"
    o = Open311(plan).report(a)
    assert o.path == "/open311/v2/requests.json" and b"api_key=tok" in (o.body or b"")
    assert b"attribute%5Bgrid%5D=" in (o.body or b"") and o.headers["Idempotency-Key"] == r.headers["Idempotency-Key"]
    assert Open311.case_id(201, '[{"service_request_id": "x1"}]') == "x1"
    assert Reference.case_id(201, '{"id": "c9"}') == "c9" and Reference.case_id(503, "{}") is None


def test_plans_send_only_categories_the_service_knows(street: tuple) -> None:
    """The service refuses categories outside its catalogue (the street scenario's by default):
    every report the reference plan sends, and every Open311 service the facade plan names,
    is one it offers."""
    from twin.service.catalogue import resolve
    from twin.service.open311 import SERVICE_BY_CODE, offered

    sc, sim = street
    known = resolve("street")
    plan, _, _ = build_plan(sc, sim.incidents, seed=7, duration_s=60.0, speedup=1440.0, start_day=1.0, users=5)
    assert plan.arrivals and {a.category for a in plan.arrivals} <= known
    facade, _, _ = build_plan(sc, sim.incidents, seed=7, duration_s=60.0, speedup=1440.0, start_day=1.0, users=5, target="open311")
    codes = {Open311(facade).service_code(a) for a in facade.arrivals} | set(facade.open311_services.values())
    assert codes <= {s.code for s in offered(known)} and all(c in SERVICE_BY_CODE for c in codes)


def test_time_actions_are_counted_from_the_cases() -> None:
    cases = [
        {"extensions_requested": 2, "extensions_approved": 1, "suspensions": 1, "reassignments": 0, "replied_at": "2026-12-03T09:00:00.000+08:00"},
        {"extensions_requested": 0, "extensions_approved": 0, "suspensions": 0, "reassignments": 1, "replied_at": None},
    ]
    assert res.time_action_counts(cases) == {
        "extensions_requested": 2, "extensions_approved": 1, "suspensions": 1, "reassignments": 1, "replies": 1,
    }


def test_thresholds_parse_and_judge() -> None:
    t = res.parse_threshold("p99_ms>200")
    assert t.violated({"p99_ms": 201.0}) is True and t.violated({"p99_ms": 200.0}) is False
    assert res.parse_threshold("error_rate>=0.01").violated({"error_rate": 0.01}) is True
    assert res.parse_threshold("on_time_rate<0.99").violated({"on_time_rate": None}) is None
    with pytest.raises(ValueError, match="unknown metric"):
        res.parse_threshold("p42>1")
    with pytest.raises(ValueError, match="METRIC OP VALUE"):
        res.parse_threshold("p99_ms 200")


def test_failure_kinds_and_csv_readback(tmp_path: Path) -> None:
    assert res.failure_kind("CatchResponseError('HTTP 503')") == "http_503"
    assert res.failure_kind("TimeoutError('timed out')") == "timeout"
    assert res.failure_kind("ConnectionRefusedError(111)") == "connection"
    prefix = tmp_path / "locust"
    head = "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%\n"
    (tmp_path / "locust_stats.csv").write_text(
        head + "POST,POST /cases,10,1,5,6,1,50,100,2.0,0.2,5,6,7,8,9,20,30,40,50,50,50\n"
        ",Aggregated,10,1,5,6,1,50,100,2.0,0.2,5,6,7,8,9,20,30,40,50,50,50\n"
    )
    (tmp_path / "locust_failures.csv").write_text("Method,Name,Error,Occurrences\nPOST,POST /cases,CatchResponseError('HTTP 503'),1\n")
    got = res.read_locust(prefix)
    assert got["aggregate"]["p99_ms"] == 40.0 and got["aggregate"]["error_rate"] == pytest.approx(0.1)
    assert got["endpoints"]["POST POST /cases"]["requests"] == 10
    assert got["failures_by_kind"] == {"http_503": 1}


def test_send_log_keeps_the_first_send(tmp_path: Path) -> None:
    from twin.loadtest.plan import SendLog, read_send_logs

    log = SendLog(str(tmp_path))
    log.note("a-1", 10.5)
    log.note("a-1", 12.0)  # a retry is not a new arrival
    log.note("a-2", 11.0)
    (tmp_path / "sent-999999.log").write_text("a-1 9.25\n")  # another Locust process
    assert read_send_logs(tmp_path) == {"a-1": 9.25, "a-2": 11.0}
    SendLog("").note("x", 1.0)  # no directory: nothing written, no error


def test_emergency_incidents_outside_the_stream_join_the_schedule() -> None:
    """The [emergency] section's incidents reach the engine without passing through the stream;
    the schedule takes them from the simulation's cases, as tier-E matters the grid settles."""
    sc = load_scenario(ROOT / "scenarios" / "flood.toml")
    assert sc.emergency is not None, "flood.toml carries the [emergency] section"
    sim = simulate(sc, seed=5, days=4.0)
    plan, win, _ = build_plan(sc, sim.incidents, seed=5, duration_s=60.0, speedup=1440.0, start_day=3.0, users=4, sim_cases=sim.cases)
    c = sim.cases
    in_window = c[(c["reported_at"] >= win.start_min) & (c["reported_at"] < win.end_min)]
    assert len(plan.arrivals) == len(in_window)  # every case the simulation opened in the window
    em = [a for a in plan.arrivals if a.tier == "E"]
    assert em and all(resolves_at(a, 0, False, 0.0) for a in em)
    assert all(a.community == a.grid.rsplit("-", 1)[0] and a.street == a.grid.split("-")[0] for a in em)
    assert plan.tier_due("E") == pytest.approx(60.0 * sc.emergency.sla_due_hours)


def test_twin_stream_carries_the_emergency_incidents_too(tmp_path: Path) -> None:
    """``twin stream`` on a scenario with an [emergency] section: every case the run opened is a
    line, the storm's tier-E incidents included, in time order, each with every stream field."""
    from typer.testing import CliRunner

    from twin.cli import _load, app

    _load()
    out = tmp_path / "flood.jsonl"
    res = CliRunner().invoke(app, ["stream", str(ROOT / "scenarios" / "flood.toml"), "--days", "4", "--seed", "5", "--out", str(out)])
    assert res.exit_code == 0, res.output
    rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    sim = simulate(load_scenario(ROOT / "scenarios" / "flood.toml"), seed=5, days=4.0)
    assert sorted(r["case_id"] for r in rows) == sorted(sim.cases["case_id"].astype(str))
    em = [r for r in rows if r["tier"] == "E"]
    assert em, "the storm reports emergency incidents within four days"
    keys = set(rows[0])
    assert all(set(r) == keys for r in rows) and all(r["time"] and r["raised_min"] == r["t_min"] for r in em)
    assert [r["t_min"] for r in rows] == sorted(r["t_min"] for r in rows)
    stamp = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$")
    assert all(stamp.match(r["time"]) for r in rows)
