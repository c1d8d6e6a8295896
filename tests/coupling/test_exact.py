"""The coupling is exact: one street partition coupled to the shared district level gives the
whole model's cases bit for bit; partitioned runs are deterministic; the driver's helpers."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.coupling.small import small
from twin.coupling import SHARED, Handover, route, windows
from twin.coupling.lockstep import run_lockstep
from twin.coupling.sims import partition_sims
from twin.model import DistrictModel
from twin.run import simulate
from twin.scenario import ScenarioError


def _coupled_cases(partitions: int, days: float) -> list[DistrictModel]:
    sc = small(partitions)
    sims = [make() for make in partition_sims(sc, days=days, keep_events=True)]
    return run_lockstep(sims, days * 1440.0)


def test_one_partition_coupled_is_the_whole_model_bit_for_bit() -> None:
    """The same model two ways: district in-process (the flow waits out the handover) and on
    the shared level (the handover is the window; the district's events are applied back)."""
    days = 10.0
    whole = DistrictModel(small(1), days=days, keep_events=True)
    whole.run_model()
    street, shared = _coupled_cases(1, days)
    assert street.role == "street" and shared.role == "shared"
    a = sorted(whole.store.all_cases(), key=lambda c: c.id)
    b = sorted(street.store.all_cases(), key=lambda c: c.id)
    assert [c.id for c in a] == [c.id for c in b]
    assert sum(c.level == 3 for c in a) > 5  # the district took part
    assert a == b  # every field of every case, the district's steps included
    assert list(shared.store.all_cases()) == []  # the shared level keeps no case of its own


def test_district_steps_are_in_the_partition_audit_trail_with_their_times() -> None:
    street = _coupled_cases(2, 10.0)[0]
    events = list(street.store.events())
    by_dc = [e for e in events if e.actor.startswith("DC-") and str(e.action) == "dispatch"]
    assert by_dc, "the district centre's dispatches are in the street partition's log"
    for e in by_dc:
        trail = [x for x in street.store.events(e.case_id)]
        esc = next(x for x in trail if str(x.action) == "escalate" and x.actor.startswith("B-"))
        assert e.at >= esc.at + 30.0  # signed for no earlier than the handover after the street's report
        assert [x.version for x in trail] == list(range(1, len(trail) + 1))  # one unbroken trail


def test_same_seed_and_partitions_same_tables_bit_for_bit() -> None:
    a = simulate(small(2), days=8.0)
    b = simulate(small(2), days=8.0)
    for name in ("cases", "kpi", "stations", "incidents"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True)
    sa, sb = dict(a.summary), dict(b.summary)
    sa.pop("wall_seconds"), sb.pop("wall_seconds")
    assert sa == sb


def test_district_stations_appear_once_with_their_whole_staff() -> None:
    r = simulate(small(4), days=3.0)
    st = r.stations
    assert (st["station"].str.startswith("DC-")).sum() == 1
    assert int(st.loc[st["station"].str.startswith("D-"), "capacity"].sum()) == 3 + 1 + 2 + 1


def test_windows_end_at_multiples_of_the_lookahead_and_the_horizon() -> None:
    assert list(windows(100.0, 30.0)) == [30.0, 60.0, 90.0, 100.0]
    assert list(windows(90.0, 30.0)) == [30.0, 60.0, 90.0]
    with pytest.raises(ValueError, match="lookahead"):
        list(windows(10.0, 0.0))


def test_route_sends_shared_messages_to_the_last_sim_in_sender_order() -> None:
    h = [Handover(40.0, SHARED, "escalate", (0,)), Handover(35.0, 1, "outcome", ("x",))]
    g = [Handover(31.0, SHARED, "escalate", (1,))]
    inbox = route([h, g, []], 3)
    assert inbox == [[], [h[1]], [h[0], g[0]]]


def test_partitions_refuse_a_zero_handover() -> None:
    with pytest.raises(ScenarioError, match=r"policy\.handover_minutes: expected minutes > 0 with run\.partitions > 1"):
        small(2, "policy.handover_minutes=0")
    small(1, "policy.handover_minutes=0")  # one process hands over at once
