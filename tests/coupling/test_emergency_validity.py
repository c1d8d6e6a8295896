"""Validity of emergencies with partitions (issue 18): one street partition and two are one
model — the district command decides on the streets' reports, its notice reaches them one
handover later either way — so the switchover's KPIs must agree over replications.

The switch is rule-driven here (emergency reports an hour, as the streets report them), so
its time is itself random. For each KPI the 95 % Welch interval of the difference between
the two-partition mean and the one-partition mean over REPS replications (fixed seeds) must
contain 0 (see tests/coupling/test_partition_validity.py for why Welch and a difference).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.coupling.flood import flood2
from tests.coupling.test_partition_validity import welch_diff_ci
from twin.run import simulate

REPS = 5

pytestmark = pytest.mark.slow


def kpis(partitions: int, seed: int, **flood: Any) -> dict[str, float]:
    """The switchover's KPIs of one run of the two-street flood (``flood``: flood2's options),
    and each specialist pool's cases taken and median minutes to the scene when it has them."""
    r = simulate(flood2(partitions, **flood), seed=seed)
    m = r.summary["modes"]
    e = m["emergency_cases"]
    pools = {
        f"{name}_{key}": v[field]
        for name, v in m["specialist_responses"].items()
        for key, field in (("cases", "count"), ("minutes_to_scene_p50", "minutes_to_scene_p50"))
    }
    return pools | {
        "cases_total": r.summary["cases_total"],
        "normal_backlog_mean": m["normal_backlog"]["mean"],
        "redeployed_peak": m["redeployed"]["peak"],
        "routine_backlog_peak_hours": m["routine_backlog"]["peak_hours"],
        "home_unit_backlog_mean": m["home_unit_backlog"]["mean"],
        "switch_min": next(s["start_min"] for s in m["timeline"] if s["mode"] != "normal"),
        "response_min_p50": e["response_min_p50"],
        "response_min_p90": e["response_min_p90"],
        "emergency_cases": e["n"],
        "on_time_rate": e["on_time_rate"],
        "minutes_to_50pct": m["minutes_to_50pct"],
        "mobilised_peak": m["mobilised_peak"],
        "checked_within_deadline": m["vulnerable_checks"]["share_within_deadline"],
        "normal_backlog_peak": m["normal_backlog_at_peak"],
    }


def disagreeing(runs: dict[int, list[dict[str, float]]]) -> tuple[list[str], str]:
    """The KPIs whose P = 2 − P = 1 difference of means has a 95 % Welch interval without 0
    (identical samples agree), and a report of every KPI."""
    one, two = ({k: np.array([r[k] for r in rs], dtype=float) for k in rs[0]} for rs in (runs[1], runs[2]))
    report, off = [], []
    for k in one:
        lo, hi = welch_diff_ci(two[k], one[k])
        report.append(f"{k}: P=1 {one[k].mean():.3f} P=2 {two[k].mean():.3f} diff CI [{lo:.3f}, {hi:.3f}]")
        if not lo <= 0.0 <= hi and not np.array_equal(one[k], two[k]):
            off.append(k)
    return off, "\n".join(report)


def test_two_partitions_agree_with_one_on_the_switchover() -> None:
    runs = {p: [kpis(p, seed) for seed in range(1, REPS + 1)] for p in (1, 2)}
    off, report = disagreeing(runs)
    print(report)
    assert not off, f"differ at 95 %: {off}\n" + report
    one = runs[1]
    assert all(r["emergency_cases"] > 100 and r["mobilised_peak"] > 0 for r in one)  # the storm came and people went
