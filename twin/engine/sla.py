"""Service-level tiers: how long a case may take, and how long it may sit at each level.

Defaults follow Zoucheng's rule (小事2小时内完成, 费时事2天内解决, 复杂事7天内有回音 —
新华社《瞭望》2023 No. 28) plus an emergency tier in minutes and a tier for the
emergency categories of 应下尽下 / 全员下沉.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from twin.engine.errors import InvalidInput
from twin.engine.types import Level

MINUTE = 1.0
HOUR = 60.0
DAY = 1440.0


@dataclass(frozen=True, slots=True)
class TierRule:
    """One SLA tier.

    ``due_minutes``: from report to resolution. ``allowance_minutes[level]``: how long a
    case may stay unresolved at that level before the engine escalates it by itself
    (None: never automatically).
    """

    name: str
    due_minutes: float
    allowance_minutes: tuple[float | None, float | None, float | None, float | None]
    label: str = ""

    def allowance(self, level: Level) -> float | None:
        return self.allowance_minutes[level]


def _default_tiers() -> dict[str, TierRule]:
    return {
        "T0": TierRule("T0", 30 * MINUTE, (10.0, 10.0, 10.0, None), "emergency: on site within 30 min"),
        "T1": TierRule("T1", 2 * HOUR, (60.0, 60.0, 120.0, None), "小事: done within 2 hours"),
        "T2": TierRule("T2", 2 * DAY, (8 * HOUR, DAY, DAY, None), "费时事: solved within 2 days"),
        "T3": TierRule("T3", 7 * DAY, (DAY, 2 * DAY, 3 * DAY, None), "复杂事: answered within 7 days"),
        "E": TierRule("E", 1 * HOUR, (30.0, 30.0, 60.0, None), "emergency category in 应下尽下/全员下沉"),
    }


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """The set of tiers a deployment uses."""

    tiers: dict[str, TierRule] = field(default_factory=_default_tiers)

    def rule(self, tier: str) -> TierRule:
        try:
            return self.tiers[tier]
        except KeyError:
            raise InvalidInput("tier", f"unknown tier {tier!r}; expected one of {sorted(self.tiers)}") from None

    def due_at(self, tier: str, reported_at: float) -> float:
        return reported_at + self.rule(tier).due_minutes
