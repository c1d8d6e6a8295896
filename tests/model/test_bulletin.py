"""The weekly bulletin (一周一通报, issue 12): a lever that names the units with the most red
warnings each week and has them work harder the next; off by default."""

from __future__ import annotations

import pytest

from twin.model.flow import CaseFlow
from twin.run import build_model, simulate
from twin.scenario import ScenarioError, load_scenario

#: grid workers with 2,000 households each: red warnings common enough for a bulletin to bite
STRESSED = ["staffing.households_per_worker=2000", "policy.supervision.bulletin_units=3"]


def _run(boost: float) -> CaseFlow:
    sc = load_scenario(None, [*STRESSED, f"policy.supervision.bulletin_effort_boost={boost}"])
    m = build_model(sc, seed=1, days=56, keep_events=False)
    m.run_model()
    return m.flow


def test_named_units_are_late_less_often_when_the_bulletin_boosts_their_effort() -> None:
    off, on = _run(0.0), _run(1.0)  # the same bulletins are issued; only the boost differs
    for flow in (off, on):
        assert flow.bulletins == 7  # weekly over 8 weeks (the 8th falls on the horizon)
        assert flow.units_named >= 15 and flow.named_taken > 500
    share_off = off.named_reds / off.named_taken
    share_on = on.named_reds / on.named_taken
    assert share_on < share_off / 2  # red warnings per case a named unit took up
    assert on.named_reds < off.named_reds
    assert sum(on.reds_by_unit.values()) < sum(off.reds_by_unit.values())


def test_summary_counts_bulletins_only_with_the_lever_on() -> None:
    default = simulate(load_scenario(None), seed=3, days=15, keep_events=False, tables=False).summary
    assert "bulletins" not in default and "bulletin_units_named" not in default
    on = simulate(load_scenario(None, STRESSED), seed=3, days=15, keep_events=False, tables=False).summary
    assert on["bulletins"] == 2
    assert 1 <= on["bulletin_units_named"] <= 6


def test_bulletin_units_must_not_be_negative() -> None:
    with pytest.raises(ScenarioError, match="bulletin_units"):
        load_scenario(None, ["policy.supervision.bulletin_units=-1"])
