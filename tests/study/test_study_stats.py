"""Confidence intervals, the target search and the paired comparison."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from twin.study.spec import Target
from twin.study.stats import compare_units, find_target, holm, paired_difference, staff_increases_with_value, t_interval


def test_t_interval_matches_scipy() -> None:
    x = np.array([0.97, 0.99, 0.985, 0.995, 0.98, 0.99])
    n, mean, sd, lo, hi = t_interval(x)
    ref = sps.t.interval(0.95, n - 1, loc=x.mean(), scale=sps.sem(x))
    assert n == 6 and mean == pytest.approx(x.mean()) and sd == pytest.approx(x.std(ddof=1))
    assert (lo, hi) == pytest.approx(ref)
    assert t_interval([1.0, math.nan])[0] == 1 and math.isnan(t_interval([1.0])[3])


def test_t_interval_covers_the_mean_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(2024)
    trials = 4000
    hits = sum(lo <= 3.0 <= hi for *_, lo, hi in (t_interval(rng.normal(3.0, 2.0, 5)) for _ in range(trials)))
    # binomial(4000, 0.95): sd 0.0034; 4 sd either side
    assert abs(hits / trials - 0.95) < 4 * math.sqrt(0.95 * 0.05 / trials)


def _stats(field: str, rows: list[tuple[int, float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame([{field: v, "kpi": "on_time_rate", "mean": m, "ci_low": lo, "ci_high": hi} for v, m, lo, hi in rows])


def test_target_search_walks_from_least_staff_and_ignores_lucky_dips() -> None:
    f = "staffing.households_per_worker"  # more households per worker = fewer workers
    assert not staff_increases_with_value(f) and staff_increases_with_value("staffing.street_dispatchers")
    stats = _stats(f, [
        (300, 0.998, 0.996, 0.999),
        (500, 0.995, 0.991, 0.998),
        (700, 0.991, 0.987, 0.995),  # met on average, not with confidence
        (900, 0.992, 0.990, 0.994),  # a lucky point beyond a failing one: must not be the answer
        (1100, 0.97, 0.96, 0.98),
        (1300, 0.991, 0.991, 0.991),  # lucky again beyond a failure
    ])
    (finding,) = find_target(stats, Target("on_time_rate", ">=", 0.99), f)
    assert finding.confident == 500
    assert finding.on_average == 900
    assert "500" in finding.sentence() and "95 % confidence" in finding.sentence()


def test_target_search_lower_is_better_and_not_met() -> None:
    f = "staffing.street_dispatchers"
    stats = _stats(f, [(1, 9.0, 8.0, 10.0), (2, 3.0, 2.5, 3.5), (3, 1.9, 1.7, 2.1), (4, 1.2, 1.0, 1.4)])
    (finding,) = find_target(stats, Target("on_time_rate", "<=", 2.0), f)
    assert finding.confident == 4 and finding.on_average == 3
    (never,) = find_target(stats, Target("on_time_rate", "<=", 0.5), f)
    assert never.confident is None and "not met" in never.sentence()


def test_paired_difference_matches_scipy_and_edge_cases() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(10, 3, 20)
    b = a + rng.normal(0.5, 0.4, 20)  # common noise cancels in the pairs
    r = paired_difference(a, b)
    res = sps.ttest_rel(b, a)
    assert r["t"] == pytest.approx(res.statistic) and r["p"] == pytest.approx(res.pvalue)
    assert r["ci_low"] < r["diff"] < r["ci_high"] and r["ci_low"] > 0
    same = paired_difference(a, a.copy())
    assert same["diff"] == 0 and same["p"] == 1.0
    shifted = paired_difference(a, a + 1.0)
    assert shifted["p"] == 0.0 and shifted["diff"] == pytest.approx(1.0)


def test_holm() -> None:
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert math.isnan(holm([math.nan, 0.2])[0]) and holm([math.nan, 0.2])[1] == pytest.approx(0.2)


def test_verdict_respects_direction() -> None:
    rng = np.random.default_rng(5)
    base = rng.normal(100, 20, 15)
    rows = []
    for k in range(15):
        rows.append({"policy": "A", "rep": k, "backlog_end": base[k], "on_time_rate": 0.95, "cases_total": base[k]})
        rows.append({"policy": "B", "rep": k, "backlog_end": base[k] - 10 + rng.normal(0, 1),
                     "on_time_rate": 0.95, "cases_total": base[k] + 5 + rng.normal(0, 1)})
    out = compare_units(pd.DataFrame(rows), "policy", ["A", "B"], ["backlog_end", "on_time_rate", "cases_total"])
    by = {r["kpi"]: r for r in out.to_dict("records")}
    assert by["backlog_end"]["better"] == "B" and by["backlog_end"]["diff"] < 0  # lower backlog is better
    assert "B better than A" in by["backlog_end"]["verdict"]
    assert by["on_time_rate"]["better"] == "none"
    assert by["cases_total"]["better"] == "n/a"  # volume has no better direction


def test_kpi_directions() -> None:
    from twin.study.kpi import direction

    assert direction("on_time_rate") == "higher" and direction("closed_at_level.grid") == "higher"
    assert direction("hours_to_close.T1.p90") == "lower" and direction("hours_to_close.T1.n") == "neutral"
    assert direction("utilisation.grid_worker") == "neutral" and direction("cases_total") == "neutral"
    assert direction("modes.emergency_cases.on_time_rate") == "higher"
    assert direction("modes.emergency_response_min_p90") == "lower"
    assert direction("modes.hours_in_mode.emergency") == "neutral"
