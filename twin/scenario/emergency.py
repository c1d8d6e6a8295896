"""The scenario's ``[emergency]`` section as pydantic models (``extra="forbid"``).

It declares the hazard (where, which emergency categories arrive when, which ordinary
categories surge), how the mode changes (a schedule, rules with hysteresis, or both), the
roster of units whose staff are mobilised (district departments, street offices,
enterprises and institutions with 双报到 registrations; staff by role), the delays, the
automatic teams, the community duty desks that answer emergencies in normal mode, and the
duty to check every vulnerable resident within a deadline after the switch.

This module imports nothing from the rest of :mod:`twin.scenario` (whose ``__init__`` imports it), so it carries its
own small duration model; checks that need the rest of the scenario (street indices,
community names, station and category names) are in :func:`check_against`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, model_validator

from twin.dists import Dist, Frozen, NonNeg, Pos, Share
from twin.modes import MODES, ROLES, IllegalModeChange, check_schedule

if TYPE_CHECKING:  # pragma: no cover
    from twin.scenario import Scenario

Count = Annotated[int, Field(ge=0)]

#: Observed quantities a rule may watch.
METRICS: tuple[str, ...] = ("emergency_reports_per_hour", "emergency_backlog", "emergency_overdue")


_Frozen = Frozen


#: A positive duration in minutes (the scenario's distribution type).
Duration = Dist


class Area(_Frozen):
    """Part of the territory: streets (0-based indices) and/or communities by name
    (``S01-C03``); both empty means the whole territory."""

    streets: list[Count] = []
    communities: list[str] = []


class Staff(_Frozen):
    """A unit's head count by role (Wuhan: command, basic operations, key personnel's safety, others)."""

    command: Count = 0
    basic_operations: Count = 0
    key_personnel_safety: Count = 0
    other: Count = 0

    @property
    def total(self) -> int:
        return self.command + self.basic_operations + self.key_personnel_safety + self.other


class Unit(_Frozen):
    """A unit on the roster. ``stations`` names the model's case-handling stations whose head
    count falls with the unit's share of staff away (``departments.<name>`` or
    ``boards.<name>`` of the unit's street); ``per_street`` repeats a street office in every street."""

    kind: Literal["district_department", "street_office", "enterprise", "institution"]
    staff: Staff
    registered_share: Share = 0.0  # staff with a 双报到 residence registration in this territory
    stations: list[str] = []
    street: Count | None = None
    per_street: bool = False

    @model_validator(mode="after")
    def _check(self) -> Unit:
        if self.staff.total <= 0:
            raise ValueError("expected a unit with at least one staff member (staff)")
        return self


class Window(_Frozen):
    """A stretch of time (hours from the run's start) with a constant arrival rate."""

    start_hours: NonNeg
    end_hours: NonNeg
    rate_per_1000_per_day: NonNeg

    @model_validator(mode="after")
    def _order(self) -> Window:
        if not self.end_hours > self.start_hours:
            raise ValueError(f"expected end_hours > start_hours, got {self.start_hours} → {self.end_hours}")
        return self


def _flat24() -> list[float]:
    return [1.0] * 24


class Category(_Frozen):
    """An emergency category (tier E): arrivals per 1,000 residents of its area per day in each
    window, shaped by the hour of day; the responder's effort on site."""

    windows: list[Window]
    hourly_profile: list[NonNeg] = Field(default_factory=_flat24)
    area: Area | None = None  # None: the hazard's area
    effort_minutes: Duration
    app_share: Share = 0.3  # reported through the app (else the 12345 hotline)

    @model_validator(mode="after")
    def _check(self) -> Category:
        if len(self.hourly_profile) != 24 or sum(self.hourly_profile) <= 0:
            raise ValueError("expected 24 non-negative weights, not all zero (hourly_profile)")
        return self


class Surge(_Frozen):
    """An ordinary category's rate multiplied over a time window (hours) within an area."""

    category: str
    start_hours: NonNeg
    end_hours: NonNeg
    multiplier: NonNeg
    area: Area | None = None

    @model_validator(mode="after")
    def _order(self) -> Surge:
        if not self.end_hours > self.start_hours:
            raise ValueError(f"expected end_hours > start_hours, got {self.start_hours} → {self.end_hours}")
        return self


class Team(_Frozen):
    """An automatic emergency team: the share of each community's mobilised members it gets
    and the emergency categories it answers; every mobilised member checks vulnerable
    residents when free, a ``checks`` team does nothing else."""

    share: Share
    handles: list[str] = []
    checks: bool = False


class Checks(_Frozen):
    """The duty to check every vulnerable resident within ``deadline_hours`` of the switch."""

    deadline_hours: Pos = 24.0
    minutes: Duration = Duration(dist="lognormal", mean=15.0, cv=0.5)
    travel_minutes: Duration = Duration(dist="exponential", mean=6.0)
    elders_alone: bool = True
    disabled: bool = True
    area: Area | None = None  # None: the hazard's area


class Desk(_Frozen):
    """Each community's duty desk (值班): answers emergency categories around the clock in every mode."""

    staff_per_community: Count = 1


class OnCall(_Frozen):
    """有呼必应、因事派人 — normal mode's way of using the roster (党员生活 2023-12-04): when an
    emergency case has waited ``call_after_minutes`` at its community (no desk or team free),
    the community calls and a unit sends ``people_per_call`` of its members registered there
    (双报到; else those placed there) for that case; they go back when it is done."""

    enabled: bool = True
    call_after_minutes: Pos = 30.0
    people_per_call: Annotated[int, Field(ge=1)] = 2
    arrival_minutes: Duration = Duration(dist="lognormal", mean=45.0, cv=0.5)  # call → at the scene
    return_minutes: Duration = Duration(dist="lognormal", mean=45.0, cv=0.5)  # case done → back at the unit
    source: str = "[A]"


class Specialist(_Frozen):
    """A specialist responder — fire and rescue (消防救援), medical (120), police (110): its own
    crews with their own response times, not 下沉 members. It takes every case of the categories
    it ``handles`` in the hazard's area; the mobilised teams and desks no longer do."""

    crews: Annotated[int, Field(ge=1)] = 1  # crews that can be on cases at once
    handles: list[str]
    response_minutes: Duration = Duration(dist="lognormal", mean=15.0, cv=0.5)  # call → on scene
    source: str = "[A]"


class Step(_Frozen):
    """A scheduled mode change at ``at_hours`` from the run's start."""

    at_hours: NonNeg
    to: Literal["normal", "emergency", "extreme"]
    cause: str = "scheduled"


class RuleSpec(_Frozen):
    """Step up to ``to`` when ``metric ≥ enter_above`` for ``enter_for_minutes``; step back down
    when ``metric ≤ leave_below`` for ``leave_for_minutes`` (hysteresis)."""

    to: Literal["emergency", "extreme"]
    metric: Literal["emergency_reports_per_hour", "emergency_backlog", "emergency_overdue"]
    window_minutes: Pos = 60.0  # for the report rate
    enter_above: NonNeg
    enter_for_minutes: NonNeg = 60.0
    leave_below: NonNeg
    leave_for_minutes: NonNeg = 360.0

    @model_validator(mode="after")
    def _hysteresis(self) -> RuleSpec:
        if not self.leave_below < self.enter_above:
            raise ValueError(
                f"expected leave_below < enter_above (hysteresis), got {self.leave_below} ≥ {self.enter_above}"
            )
        return self


Colour = Literal["blue", "yellow", "orange", "red"]
Level = Literal["IV", "III", "II", "I"]
ModeName = Literal["normal", "emergency", "extreme"]


def _grid_share() -> dict[ModeName, float]:
    return {"normal": 0.0, "emergency": 0.8, "extreme": 1.0}


Duty = Literal["patrol", "door_to_door", "evacuation", "supply"]


def _property_share() -> dict[ModeName, float]:
    return {"normal": 0.0, "emergency": 0.5, "extreme": 1.0}


def _duties() -> dict[Duty, float]:
    return {"patrol": 0.3, "door_to_door": 0.3, "evacuation": 0.2, "supply": 0.2}


class Redeploy(_Frozen):
    """Who switches to emergency duties by rule in each mode (issue 14): grid workers (网格员) and
    community staff (社区工作者) of the communities in ``area`` (the hazard's by default; in
    全员下沉 everywhere when ``extreme_everywhere``). Grid workers give ``grid_worker_share`` of
    their working day to emergency duties — their routine (visits, patrols, data) waits as a
    backlog; community offices send ``community_staff_share`` of their staff but keep
    ``office_keeps`` on duty for cases. Redeployed people join their community's grid-staff team,
    which answers vulnerable-resident checks and the emergency categories it ``handles``;
    ``duties`` splits their time between patrol of the hazard area, door-to-door checks,
    evacuation support and supply (for the report)."""

    grid_worker_share: dict[ModeName, Share] = Field(default_factory=_grid_share)
    community_staff_share: dict[ModeName, Share] = Field(default_factory=_grid_share)
    office_keeps: Count = 1
    property_staff_share: dict[ModeName, Share] = Field(default_factory=_property_share)  # 物业 staff, same keeps
    area: Area | None = None  # None: the hazard's area
    extreme_everywhere: bool = True
    handles: list[str] = []
    duties: dict[Duty, Share] = Field(default_factory=_duties)
    source: str = "[A]"

    @model_validator(mode="after")
    def _check(self) -> Redeploy:
        for what, m in (
            ("grid_worker_share", self.grid_worker_share),
            ("community_staff_share", self.community_staff_share),
            ("property_staff_share", self.property_staff_share),
        ):
            missing = [x for x in ("normal", "emergency", "extreme") if x not in m]
            if missing:
                raise ValueError(f"{what}: expected a share for every mode normal, emergency, extreme; missing {missing}")
        total = sum(self.duties.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"duties: expected shares summing to 1, got {total:.6g}")
        return self


class HazardWarning(_Frozen):
    """A declared warning (预警) on the scenario's timeline: its type (暴雨/洪水/疫情 …), colour
    (蓝/黄/橙/红), area, and when it is issued and lifted (hours from the run's start)."""

    id: str = ""  # default: "<type>-<colour>-<index>"
    type: str = "rainstorm"
    colour: Colour
    area: Area | None = None  # None: the hazard's area
    issued_hours: NonNeg
    lifted_hours: NonNeg | None = None
    issuer: str = ""  # e.g. the district meteorological bureau

    @model_validator(mode="after")
    def _order(self) -> HazardWarning:
        if self.lifted_hours is not None and not self.lifted_hours > self.issued_hours:
            raise ValueError(f"expected lifted_hours > issued_hours, got {self.issued_hours} → {self.lifted_hours}")
        return self


class Declaration(_Frozen):
    """A declared emergency-response level (Ⅳ→Ⅰ级响应), from ``declared_hours`` until lifted."""

    level: Level
    declared_hours: NonNeg
    lifted_hours: NonNeg | None = None
    issuer: str = ""  # e.g. the district flood-control headquarters (防汛抗旱指挥部)

    @model_validator(mode="after")
    def _order(self) -> Declaration:
        if self.lifted_hours is not None and not self.lifted_hours > self.declared_hours:
            raise ValueError(f"expected lifted_hours > declared_hours, got {self.declared_hours} → {self.lifted_hours}")
        return self


def _level_modes() -> dict[Level, ModeName]:
    return {"IV": "normal", "III": "normal", "II": "emergency", "I": "extreme"}


class Response(_Frozen):
    """How declarations drive the modes. ``trigger = "declared"`` (practice): the response level
    in force picks the mode through ``level_modes`` and the observed-state rules only advise
    the commander; ``"rules"``: the rules switch (the older, observed-state trigger).
    ``warning_levels``: the level a warning of each colour brings with it while in force
    (a city's contingency plan ties them; empty: warnings inform, only declarations switch).
    ``"manual"`` (a drill): declarations and rules only advise, the commander switches.
    ``allow_skip``: a change may skip a rung (normal → 全员下沉); the source does not forbid it."""

    trigger: Literal["declared", "rules", "manual"] = "declared"
    allow_skip: bool = True
    warning_levels: dict[Colour, Level] = {}
    level_modes: dict[Level, ModeName] = Field(default_factory=_level_modes)
    source: str = "[A]"  # where the mapping comes from

    @model_validator(mode="after")
    def _complete(self) -> Response:
        missing = [lv for lv in ("IV", "III", "II", "I") if lv not in self.level_modes]
        if missing:
            raise ValueError(f"level_modes: expected a mode for every level IV, III, II, I; missing {missing}")
        return self


class Emergency(_Frozen):
    """The whole emergency section."""

    name: str = "emergency"
    switching: bool = True  # false: the same emergency with the switch suppressed (the counterfactual)
    area: Area = Area()
    schedule: list[Step] = []
    rules: list[RuleSpec] = []
    warnings: list[HazardWarning] = []
    responses: list[Declaration] = []
    response: Response = Response()
    rule_check_minutes: Pos = 10.0
    units: dict[str, Unit]
    arrival_minutes: Duration = Duration(dist="lognormal", mean=90.0, cv=0.6)  # notification → on site
    demobilisation_minutes: Duration = Duration(dist="lognormal", mean=120.0, cv=0.5)  # stand-down → back at the unit
    on_duty_share: Share = 0.5  # of members on site, the share on duty at any hour (shifts)
    redirect_registered_outside_area: bool = False
    teams: dict[str, Team]
    specialists: dict[str, Specialist] = {}
    redeploy: Redeploy = Redeploy()
    categories: dict[str, Category]
    surges: list[Surge] = []
    checks: Checks = Checks()
    desk: Desk = Desk()
    on_call: OnCall = OnCall()
    travel_minutes: Duration = Duration(dist="exponential", mean=10.0)
    sla_due_hours: Pos = 1.0  # the engine's tier E
    sample_minutes: Pos = 30.0

    @model_validator(mode="after")
    def _check(self) -> Emergency:
        if not self.units:
            raise ValueError("expected at least one unit on the roster (units)")
        if not self.teams:
            raise ValueError("expected at least one team (teams)")
        total = sum(t.share for t in self.teams.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"expected team shares summing to 1, got {total:.6g} (teams)")
        for name, t in self.teams.items():
            for c in t.handles:
                if c not in self.categories:
                    raise ValueError(
                        f"teams.{name}.handles: expected emergency categories from {sorted(self.categories)}, got {c!r}"
                    )
        for c in self.redeploy.handles:
            if c not in self.categories:
                raise ValueError(
                    f"redeploy.handles: expected emergency categories from {sorted(self.categories)}, got {c!r}"
                )
        owner: dict[str, str] = {}
        for name, sp in self.specialists.items():
            for c in sp.handles:
                if c not in self.categories:
                    raise ValueError(
                        f"specialists.{name}.handles: expected emergency categories from {sorted(self.categories)}, got {c!r}"
                    )
                if c in owner:
                    raise ValueError(f"specialists.{name}.handles: {c!r} is already handled by {owner[c]!r}")
                owner[c] = name
        for m in {r.to for r in self.rules}:
            if sum(1 for r in self.rules if r.to == m) > 1:
                raise ValueError(f"rules: expected at most one rule stepping up to {m!r}")
        ids = [w.id for w in self.warnings if w.id]
        if len(ids) != len(set(ids)):
            raise ValueError(f"warnings: expected distinct ids, got {ids}")
        try:
            check_schedule([(s.at_hours, s.to) for s in self.schedule], allow_skip=self.response.allow_skip)
        except IllegalModeChange as exc:
            raise ValueError(f"schedule: expected legal steps (normal ⇄ emergency ⇄ extreme), got {exc}") from None
        return self


def _area_errors(area: Area | None, where: str, sc: Scenario) -> None:
    if area is None:
        return
    t = sc.territory
    for s in area.streets:
        if s >= t.streets:
            raise ValueError(f"{where}.streets: expected street indices < {t.streets}, got {s}")
    names = {f"S{s + 1:02d}-C{c + 1:02d}" for s in range(t.streets) for c in range(t.communities_per_street)}
    for c in area.communities:
        if c not in names:
            raise ValueError(
                f"{where}.communities: expected community names like 'S01-C01' in this territory, got {c!r}"
            )


def check_against(em: Emergency, sc: Scenario) -> None:
    """Cross-checks against the rest of the scenario; ValueError('emergency.<path>: expected …')."""
    _area_errors(em.area, "emergency.area", sc)
    _area_errors(em.checks.area, "emergency.checks.area", sc)
    _area_errors(em.redeploy.area, "emergency.redeploy.area", sc)
    for i, w in enumerate(em.warnings):
        _area_errors(w.area, f"emergency.warnings.{i}.area", sc)
    for name, c in em.categories.items():
        if name in sc.categories:
            raise ValueError(
                f"emergency.categories.{name}: expected a name not used by an ordinary category, got {name!r}"
            )
        _area_errors(c.area, f"emergency.categories.{name}.area", sc)
    for i, s in enumerate(em.surges):
        if s.category not in sc.categories:
            raise ValueError(
                f"emergency.surges.{i}.category: expected one of {sorted(sc.categories)}, got {s.category!r}"
            )
        _area_errors(s.area, f"emergency.surges.{i}.area", sc)
    seen: dict[str, str] = {}
    for name, u in em.units.items():
        if u.street is not None and u.street >= sc.territory.streets:
            raise ValueError(
                f"emergency.units.{name}.street: expected a street index < {sc.territory.streets}, got {u.street}"
            )
        for ref in u.stations:
            kind, _, station = ref.partition(".")
            pool = {"departments": sc.staffing.departments, "boards": sc.staffing.boards}.get(kind)
            if pool is None or station not in pool:
                raise ValueError(
                    f"emergency.units.{name}.stations: expected 'departments.<{'|'.join(sc.staffing.departments)}>' "
                    f"or 'boards.<{'|'.join(sc.staffing.boards)}>', got {ref!r}"
                )
            if kind == "boards" and u.kind != "street_office":
                raise ValueError(
                    f"emergency.units.{name}.stations: boards belong to a street_office unit, got kind {u.kind!r}"
                )
            if kind == "boards" and u.street is None and not u.per_street and sc.territory.streets > 1:
                raise ValueError(
                    f"emergency.units.{name}.street: expected a street index (or per_street = true) for a street office's boards"
                )
            if ref in seen:
                raise ValueError(f"emergency.units.{name}.stations: {ref!r} already belongs to unit {seen[ref]!r}")
            seen[ref] = name


__all__ = [
    "METRICS",
    "MODES",
    "ROLES",
    "Area",
    "Category",
    "Checks",
    "Colour",
    "Declaration",
    "HazardWarning",
    "Level",
    "OnCall",
    "Redeploy",
    "Response",
    "Desk",
    "Duration",
    "Emergency",
    "RuleSpec",
    "Specialist",
    "Staff",
    "Step",
    "Surge",
    "Team",
    "Unit",
    "Window",
    "check_against",
]
