"""Declared warnings and response levels, and the mode they call for.

In practice the switch of 常急转换 follows a *declared* emergency (党员生活 2023-12-04: a
major public-health event or natural disaster), and in China that declaration is an
emergency-response level (Ⅳ→Ⅰ级响应) tied to warnings (蓝/黄/橙/红). :class:`ResponseBoard`
keeps what is in force — warnings (issued, lifted) and declared levels — and answers the
level in force (the most severe of the declared levels and the levels the warnings in force
bring with them under the plan's ``warning_levels``) and the mode that level maps to.

Pure bookkeeping: no SimPy, no clock; the caller passes the time of each event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from twin.modes import MODE_NAMES_ZH
from twin.scenario.emergency import Response

#: Most severe last: Ⅰ级 is the highest response.
LEVELS: tuple[str, ...] = ("IV", "III", "II", "I")
LEVEL_LABELS: dict[str, str] = {"IV": "Ⅳ级响应", "III": "Ⅲ级响应", "II": "Ⅱ级响应", "I": "Ⅰ级响应"}
COLOUR_LABELS: dict[str, str] = {"blue": "蓝色", "yellow": "黄色", "orange": "橙色", "red": "红色"}


@dataclass(frozen=True, slots=True)
class WarningInForce:
    """A warning issued and not yet lifted."""

    id: str
    type: str
    colour: str
    area: str
    issued_at: float

    @property
    def label(self) -> str:
        return f"{COLOUR_LABELS[self.colour]} {self.type} warning {self.id}"


class ResponseBoard:
    """What is declared now, and the log of every issue, lift and declaration."""

    def __init__(self, policy: Response) -> None:
        self.policy = policy
        self.warnings: dict[str, WarningInForce] = {}
        self.levels: dict[str, str] = {}  # declaration id → level
        self.log: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ events
    def issue(self, at: float, wid: str, type_: str, colour: str, area: str = "") -> WarningInForce:
        """Issue (or re-colour) warning ``wid``."""
        if colour not in COLOUR_LABELS:
            raise ValueError(f"colour: expected one of {list(COLOUR_LABELS)}, got {colour!r}")
        w = WarningInForce(wid, type_, colour, area, at)
        self.warnings[wid] = w
        self.log.append({"at": at, "event": "warning_issued", "id": wid, "type": type_, "colour": colour, "area": area})
        return w

    def lift(self, at: float, wid: str) -> WarningInForce:
        """Lift warning ``wid``; KeyError naming the warnings in force if it is not one."""
        if wid not in self.warnings:
            raise KeyError(f"warning: expected one in force {sorted(self.warnings)}, got {wid!r}")
        w = self.warnings.pop(wid)
        self.log.append({"at": at, "event": "warning_lifted", "id": wid, "type": w.type, "colour": w.colour})
        return w

    def declare(self, at: float, did: str, level: str) -> None:
        """Declare response level ``level`` (IV … I) under id ``did``."""
        if level not in LEVELS:
            raise ValueError(f"level: expected one of {list(LEVELS)}, got {level!r}")
        self.levels[did] = level
        self.log.append({"at": at, "event": "level_declared", "id": did, "level": level})

    def end(self, at: float, did: str) -> None:
        """Lift declared level ``did``."""
        level = self.levels.pop(did)
        self.log.append({"at": at, "event": "level_lifted", "id": did, "level": level})

    # ------------------------------------------------------------------ answers
    def level(self) -> tuple[str | None, str]:
        """The level in force and why (``"橙色 rainstorm warning W1"`` or ``"declared Ⅱ级响应"``)."""
        best: str | None = None
        why = ""
        for lv in self.levels.values():
            if best is None or LEVELS.index(lv) > LEVELS.index(best):
                best, why = lv, f"declared {LEVEL_LABELS[lv]}"
        for w in self.warnings.values():
            lv = self.policy.warning_levels.get(w.colour)  # type: ignore[call-overload]
            if lv is not None and (best is None or LEVELS.index(lv) > LEVELS.index(best)):
                best, why = lv, f"{w.label} → {LEVEL_LABELS[lv]}"
        return best, why

    def target(self) -> tuple[str, str]:
        """The mode the level in force calls for, and the cause to record (naming warning/level)."""
        lv, why = self.level()
        if lv is None:
            return "normal", "no warning or response level in force"
        mode = self.policy.level_modes[lv]  # type: ignore[index]
        return mode, f"{why} → {MODE_NAMES_ZH[mode]}"

    def state(self) -> dict[str, Any]:
        """JSON-ready: the warnings and levels in force, the level and the mode it calls for."""
        lv, _ = self.level()
        mode, cause = self.target()
        return {
            "warnings": [
                {"id": w.id, "type": w.type, "colour": w.colour, "area": w.area, "issued_at": w.issued_at}
                for w in self.warnings.values()
            ],
            "levels": dict(self.levels),
            "level": lv,
            "calls_for": mode,
            "cause": cause,
        }
