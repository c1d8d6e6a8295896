"""Scenario files: TOML validated by a pydantic schema into one frozen :class:`Scenario`.

A scenario declares the territory (district → streets → communities → grids), the staff
that handles cases, the incident categories and how residents, patrols, riders and devices
report them, and the policy (on-the-spot handling, SLA tiers, escalation allowances).
Every field is a plain value so that ``--set dotted.path=value`` (and the studies'
``--vary``) can change it. Every error names the file, the field path and what was
expected: ``scenarios/x.toml: staffing.households_per_worker: expected a number > 0, got "two"``.
"""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import annotated_types as at
import numpy as np
from pydantic import BaseModel, Field, ValidationError, model_validator

from twin.dists import Dist, Frozen, NonNeg, Pos, Share
from twin.scenario.emergency import Emergency, check_against  # the [emergency] section: 常急转换
from twin.tomlfile import read_toml

LEVELS: tuple[str, ...] = ("grid", "community", "street", "district")
TIERS: tuple[str, ...] = ("T0", "T1", "T2", "T3")

Hours = tuple[Annotated[float, Field(ge=0.0, le=24.0)], Annotated[float, Field(ge=0.0, le=24.0)]]


class ScenarioError(ValueError):
    """A scenario that cannot be used; the message names file, field path and expectation."""


_Frozen = Frozen


def _check_windows(windows: Sequence[Hours], what: str) -> None:
    for a, b in windows:
        if not a < b:
            raise ValueError(f"{what}: expected [start, end] hours with start < end, got [{a}, {b}]")


def exp_dist(mean: float) -> Dist:
    return Dist(dist="exponential", mean=mean)


# --------------------------------------------------------------------------- sections
class Meta(_Frozen):
    name: str = "scenario"
    description: str = ""


class RunCfg(_Frozen):
    """How long, from when, with which seed."""

    days: Pos = 28.0
    warmup_days: NonNeg = 0.0
    seed: Annotated[int, Field(ge=0)] = 20240314
    start_date: dt.date = dt.date(2024, 3, 4)  # a Monday; China time (UTC+8) midnight is minute 0
    kpi_interval_hours: Pos = 6.0
    lapse_check_minutes: Pos = 5.0  # how often queued cases are checked for a lapsed allowance
    # Streets are simulated in this many partitions (street k in partition k mod n); the district
    # centre and the departments are simulated once, on the shared level (twin.coupling).
    partitions: Annotated[int, Field(ge=1, le=64)] = 1


class Territory(_Frozen):
    """District → streets → communities → grids, and who lives there."""

    district: str = "Jiangbei"
    streets: Annotated[int, Field(ge=1)] = 1
    communities_per_street: Annotated[int, Field(ge=1)] = 10
    grids_per_community: Annotated[int, Field(ge=1)] = 6
    grids: Annotated[int, Field(ge=1)] | None = None  # total grids, spread evenly over communities (overrides grids_per_community)
    households_per_grid: Pos = 400.0
    households_per_grid_cv: NonNeg = 0.15
    max_households_per_grid: Annotated[int, Field(ge=1)] = 500
    people_per_household: Pos = 2.5
    elders_alone_share: Share = 0.04  # share of households
    disabled_share: Share = 0.02
    key_people_share: Share = 0.01
    party_member_share: Share = 0.028  # share of residents
    app_user_share: Share = 0.30  # share of households using the app / QR code


class Unit(_Frozen):
    """A board (板块) or department: head count (per street for boards) and working hours."""

    staff: Annotated[int, Field(ge=1)]
    hours: list[Hours] = [(8.5, 12.0), (14.0, 17.5)]
    weekend: bool = False

    @model_validator(mode="after")
    def _windows(self) -> Unit:
        _check_windows(self.hours, "hours")
        return self


class WorkerDay(_Frozen):
    """A grid worker's working day beyond case handling (routine visits, patrol, data entry): every activity takes
    time from the same budget of working minutes, so a worker with more households visits
    less, finds less early, and breaks off routine work later for a case.

    Per worker and working day unless named otherwise; figures in the scenario files.
    """

    patrol_minutes_per_pass: NonNeg = 45.0  # one patrol pass (巡查) per 400 households of the worker's round
    visit_minutes: NonNeg = 12.0  # one household visit (入户走访), travel between doors included
    data_minutes_per_household_month: NonNeg = 1.5  # information collection and updates (信息采集)
    tasks_minutes_per_100_households: NonNeg = 6.0  # tasks handed down from above (上级交办), per day
    meetings_minutes: NonNeg = 30.0  # meetings, ledgers and reporting (例会、台账)
    verify_minutes: NonNeg = 10.0  # the on-site check of a resolved case (核查)
    interrupt_after_minutes: NonNeg = 30.0  # longest stretch of routine work finished before a case is taken up
    workdays_per_month: Pos = 21.75


class MatterTiers(_Frozen):
    """The time rule (tier) of a matter by the level able to settle it (事项清单): a matter
    a grid worker can settle is a small matter (小事), one needing the community or a street
    board takes longer, one needing a district department is complex."""

    grid: str = "T1"
    community: str = "T2"
    street: str = "T2"
    district: str = "T3"

    def names(self) -> tuple[str, str, str, str]:
        return (self.grid, self.community, self.street, self.district)


class Duty(_Frozen):
    """The duty roster (值班) for emergencies outside the grid workers' hours.

    ``per_community``: people on duty per community at night and on rest days; an emergency
    (T0) raised while its grid worker is off duty goes to them, and they come from further
    away (``travel_factor`` × the in-grid travel time). 0: the grid's own worker answers at
    any hour (no separate night duty).
    """

    per_community: Annotated[int, Field(ge=0)] = 0
    travel_factor: Pos = 2.0


class Staffing(_Frozen):
    """Who handles cases at each rung of the ladder."""

    households_per_worker: Pos = 400.0  # full-time grid workers are derived from it, per community
    part_time_per_grid: NonNeg = 0.0  # part-time workers (兼职) add household visits
    part_time_visit_share: Share = 0.3
    part_time_patrol_share: Share = 0.0  # a part-timer's patrol passes as a share of a full-timer's
    building_heads_per_grid: NonNeg = 0.0  # 楼栋长: residents who pass on what they see in their building
    building_head_households: Pos = 65.0  # households in a building head's building (Jiangbei micro-grids: 50–80)
    building_head_report_prob: Share = 0.2  # daily chance a building head notices and passes on a need there
    worker_hours: list[Hours] = [(8.5, 12.0), (14.0, 17.5)]
    worker_weekend: bool = True
    community_staff: Annotated[int, Field(ge=1)] = 6  # per community
    community_hours: list[Hours] = [(8.5, 12.0), (14.0, 17.5)]
    community_weekend: bool = False
    street_dispatchers: Annotated[int, Field(ge=1)] = 3  # street command-centre dispatchers per street
    street_hours: list[Hours] = [(0.0, 24.0)]
    district_dispatchers: Annotated[int, Field(ge=1)] = 6
    district_hours: list[Hours] = [(0.0, 24.0)]
    boards: dict[str, Unit] = {
        "party_building": Unit(staff=3),
        "economy": Unit(staff=4),
        "livelihood": Unit(staff=6),
        "safety_law": Unit(staff=6),
    }
    departments: dict[str, Unit] = {"urban_management": Unit(staff=10)}
    travel_minutes: Dist = exp_dist(8.0)
    worker_day: WorkerDay = WorkerDay()
    duty: Duty = Duty()

    @model_validator(mode="after")
    def _windows(self) -> Staffing:
        for name in ("worker_hours", "community_hours", "street_hours", "district_hours"):
            _check_windows(getattr(self, name), name)
        if not self.boards:
            raise ValueError("boards: expected at least one board (板块)")
        if not self.departments:
            raise ValueError("departments: expected at least one department")
        return self


class LevelShares(_Frozen):
    grid: Share = 0.0
    community: Share = 0.0
    street: Share = 0.0
    district: Share = 0.0

    @model_validator(mode="after")
    def _sum(self) -> LevelShares:
        s = self.grid + self.community + self.street + self.district
        if abs(s - 1.0) > 1e-6:
            raise ValueError(f"expected shares summing to 1, got {s:.6g}")
        return self

    def array(self) -> np.ndarray:
        return np.array([self.grid, self.community, self.street, self.district])


class Handling(_Frozen):
    """Handling effort per level (resource-minutes of the handler; working time)."""

    grid: Dist | None = None
    community: Dist | None = None
    street: Dist | None = None
    district: Dist | None = None


def _ones(n: int) -> list[float]:
    return [1.0] * n


class Category(_Frozen):
    """One incident category: how often needs arise, when, how hard, who handles them."""

    rate_per_1000: NonNeg  # needs arising per 1,000 residents per day (reported or not)
    hourly_profile: list[NonNeg] = Field(default_factory=lambda: _ones(24))
    weekly_profile: list[NonNeg] = Field(default_factory=lambda: _ones(7))  # Monday first
    monthly_profile: list[NonNeg] = Field(default_factory=lambda: _ones(12))
    emergency_share: Share = 0.0  # T0 share
    level_mix: LevelShares  # the lowest level able to resolve the need
    public_space: bool = True  # seen on patrol routes (else only on household visits)
    visibility: Share = 0.5  # chance one patrol pass notices a latent need
    resident_report_prob: Share = 0.5  # chance a resident reports it, at reference trust
    board: str
    department: str
    effort_scale: Pos = 1.0
    handling: Handling = Handling()
    tiers: MatterTiers | None = None  # this category's matter list (default: policy.matter_tiers)

    @model_validator(mode="after")
    def _profiles(self) -> Category:
        for name, n in (("hourly_profile", 24), ("weekly_profile", 7), ("monthly_profile", 12)):
            v = getattr(self, name)
            if len(v) != n or sum(v) <= 0:
                raise ValueError(f"{name}: expected {n} non-negative weights, not all zero, got {len(v)} values")
        return self


class Channels(_Frozen):
    """How residents report, and how trust moves with satisfaction."""

    trust_initial: Share = 0.8
    trust_reference: Pos = 0.8  # trust at which resident_report_prob applies as given
    trust_learning_rate: Share = 0.02  # weight of one evaluation in a grid's trust
    report_delay_minutes: Dist = exp_dist(20.0)
    hotline_share_non_app: Share = 0.7  # share of non-app households who call 12345 (rest: visit/QR)
    latent_decay_per_day: Share = 0.15  # unreported needs that go away or are forgotten per day
    intake_hours: list[Hours] | None = None  # when non-emergency reports are taken in (None: grid workers' hours)
    intake_weekend: bool | None = None  # None: as the grid workers


class OrderType(_Frozen):
    """One kind of 12345 work order (工单) and the working days its handling unit has to settle it."""

    share: Share
    working_days: Pos


class Hotline(_Frozen):
    """12345 work orders, top-down.

    A hotline contact is taken by the 12345 centre, round the clock (7×24 human service, 国办发
    〔2020〕53号), triaged by an operator and sent down to the street and the grid or community
    of its place as a work order with a limit by kind, in working days from dispatch; the
    handler contacts the caller within ``contact_working_days`` and answers back up (closure,
    then the centre's call-back). With ``work_orders`` off, hotline contacts enter at grid
    level like any other report (the pre-issue-13 model).
    """

    work_orders: bool = True
    operator_minutes: Dist = exp_dist(6.0)  # the centre's triage of one ticket
    forward_hours: Dist = exp_dist(1.0)  # centre → district → street before the unit has it
    contact_working_days: Pos = 1.0
    order_types: dict[str, OrderType] = {
        "help": OrderType(share=0.6, working_days=3.0),
        "complaint": OrderType(share=0.4, working_days=13.0),
    }

    @model_validator(mode="after")
    def _check(self) -> Hotline:
        if not self.order_types:
            raise ValueError("order_types: expected at least one kind of work order")
        total = sum(t.share for t in self.order_types.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"order_types: expected shares summing to 1, got {total:.4g}")
        return self

    def tier_names(self) -> list[str]:
        """The engine tier of each kind of order, in the order of ``order_types``."""
        return [f"12345-{k}" for k in self.order_types]


class PropertyMgmt(_Frozen):
    """Property management (物业) as an actor: see ``agents/property.py``.

    ``matters``: per category, the share of its matters that lie in a compound's common parts
    (a property matter when the compound has a property company); the rest are public space
    or private and go to the grid as before.
    """

    managed_share: Share = 0.0  # households in compounds with a property company (0: no 物业 actor)
    staff_per_community: Annotated[int, Field(ge=0)] = 3
    hours: list[Hours] = [(8.0, 12.0), (13.5, 18.0)]
    weekend: bool = True  # property companies keep their service desk open every day
    settle_share: Share = 0.8  # of matters within its remit (grid- or community-level), settled by 物业
    matters: dict[str, Share] = {}
    dispute_categories: list[str] = []  # property and neighbour disputes (their share of what reaches the street is reported)

    @model_validator(mode="after")
    def _check(self) -> PropertyMgmt:
        _check_windows(self.hours, "hours")
        return self


class Riders(_Frozen):
    """Delivery riders' 随手拍 reports with points (Wuhan 江城小蜜蜂)."""

    count: Annotated[int, Field(ge=0)] = 90
    points_per_report: NonNeg = 10.0  # routine report incentive [A: 5–10]
    points_per_hazard: NonNeg = 50.0  # safety hazard (Wuhan, 党员生活 2023-12-04)
    points_per_clue: NonNeg = 100.0  # major public-security clue (Wuhan, 党员生活 2023-12-04)
    half_saturation_points: Pos = 10.0  # points at which response reaches half its maximum
    sightings_per_rider_day: NonNeg = 0.4  # max chance per day a rider reports a latent need on their beat
    hours: list[Hours] = [(10.0, 14.0), (17.0, 21.0)]
    hazard_categories: list[str] = ["safety"]
    clue_categories: list[str] = []


class PartyMembers(_Frozen):
    """Registered party members (双报到) claiming service items (认事) in normal times."""

    active_share: Share = 0.1
    claim_share: Share = 0.3  # share of eligible cases at grid/community level they claim
    categories: list[str] = ["livelihood"]
    service_hours: Dist = Dist(dist="lognormal", mean=1.5, cv=0.6)


class Devices(_Frozen):
    """Devices for elders living alone and facility sensors (counts and rates per device-day)."""

    sos_callers: Annotated[int, Field(ge=0)] = 380
    sos_true_rate: NonNeg = 0.002
    sos_false_rate: NonNeg = 0.01
    water_meters: Annotated[int, Field(ge=0)] = 100
    water_fall_rate: NonNeg = 0.0005
    water_away_rate: NonNeg = 0.01
    zero_use_alert_hours: tuple[Pos, Pos] = (6.0, 8.0)
    facility_sensors: Annotated[int, Field(ge=0)] = 60
    sensor_fault_rate: NonNeg = 0.003
    sensor_false_rate: NonNeg = 0.002
    availability: Share = 0.97  # share of device-days working (outages miss true events)
    elder_category: str = "livelihood"
    facility_category: str = "facility"
    false_alarm_check_minutes: Dist = exp_dist(15.0)


class LevelAllowance(_Frozen):
    grid: Pos | None = None
    community: Pos | None = None
    street: Pos | None = None


class LevelLimits(_Frozen):
    """A matter's time limit per handling unit at each level, in hours of its clock."""

    grid: Pos | None = None
    community: Pos | None = None
    street: Pos | None = None
    district: Pos | None = None

    def minutes(self) -> tuple[float | None, float | None, float | None, float | None]:
        return tuple(None if v is None else v * 60.0 for v in (self.grid, self.community, self.street, self.district))  # type: ignore[return-value]


class Tier(_Frozen):
    """A matter's time rule on the platform: each unit's working-time limit, extensions, suspensions.

    ``limit_hours``: each handling unit's limit, from the moment it receives the case
    (dispatch), in hours of ``clock`` — ``working`` (the platform's working hours, public
    holidays and 调休 excluded) or ``natural``. ``due_hours``: the end-to-end limit from
    report, same clock. ``done``: what "in time" means — ``resolve`` or ``reply`` (an answer
    to the reporter; resolution is tracked apart). ``allowance_hours``: how long a queued case
    may wait at a level before it is escalated, used only with ``policy.auto_escalate``.
    """

    due_hours: Pos
    limit_hours: LevelLimits | None = None  # None: the end-to-end limit at every level
    clock: Literal["working", "natural"] = "natural"
    done: Literal["resolve", "reply"] = "resolve"
    allowance_hours: LevelAllowance = LevelAllowance()


def _default_tiers() -> dict[str, Tier]:
    return {
        "T0": Tier(due_hours=0.5, allowance_hours=LevelAllowance(grid=10 / 60, community=10 / 60, street=10 / 60)),
        "T1": Tier(due_hours=2.0, allowance_hours=LevelAllowance(grid=1.0, community=1.0, street=2.0)),
        "T2": Tier(due_hours=48.0, allowance_hours=LevelAllowance(grid=8.0, community=24.0, street=24.0)),
        "T3": Tier(due_hours=168.0, allowance_hours=LevelAllowance(grid=24.0, community=48.0, street=72.0)),
    }


def _check_matter_tiers(m: MatterTiers, where: str) -> None:
    for lv, t in zip(LEVELS, m.names(), strict=True):
        if t not in TIERS[1:]:
            raise ValueError(f"{where}.{lv}: expected one of {list(TIERS[1:])}, got {t!r}")


class Supervision(_Frozen):
    """督办 beyond the single case: a weekly bulletin (一周一通报) naming the units with the most
    red warnings (cases overdue at that unit) that week; for the next week each named unit works
    its cases harder — its handling takes 1 / (1 + ``bulletin_effort_boost``) of the working time.

    Publicly naming the units red-carded most (红黄绿督办: red cards to slow units, their heads
    interviewed after three in a row — Longchang, Sichuan, reported 2020-03-13) is practice;
    how much harder a named unit works is assumed [A]. Off by default (``bulletin_units = 0``):
    a lever a study compares (scenarios/policies/bulletin_boost.toml), not a calibrated behaviour.
    """

    bulletin_units: Annotated[int, Field(ge=0)] = 0  # units each bulletin names (0: no bulletin) [A]
    bulletin_effort_boost: NonNeg = 0.1  # a named unit's extra effort the week after [A]
    bulletin_every_days: Pos = 7.0  # 一周一通报: weekly


class Policy(_Frozen):
    """Rules of the loop: on-the-spot handling, SLA tiers and allowances, checks, evaluation."""

    on_the_spot_share: Share = 0.9  # 小事不出网: grid-resolvable matters the worker settles on the spot
    tiers: dict[str, Tier] = Field(default_factory=_default_tiers)
    matter_tiers: MatterTiers = MatterTiers()  # the tier of a matter by the level able to settle it
    working_hours: list[Hours] = [(8.5, 12.0), (14.0, 17.5)]  # the platform's working day, for limits on the working clock
    auto_escalate: bool = False  # escalate a queued case when its allowance lapses (off: 督办 raises pressure, not the case)
    extension_tiers: list[str] = ["T1", "T2", "T3"]  # matters whose handler may ask for more time (延期)
    extension_approval_share: Share = 0.5  # requests the dispatching level approves [A]
    suspend_after_lead_hours: NonNeg = 24.0  # a wait on another party this long is put on hold (挂账); 0: never
    misdispatch_share: Share = 0.05  # command-centre dispatches sent to the wrong board/department (改派)
    visit_quota: NonNeg = 10.0  # households a worker visits per day
    visit_detect_prob: Share = 0.8
    patrol_passes_per_day: NonNeg = 1.0
    assess_minutes: Dist = exp_dist(10.0)  # deciding to escalate
    triage_minutes: Dist = exp_dist(6.0)  # command-centre dispatch per ticket (~6 min, Beijing)
    lead_hours: Handling = Handling()  # elapsed time without the handler (materials, parties)
    handling: Handling = Handling(
        grid=Dist(dist="lognormal", mean=25.0, cv=0.8),
        community=Dist(dist="lognormal", mean=60.0, cv=1.0),
        street=Dist(dist="lognormal", mean=120.0, cv=1.0),
        district=Dist(dist="lognormal", mean=240.0, cv=1.0),
    )
    verification_delay_hours: Dist = exp_dist(2.0)
    evaluation_share: Share = 0.7  # residents who answer the call-back (next day)
    satisfaction_on_time: list[Share] = [0.01, 0.01, 0.03, 0.20, 0.75]  # P(score = 1..5)
    satisfaction_late: list[Share] = [0.06, 0.08, 0.16, 0.35, 0.35]
    repeat_complaint_daily_prob: Share = 0.3  # an overdue case's resident calls 12345 again, per day
    supervision: Supervision = Supervision()  # the weekly bulletin (一周一通报); off by default
    # street → district and back: the district centre signs for an escalated case (签收) this long
    # after the street reports it up, and the street has the district's result (办结反馈) this
    # long after it was settled. Tianjin's 12345 rules give a handling unit 15 min to sign for
    # life-threatening matters, 30 min for water/power/gas/heating and 1 working day for the
    # rest (天津市政务服务便民热线管理办法实施细则, 30 Dec 2024, under Tianjin Order No. 39 in force
    # from 1 Jan 2025; via cj.sina.com.cn); a district centre on a 24-hour roster
    # signing for a complex matter within 30 min is the model's [A]. With partitions it is the
    # coupling's lookahead (issue 18); 0 hands over at once (one process only).
    handover_minutes: NonNeg = 30.0

    @model_validator(mode="after")
    def _check(self) -> Policy:
        for t in TIERS:
            if t not in self.tiers:
                raise ValueError(f"tiers: expected tiers {list(TIERS)}, missing {t}")
        _check_matter_tiers(self.matter_tiers, "matter_tiers")
        for t in self.extension_tiers:
            if t not in self.tiers:
                raise ValueError(f"extension_tiers: expected tier names from {sorted(self.tiers)}, got {t!r}")
        for name in ("satisfaction_on_time", "satisfaction_late"):
            v = getattr(self, name)
            if len(v) != 5 or abs(sum(v) - 1.0) > 1e-6:
                raise ValueError(f"{name}: expected 5 probabilities (scores 1..5) summing to 1")
        if self.handling.grid is None or self.handling.community is None or self.handling.street is None or self.handling.district is None:
            raise ValueError("handling: expected a distribution for every level (grid, community, street, district)")
        return self


class Surge(_Frozen):
    """A rate multiplier for one category over a time window (an emergency, a season)."""

    category: str
    start_day: NonNeg
    end_day: NonNeg
    multiplier: NonNeg
    streets: list[Annotated[int, Field(ge=0)]] | None = None  # street indices; None = all


class Outputs(_Frozen):
    case_events: bool = True  # keep and export the engine's audit log (off for a district-year)
    csv: bool = False  # CSV copies beside the Parquet files


class Scenario(_Frozen):
    """One validated scenario."""

    meta: Meta = Meta()
    run: RunCfg = RunCfg()
    territory: Territory = Territory()
    staffing: Staffing = Staffing()
    categories: dict[str, Category]
    channels: Channels = Channels()
    hotline: Hotline = Hotline()
    property_management: PropertyMgmt = PropertyMgmt()
    riders: Riders = Riders()
    party_members: PartyMembers = PartyMembers()
    devices: Devices = Devices()
    policy: Policy = Policy()
    surges: list[Surge] = []
    outputs: Outputs = Outputs()
    emergency: Emergency | None = None  # 常急转换: modes, mobilisation, emergency incidents (twin.emergency)

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        if not self.categories:
            raise ValueError("categories: expected at least one incident category")
        t = self.territory
        if t.grids is not None and t.grids < t.streets * t.communities_per_street:
            raise ValueError(f"territory.grids: expected at least one grid per community (≥ {t.streets * t.communities_per_street}), got {t.grids}")
        if min(self.run.partitions, t.streets) > 1 and not self.policy.handover_minutes > 0.0:
            raise ValueError(
                "policy.handover_minutes: expected minutes > 0 with run.partitions > 1 (the street↔district handover is "
                f"the partitions' lookahead), got {self.policy.handover_minutes:g}"
            )
        if self.emergency is not None and not self.policy.handover_minutes > 0.0:
            raise ValueError(
                "policy.handover_minutes: expected minutes > 0 with an [emergency] section (the district command's "
                f"notice reaches the streets one handover later), got {self.policy.handover_minutes:g}"
            )
        for name, c in self.categories.items():
            if c.tiers is not None:
                _check_matter_tiers(c.tiers, f"categories.{name}.tiers")
            if c.board not in self.staffing.boards:
                raise ValueError(f"categories.{name}.board: expected one of {sorted(self.staffing.boards)}, got {c.board!r}")
            if c.department not in self.staffing.departments:
                raise ValueError(
                    f"categories.{name}.department: expected one of {sorted(self.staffing.departments)}, got {c.department!r}"
                )
        for name in self.property_management.matters:
            if name not in self.categories:
                raise ValueError(f"property_management.matters.{name}: expected one of {sorted(self.categories)}, got {name!r}")
        for name in self.property_management.dispute_categories:
            if name not in self.categories:
                raise ValueError(f"property_management.dispute_categories: expected names from {sorted(self.categories)}, got {name!r}")
        for field, cat in (
            ("devices.elder_category", self.devices.elder_category),
            ("devices.facility_category", self.devices.facility_category),
        ):
            if (self.devices.sos_callers or self.devices.water_meters or self.devices.facility_sensors) and cat not in self.categories:
                raise ValueError(f"{field}: expected one of {sorted(self.categories)}, got {cat!r}")
        for i, s in enumerate(self.surges):
            if s.category not in self.categories:
                raise ValueError(f"surges.{i}.category: expected one of {sorted(self.categories)}, got {s.category!r}")
            if s.end_day < s.start_day:
                raise ValueError(f"surges.{i}.end_day: expected ≥ start_day {s.start_day}, got {s.end_day}")
            for st in s.streets or []:
                if st >= self.territory.streets:
                    raise ValueError(f"surges.{i}.streets: expected street indices < {self.territory.streets}, got {st}")
        for c in self.party_members.categories + self.riders.hazard_categories + self.riders.clue_categories:
            if c not in self.categories:
                raise ValueError(f"expected category names from {sorted(self.categories)}, got {c!r} (party_members/riders)")
        if self.emergency is not None:
            check_against(self.emergency, self)
        return self

    # ------------------------------------------------------------------ helpers
    @property
    def start_epoch_minutes(self) -> float:
        """Minute 0 of the run in engine time: start_date 00:00 China time (UTC+8), minutes since the epoch."""
        tz = dt.timezone(dt.timedelta(hours=8))
        start = dt.datetime.combine(self.run.start_date, dt.time(0, 0), tzinfo=tz)
        return start.timestamp() / 60.0

    def resolved_dict(self) -> dict[str, Any]:
        """The scenario as plain JSON-ready data (every default filled in)."""
        return json.loads(self.model_dump_json())


# --------------------------------------------------------------------------- loading
def default_scenario_path() -> Path:
    """The embedded default: scenarios/street.toml shipped in the ``scenarios`` package."""
    try:
        p = Path(str(resources.files("scenarios") / "street.toml"))
        if p.is_file():
            return p
    except ModuleNotFoundError:  # pragma: no cover - the package is always installed with twin
        pass
    return Path(__file__).resolve().parents[2] / "scenarios" / "street.toml"


def _parse_value(text: str) -> Any:
    """An override's value as TOML (numbers, booleans, arrays, inline tables); else a plain string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(data: dict[str, Any], overrides: Sequence[str], label: str) -> dict[str, Any]:
    """Set each ``dotted.path=value`` into a copy of the raw scenario data."""
    out = json.loads(json.dumps(data, default=str))
    for item in overrides:
        path, sep, raw = item.partition("=")
        path = path.strip()
        if not sep or not path:
            raise ScenarioError(f"{label}: --set {item!r}: expected dotted.path=value")
        keys = path.split(".")
        node: Any = out
        for i, k in enumerate(keys[:-1]):
            if isinstance(node, list):
                if not k.isdigit() or int(k) >= len(node):
                    raise ScenarioError(f"{label}: {'.'.join(keys[: i + 1])}: expected a list index < {len(node)}, got {k!r}")
                node = node[int(k)]
                continue
            if not isinstance(node, dict):
                raise ScenarioError(f"{label}: {'.'.join(keys[:i])}: expected a table to set {path!r} in")
            node = node.setdefault(k, {})
        last = keys[-1]
        if isinstance(node, list) and last.isdigit() and int(last) < len(node):
            node[int(last)] = _parse_value(raw.strip())
        elif isinstance(node, dict):
            node[last] = _parse_value(raw.strip())
        else:
            raise ScenarioError(f"{label}: {path}: expected a table or list to set a value in")
    return out


def _field_info(loc: Sequence[int | str]) -> Any:
    """The pydantic FieldInfo at a location, to say what a number field expects."""
    model: Any = Scenario
    info = None
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(model, "model_fields", None)
        if fields is None or part not in fields:
            if isinstance(model, type) and issubclass(model, BaseModel):
                return None
            continue  # a dict key (category name, board name …)
        info = fields[part]
        ann = info.annotation
        model = _inner_model(ann)
    return info


def _inner_model(ann: Any) -> Any:
    args = getattr(ann, "__args__", None)
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    if args:
        for a in reversed(args):
            m = _inner_model(a)
            if m is not None:
                return m
    return None


def _bounds_text(info: Any) -> str:
    parts = []
    for m in getattr(info, "metadata", []):
        if isinstance(m, at.Ge):
            parts.append(f"≥ {m.ge:g}")
        elif isinstance(m, at.Gt):
            parts.append(f"> {m.gt:g}")
        elif isinstance(m, at.Le):
            parts.append(f"≤ {m.le:g}")
        elif isinstance(m, at.Lt):
            parts.append(f"< {m.lt:g}")
    return " and ".join(parts)


def _expected(err: Mapping[str, Any]) -> str:
    typ = err["type"]
    ctx = err.get("ctx") or {}
    loc = err["loc"]
    bounds = _bounds_text(_field_info(loc))
    number = "a number" + (f" {bounds}" if bounds else "")
    integer = "an integer" + (f" {bounds}" if bounds else "")
    if typ in ("float_parsing", "float_type", "greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        if typ.startswith(("greater", "less")) and "int" in str(err.get("msg", "")).lower():
            return integer
        if typ.startswith(("greater", "less")) and isinstance(err.get("input"), int) and not isinstance(err.get("input"), bool):
            return integer if "Annotated[int" in repr(getattr(_field_info(loc), "annotation", "")) else number
        return number
    if typ in ("int_parsing", "int_type", "int_from_float"):
        return integer
    if typ in ("bool_parsing", "bool_type"):
        return "true or false"
    if typ in ("string_type",):
        return "a string"
    if typ == "literal_error":
        return f"one of {ctx.get('expected')}"
    if typ == "extra_forbidden":
        return "no such field (unknown key)"
    if typ == "missing":
        return "a value (required field)"
    if typ in ("list_type", "tuple_type"):
        return "a list"
    if typ in ("dict_type", "model_type", "model_attributes_type"):
        return "a table"
    if typ in ("date_parsing", "date_type", "date_from_datetime_parsing"):
        return "a date YYYY-MM-DD"
    if typ == "too_short" or typ == "too_long":
        return f"a list of the right length ({err.get('msg')})"
    if typ == "value_error":
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        return msg.removeprefix("expected ") if msg.startswith("expected") else msg
    return str(err.get("msg", "a valid value")).lower()


def _format_error(label: str, err: Mapping[str, Any]) -> str:
    loc = ".".join(str(p) for p in err["loc"])
    got = json.dumps(err.get("input"), ensure_ascii=False, default=str)
    if len(got) > 80:
        got = got[:77] + "…"
    exp = _expected(err)
    if err["type"] == "value_error":
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        # our validators already say "field: expected …, got …" for cross-field checks
        if ": expected" in msg and not msg.startswith("expected"):
            head, _, rest = msg.partition(": ")
            path = f"{loc}.{head}" if loc and not head.startswith(("categories.", "devices.", "surges.")) else head
            return f"{label}: {path}: {rest}"
        return f"{label}: {loc or '(top level)'}: expected {exp}"
    if err["type"] == "missing":
        return f"{label}: {loc}: expected {exp}"
    return f"{label}: {loc}: expected {exp}, got {got}"


def validate(data: Mapping[str, Any], label: str = "<scenario>") -> Scenario:
    """Validate raw scenario data; raise ScenarioError naming the first bad field."""
    try:
        return Scenario.model_validate(dict(data))
    except ValidationError as exc:
        errs = exc.errors(include_url=False)
        lines = [_format_error(label, e) for e in errs[:5]]
        more = f" (and {len(errs) - 5} more)" if len(errs) > 5 else ""
        raise ScenarioError("\n".join(lines) + more) from None


def load_scenario(path: str | Path | None = None, overrides: Sequence[str] = ()) -> Scenario:
    """Read, override and validate a scenario file (None: the embedded default street scenario)."""
    p = default_scenario_path() if path is None else Path(path)
    label = str(path) if path is not None else "scenarios/street.toml"
    data = read_toml(p, label, "scenario file", ScenarioError)
    # A scenario may carry the script of a drill on it (``twin drill`` reads that table, see
    # twin/drill/script.py); every other command runs the scenario and leaves the table aside.
    data.pop("drill", None)
    if overrides:
        data = apply_overrides(data, overrides, label)
    return validate(data, label)


def scenario_from_dict(data: Mapping[str, Any], overrides: Sequence[str] = (), label: str = "<dict>") -> Scenario:
    """Validate an in-memory scenario (tests, studies), with the same overrides as a file."""
    raw = apply_overrides(dict(data), overrides, label) if overrides else dict(data)
    return validate(raw, label)
