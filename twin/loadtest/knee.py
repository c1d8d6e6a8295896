"""The capacity knee: the highest offered rate a platform sustains, and what saturated first.

Locust runs a closed loop (a user waits for each answer before the next request), so a slow
server slows its own load down and the rate at which it breaks never shows. ``twin capacity``
offers an *open-loop* rate instead (arrivals on a clock, whatever the answers,
``loadtests/openloop.py``) in steps, and this module decides — from the step results alone,
with no clock and no I/O, so that it is tested on synthetic steps:

- whether a step was sustained (:func:`judge`): p99 within ``--p99-ms``, error rate within
  ``--error-rate``, and the platform answered at (nearly) the offered rate;
- which rate to try next (:class:`KneeSearch`): multiply by ``factor`` until a step breaks,
  then bisect (geometric midpoints) between the last sustained and the first broken rate until
  they are within ``precision``;
- what saturated first (:func:`saturation`): the first resource, by offered rate, to cross
  its limit — server CPU (``cpu_s`` deltas of ``GET /metrics`` against wall × workers), the
  committer's queue (depth against the lowest step's), the database's commit latency (p99
  against the lowest step's), the front door (503s at the in-flight limit), the load
  generator's own CPU — or, when none of these did, the machine (every core busy: server,
  database, generator and whatever else runs here share them).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Limits:
    """When a step counts as broken."""

    p99_ms: float = 200.0
    error_rate: float = 0.01
    min_throughput: float = 0.9  # answered / offered below this: the platform fell behind

    def __post_init__(self) -> None:
        if not self.p99_ms > 0:
            raise ValueError(f"--p99-ms: expected a number > 0, got {self.p99_ms:g}")
        if not 0.0 <= self.error_rate < 1.0:
            raise ValueError(f"--error-rate: expected a share in [0, 1), got {self.error_rate:g}")


@dataclass(frozen=True)
class Step:
    """One step's measurements (``rate``: offered requests a second)."""

    rate: float
    requests: int
    achieved_rps: float
    p50_ms: float | None
    p99_ms: float | None
    error_rate: float
    server: dict[str, float | None] = field(default_factory=dict)  # saturation indicators (see SATURATION)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def judge(step: Step, limits: Limits) -> list[str]:
    """Why ``step`` broke the limits (empty: sustained)."""
    why = []
    if step.requests == 0:
        return ["no request answered"]
    if step.p99_ms is None or step.p99_ms > limits.p99_ms:
        why.append(f"p99 {step.p99_ms} ms > {limits.p99_ms:g} ms")
    if step.error_rate > limits.error_rate:
        why.append(f"error rate {step.error_rate:.4f} > {limits.error_rate:g}")
    if step.achieved_rps < limits.min_throughput * step.rate:
        why.append(f"answered {step.achieved_rps:.1f}/s of {step.rate:.1f}/s offered")
    return why


class KneeSearch:
    """Step the offered rate up by ``factor`` from ``start`` until a step breaks, then bisect.

    ``next_rate()`` is the rate to try (None when done); ``record(step)`` takes its result.
    ``knee`` is the highest sustained rate (None if even the lowest tried broke);
    ``reached_max`` tells that ``max_rate`` was sustained (the knee lies above it)."""

    def __init__(self, start: float, factor: float, max_rate: float, limits: Limits,
                 precision: float = 0.1, max_steps: int = 20, min_rate: float | None = None) -> None:
        if not start > 0:
            raise ValueError(f"--start-rps: expected a number > 0, got {start:g}")
        if not factor > 1:
            raise ValueError(f"--factor: expected a number > 1, got {factor:g}")
        if not max_rate >= start:
            raise ValueError(f"--max-rps: expected at least --start-rps ({start:g}), got {max_rate:g}")
        if not precision > 0:
            raise ValueError(f"--precision: expected a number > 0, got {precision:g}")
        self.start, self.factor, self.max_rate, self.limits = start, factor, max_rate, limits
        self.precision, self.max_steps = precision, max_steps
        self.min_rate = min_rate if min_rate is not None else start / factor**3
        self.steps: list[Step] = []
        self.verdicts: list[list[str]] = []
        self.lo: float | None = None  # highest sustained
        self.hi: float | None = None  # lowest broken
        self.reached_max = False

    @property
    def phase(self) -> str:
        if self.done:
            return "done"
        return "ramp" if self.hi is None else "bisect"

    @property
    def done(self) -> bool:
        if self.reached_max or len(self.steps) >= self.max_steps:
            return True
        if self.hi is None:
            return False
        if self.lo is None:
            return self.hi <= self.min_rate * (1 + 1e-9)
        return self.hi / self.lo <= 1.0 + self.precision

    def next_rate(self) -> float | None:
        if self.done:
            return None
        if self.hi is None:  # ramp
            if not self.steps:
                return self.start
            return min(self.max_rate, self.steps[-1].rate * self.factor)
        if self.lo is None:  # even the first step broke: step down
            return max(self.min_rate, self.hi / self.factor)
        return math.sqrt(self.lo * self.hi)

    def record(self, step: Step) -> list[str]:
        """Take a step's result; returns why it broke (empty: sustained)."""
        why = judge(step, self.limits)
        self.steps.append(step)
        self.verdicts.append(why)
        if why:
            self.hi = step.rate if self.hi is None else min(self.hi, step.rate)
        else:
            self.lo = step.rate if self.lo is None else max(self.lo, step.rate)
            if self.hi is None and step.rate >= self.max_rate:
                self.reached_max = True
        return why

    @property
    def knee(self) -> float | None:
        return self.lo

    def curve(self) -> list[dict[str, Any]]:
        """Every step by offered rate: the latency curve, with the verdicts."""
        rows = [{**s.to_json(), "sustained": not v, "broke": v} for s, v in zip(self.steps, self.verdicts, strict=True)]
        return sorted(rows, key=lambda r: r["rate"])


#: Saturation indicators: (name, what it is, how it is judged).
SATURATION: tuple[tuple[str, str], ...] = (
    ("server_cpu", "server CPU: cpu_s of GET /metrics over wall × workers ≥ 0.85"),
    ("committer_queue", "committer queue: deepest queue ≥ 4 × the lowest step's and ≥ 8"),
    ("db_commit", "database commit latency: commit p99 ≥ 3 × the lowest step's and ≥ 5 ms"),
    ("front_door", "front door: ≥ 1 % of requests refused (503) at the service's in-flight limit"),
    ("load_generator", "load generator CPU ≥ 0.9 of a core (the client, not the platform, is the limit)"),
    ("machine", "machine: every core ≥ 95 % busy (server, database, generator and any other work share them)"),
)
#: Indicators that name the machine rather than the platform: the verdict falls back on them
#: only when no platform resource crossed its limit.
MACHINE_WIDE = ("machine",)


def _crossed(name: str, s: dict[str, float | None], base: dict[str, float | None]) -> float | None:
    """How far indicator ``name`` is past its limit at a step (≥ 1: crossed; None: not measured)."""
    if name == "server_cpu":
        v = s.get("cpu_util")
        return None if v is None else v / 0.85
    if name == "committer_queue":
        v, b = s.get("queue_depth_max"), base.get("queue_depth_max")
        if v is None:
            return None
        return v / max(8.0, 4.0 * (b or 0.0))
    if name == "db_commit":
        v, b = s.get("commit_ms_p99"), base.get("commit_ms_p99")
        if v is None:
            return None
        return v / max(5.0, 3.0 * (b or 0.0))
    if name == "front_door":
        v = s.get("refused_share")
        return None if v is None else v / 0.01
    if name == "load_generator":
        v = s.get("client_cpu_util")
        return None if v is None else v / 0.9
    if name == "machine":
        v = s.get("machine_busy")
        return None if v is None else v / 0.95
    raise KeyError(name)


def saturation(curve: list[dict[str, Any]]) -> dict[str, Any]:
    """What saturated first: of the platform's indicators (and the generator's) that crossed their
    limit, the one that did at the lowest offered rate (ties: the one furthest past its limit);
    the machine as a whole only when none did. Each indicator's value per step is returned
    beside the verdict, and ``other_cores``: the CPU other work on the machine took meanwhile."""
    rows = sorted(curve, key=lambda r: r["rate"])
    if not rows:
        return {"first": None, "at_rate": None, "explanation": "no step was run", "indicators": {}}
    base = rows[0]["server"]
    table = {name: [_crossed(name, r["server"], base) for r in rows] for name, _ in SATURATION}
    shown = {k: [None if x is None else round(x, 3) for x in v] for k, v in table.items()}
    other = [r["server"].get("other_cores") for r in rows]

    def first_of(names: list[str]) -> tuple[float, float, str] | None:
        best: tuple[float, float, str] | None = None
        for name in names:
            for r, x in zip(rows, table[name], strict=True):
                if x is not None and x >= 1.0:
                    key = (r["rate"], -x, name)
                    if best is None or key < best:
                        best = key
                    break
        return best

    best = first_of([n for n, _ in SATURATION if n not in MACHINE_WIDE]) or first_of(list(MACHINE_WIDE))
    noisy = [x for x in other if x is not None and x >= 0.5]
    caution = (f"; other work on this machine took up to {max(noisy):.1f} cores meanwhile — figures are noisy, re-run on a quiet machine"
               if noisy else "")
    if best is None:
        return {"first": None, "at_rate": None, "other_cores": other, "indicators": shown,
                "explanation": "no measured resource reached its limit over the steps run (latency or errors broke first)" + caution}
    rate, _, name = best
    return {"first": name, "at_rate": rate, "other_cores": other, "indicators": shown,
            "explanation": f"{dict(SATURATION)[name]} — first crossed at {rate:.1f} requests/s offered" + caution}
