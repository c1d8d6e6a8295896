"""What a switch buys and what it costs: the same scenario with and without the switch, paired
by seed (common random numbers — the emergency, the ordinary incidents and their efforts are
the same in both arms), over replications, with 95 % t-intervals of the paired differences.

    python -m twin.emergency.compare scenarios/flood.toml --reps 10 [--json out.json] [--set k=v …]
    python -m twin.emergency.compare scenarios/extreme.toml --baseline-set emergency.rules.1.enter_above=1e9

The second form compares against another baseline (here: the same run without the escalation
to 全员下沉, i.e. staying in 应下尽下); columns then read "arm" and "baseline".
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from twin.run import simulate
from twin.scenario import Scenario, load_scenario
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
    assert sc.emergency is not None
    return sc.model_copy(update={"emergency": sc.emergency.model_copy(update={"switching": on})})


def compare_arms(arm: Scenario, baseline: Scenario, seeds: Sequence[int]) -> list[dict[str, Any]]:
    """One row per metric: means and 95 % CIs of ``arm`` and ``baseline``, and of the paired difference (arm − baseline)."""
    if arm.emergency is None or baseline.emergency is None:
        raise ValueError("compare: both scenarios need an [emergency] section")
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


def compare(sc: Scenario, seeds: Sequence[int]) -> list[dict[str, Any]]:
    """The scenario with the switch against the same scenario with ``emergency.switching = false``."""
    if sc.emergency is None:
        raise ValueError("compare: the scenario has no [emergency] section")
    return compare_arms(_switching(sc, True), _switching(sc, False), seeds)


def _fmt(x: float) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4g}"


def table(rows: list[dict[str, Any]]) -> str:
    head = f"{'metric':38} {'with switch [95% CI]':>28} {'without [95% CI]':>28} {'with − without [95% CI]':>30}"
    lines = [head, "-" * len(head)]
    for r in rows:
        w = f"{_fmt(r['with_switch'])} [{_fmt(r['with_ci'][0])}, {_fmt(r['with_ci'][1])}]"
        o = f"{_fmt(r['without'])} [{_fmt(r['without_ci'][0])}, {_fmt(r['without_ci'][1])}]"
        d = f"{_fmt(r['diff'])} [{_fmt(r['diff_ci'][0])}, {_fmt(r['diff_ci'][1])}]"
        lines.append(f"{r['metric']:38} {w:>28} {o:>28} {d:>30}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("scenario", type=Path)
    ap.add_argument("--reps", type=int, default=10, help="replications (seeds 1..reps)")
    ap.add_argument("--set", dest="sets", action="append", default=[], help="dotted.path=value (repeatable)")
    ap.add_argument(
        "--baseline-set",
        dest="baseline",
        action="append",
        default=[],
        help="dotted.path=value for the baseline arm instead of emergency.switching=false (repeatable)",
    )
    ap.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    args = ap.parse_args(argv)
    sc = load_scenario(args.scenario, args.sets)
    seeds = list(range(1, args.reps + 1))
    if args.baseline:
        rows = compare_arms(sc, load_scenario(args.scenario, [*args.sets, *args.baseline]), seeds)
        what = "baseline: " + ", ".join(args.baseline)
    else:
        rows = compare(sc, seeds)
        what = "baseline: emergency.switching=false"
    print(f"{sc.meta.name}: {args.reps} paired replications (seeds 1..{args.reps}), {sc.run.days:g} days; {what}")
    print(table(rows))
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
