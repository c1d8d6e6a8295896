"""有呼必应、因事派人 (issue 14): in normal mode a community whose emergency case waits calls, and a
unit sends a few registered members for that case — not a mobilisation."""

from __future__ import annotations

import numpy as np

from agents.mobilised import ON_CALL
from twin.emergency.component import emergency_of
from twin.emergency.summary import mode_at
from twin.model import DistrictModel
from twin.run import build_model

from .conftest import flood

H = 60.0


def _flood(days: float, **emergency: object) -> DistrictModel:
    m = build_model(flood(days, **emergency))
    m.start()
    return m


def test_without_the_switch_communities_call_and_units_send_people_for_the_case() -> None:
    m = _flood(4.5, switching=False)
    comp = emergency_of(m)
    mem = comp.members
    out = []
    for h in range(75, 108, 3):  # the storm, in normal mode throughout
        m.env.run(until=h * H)
        on_call = int((mem.state == ON_CALL).sum())
        assert sum(u.away for u in comp.units) == on_call  # their units are short of exactly them
        assert mem.on_site() == 0 and mem.en_route() == 0  # nobody is mobilised
        out.append(on_call)
    assert max(out) > 0
    s = comp.on_call.summary()
    assert s["calls"] > 0 and s["answered"] > 0 and s["minutes_call_to_scene_p50"] > 0
    assert s["answered"] + s["in_vain"] + s["unanswered"] + s["on_the_way"] == s["calls"]
    # two people a call while the community's registered and placed members last; none when nobody is home
    assert all((c["people"] == 0) == (c["outcome"] == "unanswered") and c["people"] <= 2 for c in comp.on_call.calls)
    assert s["people_sent"] == sum(c["people"] for c in comp.on_call.calls) > s["calls"]
    # the answered calls' cases were worked by the community's on-call team
    assert sum(t.served for t in comp.on_call.teams) == s["answered"]
    # each call came after its case had waited the scenario's 30 minutes
    waited = [c["t_min"] - comp.e_reported[comp.e_case_id.index(c["case"])] for c in comp.on_call.calls]
    assert min(waited) >= 30.0 - 1e-9


def test_calls_only_in_normal_mode_and_not_when_disabled() -> None:
    m = _flood(10.0)
    comp = emergency_of(m)
    m.env.run(until=m.horizon)
    t = np.array([c["t_min"] for c in comp.on_call.calls])
    assert t.size > 0 and (mode_at(comp, t) == "normal").all()  # after the stand-down, not during the switch
    off = _flood(4.5, switching=False, on_call={"enabled": False})
    off.env.run(until=off.horizon)
    assert emergency_of(off).on_call.summary()["calls"] == 0
