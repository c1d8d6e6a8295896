"""The mode controller of 常急转换: normal → emergency (应下尽下) → extreme (全员下沉) and back.

Wuhan's practice (党员生活 2023-12-04, "常急转换"): in normal times mobilised units help on
call (有呼必应、因事派人、按需有序); in a major public-health event or natural disaster the
platform switches to an emergency mode in which every unit sends everyone except those
keeping command, basic operations and key personnel's safety (应下尽下); in the extreme
state everyone goes except command and key personnel's safety (全员下沉).

In practice the switch follows a *declared* emergency: a response level (Ⅳ→Ⅰ级响应) tied to
warnings (蓝/黄/橙/红). The simulation drives the controller from those declarations
(source ``declared``, see :mod:`twin.emergency.declared`), from a plain schedule, or from
:class:`RuleMonitor` observations — which by default only *advise* the commander (an
:class:`Advisory`, a drill decision point) instead of switching. The drill console calls
:meth:`ModeController.command` (the manual API, through the emergency component). The HTTP
service keeps no controller: ``POST /mode`` checks the same step rule (:func:`check_step`),
records the change in its own mode log and sets its engine's ``mode``.

The controller knows nothing of SimPy or the engine: it reads time from an injected clock,
allows only legal steps, records every change with its time, cause and source, and tells
its listeners. Whether a step may skip a rung (normal → 全员下沉) is a policy,
``allow_skip``: the source (党员生活 2023-12-04) does not forbid it, so it is allowed by
default; with ``allow_skip=False`` only one rung at a time is legal.

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
SOURCES: tuple[str, ...] = ("schedule", "rule", "manual", "declared")

#: One-rung steps: one rung up or one rung down the ladder (the legal steps when skipping is not allowed).
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


def legal_steps(from_mode: str, allow_skip: bool = False) -> frozenset[str]:
    """The modes reachable in one change from ``from_mode`` under the skip policy."""
    if allow_skip:
        return frozenset(MODES) - {from_mode}
    return LEGAL[from_mode]


class IllegalModeChange(ModeError):
    """A change that is not one legal step (e.g. normal → extreme without skipping, or to the current mode)."""

    def __init__(self, from_mode: str, to_mode: str, allow_skip: bool = False) -> None:
        allowed = sorted(legal_steps(from_mode, allow_skip)) if from_mode in LEGAL else []
        super().__init__(
            f"illegal mode change {from_mode!r} → {to_mode!r}; from {from_mode!r} the legal steps are {allowed}"
        )
        self.from_mode = from_mode
        self.to_mode = to_mode


def check_step(from_mode: str, to_mode: str, allow_skip: bool = False) -> None:
    """Raise :class:`UnknownMode` or :class:`IllegalModeChange` unless ``from → to`` is one legal step."""
    for m in (from_mode, to_mode):
        if m not in LEGAL:
            raise UnknownMode(m)
    if to_mode not in legal_steps(from_mode, allow_skip):
        raise IllegalModeChange(from_mode, to_mode, allow_skip)


def path_to(from_mode: str, to_mode: str, allow_skip: bool) -> list[str]:
    """The modes passed through going from ``from_mode`` to ``to_mode``: ``[to_mode]`` when
    skipping is allowed (or the step is one rung), else every rung on the way."""
    if from_mode == to_mode:
        return []
    if allow_skip:
        return [to_mode]
    i, j = MODES.index(from_mode), MODES.index(to_mode)
    step = 1 if j > i else -1
    return [MODES[k] for k in range(i + step, j + step, step)]


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


@dataclass(frozen=True, slots=True)
class Advisory:
    """An observed-state rule's recommendation to the commander (a drill decision point): the
    controller records it; the commander decides whether to switch."""

    at: float
    from_mode: str
    to_mode: str
    cause: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Listener = Callable[[ModeChange], None]


class ModeController:
    """Holds the current mode and applies legal changes; the manual API for drills and the service."""

    def __init__(
        self, clock: Callable[[], float], enabled: bool = True, initial: Mode = "normal", allow_skip: bool = True
    ) -> None:
        if initial not in LEGAL:
            raise UnknownMode(initial)
        self.clock = clock
        self.enabled = enabled
        self.allow_skip = allow_skip
        self.advisories: list[Advisory] = []
        self._advisory_listeners: list[Callable[[Advisory], None]] = []
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

    def subscribe_advice(self, fn: Callable[[Advisory], None]) -> None:
        """Call ``fn(advisory)`` after every advisory."""
        self._advisory_listeners.append(fn)

    def advise(self, to: str, cause: str) -> Advisory:
        """Record a recommendation to switch to ``to`` (the mode does not change)."""
        adv = Advisory(self.clock(), self.shadow, to, cause)
        self.advisories.append(adv)
        for fn in self._advisory_listeners:
            fn(adv)
        return adv

    def legal_targets(self) -> list[str]:
        return sorted(legal_steps(self.shadow, self.allow_skip))

    def command(self, to: str, cause: str, actor: str = "", source: str = "manual") -> ModeChange:
        """Change the mode by one legal step now; raises IllegalModeChange naming from/to."""
        if source not in SOURCES:
            raise ModeError(f"unknown source {source!r}; expected one of {list(SOURCES)}")
        frm = self.shadow
        check_step(frm, to, self.allow_skip)
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
            "allow_skip": self.allow_skip,
            "advisories": [a.to_dict() for a in self.advisories],
            "history": [c.to_dict() for c in self.history],
            "suppressed": [c.to_dict() for c in self.suppressed],
            "refused": list(self.refused),
        }


def check_schedule(steps: Sequence[tuple[float, str]], initial: str = "normal", allow_skip: bool = False) -> None:
    """Raise IllegalModeChange if a schedule (time, target), taken in time order, leaves a legal path."""
    mode = initial
    for _, to in sorted(steps, key=lambda s: s[0]):
        check_step(mode, to, allow_skip)
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
    """Watches observed metrics and asks the controller to step up or down — or, with
    ``advisory=True`` (the default in a scenario), only recommends the step to the commander."""

    def __init__(self, controller: ModeController, rules: Sequence[Rule], advisory: bool = False) -> None:
        for r in rules:
            if r.to not in ("emergency", "extreme"):
                raise ModeError(f"a rule steps up to 'emergency' or 'extreme', got {r.to!r}")
            if not r.leave_below < r.enter_above:
                raise ModeError(
                    f"rule to {r.to!r}: hysteresis needs leave_below < enter_above, got {r.leave_below} ≥ {r.enter_above}"
                )
        self.controller = controller
        self.advisory = advisory
        self.rules = list(rules)
        self._above_since: list[float | None] = [None] * len(rules)
        self._below_since: list[float | None] = [None] * len(rules)
        self._advised: list[tuple[str, str] | None] = [None] * len(rules)

    def _ask(self, i: int, to: str, cause: str) -> ModeChange | None:
        """Request the step — or, advisory, recommend it once per stretch of the condition."""
        if not self.advisory:
            return self.controller.request(to, cause, "rule")
        key = (self.controller.shadow, to)
        if self._advised[i] != key:
            self._advised[i] = key
            self.controller.advise(to, cause)
        return None

    def observe(self, now: float, metrics: dict[str, float]) -> list[ModeChange]:
        """Feed one observation; returns the changes it caused."""
        out: list[ModeChange] = []
        ctl = self.controller
        for i, r in enumerate(self.rules):
            x = metrics[r.metric]
            if ctl.shadow == r.below:
                self._below_since[i] = None
                since, ok = self._above_since, x >= r.enter_above
                to, cause = r.to, f"{r.metric} = {x:.3g} ≥ {r.enter_above:g} for {r.enter_for:g} min"
                hold = r.enter_for
            elif ctl.shadow == r.to:
                self._above_since[i] = None
                since, ok = self._below_since, x <= r.leave_below
                to, cause = r.below, f"{r.metric} = {x:.3g} ≤ {r.leave_below:g} for {r.leave_for:g} min"
                hold = r.leave_for
            else:
                self._above_since[i] = self._below_since[i] = self._advised[i] = None
                continue
            if not ok:
                since[i] = self._advised[i] = None
                continue
            if since[i] is None:
                since[i] = now
            if now - since[i] >= hold:  # type: ignore[operator]
                ch = self._ask(i, to, cause)
                if not self.advisory:
                    since[i] = None
                if ch is not None:
                    out.append(ch)
        return out


#: The modes' Chinese names (the words of the source, 党员生活 2023-12-04).
MODE_NAMES_ZH: dict[str, str] = {"normal": "常态", "emergency": "应下尽下", "extreme": "全员下沉"}
#: The one label of each mode for people: the Chinese name with an English gloss, so a page or a
#: report reads on machines without CJK fonts too (drill console, reports, service messages).
MODE_LABELS: dict[str, str] = {m: f"{MODE_NAMES_ZH[m]} {m}" for m in MODES}
