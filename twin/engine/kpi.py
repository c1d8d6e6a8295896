"""Key performance indicators of the closed loop, computed from cases.

按期办结率 (on-time rate: resolved by the due time, among resolved cases), closure rate,
time per stage, share of cases closed at each level (小事不出网 …), satisfaction, backlog.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

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
    total = closed = rejected = merged = resolved = on_time = backlog = overdue = 0
    level_counts = [0, 0, 0, 0]
    stage_values: dict[str, list[float]] = {name: [] for name, _, _ in STAGES}
    satisfaction: list[int] = []
    tier_resolved: dict[str, list[int]] = {}
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
        if c.resolved_at is not None:
            resolved += 1
            ok = c.resolved_at <= c.due_at
            on_time += ok
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
    n_levels = sum(level_counts)
    return {
        "cases_total": total,
        "cases_closed": closed,
        "cases_resolved": resolved,
        "cases_rejected": rejected,
        "cases_merged": merged,
        "backlog": backlog,
        "overdue_open": overdue,
        "on_time_rate": on_time / resolved if resolved else None,
        "closure_rate": closed / valid if valid else None,
        "on_time_rate_by_tier": {t: (r[1] / r[0]) for t, r in sorted(tier_resolved.items())},
        "closed_at_level": {lv.label: (level_counts[lv] / n_levels if n_levels else None) for lv in Level},
        "minutes_per_stage": {name: _summary(v) for name, v in stage_values.items()},
        "satisfaction_mean": float(np.mean(satisfaction)) if satisfaction else None,
        "evaluations": len(satisfaction),
    }
