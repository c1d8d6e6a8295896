"""Mobilisation: exemptions in each mode, destinations, teams, the home units' capacity, the
duty to check vulnerable residents, and the mode on every case event."""

from __future__ import annotations

import numpy as np
import pytest

from agents.mobilised import HOME, ON_SITE
from twin.emergency.component import emergency_of
from twin.model import DistrictModel
from twin.modes import ROLES
from twin.run import build_model

from .conftest import scheduled_flood

H = 60.0
ROLE = {r: i for i, r in enumerate(ROLES)}


@pytest.fixture(scope="module")
def drill() -> DistrictModel:
    """normal → emergency at 10 h → extreme at 20 h → emergency at 30 h → normal at 40 h; run in steps."""
    m = build_model(scheduled_flood(days=4.0))
    m.start()
    return m


def _at(m: DistrictModel, hours: float) -> None:
    m.env.run(until=hours * H)


def test_exemptions_in_each_mode(drill: DistrictModel) -> None:
    m = drill
    em = emergency_of(m)
    mem = em.members
    role = mem.role
    sendable = mem.destination >= 0
    _at(m, 9.9)
    assert em.mode == "normal" and (mem.state == HOME).all()
    _at(m, 19.9)  # 应下尽下, ~10 h after the call: every 'other' is on site, nobody else has moved
    assert em.mode == "emergency"
    on = mem.state == ON_SITE
    assert np.array_equal(on, (role == ROLE["other"]) & sendable)
    assert (mem.state[role != ROLE["other"]] == HOME).all()
    _at(m, 29.9)  # 全员下沉: basic operations join; command and key-personnel safety never move
    assert em.mode == "extreme"
    on = mem.state == ON_SITE
    assert np.array_equal(on, np.isin(role, [ROLE["other"], ROLE["basic_operations"]]) & sendable)
    _at(m, 39.9)  # back to 应下尽下: basic operations went home
    assert em.mode == "emergency"
    assert (mem.state[role == ROLE["basic_operations"]] == HOME).all()
    assert (mem.state[role == ROLE["other"]] == ON_SITE).all()
    _at(m, 72.0)  # back to normal: everyone home again
    assert em.mode == "normal" and (mem.state == HOME).all()
    exempt = np.isin(role, [ROLE["command"], ROLE["key_personnel_safety"]])
    assert exempt.sum() > 0 and not mem.ever_mobilised[exempt].any()
    assert all(mem.mobilised_in[k] == {"extreme"} for k in np.flatnonzero(role == ROLE["basic_operations"]))
    assert all(mem.mobilised_in[k] == {"emergency"} for k in np.flatnonzero(role == ROLE["other"]))
    assert sendable[~exempt].all()  # everyone the rules call has a destination
    assert [(c.from_mode, c.to_mode, c.source) for c in em.controller.history] == [
        ("normal", "emergency", "schedule"),
        ("emergency", "extreme", "schedule"),
        ("extreme", "emergency", "schedule"),
        ("emergency", "normal", "schedule"),
    ]


def test_home_units_lose_capacity_while_away_and_get_it_back() -> None:
    """Each station of a unit keeps headcount × (share of the unit's staff present) heads on
    average — fractional shares by hourly error diffusion, so a 2-head board at 0.575 is staffed
    57.5 % of the hours — and gets its full head count back once everyone has returned."""
    m = build_model(scheduled_flood(days=3.0, steps=[(10.0, "emergency"), (40.0, "normal")]))
    em = emergency_of(m)
    # the roster units' stations (the police station is not one: police are a specialist responder)
    stations = [s for s in [*m.boards[0], *m.departments] if any(s in ss for ss in em.unit_stations)]
    assert len(stations) == len(m.boards[0]) + len(m.departments) - 1
    full = [s.headcount for s in stations]
    m.start()
    _at(m, 10.2)
    office = next(u for u in em.units if u.name == "street_office")
    assert office.away == 57  # every 'other' of the street office is called at once
    caps = []
    for h in range(11, 39):
        _at(m, h + 0.5)
        caps.append([s.capacity for s in stations])
    mean = np.mean(caps, axis=0)
    for s, avg in zip(stations, mean, strict=True):
        unit = next(u for u, ss in zip(em.units, em.unit_stations, strict=True) if s in ss)
        target = s.headcount * (1.0 - unit.away / unit.staff)
        assert abs(avg - target) <= 1.0 / len(caps) + 1e-9, (s.name, avg, target)
    assert mean.sum() < 0.4 * sum(full)
    _at(m, 72.0)
    assert [s.capacity for s in stations] == full
    assert all(u.away == 0 for u in em.units)


def test_destinations_are_residence_registrations_when_present() -> None:
    m = build_model(scheduled_flood(days=1.0, redirect_registered_outside_area=False))
    mem = emergency_of(m).members
    reg = (mem.residence >= 0) & (mem.destination >= 0)
    assert reg.sum() > 50
    assert np.array_equal(mem.destination[reg], mem.residence[reg])
    # everyone else goes by need: only to communities with need (the flooded ones)
    by_need = (mem.residence < 0) & (mem.destination >= 0)
    assert emergency_of(m).hazard_comm[mem.destination[by_need]].all()


def test_redirect_sends_registered_members_outside_the_area_by_need() -> None:
    m = build_model(scheduled_flood(days=1.0))
    em = emergency_of(m)
    mem = em.members
    assert em.hazard_comm[mem.destination[mem.destination >= 0]].all()


def test_teams_follow_their_shares_in_each_community() -> None:
    """While 应下尽下 is in force, each community's team sizes are within one of share × members there."""
    m = build_model(scheduled_flood(days=1.0, steps=[(1.0, "emergency")]))
    m.start()
    _at(m, 12.0)
    em = emergency_of(m)
    for c in np.flatnonzero(em.hazard_comm):
        sizes = np.array([em.teams[i].assigned for i in em.mob_team_at[c]])
        assert sizes.sum() == int(((em.members.destination == c) & (em.members.role == ROLE["other"])).sum()) > 0
        assert np.all(np.abs(sizes - em.team_share * sizes.sum()) <= 1.0)


def test_every_vulnerable_resident_is_checked_after_the_switch() -> None:
    m = build_model(scheduled_flood(days=2.0, steps=[(10.0, "emergency")]))
    m.run_model()
    d = emergency_of(m).duty
    assert d is not None and d.start == 10.0 * H
    assert d.done_at.size == emergency_of(m).vulnerable.size > 100
    assert not np.isnan(d.done_at).any() and (d.done_at >= d.start).all()


def test_mode_is_recorded_on_every_case_event(drill: DistrictModel) -> None:
    from twin.emergency.summary import mode_at

    m = drill
    _at(m, 96.0)  # past the storm's onset (hour 74)
    ev = list(m.store.events())
    t = np.array([e.at - m.epoch for e in ev])
    recorded = np.array([e.mode for e in ev], dtype=object)
    assert set(recorded) == {"normal", "emergency", "extreme"}
    assert np.array_equal(recorded, mode_at(emergency_of(m), t))
    e_cases = {e.case_id for e in ev if e.action == "report" and e.data.get("tier") == "E"}
    assert e_cases  # the storm produced tier-E cases through the engine


def test_manual_commands_drive_the_run_and_illegal_ones_are_typed() -> None:
    """The drill console's path: commands at the current simulated time, legal steps only."""
    from twin.modes import IllegalModeChange

    m = build_model(scheduled_flood(days=2.0, steps=[], response={"allow_skip": False}))
    m.start()
    em = emergency_of(m)
    _at(m, 5.0)
    with pytest.raises(IllegalModeChange) as exc:
        em.command("extreme", "skip a rung", actor="trainer")
    assert (exc.value.from_mode, exc.value.to_mode) == ("normal", "extreme")
    ch = em.command("emergency", "drill: red rainstorm warning", actor="trainer")
    assert (ch.at, ch.source, ch.actor) == (5.0 * H, "manual", "trainer")
    assert m.engine.mode == "emergency"
    assert (em.members.state[em.members.role == ROLE["other"]] != HOME).all()
    _at(m, 20.0)
    em.command("normal", "drill over", actor="trainer")
    _at(m, 30.0)
    assert m.engine.mode == "normal" and (em.members.state == HOME).all()
    assert [c.to_mode for c in em.controller.history] == ["emergency", "normal"]


def test_inject_reports_and_dispatches_an_extra_emergency_case() -> None:
    m = build_model(scheduled_flood(days=1.0, steps=[]))
    m.start()
    _at(m, 3.0)
    em = emergency_of(m)
    n = len(em.arrivals)
    cid = em.inject(em.cat_names.index("waterlogging"), grid=0, travel=5.0, effort=30.0)
    assert len(em.arrivals) == n + 1 and em.e_case_id[-1] == cid
    _at(m, 4.0)  # the duty desk answers in normal mode
    c = m.store.get(cid)
    assert c is not None and c.tier == "E" and str(c.state) == "closed"
    assert em.e_on_site[-1] - em.e_reported[-1] == pytest.approx(5.0)
