"""Validity of emergencies with partitions (issue 18): one street partition and two are one
model — the district command decides on the streets' reports, its notice reaches them one
handover later either way — so the switchover's KPIs must agree over replications.

The switch is rule-driven here (emergency reports an hour, as the streets report them), so
its time is itself random. For each KPI the 95 % Welch interval of the difference between
the two-partition mean and the one-partition mean over REPS replications (fixed seeds) must
contain 0 (see tests/coupling/test_partition_validity.py for why Welch and a difference).
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.coupling.flood import flood2
from tests.coupling.test_partition_validity import welch_diff_ci
from twin.run import simulate

REPS = 5

pytestmark = pytest.mark.slow


def _kpis(partitions: int, seed: int) -> dict[str, float]:
    r = simulate(flood2(partitions), seed=seed)
    m = r.summary["modes"]
    e = m["emergency_cases"]
    return {
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


def test_two_partitions_agree_with_one_on_the_switchover() -> None:
    runs = {p: [_kpis(p, seed) for seed in range(1, REPS + 1)] for p in (1, 2)}
    one, two = ({k: np.array([r[k] for r in rs], dtype=float) for k in rs[0]} for rs in (runs[1], runs[2]))
    report, off = [], []
    for k in one:
        lo, hi = welch_diff_ci(two[k], one[k])
        report.append(f"{k}: P=1 {one[k].mean():.3f} P=2 {two[k].mean():.3f} diff CI [{lo:.3f}, {hi:.3f}]")
        if not lo <= 0.0 <= hi and not np.array_equal(one[k], two[k]):
            off.append(k)
    print("\n".join(report))
    assert not off, f"differ at 95 %: {off}\n" + "\n".join(report)
    assert (one["emergency_cases"] > 100).all() and (one["mobilised_peak"] > 0).all()  # the storm came and people went
