"""A city run: every district's partitions in one lockstep on the chosen hosts, each district
writing its own run directory, the city's summary on top.

Layout of the run directory::

    summary.json            the city: totals, case-weighted rates, per-district lines, memory
    scenario.json, run.json the city file as validated, seed and days
    districts/<slug>/       one district run directory each (summary.json, cases.parquet …)

With one partition per district the partition itself reads its spooled cases back, computes
its district's summary and writes the district's directory in its worker — only the summary
travels back, so this process stays small whatever the city's size. With several partitions
per district this process merges each district in turn (its memory is then bounded by the
largest district's case table).

Coupled: within a district run in several partitions, its centre and departments are simulated
once, as the last worker of the same lockstep (:mod:`twin.coupling`). Not coupled yet: the
city's 12345 centre and operations centre above the districts; each district handles its own
12345 work orders, as a district scenario does.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import twin
from twin.coupling.sims import partition_count
from twin.executors import PartitionFactory, cpu_seconds, peak_rss_mb
from twin.run import (
    IndependentPartition,
    PartitionRun,
    PartResult,
    hosts_for,
    partition_runs,
    run_partitions,
    run_result,
    spooled_cases,
    write_run_dir,
)
from twin.scenario import Scenario
from twin.scenario.city import CityScenario, slug

#: What the city run does not simulate yet (recorded in its summary).
NOT_COUPLED = (
    "the city's 12345 centre and operations centre are not simulated: each district handles its own "
    "12345 work orders (a district's own centre and departments are one shared level across its partitions)"
)

#: Summary counts that add up over districts.
SUMMED = (
    "residents", "grids", "grid_workers", "cases_total", "cases_closed", "cases_rejected", "cases_merged",
    "settled_on_the_spot", "backlog_end", "needs_arisen", "escalations", "events_processed", "engine_transitions",
)
#: Summary rates the city reports as the case-weighted mean of its districts'.
WEIGHTED = ("on_time_rate", "closure_rate", "satisfaction_share", "cases_per_1000_per_day")


@dataclass
class DistrictDone:
    """What a finished district hands back: its summary and its processes' memory peaks."""

    name: str
    summary: dict[str, Any]
    rss_by_pid: dict[int, float]
    cpu_by_pid: dict[int, float]


def finish_district(name: str, scenario: Scenario, seed: int, days: float, parts: list[PartResult], out: Path,
                    t0: float, tables: bool) -> DistrictDone:
    """Read a district's spooled cases back, summarise and write its run directory."""
    for p in parts:
        p.cases = spooled_cases(p)
    result = run_result(scenario, seed, days, parts, t0, tables)
    write_run_dir(result, out)
    shutil.rmtree(out / "spool", ignore_errors=True)
    rss: dict[int, float] = {}
    cpu: dict[int, float] = {}
    for p in parts:
        rss[p.pid] = max(rss.get(p.pid, 0.0), p.peak_rss_mb)
        cpu[p.pid] = max(cpu.get(p.pid, 0.0), p.cpu_s)
    return DistrictDone(name, dict(result.summary), rss, cpu)


class DistrictPartition(PartitionRun):
    """A district simulated as one partition: it finishes its district in its own worker."""

    def __init__(self, name: str, scenario: Scenario, seed: int, days: float, out: str, tables: bool) -> None:
        spool = str(Path(out) / "spool")
        super().__init__(partial(IndependentPartition, scenario, seed, days, False, tables, 0), tables, 0, spool)
        self.name, self.scenario, self.seed, self.days, self.out = name, scenario, seed, days, Path(out)
        self.t0 = time.perf_counter()

    def finish(self) -> DistrictDone:  # type: ignore[override]
        part = super().finish()
        self.sim = self.m = None  # let the model go before its case table comes back
        gc.collect()  # agents and model refer to each other
        done = finish_district(self.name, self.scenario, self.seed, self.days, [part], self.out, self.t0, self.tables)
        done.rss_by_pid[part.pid] = max(done.rss_by_pid[part.pid], peak_rss_mb())  # reading back, after the run
        done.cpu_by_pid[part.pid] = max(done.cpu_by_pid[part.pid], cpu_seconds())
        return done


def city_summary(city: CityScenario, done: list[DistrictDone], partitions: int, wall: float, where: str) -> dict[str, Any]:
    """The city's summary.json: totals, case-weighted rates, one line per district, memory."""
    s = [d.summary for d in done]
    cases = [max(0, int(x.get("cases_total", 0))) for x in s]
    total = sum(cases)
    rss: dict[int, float] = {}
    cpu: dict[int, float] = {}
    for d in done:
        for pid, mb in d.rss_by_pid.items():
            rss[pid] = max(rss.get(pid, 0.0), mb)
        for pid, sec in d.cpu_by_pid.items():
            cpu[pid] = max(cpu.get(pid, 0.0), sec)
    me = os.getpid()
    out: dict[str, Any] = {
        "city": city.spec.city.name,
        "scenario": city.name,
        "version": twin.__version__,
        "days": s[0]["days"],
        "districts_count": len(done),
        "partitions": partitions,
        "hosts": where,
        **{k: sum(int(x.get(k, 0)) for x in s) for k in SUMMED},
        **{k: None if total == 0 else round(sum((x.get(k) or 0.0) * n for x, n in zip(s, cases, strict=True)) / total, 6) for k in WEIGHTED},
        "districts": {
            d.name: {k: d.summary.get(k) for k in ("residents", "grids", "cases_total", "on_time_rate", "backlog_end", "partitions")}
            for d in done
        },
        "not_coupled": NOT_COUPLED,
        "peak_rss_mb_max_process": round(max(rss.values(), default=0.0), 1),
        "peak_rss_mb_parent": round(peak_rss_mb(), 1),
        "peak_rss_mb_by_process": {str(pid): round(mb, 1) for pid, mb in sorted(rss.items())},
        # CPU of the partitions' processes (each counted once) and of this one, where not the same
        "cpu_seconds": round(sum(cpu.values()) + (0.0 if me in cpu else cpu_seconds()), 1),
        "processes": len(rss),
        "wall_seconds": round(wall, 3),
    }
    return out


def run_city(
    city: CityScenario,
    out: Path,
    seed: int | None = None,
    days: float | None = None,
    dask: str | None = None,
    parallel: bool | None = None,
    tables: bool = True,
    progress: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Simulate every district of ``city`` and write the run directory; returns the summary."""
    t0 = time.perf_counter()
    out = Path(out)
    (out / "districts").mkdir(parents=True, exist_ok=True)
    factories: list[PartitionFactory] = []
    owners: list[int] = []
    plan = []
    for i, (d, sc) in enumerate(zip(city.spec.city.districts, city.districts, strict=True)):
        seed_i = int(sc.run.seed if seed is None else seed + 7919 * (i + 1))
        days_i = float(sc.run.days if days is None else days)
        ddir = out / "districts" / slug(d.name)
        plan.append((d.name, sc, seed_i, days_i, ddir))
        if partition_count(sc) == 1:  # the district finishes itself in its worker
            mine = [partial(DistrictPartition, d.name, sc, seed_i, days_i, str(ddir), tables)]
        else:  # street partitions and the district's shared level; this process merges them
            mine = partition_runs(sc, seed_i, days_i, False, tables, str(ddir / "spool"))
        factories += mine
        owners += [i] * len(mine)
    # even a one-district city runs its district in a worker: this process only gathers summaries
    where = hosts_for(max(2, len(factories)), parallel, dask)
    horizon = max(p[3] for p in plan) * 1440.0
    results, _ = run_partitions(factories, where, dask, horizon, progress)
    done: list[DistrictDone] = []
    for i, (name, sc, seed_i, days_i, ddir) in enumerate(plan):
        mine = [r for r, o in zip(results, owners, strict=True) if o == i]
        if len(mine) == 1 and isinstance(mine[0], DistrictDone):
            done.append(mine[0])
        else:
            done.append(finish_district(name, sc, seed_i, days_i, mine, ddir, t0, tables))
    summary = city_summary(city, done, len(factories), time.perf_counter() - t0, where)
    (out / "scenario.json").write_text(json.dumps(city.resolved_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "run.json").write_text(json.dumps({"seed": seed, "days": days, "version": twin.__version__, "scenario": city.name}, indent=2) + "\n",
                                  encoding="utf-8")
    (out / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return summary

