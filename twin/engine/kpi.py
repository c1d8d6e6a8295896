"""Key performance indicators of the closed loop, computed from cases.

``on_time_rate`` is the platform rule (数字城管 按期处置率, e.g. Shenzhen SZDB/Z 300.4-2018
and its 工作时限 annex: each handling unit is judged against its own limit from when it
received the case; approved extensions (延期) and suspended time (挂账) do not count against
it): among cases done (resolved; replied, for reply matters), the share in which **every**
unit's stint ended within its own limit. ``on_time_rate_end_to_end``: the share done by the
end-to-end due time (moved by approved extensions and suspensions). ``unit_on_time_rate``:
the share of finished unit stints that ended within their limit. Also closure rate, time per
stage, share of cases closed at each level (小事不出网 …), satisfaction, backlog, and counts of
extensions, suspensions, reassignments (改派), returns (回退) and warnings (督办).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from twin.engine.types import ACTIVE_STATES, Case, Level, State

#: Stages measured as (name, start attribute, end attribute), in minutes.
STAGES: tuple[tuple[str, str, str], ...] = (
    ("accept", "reported_at", "accepted_at"),
    ("dispatch", "accepted_at", "dispatched_at"),
    ("handle", "dispatched_at", "resolved_at"),
    ("verify", "resolved_at", "verified_at"),
    ("close", "verified_at", "closed_at"),
    ("total", "reported_at", "resolved_at"),
)


#: Minutes of slack in "done by the due time": the two times reach the comparison along
#: different sums of floats, so equal times may differ in the last bits.
DUE_SLACK_MIN = 1e-9


def on_time(done: ArrayLike, late_stints: ArrayLike) -> NDArray[np.bool_]:
    """THE on-time rule (按期处置率, the platform's): a case counts on time when it is done and
    no handling unit overran its own limit (``late_stints == 0``). Elementwise over arrays of
    cases; the rate is the count on time over the count done. The engine's KPIs, the run's
    ``summary.json`` and the load test's comparison all apply this one function."""
    kept: NDArray[np.bool_] = np.asarray(done, dtype=bool) & np.equal(late_stints, 0)
    return kept


def by_due(done_at: ArrayLike, due_at: ArrayLike) -> NDArray[np.bool_]:
    """End to end: done (``done_at`` not NaN) by the due time, within :data:`DUE_SLACK_MIN`.
    Elementwise over arrays of cases (``on_time_rate_end_to_end``, the load test's SLA share)."""
    t = np.asarray(done_at, dtype=float)
    met: NDArray[np.bool_] = ~np.isnan(t) & np.less_equal(t, np.asarray(due_at, dtype=float) + DUE_SLACK_MIN)
    return met


def _summary(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"n": 0, "mean": None, "p50": None, "p90": None}
    a = np.asarray(values, dtype=float)
    return {
        "n": int(a.size),
        "mean": float(a.mean()),
        "p50": float(np.percentile(a, 50)),
        "p90": float(np.percentile(a, 90)),
    }


def compute_kpis(cases: Iterable[Case], now: float) -> dict[str, Any]:
    """KPIs over ``cases`` as of ``now`` (minutes). Times are reported in minutes."""
    total = closed = rejected = merged = resolved = resolved_by_due = backlog = overdue = 0
    level_counts = [0, 0, 0, 0]
    stage_values: dict[str, list[float]] = {name: [] for name, _, _ in STAGES}
    satisfaction: list[int] = []
    tier_resolved: dict[str, list[int]] = {}
    stints = late_stints = 0
    done_late: list[int] = []  # per case done: its late stints, when it was done, its due time
    done_times: list[tuple[float, float]] = []
    ext_req = ext_ok = suspended = reassigned = returned = yellow = red = 0
    for c in cases:
        total += 1
        st = c.state
        if st is State.REJECTED:
            rejected += 1
            continue
        if st is State.MERGED:
            merged += 1
            continue
        if st is State.CLOSED or st is State.EVALUATED:
            closed += 1
        if st in ACTIVE_STATES:
            backlog += 1
            if now > c.due_at:
                overdue += 1
        stints += c.stints
        late_stints += c.late_stints
        ext_req += c.extensions_requested
        ext_ok += c.extensions_approved
        suspended += c.suspensions > 0
        reassigned += c.reassignments > 0
        returned += c.returns > 0
        yellow += c.warnings_yellow
        red += c.warnings_red
        done_at = c.done_at
        if done_at is not None:
            done_late.append(c.late_stints)
            done_times.append((done_at, c.due_at))
        if c.resolved_at is not None:
            resolved += 1
            ok = c.resolved_at <= c.due_at
            resolved_by_due += ok
            rec = tier_resolved.setdefault(c.tier, [0, 0])
            rec[0] += 1
            rec[1] += ok
            if c.resolved_level is not None:
                level_counts[c.resolved_level] += 1
        for name, start, end in STAGES:
            a, b = getattr(c, start), getattr(c, end)
            if a is not None and b is not None:
                stage_values[name].append(b - a)
        if c.satisfaction is not None and c.evaluated_at is not None:
            satisfaction.append(c.satisfaction)
    valid = total - rejected - merged
    done = len(done_late)
    on_time_unit = int(on_time(np.ones(done, dtype=bool), np.array(done_late, dtype=int)).sum())
    times = np.array(done_times, dtype=float).reshape(done, 2)
    on_time_e2e = int(by_due(times[:, 0], times[:, 1]).sum())
    n_levels = sum(level_counts)
    return {
        "cases_total": total,
        "cases_closed": closed,
        "cases_resolved": resolved,
        "cases_rejected": rejected,
        "cases_merged": merged,
        "backlog": backlog,
        "overdue_open": overdue,
        "on_time_rate": on_time_unit / done if done else None,
        "on_time_rate_end_to_end": on_time_e2e / done if done else None,
        "unit_on_time_rate": (stints - late_stints) / stints if stints else None,
        "resolved_by_due_rate": resolved_by_due / resolved if resolved else None,
        "unit_stints": stints,
        "late_unit_stints": late_stints,
        "extensions_requested": ext_req,
        "extensions_approved": ext_ok,
        "suspended_cases": suspended,
        "reassigned_cases": reassigned,
        "returned_cases": returned,
        "warnings_yellow": yellow,
        "warnings_red": red,
        "closure_rate": closed / valid if valid else None,
        "on_time_rate_by_tier": {t: (r[1] / r[0]) for t, r in sorted(tier_resolved.items())},
        "closed_at_level": {lv.label: (level_counts[lv] / n_levels if n_levels else None) for lv in Level},
        "minutes_per_stage": {name: _summary(v) for name, v in stage_values.items()},
        "satisfaction_mean": float(np.mean(satisfaction)) if satisfaction else None,
        "evaluations": len(satisfaction),
    }
