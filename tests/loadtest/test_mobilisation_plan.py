"""The switchover in the load plan (issue 19): the scenario's mode changes and mobilised members
from the model, compressed and scaled; and the ``mobilisation`` block read back from what the
users noted — all without processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from twin.loadtest.mobilisation import copies, loses_first_reply, member_calls, mobilisation_block, mode_steps
from twin.loadtest.plan import Plan
from twin.loadtest.schedule import PlanError, build_plan
from twin.run import simulate
from twin.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def flood() -> tuple:
    sc = load_scenario(ROOT / "scenarios" / "flood.toml")
    sim = simulate(sc, days=4.0)
    return sc, sim


def plan_of(flood: tuple, **kw: object) -> Plan:
    sc, sim = flood
    args = {"seed": sc.run.seed, "duration_s": 120.0, "speedup": 1440.0, "start_day": 2.5, "users": 5, "sim_cases": sim.cases,
            "modes_timeline": sim.summary["modes"]["timeline"], "call_ups": sim.call_ups, **kw}
    plan, _, _ = build_plan(sc, sim.incidents, **args)  # type: ignore[arg-type]
    return plan


def test_the_plan_switches_when_the_model_does_with_its_head_count(flood: tuple) -> None:
    sc, sim = flood
    plan = plan_of(flood)
    switch = next(s for s in sim.summary["modes"]["timeline"] if s["mode"] == "emergency")
    assert [s.mode for s in plan.mode_steps] == ["emergency"]
    step = plan.mode_steps[0]
    assert step.sim_min == switch["start_min"]
    assert step.at_s == pytest.approx((switch["start_min"] - 2.5 * 1440.0) * 60.0 / 1440.0)
    called = sim.call_ups[sim.call_ups["notified_min"] == switch["start_min"]]
    assert step.expected_members == len(called) == sim.summary["modes"]["mobilisation"][0]["mobilisable"] > 0


def test_members_check_in_at_the_models_arrival_times(flood: tuple) -> None:
    sc, sim = flood
    plan = plan_of(flood)
    cu = sim.call_ups.set_index("member")
    assert len(plan.members) == len(cu)  # each called member arrives inside the two simulated days
    for m in plan.members:
        row = cu.loc[m.member_id]
        assert m.community == row["community"] and m.team == row["team"]
        assert m.arrive_min == pytest.approx(row["arrive_min"])
        assert m.at_s == pytest.approx((row["arrive_min"] - 2.5 * 1440.0) * 60.0 / 1440.0, abs=1e-5)
    assert [m.at_s for m in plan.members] == sorted(m.at_s for m in plan.members)
    assert {m.community for m in plan.members} <= set(sc.emergency.area.communities)
    # through the plan file and back
    p = plan.save(Path(ROOT / "tests" / "loadtest" / ".plan-test.json"))
    try:
        back = Plan.load(p)
    finally:
        p.unlink()
    assert back.members == plan.members and back.mode_steps == plan.mode_steps


def test_members_scale_multiplies_the_population_deterministically(flood: tuple) -> None:
    sc, sim = flood
    one = plan_of(flood)
    big = plan_of(flood, members_scale=2.5)
    again = plan_of(flood, members_scale=2.5)
    assert [m.to_json() for m in big.members] == [m.to_json() for m in again.members]
    n = len(one.members)
    assert 2 * n <= len(big.members) <= 3 * n
    assert big.mode_steps[0].expected_members == len(big.members)
    assert sum(copies(m.member_id, 2.5, sc.run.seed) for m in one.members) == len(big.members)
    # the first copy of each member keeps the model's own arrival; copies draw their own delays
    firsts = {m.member_id: m for m in big.members if "x" not in m.member_id}
    assert [firsts[m.member_id].at_s for m in one.members] == [m.at_s for m in one.members]
    extra = [m for m in big.members if "x" in m.member_id]
    assert len({round(m.arrive_min - m.notified_min, 6) for m in extra}) > len(extra) // 2
    half = plan_of(flood, members_scale=0.5)
    assert 0.3 * n < len(half.members) < 0.7 * n and {m.member_id for m in half.members} <= {m.member_id for m in one.members}


def test_bad_scale_and_share_name_the_option(flood: tuple) -> None:
    with pytest.raises(PlanError, match="--members-scale"):
        plan_of(flood, members_scale=0.0)
    with pytest.raises(PlanError, match="--checkin-lost-replies"):
        plan_of(flood, checkin_lost_replies=1.5)


def test_open311_and_scenarios_without_an_emergency_play_no_switch(flood: tuple) -> None:
    assert plan_of(flood, target="open311").members == []
    street = load_scenario(ROOT / "scenarios" / "street.toml")
    sim = simulate(street, seed=3, days=1.0)
    assert sim.call_ups is None
    plan, _, _ = build_plan(street, sim.incidents, seed=3, duration_s=30.0, speedup=1440.0, start_day=0.3, users=2)
    assert plan.mode_steps == [] and plan.members == []


def test_a_window_opening_in_emergency_switches_at_once() -> None:
    tl = [{"mode": "normal", "start_min": 0.0, "end_min": 100.0, "source": "start"},
          {"mode": "emergency", "start_min": 100.0, "end_min": 500.0, "source": "declared", "cause": "II"},
          {"mode": "normal", "start_min": 500.0, "end_min": 900.0, "source": "declared", "cause": "lifted"}]
    steps = mode_steps(tl, 200.0, 800.0, 60.0, {100.0: 7})
    assert [(s.at_s, s.mode, s.expected_members) for s in steps] == [(0.0, "emergency", 7), (300.0, "normal", 0)]
    assert mode_steps(tl, 0.0, 50.0, 60.0, {}) == []


def test_member_calls_drop_arrivals_after_the_window() -> None:
    import pandas as pd

    cu = pd.DataFrame({"member": ["M1", "M2", "M3"], "community": ["C"] * 3, "team": ["supply"] * 3,
                       "notified_min": [100.0, 100.0, 50.0], "delay_min": [30.0, 500.0, 10.0],
                       "arrive_min": [130.0, 600.0, 60.0], "mode": ["emergency"] * 3})
    calls, expected = member_calls(cu, 80.0, 400.0, 60.0, 1.0, 1)
    assert [c.member_id for c in calls] == ["M1"] and expected == {100.0: 2}  # M3 was called before the window


def test_lost_replies_are_chosen_by_member() -> None:
    ids = [f"M{i:05d}" for i in range(2000)]
    lost = [m for m in ids if loses_first_reply(m, 0.25)]
    assert 0.2 * len(ids) < len(lost) < 0.3 * len(ids)
    assert lost == [m for m in ids if loses_first_reply(m, 0.25)] and not any(loses_first_reply(m, 0.0) for m in ids)


def test_the_mobilisation_block_counts_what_the_users_noted(flood: tuple) -> None:
    plan = plan_of(flood, checkin_lost_replies=0.5)
    plan.t0_epoch = 1000.0
    a, b, c = plan.members[:3]
    declared = plan.mode_steps[0]
    t = lambda s: f"{1000.0 + s:.6f}"  # noqa: E731
    lines = [
        ["mode", "emergency", "200", t(declared.at_s), str(declared.expected_members)],
        ["checkin", a.member_id, "201", "ck1", t(a.at_s), "12.0", "0"],
        ["lost", a.member_id],  # the first reply was lost (fault injected) …
        ["checkin", a.member_id, "200", "ck1", t(a.at_s + 0.1), "8.0", "1"],  # … so the app sent again: the same record
        ["checkin", b.member_id, "0", "-", t(b.at_s), "5000.0", "0"],  # timed out
        ["checkin", b.member_id, "201", "ck2", t(b.at_s + 0.5), "20.0", "1"],
        ["checkin", c.member_id, "201", "ck3", t(c.at_s), "30.0", "0"],
        ["checkin", c.member_id, "201", "ck4", t(c.at_s + 0.2), "30.0", "1"],  # the platform made a second record
        ["claim", a.member_id, "T1", "ok"], ["claim", b.member_id, "T1", "taken"], ["claim", c.member_id, "T9", "not_found"],
        ["complete", a.member_id, "T1", "ok"],
    ]
    # the reference platform gives wall minutes from its declaration; another may give times
    platform = {"declared_at": "2026-07-04T02:00:00+08:00", "checked_in": 6, "checkins_p50_at": 2.0, "checkins_p90_at": "2026-07-04T02:04:00+08:00"}
    block = mobilisation_block(plan, lines, platform, {"minutes_to_50pct": 79.0, "minutes_to_90pct": 158.0})
    assert block is not None
    assert block["checked_in"] == 6 and block["checked_in_by_load_test"] == 3 and block["called"] == len(plan.members)
    assert block["duplicates"] == 1 + (6 - 3)  # one member with two records, and three more than members ever sent
    platform["checked_in"] = 3  # as many as members sent: none counted twice by number
    assert mobilisation_block(plan, lines, platform, None)["duplicates"] == 1
    assert block["checkin_attempts"] == 6 and block["checkin_retries"] == 3 and block["checkin_status"] == {"0": 1, "200": 1, "201": 4}
    assert block["lost_replies"] == 1
    assert block["claims"] == {"not_found": 1, "ok": 1, "taken": 1} and block["completions"] == {"ok": 1}
    assert block["checkin_p50_ms"] == 20.0
    # the platform's minutes (engine minutes, wall) stretched by the speedup into simulated minutes
    assert block["minutes_to_50pct"] == {"platform": 2.0 * 1440.0, "load_test": None, "simulation": 79.0}
    assert block["minutes_to_90pct"]["platform"] == 4.0 * 1440.0
    assert sum(block["storm"]["checkins"]) == 3 and sum(block["storm"]["scheduled"]) == len(plan.members)
    assert block["mode_posts"] == [{"mode": "emergency", "status": 200, "wall_s": round(declared.at_s, 3)}]
    assert mobilisation_block(plan_of(flood, target="open311"), [], None, None) is None
