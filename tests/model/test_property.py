"""Property management (物业) as an actor: managed compounds' matters reach the
property company first; it settles what it can in its own hours and hands the rest in."""

from __future__ import annotations

import numpy as np

from tests.model.cached_runs import street_run
from twin.run import RunResult

DAYS = 8


def _run(*overrides: str) -> RunResult:
    return street_run(4, DAYS, *overrides)


def test_property_companies_settle_some_matters_and_hand_the_rest_in() -> None:
    r = _run()
    s = r.summary["property"]
    assert s["received"] > 20 and s["settled"] > 10 and s["escalated"] > 5
    assert 0.0 < s["escalated_share"] < 1.0
    ev = r.events
    assert ev is not None
    wy = ev[ev["actor"].str.startswith("WY-")]
    settled = set(wy.loc[wy["action"] == "resolve", "case_id"])
    c = r.cases.set_index("case_id")
    assert c.loc[sorted(settled), "property_settled"].all()
    assert (c.loc[sorted(settled), "state"].astype(str) == "closed").all()
    # handed in: the community office accepts it (the platform's limit starts then)
    handed = ev[ev["case_id"].isin(set(c.index[~c["property_settled"]])) & (ev["action"] == "accept")]
    assert handed["actor"].str.startswith("CO-").any()
    # settled matters are not registered on the platform
    after = c[c["reported_at"] >= 3 * 1440.0]
    assert s["settled"] == int(after["property_settled"].sum())
    assert r.summary["utilisation"]["property"] > 0.0


def test_the_property_desk_works_in_its_own_hours() -> None:
    ev = _run().events
    assert ev is not None
    t = ev.loc[ev["actor"].str.startswith("WY-") & (ev["action"] == "resolve"), "t_min"].to_numpy()
    h = (t % 1440.0) / 60.0
    assert t.size > 10
    assert (((h >= 8.0) & (h <= 12.0)) | ((h >= 13.5) & (h <= 18.0))).all()


def test_without_property_companies_everything_goes_to_the_grid() -> None:
    r = _run("property_management.managed_share=0")
    s = r.summary
    assert s["property"]["received"] == 0 and s["property"]["settled"] == 0
    assert s["utilisation"]["property"] is None
    assert not r.cases["property_settled"].any()
    ev = r.events
    assert ev is not None and not ev["actor"].str.startswith("WY-").any()


def test_a_company_that_settles_nothing_hands_everything_in() -> None:
    s = _run("property_management.settle_share=0").summary["property"]
    assert s["settled"] == 0 and s["received"] > 0
    assert s["escalated"] >= s["received"] - 5  # the last day's may still be at the desk
    base = _run().summary["property"]
    assert np.isclose(base["received"], s["received"], atol=0)  # same stream, other handling
