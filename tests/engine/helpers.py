"""Shared helpers of the engine tests: a hand-moved clock, a rig of engine + store, snapshots."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from twin.engine import Case, CaseEngine, Place, Store
from twin.engine.audit import verify_case

PLACE = Place("G01", "C01", "S01", "D01")
OTHER_PLACE = Place("G02", "C02", "S02", "D01")
T0 = 29_000_000.0  # engine minutes since the Unix epoch (mid-2025), a Wednesday 09:20 UTC+8


@dataclass
class FakeClock:
    """The injected clock: tests move time by hand."""

    now: float = T0

    def __call__(self) -> float:
        return self.now

    def advance(self, minutes: float) -> float:
        self.now += minutes
        return self.now


@dataclass
class Rig:
    """An engine with its store and clock, and a factory to reopen the same storage."""

    engine: CaseEngine
    store: Store
    clock: FakeClock
    kind: str
    reopen: Callable[[], Store]
    opened: list[Store] = field(default_factory=list)

    def report(self, **kw: Any) -> Case:
        args: dict[str, Any] = {"category": "environment", "tier": "T2", "place": PLACE, "source": "app"}
        args.update(kw)
        return self.engine.report(**args)

    def walk(self, case: Case, *steps: str) -> Case:
        """Drive a case through named steps with default arguments."""
        e = self.engine
        for step in steps:
            if step == "dispatch":
                case = e.dispatch(case.id, case.version, "dispatcher", ["worker-1"])
            elif step == "evaluate":
                case = e.evaluate(case.id, case.version, "resident", 5)
            elif step == "fail":
                case = e.verify(case.id, case.version, "inspector", passed=False)
            else:
                case = getattr(e, step)(case.id, case.version, "handler")
        return case

    def check_audit(self) -> None:
        """Every stored case equals the fold of its audit log."""
        for c in self.store.all_cases():
            verify_case(c, self.store.events(c.id))


def ids(prefix: str = "case") -> Callable[[], str]:
    """Deterministic case ids (a second engine on the same store needs another prefix)."""
    counter = itertools.count(1)
    return lambda: f"{prefix}-{next(counter):06d}"


def snapshot(rig: Rig, case_id: str) -> tuple[dict[str, Any], int]:
    """The stored picture of a case and the length of the whole audit log."""
    c = rig.store.get(case_id)
    assert c is not None
    return c.to_dict(), sum(1 for _ in rig.store.events())


ALL_STEPS = ("accept", "dispatch", "start", "resolve", "verify", "close", "evaluate")
