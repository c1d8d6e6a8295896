"""Parsing the study's command-line language: ``--vary`` grids and ``--target`` conditions.

``--vary FIELD=START:STOP:STEP`` is an inclusive range (``300:1700:200`` → 300, 500, …, 1700),
computed in decimal so ``0.1:0.3:0.1`` gives exactly 0.1, 0.2, 0.3; ``--vary FIELD=A,B,C`` is
an explicit list. Values travel to the model as ``FIELD=VALUE`` override strings, validated
by the scenario schema exactly like ``twin run --set``.

``--target KPI>=VALUE`` (or ``<=``, ``>``, ``<``) names a KPI from ``summary.json`` (dotted for
nested ones, e.g. ``closed_at_level.grid``) and the level it must reach.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from twin.study.errors import StudyError

Scalar = int | float | bool | str

#: A guard against a typo turning a sweep into millions of runs.
MAX_POINTS = 10_000

_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_VARY_FORM = "FIELD=START:STOP:STEP (inclusive, e.g. staffing.households_per_worker=300:1700:200) or FIELD=A,B,C"
_TARGET_FORM = "KPI>=VALUE, KPI<=VALUE, KPI>VALUE or KPI<VALUE (e.g. on_time_rate>=0.99)"


@dataclass(frozen=True, slots=True)
class Vary:
    """One varied scenario field and the values it takes, in sweep order."""

    field: str
    values: tuple[Scalar, ...]

    def override(self, value: Scalar) -> str:
        """The ``field=value`` string the scenario loader validates."""
        return f"{self.field}={format_value(value)}"


def format_value(value: Scalar) -> str:
    """How a value is written in an override: TOML-like (``true``, ``0.25``, ``400``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def parse_scalar(text: str) -> Scalar:
    """A list element as its natural type: int, float, bool or (otherwise) the string itself."""
    t = text.strip()
    if t.lower() in {"true", "false"}:
        return t.lower() == "true"
    try:
        return int(t)
    except ValueError:
        pass
    try:
        return float(t)
    except ValueError:
        return t.strip("\"'")


def _decimal(text: str, field: str, what: str, spec: str) -> Decimal:
    try:
        d = Decimal(text.strip())
    except InvalidOperation:
        raise StudyError(f"--vary {field}: {what} {text.strip()!r} is not a number in {spec!r}; expected {_VARY_FORM}") from None
    if not d.is_finite():
        raise StudyError(f"--vary {field}: {what} must be finite in {spec!r}; expected {_VARY_FORM}")
    return d


def parse_vary(spec: str) -> Vary:
    """Parse one ``--vary`` argument; errors name the field and the expected form."""
    if "=" not in spec:
        raise StudyError(f"--vary {spec!r}: missing '='; expected {_VARY_FORM}")
    field, _, rhs = spec.partition("=")
    field = field.strip()
    if not _FIELD.match(field):
        raise StudyError(f"--vary {spec!r}: {field!r} is not a dotted field path; expected {_VARY_FORM}")
    rhs = rhs.strip()
    if not rhs:
        raise StudyError(f"--vary {field}: no values given; expected {_VARY_FORM}")
    if ":" in rhs:
        parts = rhs.split(":")
        if len(parts) != 3:
            raise StudyError(f"--vary {field}: range {rhs!r} needs three parts START:STOP:STEP; expected {_VARY_FORM}")
        start, stop, step = (_decimal(p, field, w, rhs) for p, w in zip(parts, ("start", "stop", "step"), strict=True))
        if step == 0:
            raise StudyError(f"--vary {field}: step must not be 0 in {rhs!r}; expected {_VARY_FORM}")
        if (stop - start) * step < 0:
            raise StudyError(
                f"--vary {field}: step {step} runs away from stop {stop} (start {start}) in {rhs!r}; expected {_VARY_FORM}"
            )
        n = int((stop - start) / step) + 1
        if n > MAX_POINTS:
            raise StudyError(f"--vary {field}: {rhs!r} gives {n} values, more than {MAX_POINTS}")
        decimals = [start + i * step for i in range(n)]
        integral = all(d == d.to_integral_value() for d in (start, step))
        values: tuple[Scalar, ...] = tuple(int(d) if integral else float(d) for d in decimals)
    else:
        items = [s for s in rhs.strip("[]").split(",")]
        if any(not s.strip() for s in items):
            raise StudyError(f"--vary {field}: empty element in list {rhs!r}; expected {_VARY_FORM}")
        values = tuple(parse_scalar(s) for s in items)
    if len(set(values)) != len(values):
        raise StudyError(f"--vary {field}: values repeat in {rhs!r}; each point must be distinct")
    return Vary(field, values)


def check_distinct_fields(varies: Sequence[Vary]) -> None:
    seen: set[str] = set()
    for v in varies:
        if v.field in seen:
            raise StudyError(f"--vary {v.field}: the field is varied twice; give it once with all its values")
        seen.add(v.field)


@dataclass(frozen=True, slots=True)
class Point:
    """One point of a sweep: its index and the value of each varied field."""

    index: int
    values: tuple[tuple[str, Scalar], ...]

    @property
    def id(self) -> str:
        return f"p{self.index:04d}"

    def overrides(self) -> tuple[str, ...]:
        return tuple(f"{f}={format_value(v)}" for f, v in self.values)

    def as_dict(self) -> dict[str, Scalar]:
        return dict(self.values)


def grid_points(varies: Sequence[Vary]) -> list[Point]:
    """The Cartesian product of the varied fields, the first field varying slowest."""
    check_distinct_fields(varies)
    combos = list(itertools.product(*(v.values for v in varies))) if varies else [()]
    if len(combos) > MAX_POINTS:
        raise StudyError(f"--vary: the grid has {len(combos)} points, more than {MAX_POINTS}")
    names = [v.field for v in varies]
    return [Point(i, tuple(zip(names, combo, strict=True))) for i, combo in enumerate(combos)]


Op = Literal[">=", "<=", ">", "<"]


@dataclass(frozen=True, slots=True)
class Target:
    """A KPI condition a staffing level must meet, e.g. ``on_time_rate >= 0.99``."""

    kpi: str
    op: Op
    value: float

    @property
    def higher_is_better(self) -> bool:
        return self.op in (">=", ">")

    def met_by(self, x: float) -> bool:
        """Whether a number (a mean, or a confidence bound) satisfies the condition."""
        if x != x:  # NaN never meets a target
            return False
        return {">=": x >= self.value, "<=": x <= self.value, ">": x > self.value, "<": x < self.value}[self.op]

    def __str__(self) -> str:
        return f"{self.kpi}{self.op}{self.value:g}"


_TARGET = re.compile(r"^\s*(?P<kpi>[A-Za-z_][\w.]*)\s*(?P<op>>=|<=|>|<)\s*(?P<value>\S+)\s*$")


def parse_target(spec: str, known_kpis: Sequence[str] | None = None) -> Target:
    """Parse ``--target``; with ``known_kpis`` the KPI's top-level name must be one of them."""
    m = _TARGET.match(spec)
    if not m:
        raise StudyError(f"--target {spec!r}: expected {_TARGET_FORM}")
    kpi, op, raw = m["kpi"], m["op"], m["value"]
    try:
        value = float(raw)
    except ValueError:
        raise StudyError(f"--target {kpi}: {raw!r} is not a number; expected {_TARGET_FORM}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise StudyError(f"--target {kpi}: the level must be a finite number, got {raw!r}")
    if known_kpis is not None and kpi.split(".")[0] not in known_kpis:
        raise StudyError(f"--target {kpi}: unknown KPI; expected one of {', '.join(sorted(known_kpis))}")
    return Target(kpi, op, value)  # type: ignore[arg-type]


def study_key(spec: dict[str, Any]) -> str:
    """A short stable name for a study (default directory, Dask task keys), from its definition."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:10]
