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

    city/hotline_hourly.parquet   the 12345 centre by hour: calls, answered, abandoned, orders, seats
    city/operations.parquet       the operations centre's dashboard: each district's figures per report
    city/supervision.parquet      every 督办 the operations centre issued (minute, district, case id)

Coupled: within a district run in several partitions, its centre and departments are simulated
once, as the last worker of the same lockstep (:mod:`twin.coupling`); above the districts the
city's 12345 centre and operations centre are simulated once, in this process, advancing after
the districts in every window (:mod:`twin.coupling.city`; the districts' hosts are the ones
:mod:`twin.executors` makes, driven here by :func:`run_coupled`).
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
from twin.coupling.city import CityLink, CitySim, route_city
from twin.coupling.hotline import HotlineConfig
from twin.coupling.protocol import windows
from twin.coupling.sims import lookahead, partition_count, partition_sims
from twin.executors import PartitionFactory, cpu_seconds, make_hosts, peak_rss_mb
from twin.run import (
    PRELOAD,
    IndependentPartition,
    PartitionRun,
    PartResult,
    components_for,
    daily_progress,
    hosts_for,
    run_result,
    spooled_cases,
    write_run_dir,
)
from twin.scenario import Scenario
from twin.scenario.city import CityScenario, slug

#: What the city run does not simulate (recorded in its summary).
NOT_COUPLED = (
    "the operations centre's 督办 changes no handling in a district (recorded on the case as a red warning, "
    "counted only where a street partition holds the case); districts exchange no cases with each other; "
    "12345 callers who give up for good are lost needs, not returned to the district's latent pool"
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
    """A district simulated as one partition: it finishes its district in its own worker.
    ``link`` wraps its sim for the city level (:class:`twin.coupling.city.CityLink`)."""

    def __init__(self, name: str, scenario: Scenario, seed: int, days: float, out: str, tables: bool,
                 link: Callable[[Callable[[], Any]], Any] | None = None) -> None:
        spool = str(Path(out) / "spool")
        make: Callable[[], Any] = partial(IndependentPartition, scenario, seed, days, False, tables, 0)
        super().__init__(make if link is None else partial(link, make), tables, 0, spool)
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


def city_seed(city: CityScenario, seed: int | None) -> int:
    """The city level's seed: the run's (``--seed``), else the city file's base seed."""
    return int(seed if seed is not None else city.districts[0].run.seed - 7919)  # district i: base + 7919·(i+1)


def hotline_config(city: CityScenario) -> HotlineConfig:
    """The 12345 centre's queue as the city file declares it, for the districts simulated."""
    h = city.spec.city.hotline_centre
    return HotlineConfig(
        staff=h.staff,
        on_duty_by_hour=tuple(h.on_duty_by_hour),
        direct_per_day=h.direct_per_1000_per_day * city.residents / 1000.0,
        direct_by_hour=tuple(h.direct_by_hour),
        direct_minutes=h.direct_minutes,
        order_minutes=h.order_minutes or city.districts[0].hotline.operator_minutes,
        patience_minutes=h.patience_minutes,
        redial_share=h.redial_share,
        redial_minutes=h.redial_minutes,
        answer_targets_seconds=tuple(h.answer_targets_seconds),
    )


def run_coupled(factories: list[PartitionFactory], spans: list[tuple[int, int]], city: CitySim, where: str, dask: str | None,
                horizon: float, progress: Callable[[float], None] | None = None) -> list[Any]:
    """Drive the districts' sims on the hosts ``where`` names and the city level in this process,
    window by window: every window the districts advance first (in parallel, on their hosts),
    then the city level, on the calls and reports they sent in it; its orders and 督办 go into
    the districts' inboxes for the next window. The finished districts' results, in order."""
    box = make_hosts(factories, where, dask, preload=PRELOAD)
    try:
        step = min(min(box.lookaheads()), city.lookahead, 1440.0)
        inbox: list[list[Any]] = [[] for _ in range(box.n)]
        on_window = daily_progress(progress, horizon)
        for until in windows(horizon, step):
            outs = box.advance(until, inbox)
            inbox, up = route_city(outs, spans)
            for h in city.advance(until, up):
                inbox[h.to].append(h)
            on_window(until)
        return box.finish()
    finally:
        box.close()


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
    """Simulate every district of ``city`` and the city level above them, and write the run
    directory; returns the summary."""
    t0 = time.perf_counter()
    out = Path(out)
    (out / "districts").mkdir(parents=True, exist_ok=True)
    ops = city.spec.city.operations_centre
    factories: list[Any] = []  # DistrictPartition or PartitionRun factories
    spans: list[tuple[int, int]] = []
    plan = []
    # a district's sim inside the city: CityLink(make_sim, me=…) with the operations centre's rules
    link = partial(CityLink, report_minutes=ops.report_minutes, supervise_after=ops.supervise_overdue_hours * 60.0,
                   supervisor=ops.name)
    for i, (d, sc) in enumerate(zip(city.spec.city.districts, city.districts, strict=True)):
        seed_i = int(sc.run.seed if seed is None else seed + 7919 * (i + 1))
        days_i = float(sc.run.days if days is None else days)
        ddir = out / "districts" / slug(d.name)
        plan.append((d.name, sc, seed_i, days_i, ddir))
        first = len(factories)
        if partition_count(sc) == 1:  # the district finishes itself in its worker
            mine: list[Any] = [partial(DistrictPartition, d.name, sc, seed_i, days_i, str(ddir), tables, partial(link, me=first))]
        else:  # street partitions (each linked to the city) and the district's shared level; this process merges them
            sims = partition_sims(sc, seed_i, days_i, False, tables, components_for(sc))
            made = [partial(link, make, me=first + k) for k, make in enumerate(sims[:-1])] + [sims[-1]]
            mine = [partial(PartitionRun, make, tables, k, str(ddir / "spool")) for k, make in enumerate(made)]
        factories += mine
        spans.append((first, len(mine)))
    # even a one-district city runs its district in a worker: this process gathers summaries and runs the city level
    where = hosts_for(max(2, len(factories)), parallel, dask)
    horizon = max(p[3] for p in plan) * 1440.0
    warm = max(sc.run.warmup_days for sc in city.districts) * 1440.0
    owner = [i for i, (_, k) in enumerate(spans) for _ in range(k)]
    level = CitySim(hotline_config(city), city_seed(city, seed), warm, horizon, min(lookahead(sc) for sc in city.districts),
                    owner, len(plan))
    results = run_coupled(factories, spans, level, where, dask, horizon, progress)
    done: list[DistrictDone] = []
    for i, (name, sc, seed_i, days_i, ddir) in enumerate(plan):
        first, k = spans[i]
        mine = results[first:first + k]
        if len(mine) == 1 and isinstance(mine[0], DistrictDone):
            done.append(mine[0])
        else:
            done.append(finish_district(name, sc, seed_i, days_i, mine, ddir, t0, tables))
    summary = city_summary(city, done, len(factories), time.perf_counter() - t0, where)
    summary |= city_level_outputs(city, level, done, out / "city")
    (out / "scenario.json").write_text(json.dumps(city.resolved_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "run.json").write_text(json.dumps({"seed": seed, "days": days, "version": twin.__version__, "scenario": city.name}, indent=2) + "\n",
                                  encoding="utf-8")
    (out / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return summary


def _share(n: float, d: float) -> float | None:
    return None if d <= 0 else round(n / d, 6)


def _by_hour(hourly: Any, warm: float) -> list[dict[str, Any]]:
    """The centre's average day after the warm-up: calls rung per hour against call-takers on duty."""
    h = hourly[hourly["t_min"] >= warm]
    within = next(c for c in h.columns if c.startswith("answered_within_"))
    out = []
    for hour in range(24):
        x = h[(h["t_min"] // 60 % 24) == hour]
        answered = float(x["answered"].sum())
        out.append({
            "hour": hour,
            "calls": None if x.empty else round(float(x["calls"].mean()), 2),
            "seats": None if x.empty else round(float(x["seats"].mean()), 2),
            "mean_wait_s": None if answered == 0 else round(float((x["mean_wait_s"].fillna(0) * x["answered"]).sum()) / answered, 2),
            within.removeprefix("answered_"): _share(float(x[within].sum()), answered),
        })
    return out


def city_level_outputs(city: CityScenario, level: CitySim, done: list[DistrictDone], where: Path) -> dict[str, Any]:
    """Write the city level's tables under ``where`` and return its summary blocks: the 12345
    centre (``hotline_centre``), the operations centre (``operations_centre``) and the districts'
    12345 ranking (``ranking_12345``, the 考核 a city operations analyst reads)."""
    import numpy as np
    import pandas as pd

    where.mkdir(parents=True, exist_ok=True)
    h = level.hotline
    names = [d.name for d in city.spec.city.districts]
    hourly = pd.DataFrame(h.hourly)
    hourly.insert(0, "t_min", np.arange(len(hourly), dtype=float) * 60.0)
    hourly["mean_wait_s"] = (hourly["wait_s_sum"] / hourly["answered"].where(hourly["answered"] > 0)).round(3)
    hourly = hourly.drop(columns="wait_s_sum").rename(columns={"within": f"answered_within_{h.cfg.answer_targets_seconds[0]:g}s"})
    hourly.to_parquet(where / "hotline_hourly.parquet", index=False)
    pd.DataFrame(level.dashboard(names)).to_parquet(where / "operations.parquet", index=False)
    sup = level.supervision
    pd.DataFrame({"t_min": [s[0] for s in sup], "district": [names[s[1]] for s in sup], "case_id": [s[2] for s in sup]}).to_parquet(
        where / "supervision.parquet", index=False)
    waits = np.frombuffer(h.waits, dtype=float) if len(h.waits) else np.empty(0)
    spec = city.spec.city.hotline_centre
    answered = int(waits.size)

    def q(p: float) -> float | None:
        return None if answered == 0 else round(float(np.percentile(waits, p)), 3)

    hotline = {
        "name": spec.name,
        "staff": spec.staff,
        "seats_on_duty": {"min": min(h.cfg.seats(k) for k in range(24)), "max": max(h.cfg.seats(k) for k in range(24))},
        "calls": h.calls,
        "attempts": h.attempts,
        "answered": answered,
        "answered_directly": h.answered_direct,
        "work_orders": h.orders_dispatched,
        "direct_share": _share(h.answered_direct, h.answered_direct + h.orders_dispatched),
        "answer_wait_s": {"mean": None if answered == 0 else round(float(waits.mean()), 3), "p50": q(50), "p90": q(90), "p99": q(99)},
        "answered_within_s": {f"{t:g}": _share(float((waits <= t).sum()), answered) for t in h.cfg.answer_targets_seconds},
        "answer_rate": _share(answered, h.attempts),
        "abandoned": h.abandoned,
        "gave_up": h.gave_up,
        "orders_lost": h.orders_lost,
        "occupancy": _share(h.busy_minutes, h.seat_minutes),
        "by_hour_of_day": _by_hour(hourly, level.warm),
    }
    ranking: list[dict[str, Any]] = []
    for i, d in enumerate(done):
        wo = d.summary.get("work_orders_12345") or {}
        ranking.append({
            "district": d.name,
            "orders_handed_down": level.orders_by_district[i],
            "orders_signed_for_in_run": level.signed_for_by_district[i],  # the district's 12345 cases, warm-up included
            "orders": wo.get("orders"),
            "contacted_in_time_rate": wo.get("contacted_in_time_rate"),
            "on_time_rate": wo.get("on_time_rate"),
            "satisfaction_share": wo.get("satisfaction_share"),
            "supervised": level.supervised_by_district[i],
        })
    ranking.sort(key=lambda r: (-(r["on_time_rate"] or 0.0), -(r["satisfaction_share"] or 0.0), r["supervised"], r["district"]))
    for k, r in enumerate(ranking, 1):
        r["rank"] = k
    ops = city.spec.city.operations_centre
    operations = {
        "name": ops.name,
        "staff": ops.staff,
        "report_minutes": ops.report_minutes,
        "supervise_overdue_hours": ops.supervise_overdue_hours,
        "reports": len(level.dashboard(names)["t_min"]),
        "supervised": sum(level.supervised_by_district),
    }
    return {"hotline_centre": hotline, "operations_centre": operations, "ranking_12345": ranking}
