"""KPIs of a replication: flattening ``summary.json`` and which way is better for each.

Nested summaries (``closed_at_level``, ``utilisation``, ``hours_to_close``) flatten to dotted
names (``closed_at_level.grid``, ``utilisation.grid_worker``, ``hours_to_close.T1.p90``).
Bookkeeping fields (seed, scenario, version, wall time) are not KPIs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Literal

Direction = Literal["higher", "lower", "neutral"]

#: Top-level summary keys that ``summary.json`` carries; a --target must name one.
SUMMARY_KPIS: tuple[str, ...] = (
    "cases_total",
    "cases_closed",
    "on_time_rate",
    "closure_rate",
    "satisfaction_mean",
    "closed_at_level",
    "hours_to_close",
    "backlog_end",
    "utilisation",
    "events_processed",
    "satisfaction_share",
    "cases_per_1000_per_day",
    "cases_rejected",
    "escalations",
    "lapse_escalations",
    "repeat_complaints",
    "needs_unreported_lost",
    "latent_needs_end",
    "device_events_missed",
    "trust_mean_end",
    "channel_mix",
    "grid_workers",
    "derived",
)

#: Summary fields that describe the run rather than measure the district.
NOT_KPIS: frozenset[str] = frozenset({"seed", "scenario", "version", "wall_seconds", "days", "warmup_days"})

_HIGHER = ("on_time_rate", "closure_rate", "satisfaction_mean", "satisfaction_share", "closed_at_level.grid",
           "trust_mean_end")
_LOWER = ("backlog_end", "hours_to_close", "closed_at_level.district", "lapse_escalations", "repeat_complaints",
          "needs_unreported_lost", "latent_needs_end", "device_events_missed", "derived.street_centre_minutes")

#: The KPIs a report and a comparison verdict lead with, in this order (when present).
HEADLINE: tuple[str, ...] = (
    "on_time_rate",
    "closure_rate",
    "satisfaction_mean",
    "backlog_end",
    "closed_at_level.grid",
    "cases_total",
    "modes.emergency_cases.on_time_rate",
    "modes.emergency_response_min_p90",
    "modes.vulnerable_checked_share_within_deadline",
)

# The emergency block (issue 4, ``modes``): leaves whose better direction is clear.
_MODES_HIGHER_LEAVES = ("on_time_rate", "share_within_deadline", "vulnerable_checked_share_within_deadline")
_MODES_LOWER_LEAVES = ("response_min_mean", "response_min_p50", "response_min_p90", "resolve_min_p50",
                       "resolve_min_p90", "emergency_response_min_p50", "emergency_response_min_p90",
                       "hours_to_check_p50", "hours_to_check_p90")


def direction(kpi: str) -> Direction:
    """Which way is better for a KPI.

    Higher: on-time and closure rates, satisfaction, the share closed at grid level
    (小事不出网), residents' trust (counts of cases closed are neutral: they follow the volume). Lower: backlog, hours to close, the share that climbs to the
    district (矛盾不上交), lapse escalations, repeat complaints, needs never reported or still
    latent, device events missed, time at the street centre. In an emergency (``modes.*``):
    higher on-time and checked-within-deadline shares, lower response times, SLA breaches and
    peak normal backlog. Neutral (no verdict, differences still reported): case volume, utilisation,
    the middle rungs of the ladder and event counts — more or less of them is not good or bad
    by itself.
    """
    if kpi.startswith("hours_to_close.") and kpi.endswith(".n"):
        return "neutral"  # a count of closed cases per tier, not a duration
    if kpi.startswith("modes."):  # the emergency switchover's block
        leaf = kpi.rsplit(".", 1)[-1]
        if leaf in _MODES_HIGHER_LEAVES:
            return "higher"
        if leaf in _MODES_LOWER_LEAVES or kpi.startswith(("modes.sla_breaches_by_mode.", "modes.normal_backlog.peak")):
            return "lower"
        return "neutral"
    for prefix in _HIGHER:
        if kpi == prefix or kpi.startswith(prefix + "."):
            return "higher"
    for prefix in _LOWER:
        if kpi == prefix or kpi.startswith(prefix + "."):
            return "lower"
    return "neutral"


def flatten(summary: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a summary as ``{dotted.name: float}``; non-numbers and bookkeeping dropped.

    ``None`` (e.g. a percentile of a tier with no closed cases) becomes NaN so the column exists
    in every row and statistics skip it.
    """
    out: dict[str, float] = {}
    for key, value in summary.items():
        name = f"{prefix}{key}"
        if not prefix and key in NOT_KPIS:
            continue
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "."))
        elif isinstance(value, int | float):  # bool is an int: True → 1.0
            out[name] = float(value)
        elif value is None:
            out[name] = math.nan
    return out


def ordered(kpis: Iterable[str]) -> list[str]:
    """KPI names with the headline ones first, then the rest alphabetically."""
    names = set(kpis)
    head = [k for k in HEADLINE if k in names]
    return head + sorted(names - set(head))
