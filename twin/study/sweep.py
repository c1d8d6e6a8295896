"""A staffing sweep: one scenario over a grid of field values, many replications per point.

Every point's overrides are validated by the model's scenario schema before anything runs, so a
bad ``--vary`` fails at once with the field named. Replication ``k`` has the same seed at every
point (common random numbers). The results are a tidy table (one row per replication), 95 %
t-intervals per point and KPI, and — with a target — the least staffing meeting it with 95 %
confidence and on average.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

import twin
from twin.rng import replication_seed
from twin.study.errors import StudyError
from twin.study.execution import execute
from twin.study.executors import Executor, make_executor
from twin.study.kpi import flatten, ordered
from twin.study.spec import Point, Target, Vary, format_value, grid_points, study_key
from twin.study.stats import TargetFinding, describe, find_target
from twin.study.store import StudyDir, write_json_atomic
from twin.study.tasks import Model, ScenarioRef, Task, code_fingerprint


@dataclass(frozen=True)
class SweepResult:
    """Everything a sweep produced; the tables are also on disk in ``out``."""

    out: Path
    scenario: ScenarioRef
    varies: tuple[Vary, ...]
    points: tuple[Point, ...]
    reps: int
    seed: int
    days: float | None
    overrides: tuple[str, ...]
    model: str
    results: pd.DataFrame
    stats: pd.DataFrame
    kpis: tuple[str, ...]
    target: Target | None = None
    findings: tuple[TargetFinding, ...] = ()
    reused: int = 0
    ran: int = 0
    executor: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(v.field for v in self.varies)


def validate_points(
    model: Model, scenario: ScenarioRef, overrides: tuple[str, ...], points: Sequence[Point], days: float | None = None
) -> None:
    """Check the base scenario, then every point's overrides, with the model's own schema."""
    try:
        model.validate(scenario.path, overrides, days)
    except Exception as exc:
        raise StudyError(f"{scenario.label}: {exc}") from exc
    checked: set[tuple[str, str]] = set()
    for p in points:
        for f, v in p.values:
            if (f, format_value(v)) in checked:
                continue
            try:
                model.validate(scenario.path, overrides + (f"{f}={format_value(v)}",), days)
            except Exception as exc:
                raise StudyError(f"--vary {f}={format_value(v)}: {exc}") from exc
            checked.add((f, format_value(v)))
        try:
            model.validate(scenario.path, overrides + p.overrides(), days)
        except Exception as exc:
            where = ", ".join(f"{f}={format_value(v)}" for f, v in p.values)
            raise StudyError(f"--vary point {where}: {exc}") from exc


def _default_model() -> Model:
    from twin.study.model import DISTRICT_MODEL

    return DISTRICT_MODEL


def run_sweep(
    scenario: str | Path | None,
    varies: Sequence[Vary],
    reps: int,
    out: str | Path,
    *,
    seed: int = 1,
    days: float | None = None,
    overrides: Sequence[str] = (),
    target: Target | None = None,
    model: Model | None = None,
    executor: Executor | None = None,
    progress: bool = False,
    more_staff_when_higher: bool | None = None,
) -> SweepResult:
    """Run (or resume) a sweep in ``out`` and return its tables, statistics and target findings."""
    if reps < 1:
        raise StudyError(f"--reps must be ≥ 1, got {reps}")
    if not varies:
        raise StudyError("--vary: give at least one field to vary, e.g. staffing.households_per_worker=300:1700:200")
    model = model or _default_model()
    ref = ScenarioRef.from_path(scenario)
    overrides = tuple(overrides)
    points = grid_points(varies)
    validate_points(model, ref, overrides, points, days)
    queues = []
    if model.single_queues is not None:
        queues = [q for q in model.single_queues(ref.path, overrides) if q.field in spec_fields(varies)]

    spec: dict[str, Any] = {
        "kind": "sweep",
        "model": model.name,
        "scenario": {"path": ref.path, "sha256": ref.sha256},
        "overrides": list(overrides),
        "vary": [{"field": v.field, "values": list(v.values)} for v in varies],
        "seed": seed,
        "days": days,
        "reps": reps,
        "target": str(target) if target else None,
        "version": twin.__version__,
        "model_code": code_fingerprint(model.sources),
    }
    key = study_key({k: spec[k] for k in ("model", "scenario", "overrides", "vary", "seed", "days")})
    executor = executor or make_executor(None, None, key)
    store = StudyDir(Path(out))
    store.open(spec)

    seeds = [replication_seed(seed, k) for k in range(reps)]
    tasks = [Task(p.id, k, seeds[k], ref, overrides + p.overrides(), days) for p in points for k in range(reps)]
    ex = execute(store, tasks, model, executor, progress=progress, label=f"sweep {len(points)} points × {reps} reps")

    results = tidy(points, reps, seeds, ex.summaries)
    kpis = tuple(ordered(c for c in results.columns if c not in {"point", "rep", "seed", *spec_fields(varies)}))
    stats = describe(results, ["point", *spec_fields(varies)], kpis)
    store.write_table("results", results)
    store.write_table("stats", stats)

    findings: tuple[TargetFinding, ...] = ()
    if target is not None:
        if target.kpi not in kpis:
            raise StudyError(f"--target {target.kpi}: not a KPI of this model's summary; expected one of {', '.join(kpis)}")
        findings = tuple(
            find_target(stats, target, varies[0].field, [v.field for v in varies[1:]], more_staff_when_higher)
        )
        write_json_atomic(store.root / "target.json", [_finding_json(f) for f in findings])

    result = SweepResult(
        extra={"single_queues": queues},
        out=store.root, scenario=ref, varies=tuple(varies), points=tuple(points), reps=reps, seed=seed, days=days,
        overrides=overrides, model=model.name, results=results, stats=stats, kpis=kpis, target=target,
        findings=findings, reused=ex.reused, ran=ex.ran, executor=executor.describe(),
    )
    return result


def spec_fields(varies: Sequence[Vary]) -> list[str]:
    return [v.field for v in varies]


def tidy(
    points: Sequence[Point], reps: int, seeds: Sequence[int], summaries: dict[tuple[str, int], dict[str, Any]]
) -> pd.DataFrame:
    """One row per replication: point id, the varied fields' values, rep, seed, then every KPI."""
    rows = []
    for p in points:
        for k in range(reps):
            s = summaries[(p.id, k)]
            rows.append({"point": p.id, **p.as_dict(), "rep": k, "seed": seeds[k], **flatten(s)})
    df = pd.DataFrame(rows)
    ids = ["point", *(f for f, _ in points[0].values), "rep", "seed"] if points else []
    return df[ids + ordered(c for c in df.columns if c not in ids)]


def _finding_json(f: TargetFinding) -> dict[str, Any]:
    return {
        "target": str(f.target),
        "field": f.field,
        "others": dict(f.others),
        "with_95_confidence": f.confident,
        "on_average": f.on_average,
        "sentence": f.sentence(),
    }
