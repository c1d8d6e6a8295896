"""What a switch buys and what it costs, a study: the same scenario with and without the switch,
paired by seed (common random numbers — the emergency, the ordinary incidents and their efforts
are the same in both arms), over replications, with 95 % t-intervals of the paired differences.

    twin switch-effect scenarios/flood.toml --reps 10 [--json out.json] [--set k=v …]
    twin switch-effect scenarios/extreme.toml --baseline-set emergency.rules.1.enter_above=1e9

The second form compares against another baseline (here: the same run without the escalation
to 全员下沉, i.e. staying in 应下尽下). The metrics are the ``modes`` block of ``summary.json``;
the command line (:mod:`twin.cli.study`) prints the rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from twin.run import simulate
from twin.scenario import Scenario
from twin.study.errors import StudyError
from twin.study.stats import paired_difference, t_interval

#: (label, path in the modes block); for breaches the path names a derived total.
METRICS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("emergency response p50, min", ("emergency_response_min_p50",)),
    ("emergency response p90, min", ("emergency_response_min_p90",)),
    ("emergency response mean, min", ("emergency_cases", "response_min_mean")),
    ("emergency resolved within tier E", ("emergency_cases", "on_time_rate")),
    ("vulnerable checked within deadline", ("vulnerable_checked_share_within_deadline",)),
    ("normal backlog, mean", ("normal_backlog", "mean")),
    ("normal backlog, peak", ("normal_backlog", "peak")),
    ("home-unit backlog, mean", ("home_unit_backlog", "mean")),
    ("home-unit backlog, peak", ("home_unit_backlog", "peak")),
    ("SLA breaches, normal work", ("breaches", "normal_work")),
    ("SLA breaches, emergency cases", ("breaches", "emergency")),
    ("mobilised peak", ("mobilised_peak",)),
    ("minutes to 50 % on site", ("minutes_to_50pct",)),
    ("minutes to 90 % on site", ("minutes_to_90pct",)),
)


def _value(block: dict[str, Any], path: tuple[str, ...]) -> float:
    if path[0] == "breaches":
        return float(sum(v[path[1]] for v in block["sla_breaches_by_mode"].values()))
    x: Any = block
    for p in path:
        x = x[p]
    return math.nan if x is None else float(x)


def _switching(sc: Scenario, on: bool) -> Scenario:
    """The scenario with ``emergency.switching`` set to ``on``."""
    assert sc.emergency is not None
    return sc.model_copy(update={"emergency": sc.emergency.model_copy(update={"switching": on})})


def compare_arms(arm: Scenario, baseline: Scenario, seeds: Sequence[int]) -> list[dict[str, Any]]:
    """One row per metric: means and 95 % CIs of ``arm`` and ``baseline``, and of the paired difference (arm − baseline)."""
    if arm.emergency is None or baseline.emergency is None:
        raise StudyError("switch-effect: expected scenarios with an [emergency] section, got one without")
    pairs = [
        (
            simulate(arm, seed=s, tables=False).summary["modes"],
            simulate(baseline, seed=s, tables=False).summary["modes"],
        )
        for s in seeds
    ]
    rows = []
    for label, path in METRICS:
        a = np.array([_value(base, path) for _, base in pairs])
        b = np.array([_value(new, path) for new, _ in pairs])
        _, mb, _, lb, hb = t_interval(b)
        _, ma, _, la, ha = t_interval(a)
        d = paired_difference(a, b)
        rows.append(
            {
                "metric": label,
                "with_switch": mb,
                "with_ci": (lb, hb),
                "without": ma,
                "without_ci": (la, ha),
                "diff": d["diff"],
                "diff_ci": (d["ci_low"], d["ci_high"]),
                "n": d["n"],
            }
        )
    return rows


def switch_effect(sc: Scenario, seeds: Sequence[int]) -> list[dict[str, Any]]:
    """The scenario with the switch against the same scenario with ``emergency.switching = false``."""
    if sc.emergency is None:
        raise StudyError(f"switch-effect: expected a scenario with an [emergency] section, got {sc.meta.name} without one")
    return compare_arms(_switching(sc, True), _switching(sc, False), seeds)
