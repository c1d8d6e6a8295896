"""Specialist responders with street partitions (issue 18): a district-wide pool of crews (fire
and rescue, 120, 110) is one pool whatever P. Its calls are exogenous (the territory's arrivals
of the categories it handles, drawn up front) and dispatched the moment they are reported, so
every street partition replays the whole pool — its own calls as cases, the others' as calls
that only hold a crew — and P = 1 and P = 2 give the same crews, queues and response times."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tests.coupling.flood import flood2
from twin.run import simulate

SPECIAL = ["trapped_people", "medical_emergency", "public_order"]


def _specialist_cases(cases: pd.DataFrame) -> np.ndarray:
    """(reported, dispatched, on scene, closed) of every specialist case, in report order."""
    c = cases[cases["category"].astype(str).isin(SPECIAL)]
    cols = ["reported_at", "accepted_at", "started_at", "closed_at"]
    return c.sort_values(["reported_at", "started_at"])[cols].to_numpy()


def test_two_partitions_replay_the_one_pool_exactly() -> None:
    one, two = (simulate(flood2(p, days=5.0, specialists=True, crews=1), seed=3) for p in (1, 2))
    s1, s2 = (r.summary["modes"]["specialist_responses"] for r in (one, two))
    assert set(s1) == {"fire_rescue", "medical", "police"}
    assert s1 == s2  # counts, medians and the grid staff guiding them in
    assert sum(v["count"] for v in s1.values()) > 10
    a, b = _specialist_cases(one.cases), _specialist_cases(two.cases)
    assert a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    # one crew each: calls queue for it (oldest first), across the two partitions' streets
    assert (a[:, 1] > a[:, 0]).sum() >= 3


def test_each_specialist_case_stays_in_its_street() -> None:
    r = simulate(flood2(2, days=5.0, specialists=True), seed=3)
    c = r.cases[r.cases["category"].astype(str).isin(SPECIAL)]
    assert c["case_id"].is_unique and (c["state"].astype(str) == "closed").any()
    # a specialist's crew name is on its own cases only: the other partition's calls made no records
    assert r.summary["modes"]["emergency_cases"]["n"] == int((r.cases["tier"].astype(str) == "E").sum())
