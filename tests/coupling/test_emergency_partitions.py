"""Emergencies with coupled partitions (issue 18): the district command decides once, on the
shared level, from the streets' ``report`` handovers; its ``mode`` notice reaches every street
one handover later; each street acts on its own streets' incidents, checks and members."""

from __future__ import annotations

from tests.coupling.flood import flood2
from twin.coupling.lockstep import run_lockstep
from twin.coupling.sims import partition_sims
from twin.emergency.component import EmergencyComponent
from twin.run import components_for, simulate


def _sims(partitions: int, days: float, trigger: str = "declared") -> list:  # type: ignore[type-arg]
    sc = flood2(partitions, days=days, trigger=trigger)
    sims = [make() for make in partition_sims(sc, seed=4, components=components_for(sc))]
    run_lockstep(sims, days * 1440.0)
    return sims


def _comp(sim: object) -> EmergencyComponent:
    comp = sim.model.component(EmergencyComponent)  # type: ignore[attr-defined]
    assert comp is not None
    return comp


def test_the_district_declares_and_every_street_switches_one_handover_later() -> None:
    sims = _sims(2, 4.0)
    command = _comp(sims[-1]).controller.history
    assert command and command[0].to_mode == "emergency"
    for street in sims[:-1]:
        got = [(round(ch.at, 6), ch.to_mode, ch.source) for ch in _comp(street).controller.history]
        assert got == [(round(ch.at + 30.0, 6), ch.to_mode, ch.source) for ch in command]


def test_each_street_raises_only_its_own_emergency_and_the_roster_is_split_not_copied() -> None:
    one, two = _sims(1, 4.0), _sims(2, 4.0)
    whole, parts = _comp(one[0]), [_comp(s) for s in two[:-1]]
    assert sum(len(c.arrivals) for c in parts) == len(whole.arrivals) > 0
    assert sum(len(c.members) for c in parts) == len(whole.members)
    assert sum(c.vulnerable.size for c in parts) == whole.vulnerable.size
    for k, c in enumerate(parts):
        streets = c.terr.community_street[c.terr.grid_community[c.arrivals.grid]]
        assert set(streets.tolist()) == {k}
    assert len(_comp(two[-1]).members) == 0  # the command has no members of its own


def test_the_district_units_lose_heads_on_the_shared_level_by_the_streets_roll_call() -> None:
    sims = _sims(2, 4.0)
    shared = _comp(sims[-1])
    away = sum(_comp(s).local_away for s in sims[:-1])
    assert away.sum() > 0
    dept = [s for s in shared.home_stations]
    assert dept and all(s.street < 0 for s in dept)
    assert any(shared.heads_target[id(s)] < s.headcount for s in dept)


def test_same_seed_and_partitions_same_switchover_bit_for_bit() -> None:
    a, b = (simulate(flood2(2, days=5.0), seed=7) for _ in range(2))
    assert a.summary["modes"] == b.summary["modes"]
    assert a.cases.equals(b.cases)
    assert a.modes is not None and a.modes.equals(b.modes)
    assert a.call_ups is not None and a.call_ups.equals(b.call_ups) and len(a.call_ups) > 0
    # call-ups name members by their place on the territory's roster: distinct people
    first = a.call_ups.drop_duplicates("member")
    assert len(first) <= a.summary["modes"]["roster"]["staff"]
    assert len(first) == sum(a.summary["modes"]["roster"]["ever_mobilised_by_role"].values())
