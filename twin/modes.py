"""The mode controller of 常急转换: normal → emergency (应下尽下) → extreme (全员下沉) and back.

Wuhan's practice (党员生活 2023-12-04, "常急转换"): in normal times mobilised units help on
call (有呼必应、因事派人、按需有序); in a major public-health event or natural disaster the
platform switches to an emergency mode in which every unit sends everyone except those
keeping command, basic operations and key personnel's safety (应下尽下); in the extreme
state everyone goes except command and key personnel's safety (全员下沉).

The controller knows nothing of SimPy or the engine: it reads time from an injected clock,
allows only the legal steps (one rung at a time), records every change with its time,
cause and source (``schedule``, ``rule`` or ``manual``), and tells its listeners. The
simulation drives it from scheduled commands and :class:`RuleMonitor` observations; the
drill console and the HTTP service call :meth:`ModeController.command` (the manual API).

With ``enabled=False`` (the counterfactual "same emergency, no switch") the controller
keeps a *shadow* mode: requests move the shadow and are recorded as suppressed, while the
real mode stays normal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

Mode = Literal["normal", "emergency", "extreme"]
MODES: tuple[Mode, ...] = ("normal", "emergency", "extreme")
SOURCES: tuple[str, ...] = ("schedule", "rule", "manual")

#: Legal steps: one rung up or one rung down the ladder.
LEGAL: dict[str, frozenset[str]] = {
    "normal": frozenset({"emergency"}),
    "emergency": frozenset({"extreme", "normal"}),
    "extreme": frozenset({"emergency"}),
}

#: Roles exempt from mobilisation in each mode (Wuhan: 保应急指挥畅通、保机关基本运转、保重点人员安全).
EXEMPT: dict[str, frozenset[str]] = {
    "normal": frozenset({"command", "basic_operations", "key_personnel_safety", "other"}),  # nobody is sent down
    "emergency": frozenset({"command", "basic_operations", "key_personnel_safety"}),  # 应下尽下
    "extreme": frozenset({"command", "key_personnel_safety"}),  # 全员下沉
}
ROLES: tuple[str, ...] = ("command", "basic_operations", "key_personnel_safety", "other")


def mobilised_roles(mode: str) -> frozenset[str]:
    """The roles a mode sends down to the communities."""
    return frozenset(ROLES) - EXEMPT[mode]


class ModeError(ValueError):
    """A mode command that cannot be carried out."""


class UnknownMode(ModeError):
    def __init__(self, mode: str) -> None:
        super().__init__(f"unknown mode {mode!r}; expected one of {list(MODES)}")
        self.mode = mode


class IllegalModeChange(ModeError):
    """A change that is not one legal step (e.g. normal → extreme, or to the current mode)."""

    def __init__(self, from_mode: str, to_mode: str) -> None:
        allowed = sorted(LEGAL.get(from_mode, ()))
        super().__init__(
            f"illegal mode change {from_mode!r} → {to_mode!r}; from {from_mode!r} the legal steps are {allowed}"
        )
        self.from_mode = from_mode
        self.to_mode = to_mode


def check_step(from_mode: str, to_mode: str) -> None:
    """Raise :class:`UnknownMode` or :class:`IllegalModeChange` unless ``from → to`` is one legal step."""
    for m in (from_mode, to_mode):
        if m not in LEGAL:
            raise UnknownMode(m)
    if to_mode not in LEGAL[from_mode]:
        raise IllegalModeChange(from_mode, to_mode)


@dataclass(frozen=True, slots=True)
class ModeChange:
    """One recorded change: when (clock minutes), from, to, why, and who asked."""

    at: float
    from_mode: str
    to_mode: str
    cause: str
    source: str
    actor: str = ""
    applied: bool = True  # False: suppressed (switching disabled; only the shadow moved)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Listener = Callable[[ModeChange], None]


class ModeController:
    """Holds the current mode and applies legal changes; the manual API for drills and the service."""

    def __init__(self, clock: Callable[[], float], enabled: bool = True, initial: Mode = "normal") -> None:
        if initial not in LEGAL:
            raise UnknownMode(initial)
        self.clock = clock
        self.enabled = enabled
        self.mode: str = initial
        self.shadow: str = initial  # the mode the rules and schedule ask for (== mode when enabled)
        self.since = clock()
        self.history: list[ModeChange] = []
        self.suppressed: list[ModeChange] = []
        self.refused: list[dict[str, Any]] = []
        self._listeners: list[Listener] = []

    # ------------------------------------------------------------------ API
    def subscribe(self, fn: Listener) -> None:
        """Call ``fn(change)`` after every change (applied or suppressed; see ``change.applied``)."""
        self._listeners.append(fn)

    def legal_targets(self) -> list[str]:
        return sorted(LEGAL[self.shadow])

    def command(self, to: str, cause: str, actor: str = "", source: str = "manual") -> ModeChange:
        """Change the mode by one legal step now; raises IllegalModeChange naming from/to."""
        if source not in SOURCES:
            raise ModeError(f"unknown source {source!r}; expected one of {list(SOURCES)}")
        frm = self.shadow
        check_step(frm, to)
        now = self.clock()
        change = ModeChange(now, frm, to, cause, source, actor, self.enabled)
        self.shadow = to
        if self.enabled:
            self.mode = to
            self.since = now
            self.history.append(change)
        else:
            self.suppressed.append(change)
        for fn in self._listeners:
            fn(change)
        return change

    def request(self, to: str, cause: str, source: str) -> ModeChange | None:
        """A scheduled or rule-driven request: like :meth:`command`, but an illegal or idle
        step is recorded as refused instead of raised (a run must not stop on it)."""
        if to == self.shadow:
            return None
        try:
            return self.command(to, cause, source=source)
        except ModeError as exc:
            self.refused.append(
                {
                    "at": self.clock(),
                    "from_mode": self.shadow,
                    "to_mode": to,
                    "cause": cause,
                    "source": source,
                    "reason": str(exc),
                }
            )
            return None

    def state(self) -> dict[str, Any]:
        """A JSON-ready picture for a console or an HTTP response."""
        return {
            "mode": self.mode,
            "since": self.since,
            "enabled": self.enabled,
            "shadow": self.shadow,
            "legal_targets": self.legal_targets(),
            "history": [c.to_dict() for c in self.history],
            "suppressed": [c.to_dict() for c in self.suppressed],
            "refused": list(self.refused),
        }


def engine_follower(engine: Any) -> Listener:
    """A listener that keeps a case engine's ``mode`` (recorded on every case event) equal to the
    controller's applied mode — for the HTTP service: ``ctl.subscribe(engine_follower(engine))``."""

    def follow(change: ModeChange) -> None:
        if change.applied:
            engine.mode = change.to_mode

    return follow


def check_schedule(steps: Sequence[tuple[float, str]], initial: str = "normal") -> None:
    """Raise IllegalModeChange if a schedule (time, target), taken in time order, leaves a legal path."""
    mode = initial
    for _, to in sorted(steps, key=lambda s: s[0]):
        check_step(mode, to)
        mode = to


@dataclass(frozen=True, slots=True)
class Rule:
    """Step up to ``to`` when ``metric ≥ enter_above`` for ``enter_for`` minutes (from the mode
    below); step back down when ``metric ≤ leave_below`` for ``leave_for`` minutes (hysteresis:
    ``leave_below < enter_above``)."""

    to: str
    metric: str
    enter_above: float
    enter_for: float
    leave_below: float
    leave_for: float

    @property
    def below(self) -> str:
        return MODES[MODES.index(self.to) - 1]


class RuleMonitor:
    """Watches observed metrics and asks the controller to step up or down."""

    def __init__(self, controller: ModeController, rules: Sequence[Rule]) -> None:
        for r in rules:
            if r.to not in ("emergency", "extreme"):
                raise ModeError(f"a rule steps up to 'emergency' or 'extreme', got {r.to!r}")
            if not r.leave_below < r.enter_above:
                raise ModeError(
                    f"rule to {r.to!r}: hysteresis needs leave_below < enter_above, got {r.leave_below} ≥ {r.enter_above}"
                )
        self.controller = controller
        self.rules = list(rules)
        self._above_since: list[float | None] = [None] * len(rules)
        self._below_since: list[float | None] = [None] * len(rules)

    def observe(self, now: float, metrics: dict[str, float]) -> list[ModeChange]:
        """Feed one observation; returns the changes it caused."""
        out: list[ModeChange] = []
        ctl = self.controller
        for i, r in enumerate(self.rules):
            x = metrics[r.metric]
            if ctl.shadow == r.below:
                self._below_since[i] = None
                if x >= r.enter_above:
                    if self._above_since[i] is None:
                        self._above_since[i] = now
                    if now - self._above_since[i] >= r.enter_for:  # type: ignore[operator]
                        ch = ctl.request(
                            r.to, f"{r.metric} = {x:.3g} ≥ {r.enter_above:g} for {r.enter_for:g} min", "rule"
                        )
                        self._above_since[i] = None
                        if ch is not None:
                            out.append(ch)
                else:
                    self._above_since[i] = None
            elif ctl.shadow == r.to:
                self._above_since[i] = None
                if x <= r.leave_below:
                    if self._below_since[i] is None:
                        self._below_since[i] = now
                    if now - self._below_since[i] >= r.leave_for:  # type: ignore[operator]
                        ch = ctl.request(
                            r.below, f"{r.metric} = {x:.3g} ≤ {r.leave_below:g} for {r.leave_for:g} min", "rule"
                        )
                        self._below_since[i] = None
                        if ch is not None:
                            out.append(ch)
                else:
                    self._below_since[i] = None
            else:
                self._above_since[i] = None
                self._below_since[i] = None
        return out
