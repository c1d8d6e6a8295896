"""A policy comparison: several scenarios (policies) run with the same seeds, compared pairwise.

Replication ``k`` of every policy uses the same seed, so each difference ``B_k − A_k`` has the
noise the two runs share taken out; per KPI the mean difference gets a 95 % t-CI and a paired
t-test, and the verdict says which policy is better on which KPI and by how much, respecting
whether higher or lower is better for that KPI (:func:`twin.study.kpi.direction`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

import twin
from twin.rng import replication_seed
from twin.study.errors import StudyError
from twin.study.execution import execute
from twin.study.executors import Executor, make_executor
from twin.study.kpi import flatten, ordered
from twin.study.policy import Policy, load_policy, slug
from twin.study.spec import study_key
from twin.study.stats import compare_units, describe
from twin.study.store import StudyDir
from twin.study.tasks import Model, Task, code_fingerprint


@dataclass(frozen=True)
class CompareResult:
    """Everything a comparison produced; the tables are also on disk in ``out``."""

    out: Path
    policies: tuple[Policy, ...]
    units: tuple[str, ...]
    reps: int
    seed: int
    days: float | None
    model: str
    results: pd.DataFrame
    stats: pd.DataFrame
    paired: pd.DataFrame
    kpis: tuple[str, ...]
    reused: int = 0
    ran: int = 0
    executor: str = ""

    def verdicts(self) -> pd.DataFrame:
        """The rows with a better/worse direction: which policy is better on which KPI."""
        return self.paired[self.paired["direction"] != "neutral"]


def _units(policies: Sequence[Policy]) -> list[str]:
    units = [slug(p.name) for p in policies]
    seen: dict[str, int] = {}
    for i, u in enumerate(units):
        if u in seen:
            raise StudyError(
                f"{policies[i].file}: policy name {policies[i].name!r} is also used by {policies[seen[u]].file}; "
                "give each policy its own name"
            )
        seen[u] = i
    return units


def run_compare(
    policy_files: Sequence[str | Path],
    reps: int,
    out: str | Path,
    *,
    seed: int = 1,
    days: float | None = None,
    overrides: Sequence[str] = (),
    model: Model | None = None,
    executor: Executor | None = None,
    progress: bool = False,
) -> CompareResult:
    """Run (or resume) a comparison of two or more policy files in ``out``."""
    if len(policy_files) < 2:
        raise StudyError("compare: give at least two policy files (A.toml B.toml …)")
    if reps < 2:
        raise StudyError(f"--reps must be ≥ 2 for confidence intervals, got {reps}")
    if model is None:
        from twin.study.model import DISTRICT_MODEL

        model = DISTRICT_MODEL
    policies = [load_policy(f) for f in policy_files]
    units = _units(policies)
    common = tuple(overrides)
    for pol in policies:
        try:
            model.validate(pol.scenario.path, pol.overrides + common, days)
        except Exception as exc:
            raise StudyError(f"{pol.file}: {exc}") from exc

    spec: dict[str, Any] = {
        "kind": "compare",
        "model": model.name,
        "policies": [
            {"unit": u, "name": p.name, "file": p.file, "scenario": {"path": p.scenario.path, "sha256": p.scenario.sha256},
             "overrides": list(p.overrides)}
            for u, p in zip(units, policies, strict=True)
        ],
        "overrides": list(common),
        "seed": seed,
        "days": days,
        "reps": reps,
        "version": twin.__version__,
        "model_code": code_fingerprint(model.sources),
    }
    key = study_key({k: spec[k] for k in ("model", "policies", "overrides", "seed", "days")})
    executor = executor or make_executor(None, None, key)
    store = StudyDir(Path(out))
    store.open(spec)

    seeds = [replication_seed(seed, k) for k in range(reps)]
    tasks = [
        Task(u, k, seeds[k], p.scenario, p.overrides + common, days)
        for k in range(reps)  # interleave policies so an interrupted comparison stays balanced
        for u, p in zip(units, policies, strict=True)
    ]
    ex = execute(store, tasks, model, executor, progress=progress, label=f"compare {len(units)} policies × {reps} reps")

    rows = [
        {"policy": u, "rep": k, "seed": seeds[k], **flatten(ex.summaries[(u, k)])} for u in units for k in range(reps)
    ]
    results = pd.DataFrame(rows)
    results = results[["policy", "rep", "seed", *ordered(c for c in results.columns if c not in {"policy", "rep", "seed"})]]
    kpis = tuple(ordered(c for c in results.columns if c not in {"policy", "rep", "seed"}))
    stats = describe(results, ["policy"], kpis)
    paired = compare_units(results, "policy", units, kpis)
    store.write_table("results", results)
    store.write_table("stats", stats)
    store.write_table("paired", paired)
    result = CompareResult(
        out=store.root, policies=tuple(policies), units=tuple(units), reps=reps, seed=seed, days=days, model=model.name,
        results=results, stats=stats, paired=paired, kpis=kpis, reused=ex.reused, ran=ex.ran,
        executor=executor.describe(),
    )
    return result
