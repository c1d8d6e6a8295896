"""Validity of partitioned runs (issue 18): partitions = 1, 2 and 4 are one model with
different random-stream assignments, so district-level waits and every headline KPI must agree
over replications.

For each KPI and P ∈ {2, 4}: the 95 % Welch interval of the difference between the P-partition
mean and the one-partition mean over REPS replications (fixed seeds 1..REPS) must contain 0.
Welch rather than a pooled t: the partitioned runs draw from other streams and their spread
need not equal the unpartitioned one's; a difference interval rather than "overlapping CIs":
two 95 % CIs can overlap while the means differ significantly, so overlap is the weaker test.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from tests.coupling.small import district_waits, small
from twin.run import simulate

REPS = 6
DAYS = 20.0

pytestmark = pytest.mark.slow


def _kpis(partitions: int, seed: int) -> dict[str, float]:
    r = simulate(small(partitions, f"run.days={DAYS}", "outputs.case_events=true"), seed=seed)
    s = r.summary
    to_dept, dept = district_waits(r.events)
    return {
        "district_wait_to_dispatch_h": to_dept,
        "department_time_h": dept,
        "on_time_rate": s["on_time_rate"],
        "on_time_rate_end_to_end": s["on_time_rate_end_to_end"],
        "closure_rate": s["closure_rate"],
        "satisfaction_mean": s["satisfaction_mean"],
        "cases_total": s["cases_total"],
        "closed_at_district": s["closed_at_level"]["district"],
        "utilisation_department": s["utilisation"]["department"],
        "utilisation_district_dispatcher": s["utilisation"]["district_dispatcher"],
        "backlog_end": s["backlog_end"],
    }


@pytest.fixture(scope="module")
def replications() -> dict[int, dict[str, np.ndarray]]:
    out = {}
    for p in (1, 2, 4):
        runs = [_kpis(p, seed) for seed in range(1, REPS + 1)]
        out[p] = {k: np.array([r[k] for r in runs], dtype=float) for k in runs[0]}
    return out


def welch_diff_ci(a: np.ndarray, b: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The Welch interval of mean(a) − mean(b)."""
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = float(np.sqrt(va + vb))
    if se == 0.0:
        return 0.0, 0.0
    dof = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    half = float(stats.t.ppf(0.5 + level / 2, dof)) * se
    d = float(a.mean() - b.mean())
    return d - half, d + half


@pytest.mark.parametrize("partitions", [2, 4])
def test_partitioned_kpis_agree_with_one_partition(replications: dict[int, dict[str, np.ndarray]], partitions: int) -> None:
    one, many = replications[1], replications[partitions]
    report = []
    off = []
    for k in one:
        lo, hi = welch_diff_ci(many[k], one[k])
        report.append(f"{k}: P=1 {one[k].mean():.4f} P={partitions} {many[k].mean():.4f} diff CI [{lo:.4f}, {hi:.4f}]")
        if not lo <= 0.0 <= hi:
            off.append(k)
    assert not off, f"differ at 95 %: {off}\n" + "\n".join(report)
    # the district took real part: dozens of cases per run went through it
    assert one["closed_at_district"].mean() > 0.005


def test_welch_interval_detects_a_real_difference() -> None:
    """The check can fail: a shift of three standard errors lies outside the interval."""
    rng = np.random.default_rng(7)
    a = rng.normal(0.0, 1.0, REPS)
    lo, hi = welch_diff_ci(a + 3.0, a.copy() + rng.normal(0.0, 0.1, REPS))
    assert lo > 0.0
