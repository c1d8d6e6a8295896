"""Matter time rules (事项时限): how long each handling unit may take, on which clock.

Real platforms count a limit **per handling unit, from when that unit receives the case**
(立案/派遣), in **working time**, and take approved extensions (延期) and suspensions (挂账)
out of it:

- 数字城管 standards, e.g. Shenzhen SZDB/Z 300.4-2018, annex on 工作时限 (处置时限 per
  category and handling unit, counted in working hours/days from dispatch);
- Fuzhou: 网格员 "在工作时间内…不得超过1个小时" (a working-hour limit, not a clock-hour one);
- 12345 hotline rules count in working days (工作日), and ask complex requests for a
  *reply* (答复) within the limit, resolution tracked separately;
- Zoucheng's 小事2小时内完成, 费时事2天内解决, 复杂事7天内有回音 (新华社《瞭望》2023
  No. 28) is a rural property-service *promise* (力争), kept as the tier labels and as a
  policy overlay a scenario can choose, not as the platform rule.

Figures without a source are marked ``[A]`` (assumed) in :func:`_default_tiers`.
A tier is a property of the matter (the scenario's matter list picks it), not a random draw.

A policy without a calendar runs every clock as natural time (the behaviour before time
rules); the service and the simulation hand it a :class:`~twin.engine.worktime.WorkTime`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from twin.engine.errors import InvalidInput
from twin.engine.types import Level
from twin.engine.worktime import WorkTime

MINUTE = 1.0
HOUR = 60.0
DAY = 1440.0

WORKING = "working"
NATURAL = "natural"
RESOLVE = "resolve"
REPLY = "reply"

Limits = tuple[float | None, float | None, float | None, float | None]


@dataclass(frozen=True, slots=True)
class TierRule:
    """The time rule of one tier of matters.

    ``due_minutes``: the end-to-end limit from report, in minutes of the tier's clock (days
    when ``in_days``; :meth:`SlaPolicy.due_at` converts).
    ``allowance_minutes[level]``: how long a case may stay at a level before the engine
    escalates it by itself — used only when the engine's ``auto_escalate`` is on.
    ``unit_limits[level]``: the limit of a unit at that level, from when it receives the case
    (None: the level has no limit for it, or does not handle it); when None for every level
    the end-to-end limit is used per unit.
    ``clock``: ``working`` (the calendar's working minutes) or ``natural`` (every minute).
    ``in_days``: limits and ``due_minutes`` are days, not minutes: a working day is the
    calendar's working minutes per day, a natural day 1440 minutes.
    ``done_by``: ``resolve`` (done when resolved) or ``reply`` (done when the reporter has an
    answer; resolution is tracked apart).
    ``yellow_share``: the share of a unit's limit after which a yellow warning (黄牌督办) is due;
    red is due at the limit.
    """

    name: str
    due_minutes: float
    allowance_minutes: Limits
    label: str = ""
    unit_limits: Limits = (None, None, None, None)
    clock: str = NATURAL
    in_days: bool = False
    done_by: str = RESOLVE
    yellow_share: float = 0.75

    def __post_init__(self) -> None:
        if self.clock not in (WORKING, NATURAL):
            raise ValueError(f"tier {self.name}: clock must be 'working' or 'natural', got {self.clock!r}")
        if self.done_by not in (RESOLVE, REPLY):
            raise ValueError(f"tier {self.name}: done_by must be 'resolve' or 'reply', got {self.done_by!r}")
        if not 0.0 < self.yellow_share <= 1.0:
            raise ValueError(f"tier {self.name}: yellow_share must be in (0, 1], got {self.yellow_share!r}")

    def allowance(self, level: Level) -> float | None:
        return self.allowance_minutes[level]


def _default_tiers() -> dict[str, TierRule]:
    w, nat = WORKING, NATURAL
    return {
        # Emergencies run on natural time. 30 min on site: [A] (the twin's emergency drill).
        "T0": TierRule("T0", 30 * MINUTE, (10.0, 10.0, 10.0, None), "emergency: on site within 30 min",
                       (30.0, 30.0, 30.0, 30.0), nat),
        # 小事: 2 working hours per handling unit (Fuzhou's working-hour rule scaled to the
        # Zoucheng 2-hour promise); 4 h at street and none at district level: [A].
        "T1": TierRule("T1", 2 * HOUR, (60.0, 60.0, 120.0, None), "小事: done within 2 working hours",
                       (2 * HOUR, 2 * HOUR, 4 * HOUR, None), w),
        # 费时事: 2 working days per unit (Zoucheng's 2 days counted as 12345-style working days);
        # 3 at street, 5 at district: [A]; end to end 5 working days (12345 一般诉求 practice) [A].
        "T2": TierRule("T2", 5, (8 * HOUR, DAY, DAY, None), "费时事: solved within 2 working days",
                       (2, 2, 3, 5), w, True),
        # 复杂事: a reply within 7 days (Zoucheng 复杂事7天内有回音 means a reply, not resolution):
        # 5 working days (a 7-day week's working days) per unit and end to end [A].
        "T3": TierRule("T3", 5, (DAY, 2 * DAY, 3 * DAY, None), "复杂事: answered within 7 days",
                       (5, 5, 5, 5), w, True, REPLY),
        # Emergency categories of 应下尽下/全员下沉: 1 h natural, per unit 30/30/60/60 min [A].
        "E": TierRule("E", 1 * HOUR, (30.0, 30.0, 60.0, None), "emergency category in 应下尽下/全员下沉",
                      (30.0, 30.0, 60.0, 60.0), nat),
    }  # fmt: skip


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """The tiers a deployment uses and the working calendar their working clocks run on."""

    tiers: dict[str, TierRule] = field(default_factory=_default_tiers)
    calendar: WorkTime | None = None
    #: (tier, level) → unit limit in minutes: asked at every stint, computed once
    _unit_limits: dict[tuple[str, int], float | None] = field(default_factory=dict, compare=False, repr=False)
    #: (tier, level) → (unit limit, its working calendar or None for natural time), for :meth:`unit_due_at`
    _stints: dict[tuple[str, int], tuple[float | None, WorkTime | None]] = field(
        default_factory=dict, compare=False, repr=False
    )
    #: tier → (end-to-end limit in minutes of its clock, its working calendar or None), for :meth:`due_at`
    _due: dict[str, tuple[float, WorkTime | None]] = field(default_factory=dict, compare=False, repr=False)

    def rule(self, tier: str) -> TierRule:
        try:
            return self.tiers[tier]
        except KeyError:
            raise InvalidInput("tier", f"unknown tier {tier!r}; expected one of {sorted(self.tiers)}") from None

    def _working(self, rule: TierRule) -> WorkTime | None:
        return self.calendar if rule.clock == WORKING else None

    def _minutes(self, rule: TierRule, amount: float) -> float:
        """A limit of the rule in minutes of its clock."""
        if not rule.in_days:
            return amount
        cal = self._working(rule)
        return amount * (cal.per_day if cal is not None else DAY)

    def add(self, rule: TierRule, start: float, minutes: float) -> float:
        """The clock minute when ``minutes`` of the rule's clock have passed since ``start``."""
        cal = self._working(rule)
        return start + minutes if cal is None else cal.finish(start, minutes)

    def elapsed(self, rule: TierRule, a: float, b: float) -> float:
        """Minutes of the rule's clock between ``a`` and ``b``."""
        cal = self._working(rule)
        return b - a if cal is None else cal.worked_between(a, b)

    def due_at(self, tier: str, reported_at: float) -> float:
        """The end-to-end due time of a case of ``tier`` reported at ``reported_at``.

        Asked at every report: the limit and its calendar come from a per-tier table."""
        try:
            minutes, cal = self._due[tier]
        except KeyError:
            rule = self.rule(tier)
            minutes, cal = self._due[tier] = (self._minutes(rule, rule.due_minutes), self._working(rule))
        return reported_at + minutes if cal is None else cal.finish(reported_at, minutes)

    def unit_limit(self, tier: str, level: Level | int) -> float | None:
        """The limit, in minutes of the tier's clock, of a unit at ``level`` (None: no limit)."""
        key = (tier, int(level))
        try:
            return self._unit_limits[key]
        except KeyError:
            limit = self._unit_limits[key] = self._unit_limit(tier, level)
            return limit

    def _unit_limit(self, tier: str, level: Level | int) -> float | None:
        rule = self.rule(tier)
        if all(v is None for v in rule.unit_limits):
            return self._minutes(rule, rule.due_minutes)
        v = rule.unit_limits[level]
        return None if v is None else self._minutes(rule, v)

    def unit_due_at(self, tier: str, level: Level | int, received_at: float) -> float | None:
        """When the limit of a unit at ``level`` that received the case at ``received_at`` lapses.

        Asked at every stint (several per case): the limit and its calendar come from a
        per-(tier, level) table rather than three look-ups (a ``Level`` and its int hash alike).
        """
        try:
            limit, cal = self._stints[(tier, level)]
        except KeyError:
            limit = self.unit_limit(tier, level)
            cal = self._working(self.rule(tier))
            self._stints[(tier, level)] = (limit, cal)
        if limit is None:
            return None
        return received_at + limit if cal is None else cal.finish(received_at, limit)

    def yellow_at(self, tier: str, since: float, due: float) -> float:
        """When the yellow warning of a stint from ``since`` to ``due`` is due (its yellow share used)."""
        rule = self.rule(tier)
        cal = self._working(rule)
        if cal is None:
            return since + rule.yellow_share * (due - since)
        return cal.share_point(since, due, rule.yellow_share)
