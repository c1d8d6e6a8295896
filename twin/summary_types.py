"""The type of a run's ``summary.json``, written once and read through it everywhere.

:func:`twin.run.summarise` returns a :class:`RunSummary`; the reports, the studies (their
replications' summaries), the load test and the CLI's summary table read it with these keys
instead of a ``dict[str, Any]``. Keys every run writes are required; ``modes`` (runs with an
``[emergency]`` section) and ``derived`` (studies' derived figures) are optional. The JSON file
is unchanged by the typing: a TypedDict is a plain dict at run time.
"""

# no `from __future__ import annotations`: TypedDict reads NotRequired from evaluated annotations
from typing import Any, NotRequired, TypedDict


class TierTimes(TypedDict):
    """Hours from report to closure of one tier's closed cases."""

    n: int
    p50: float | None
    p90: float | None


class Volume(TypedDict):
    """Cases per 1,000 residents per day, by what is counted."""

    all_incidents: float
    registered: float
    reached_street_or_district: float


class LittleLaw(TypedDict):
    """Little's law over the observation window: L against λ·W."""

    L: float
    lambda_per_min: float
    W_min: float
    lambda_W: float


class BottomUp(TypedDict):
    """Registered cases found bottom-up (grid workers, residents' app, riders, devices)."""

    cases: int
    per_1000_per_day: float
    on_time_rate: float
    reopened: int


class OrderKind(TypedDict):
    """One kind of 12345 work order."""

    orders: int
    on_time_rate: float


class WorkOrders(TypedDict):
    """12345 work orders sent down by the centre."""

    orders: int
    per_1000_per_day: float
    on_time_rate: float
    contacted_in_time_rate: float | None
    reopened: int
    repeat_calls: int
    satisfaction_share: float | None
    by_kind: dict[str, OrderKind]


class PropertyBlock(TypedDict):
    """What property companies (物业) heard of first, settled and handed into the platform."""

    received: int
    settled: int
    escalated: int
    escalated_share: float | None
    settled_per_1000_per_day: float
    disputes_share_reaching_street: float | None


class RunSummary(TypedDict):
    """``summary.json``: KPIs over the cases reported after the warm-up, and the run's facts."""

    scenario: str
    version: str
    seed: int
    days: float
    warmup_days: float
    partitions: int
    residents: int
    grids: int
    grid_workers: int
    cases_total: int
    cases_closed: int
    cases_rejected: int
    cases_merged: int
    cases_per_1000_per_day: float
    volume_per_1000_per_day: Volume
    settled_on_the_spot: int
    bottom_up: BottomUp
    work_orders_12345: WorkOrders
    property: PropertyBlock
    on_time_rate: float
    on_time_rate_end_to_end: float
    unit_on_time_rate: float | None
    on_time_by_tier: dict[str, float]
    extensions_requested: int
    extensions_approved: int
    suspended_cases: int
    reassigned_cases: int
    returned_cases: int
    warnings_yellow: int
    warnings_red: int
    closure_rate: float
    satisfaction_mean: float | None
    satisfaction_share: float | None
    closed_at_level: dict[str, float]
    hours_to_close: dict[str, TierTimes]
    backlog_end: int
    utilisation: dict[str, float | None]
    grid_worker_day: dict[str, float | None]
    channel_mix: dict[str, float]
    needs_arisen: int
    needs_unreported_lost: int
    latent_needs_end: int
    escalations: int
    lapse_escalations: int
    volunteer_claims: int
    false_alarms: int
    repeat_complaints: int
    rider_reports: int
    rider_points: float
    device_events_missed: int
    trust_mean_end: float
    little_law: LittleLaw
    events_processed: int
    engine_transitions: int
    wall_seconds: float
    modes: NotRequired[dict[str, Any]]  # the [emergency] section's block (twin.emergency.summary.modes_block)
    derived: NotRequired[dict[str, Any]]  # figures a study model derives from the summary
    bulletins: NotRequired[int]  # weekly bulletins (一周一通报), only with policy.supervision.bulletin_units > 0
    bulletin_units_named: NotRequired[int]  # units they named, summed over bulletins (and partitions)
