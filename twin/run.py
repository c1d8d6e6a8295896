"""One simulation run: :func:`simulate` returns a :class:`RunResult` (summary, incident stream,
cases, case events, KPI series); :func:`write_run_dir` writes it to a run directory.

Everything in ``summary.json`` except ``wall_seconds`` is a function of scenario and seed.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from itertools import repeat
from operator import attrgetter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import twin
from twin.coupling.sims import partition_count, partition_sims
from twin.emergency.component import EmergencyComponent
from twin.engine import State
from twin.engine.kpi import by_due
from twin.engine.kpi import on_time as kpi_on_time
from twin.engine.types import Case
from twin.executors import (
    InlineHosts,
    PartitionFactory,
    cpu_seconds,
    default_workers,
    make_hosts,
    peak_rss_mb,
    run_lockstep,
)
from twin.model import ACTIVITIES, ROLES, ComponentFactory, DistrictModel
from twin.model.incidents import CHANNELS, TIER_NAMES
from twin.model.model import quiet_gc
from twin.scenario import LEVELS, Scenario
from twin.spool import TableSpool, read_spooled
from twin.summary_types import BottomUp, OrderKind, PropertyBlock, RunSummary, TierTimes, WorkOrders

CLOSED = (State.CLOSED, State.EVALUATED)


def components_for(scenario: Scenario) -> list[ComponentFactory]:
    """The components a run composes onto the model: the emergency switchover (modes,
    mobilisation, emergency incidents) when the scenario has an ``[emergency]`` section."""
    return [EmergencyComponent] if scenario.emergency is not None else []


def build_model(
    scenario: Scenario, seed: int | None = None, days: float | None = None, keep_events: bool | None = None, part: int = 0
) -> DistrictModel:
    """The model of one run (or partition) with the scenario's components — what runs, drills
    and the load test's staffing all build."""
    return DistrictModel(scenario, seed=seed, days=days, keep_events=keep_events, part=part, components=components_for(scenario))


@dataclass(frozen=True)
class RunResult:
    """What a run produced: the run directory's contents as a frozen record (the run report
    renders it; nothing here is a live model)."""

    scenario: Scenario
    seed: int
    days: float
    summary: RunSummary
    incidents: pd.DataFrame  # the incident stream, in arrival order
    cases: pd.DataFrame
    kpi: pd.DataFrame
    events: pd.DataFrame | None = None
    stations: pd.DataFrame = field(default_factory=pd.DataFrame)
    modes: pd.DataFrame | None = None  # the [emergency] section's mode series
    call_ups: pd.DataFrame | None = None  # the [emergency] section's members called up (load test check-ins)
    # the partitions' processes: pid → (peak RSS in MB, CPU seconds), measured where they ran
    processes: dict[int, tuple[float, float]] = field(default_factory=dict)


# --------------------------------------------------------------------------- tables
def _incidents(m: DistrictModel) -> pd.DataFrame:
    terr = m.terr
    cats = list(m.scenario.categories)
    if m.stream_days:
        days = m.stream_days
        time_ = np.concatenate([d.time for d in days])
        raised = np.concatenate([d.raised for d in days])
        grid = np.concatenate([d.grid for d in days])
        cat = np.concatenate([d.category for d in days])
        tier = np.concatenate([d.tier for d in days])
        channel = np.concatenate([d.channel for d in days])
        need = np.concatenate([d.need for d in days])
        false = np.concatenate([d.false_alarm for d in days])
        serial = np.concatenate(m.stream_serials)
    else:
        time_ = raised = grid = cat = tier = channel = need = serial = np.empty(0, dtype=np.int64)
        false = np.empty(0, dtype=bool)
    repeat_of = np.full(time_.size, "", dtype=object)
    reps = m.flow.repeats
    if reps:
        rt = np.array([r[0] for r in reps])
        time_ = np.concatenate([time_, rt])
        raised = np.concatenate([raised, rt])
        grid = np.concatenate([grid, np.array([r[1] for r in reps], dtype=np.int64)])
        cat = np.concatenate([cat, np.array([r[2] for r in reps], dtype=np.int64)])
        tier = np.concatenate([tier, np.array([r[3] for r in reps], dtype=np.int64)])
        channel = np.concatenate([channel, np.full(len(reps), CHANNELS.index("hotline"))])
        need = np.concatenate([need, np.full(len(reps), -1)])
        false = np.concatenate([false, np.zeros(len(reps), dtype=bool)])
        serial = np.concatenate([serial, np.array([r[4] for r in reps], dtype=np.int64)])
        repeat_of = np.concatenate([repeat_of, np.array([r[5] for r in reps], dtype=object)])
    order = np.argsort(serial, kind="stable")
    grid = grid.astype(np.int64)
    names = np.asarray(terr.grid_names, dtype=object)
    comm = np.asarray(terr.community_names, dtype=object)
    streets = np.asarray(terr.street_names, dtype=object)
    start = np.datetime64(dt.datetime.combine(m.scenario.run.start_date, dt.time()), "s")
    t = time_[order]
    stamps = np.datetime_as_string(start + np.rint(t * 60.0).astype("timedelta64[s]"), unit="s")
    return pd.DataFrame(
        {
            "case_id": [f"{m.id_tag}-{s:08d}" for s in serial[order]],
            "t_min": np.round(t, 4),
            "raised_min": np.round(raised[order], 4),
            "time": [s + "+08:00" for s in stamps],
            "category": pd.Categorical.from_codes(cat[order].astype(np.int64), categories=cats),
            "tier": pd.Categorical.from_codes(tier[order].astype(np.int64), categories=list(TIER_NAMES)),
            "channel": pd.Categorical.from_codes(channel[order].astype(np.int64), categories=list(CHANNELS)),
            "grid": pd.Categorical.from_codes(grid[order], categories=list(names)),
            "community": pd.Categorical.from_codes(terr.grid_community[grid[order]], categories=list(comm)),
            "street": pd.Categorical.from_codes(terr.grid_street[grid[order]], categories=list(streets)),
            "district": terr.district,
            "level_needed": np.where(need[order] >= 0, need[order], -1).astype(np.int64),
            "false_alarm": false[order].astype(bool),
            "repeat_of": repeat_of[order],
        }
    )


def _case_columns(m: DistrictModel, settled: list[Case] | None = None) -> dict[str, Any]:
    """The case table's columns, one row per case ordered by id: numeric columns as arrays,
    the label columns (:data:`CASE_LABELS`) as plain lists. ``settled``: only these cases (a
    partition writing out what has settled), else all the store holds.

    Plain attributes are read with ``attrgetter`` (no Python call per case), optional times go
    through a float array (None → NaN)."""
    ep = m.epoch
    nan = float("nan")
    cases = sorted(m.store.all_cases() if settled is None else settled, key=attrgetter("id"))
    n = len(cases)

    def col(name: str) -> list[Any]:
        return list(map(attrgetter(name), cases))

    def num(name: str, dtype: Any) -> np.ndarray:
        return np.fromiter(map(attrgetter(name), cases), dtype=dtype, count=n)

    def since(name: str) -> np.ndarray:
        """Minutes since the run's start (NaN where unset)."""
        out: np.ndarray = np.array(col(name), dtype=float) - ep
        return out

    ids = col("id")
    rej = m.flow.rejected_at
    by_pm = m.flow.property_settled
    return {
        "case_id": ids,
        "category": col("category"),
        "tier": col("tier"),
        "grid": [p.grid for p in map(attrgetter("place"), cases)],
        "source": list(map(str, col("source"))),
        "state": list(map(str, col("state"))),
        "reported_at": since("reported_at"),
        "due_at": since("due_at"),
        "accepted_at": since("accepted_at"),
        "started_at": since("started_at"),
        "resolved_at": since("resolved_at"),
        "closed_at": since("closed_at"),
        "evaluated_at": since("evaluated_at"),
        "level": num("level", np.int8),
        "resolved_level": np.fromiter((-1 if v is None else v for v in col("resolved_level")), dtype=np.int8, count=n),
        "escalations": num("escalations", np.int16),
        "reopen_count": num("reopen_count", np.int16),
        "satisfaction": np.fromiter((0 if v is None else v for v in col("satisfaction")), dtype=np.int8, count=n),
        "volunteer": [v or "" for v in col("volunteer")],
        "points": np.array(col("points"), dtype=float),
        # platform time rules: done = replied (reply matters) or resolved; unit stints
        "done_at": since("done_at"),
        "stints": num("stints", np.int16),
        "late_stints": num("late_stints", np.int16),
        "extensions_requested": num("extensions_requested", np.int16),
        "extensions_approved": num("extensions_approved", np.int16),
        "suspensions": num("suspensions", np.int16),
        "reassignments": num("reassignments", np.int16),
        "returns": num("returns", np.int16),
        "warnings_yellow": num("warnings_yellow", np.int16),
        "warnings_red": num("warnings_red", np.int16),
        "rejected_at": np.fromiter(map(rej.get, ids, repeat(nan, n)), dtype=float, count=n),
        "property_settled": np.fromiter(map(by_pm.__contains__, ids), dtype=bool, count=n),
    }


def _cases(m: DistrictModel, settled: list[Case] | None = None) -> pd.DataFrame:
    """The case table (:func:`_case_columns`), labels as categoricals (a district-year has
    ~700k cases; this keeps the table small in memory and in transit)."""
    cols = _case_columns(m, settled)
    return pd.DataFrame({k: pd.Categorical(v) if k in CASE_LABELS else v for k, v in cols.items()})


def _events(m: DistrictModel) -> pd.DataFrame | None:
    if not m.store.keep_events:
        return None
    ep = m.epoch
    rows = [(e.seq, e.case_id, e.version, str(e.action), None if e.from_state is None else str(e.from_state),
             str(e.to_state), e.at - ep, e.actor, e.mode) for e in m.store.events()]
    return pd.DataFrame(rows, columns=["seq", "case_id", "version", "action", "from_state", "to_state", "t_min", "actor", "mode"])


def _stations(m: DistrictModel) -> pd.DataFrame:
    rows = []
    m.workers.close_day(int(np.ceil(m.days)) - 1)  # the last day's routine
    zero = dict.fromkeys(ACTIVITIES, 0.0)
    routine = m.workers.routine_done()
    for s in m.own_stations():
        avail = s.available_minutes(m.horizon)
        done = routine.get(s.name, zero) if s.role == "grid_worker" else zero
        rows.append((s.name, s.role, s.level, s.capacity, s.served, s.busy, avail, *(done[a] for a in ACTIVITIES)))
    cols = ["station", "role", "level", "capacity", "served", "busy_min", "available_min"]
    return pd.DataFrame(rows, columns=cols + [f"{a}_min" for a in ACTIVITIES])


# --------------------------------------------------------------------------- summary
def _q(a: np.ndarray, q: float) -> float | None:
    return None if a.size == 0 else round(float(np.percentile(a, q)), 4)


def _r(x: float) -> float:
    return round(float(x), 6)


def _facts(m: DistrictModel) -> dict[str, Any]:
    """The counters a partition contributes to the summary (summed over partitions)."""
    flow = m.flow
    own = m.own_grids
    out: dict[str, Any] = {
        "backlog_end": len(flow.active),
        "needs_arisen": int(m.incidents.needs_total),
        "needs_unreported_lost": int(m.incidents.unreported_lost),
        "latent_needs_end": int(m.incidents.latent[own].sum()),
        "escalations": int(flow.escalations),
        "lapse_escalations": int(flow.lapse_escalations),
        "volunteer_claims": int(flow.volunteer_claims),
        "false_alarms": int(flow.false_alarms),
        "repeat_complaints": len(flow.repeats),
        "orders_contacted": int(flow.orders_contacted),
        "orders_contacted_late": int(flow.orders_contacted_late),
        "order_repeats": int(flow.order_repeats),
        "property_received": int(flow.property_received),
        "property_escalated": int(flow.property_escalated),
        "rider_reports": int(m.riders.reports),
        "rider_points": float(m.riders.points.sum()),
        "device_events_missed": int(m.devices.missed),
        "trust_sum": float(m.residents.trust[own].sum()),
        "events_processed": int(m.simpy_events()),
        # each transition once: a street partition's replay of the district's steps is not one
        "engine_transitions": int(m.store.transitions) - flow.replayed,
    }
    if m.scenario.policy.supervision.bulletin_units:  # only with the lever on: default results unchanged
        out["bulletins"] = flow.bulletins if m.part == 0 else 0  # every partition issues the same rounds
        out["bulletin_units_named"] = flow.units_named
    return out


def _channels_apart(
    c: pd.DataFrame, registered: np.ndarray, done: np.ndarray, on_time: np.ndarray, per_1000_day: float, f: dict[str, Any]
) -> tuple[BottomUp, WorkOrders]:
    """Bottom-up cases (found by grids, residents' app, riders, devices) apart from 12345 work
    orders sent down by the centre. A work order is on time when it was settled
    within its own limit (working days from dispatch), whoever held it; bottom-up cases follow
    the platform rule (every unit kept its limit)."""
    tiers = c["tier"].to_numpy().astype(str)
    order = np.char.startswith(tiers, "12345-")
    bottom = registered & ~order
    orders = registered & order
    o_done = orders & done
    o_on_time = o_done & (c["done_at"].to_numpy() <= c["due_at"].to_numpy() + 1e-9)
    sat = c["satisfaction"].to_numpy()
    rated = orders & (sat > 0)
    reopened = c["reopen_count"].to_numpy() > 0
    contacted = int(f.get("orders_contacted", 0))
    by_kind: dict[str, OrderKind] = {}
    for t in sorted(set(tiers[orders])):
        sel = orders & (tiers == t)
        d = int((sel & o_done).sum())
        by_kind[t.removeprefix("12345-")] = OrderKind(orders=int(sel.sum()), on_time_rate=_r((sel & o_on_time).sum() / max(1, d)))
    bottom_up = BottomUp(
        cases=int(bottom.sum()),
        per_1000_per_day=_r(int(bottom.sum()) * per_1000_day),
        on_time_rate=_r((on_time & bottom).sum() / max(1, int((done & bottom).sum()))),
        reopened=int((bottom & reopened).sum()),
    )
    work_orders = WorkOrders(
        orders=int(orders.sum()),
        per_1000_per_day=_r(int(orders.sum()) * per_1000_day),
        on_time_rate=_r(o_on_time.sum() / max(1, int(o_done.sum()))),
        contacted_in_time_rate=None if contacted == 0 else _r(1.0 - int(f.get("orders_contacted_late", 0)) / contacted),
        reopened=int((orders & reopened).sum()),
        repeat_calls=int(f.get("order_repeats", 0)),
        satisfaction_share=None if not rated.any() else _r((sat[rated] >= 4).mean()),
        by_kind=by_kind,
    )
    return bottom_up, work_orders


def _property_summary(
    f: dict[str, Any], settled: int, per_1000_day: float, c: pd.DataFrame, real: np.ndarray, disputes: list[str]
) -> PropertyBlock:
    """Matters the property companies (物业) heard of first, what they settled themselves and the
    share they handed into the platform (after the warm-up); and property and neighbour
    disputes among the residents' matters (app, phone) that reached the street or district —
    the model's nearest to Cuntan's petitions (信访), of which they are over half there
    (半月谈 2024-03-14)."""
    received = int(f.get("property_received", 0))
    escalated = int(f.get("property_escalated", 0))
    share: float | None = None
    if disputes:
        up = real & np.isin(c["source"].to_numpy().astype(str), ["app", "hotline"]) & (c["level"].to_numpy() >= 2)
        n = int(up.sum())
        share = None if n == 0 else _r(int((up & np.isin(c["category"].to_numpy().astype(str), disputes)).sum()) / n)
    return PropertyBlock(
        received=received,
        settled=settled,
        escalated=escalated,
        escalated_share=None if received == 0 else _r(escalated / received),
        settled_per_1000_per_day=_r(settled * per_1000_day),
        disputes_share_reaching_street=share,
    )


def summarise(
    sc: Scenario, seed: int, days: float, grids: int, residents: float, grid_workers: int,
    facts: dict[str, Any], cases: pd.DataFrame, kpi: pd.DataFrame, stations: pd.DataFrame, wall: float,
) -> RunSummary:
    """The run's summary.json: KPIs over cases reported after the warm-up."""
    warm = sc.run.warmup_days * 1440.0
    T = days * 1440.0
    c = cases[cases["reported_at"] >= warm]
    state = c["state"].to_numpy()
    rejected = state == "rejected"
    merged = state == "merged"
    real = ~(rejected | merged)
    closed = np.isin(state, ["closed", "evaluated"])
    res_at = c["resolved_at"].to_numpy()
    # what the platform counts (立案): a matter a grid worker found on patrol and settled on the
    # spot goes into the worker's log (台账), not onto the platform as a case
    src_all = c["source"].to_numpy()
    on_spot = (src_all == "patrol") & (c["resolved_level"].to_numpy() == 0) & (c["escalations"].to_numpy() == 0) & (c["reopen_count"].to_numpy() == 0)
    # … nor does a matter the property company settled in its compound (物业)
    by_property = c["property_settled"].to_numpy() if "property_settled" in c else np.zeros(len(c), dtype=bool)
    registered = real & ~on_spot & ~by_property
    resolved_all = real & ~np.isnan(res_at)
    # the platform rule (按期处置率, issue 12): a registered case done (resolved; replied, for
    # reply matters) is on time when every handling unit kept its own limit
    done_at = c["done_at"].to_numpy()
    done = registered & ~np.isnan(done_at)
    late_stints = c["late_stints"].to_numpy()
    on_time = kpi_on_time(done, late_stints)  # the engine's rule, applied to the run's arrays
    on_time_e2e = done & by_due(done_at, c["due_at"].to_numpy())
    n_done = max(1, int(done.sum()))
    stints_all = int(c.loc[registered, "stints"].sum())
    sat = c["satisfaction"].to_numpy()
    rated = sat > 0
    lvl = c["resolved_level"].to_numpy()
    tiers = c["tier"].to_numpy()
    h2c: dict[str, TierTimes] = {}
    hours = (c["closed_at"].to_numpy() - c["reported_at"].to_numpy()) / 60.0
    for t in TIER_NAMES:
        sel = closed & (tiers == t)
        h2c[t] = {"n": int(sel.sum()), "p50": _q(hours[sel], 50), "p90": _q(hours[sel], 90)}
    util: dict[str, float | None] = {}
    for role in ROLES:
        s = stations[stations["role"] == role]
        a = float(s["available_min"].sum())
        util[role] = None if a <= 0 else _r(min(float(s["busy_min"].sum()), a) / a)
    gw = stations[stations["role"] == "grid_worker"]
    gw_avail = float(gw["available_min"].sum())
    worker_day: dict[str, float | None] = {}
    if gw_avail > 0:
        routine = {a: float(gw[f"{a}_min"].sum()) for a in ACTIVITIES}
        worker_day["case_handling"] = _r((float(gw["busy_min"].sum()) - sum(routine.values())) / gw_avail)
        worker_day |= {a: _r(v / gw_avail) for a, v in routine.items()}
        worker_day["idle"] = _r(max(0.0, 1.0 - sum(v for v in worker_day.values() if v is not None)))
    days_obs = (T - warm) / 1440.0
    per_1000_day = 1000.0 / residents / max(days_obs, 1e-9)
    bottom_up, work_orders = _channels_apart(c, registered, done, on_time, per_1000_day, facts)
    real_total = int(real.sum())
    src = c.loc[real, "source"].value_counts()
    channel_mix = {ch: _r(src.get(ch, 0) / max(1, real_total)) for ch in CHANNELS}
    # Little's law over the observation window: L (sampled backlog) vs λ·W
    rep_at = c["reported_at"].to_numpy()
    end = np.where(~np.isnan(res_at), res_at, c["rejected_at"].to_numpy())
    end = np.where(np.isnan(end), T, np.minimum(end, T))
    in_sys = ~merged
    lam = float(in_sys.sum()) / max(T - warm, 1e-9)
    W = float(np.mean(end[in_sys] - rep_at[in_sys])) if in_sys.any() else 0.0
    k = kpi[kpi["t_min"] > warm]
    L = float(k["backlog"].mean()) if len(k) else 0.0
    f = facts
    return {
        "scenario": sc.meta.name,
        "version": twin.__version__,
        "seed": seed,
        "days": days,
        "warmup_days": sc.run.warmup_days,
        "partitions": sc.run.partitions,
        "residents": int(round(residents)),
        "grids": grids,
        "grid_workers": grid_workers,
        "cases_total": int(len(c)),
        "cases_closed": int(closed.sum()),
        "cases_rejected": int(rejected.sum()),
        "cases_merged": int(merged.sum()),
        "cases_per_1000_per_day": _r(real_total / residents * 1000.0 / max(days_obs, 1e-9)),
        "volume_per_1000_per_day": {
            "all_incidents": _r(real_total / residents * 1000.0 / max(days_obs, 1e-9)),
            "registered": _r(int(registered.sum()) / residents * 1000.0 / max(days_obs, 1e-9)),
            "reached_street_or_district": _r(int((real & (c["level"].to_numpy() >= 2)).sum()) / residents * 1000.0 / max(days_obs, 1e-9)),
        },
        "settled_on_the_spot": int(on_spot.sum()),
        "bottom_up": bottom_up,
        "work_orders_12345": work_orders,
        "property": _property_summary(f, int(by_property.sum()), per_1000_day, c, real, sc.property_management.dispute_categories),
        "on_time_rate": _r(on_time.sum() / n_done),
        "on_time_rate_end_to_end": _r(on_time_e2e.sum() / n_done),
        "unit_on_time_rate": None if stints_all == 0 else _r(1.0 - int(late_stints[registered].sum()) / stints_all),
        "on_time_by_tier": {t: _r((on_time & (tiers == t)).sum() / max(1, int((done & (tiers == t)).sum()))) for t in TIER_NAMES if (done & (tiers == t)).any()},
        "extensions_requested": int(c["extensions_requested"].sum()),
        "extensions_approved": int(c["extensions_approved"].sum()),
        "suspended_cases": int((c["suspensions"].to_numpy() > 0).sum()),
        "reassigned_cases": int((c["reassignments"].to_numpy() > 0).sum()),
        "returned_cases": int((c["returns"].to_numpy() > 0).sum()),
        "warnings_yellow": int(c["warnings_yellow"].sum()),
        "warnings_red": int(c["warnings_red"].sum()),
        # the weekly bulletin (一周一通报), only when the scenario turns it on
        **({"bulletins": int(f["bulletins"]), "bulletin_units_named": int(f["bulletin_units_named"])} if "bulletins" in f else {}),
        "closure_rate": _r(closed.sum() / max(1, real_total)),
        "satisfaction_mean": None if not rated.any() else _r(sat[rated].mean()),
        "satisfaction_share": None if not rated.any() else _r((sat[rated] >= 4).mean()),
        "closed_at_level": {lv: _r(((lvl == i) & resolved_all).sum() / max(1, int(resolved_all.sum()))) for i, lv in enumerate(LEVELS)},
        "hours_to_close": h2c,
        "backlog_end": int(f["backlog_end"]),
        "utilisation": util,
        "grid_worker_day": worker_day,
        "channel_mix": channel_mix,
        "needs_arisen": f["needs_arisen"],
        "needs_unreported_lost": f["needs_unreported_lost"],
        "latent_needs_end": f["latent_needs_end"],
        "escalations": f["escalations"],
        "lapse_escalations": f["lapse_escalations"],
        "volunteer_claims": f["volunteer_claims"],
        "false_alarms": f["false_alarms"],
        "repeat_complaints": f["repeat_complaints"],
        "rider_reports": f["rider_reports"],
        "rider_points": _r(f["rider_points"]),
        "device_events_missed": f["device_events_missed"],
        "trust_mean_end": _r(f["trust_sum"] / grids),
        "little_law": {"L": _r(L), "lambda_per_min": _r(lam), "W_min": _r(W), "lambda_W": _r(lam * W)},
        "events_processed": int(f["events_processed"]),
        "engine_transitions": int(f["engine_transitions"]),
        "wall_seconds": round(wall, 3),
    }


# --------------------------------------------------------------------------- partitions
@dataclass
class PartResult:
    """What one partition (a set of streets) produced, in plain tables and counters.

    A partition that spooled its cases leaves ``cases`` empty and names the Parquet file in
    ``cases_file``; :func:`spooled_cases` reads it back. ``peak_rss_mb`` and ``pid`` say how
    much memory the partition's process took at most (partitions sharing a Dask worker share it)."""

    cases: pd.DataFrame
    stations: pd.DataFrame
    kpi: pd.DataFrame
    incidents: pd.DataFrame
    events: pd.DataFrame | None
    facts: dict[str, Any]
    grids: int
    residents: float
    grid_workers: int
    cases_file: str | None = None
    peak_rss_mb: float = 0.0
    pid: int = 0
    cpu_s: float = 0.0  # CPU seconds of the partition's process so far (it may host others)
    #: the [emergency] section's record (twin.emergency.record), built where the partition ran
    emergency: Any = None


def _collect(m: DistrictModel, tables: bool, cases: bool = True) -> PartResult:
    kpi = pd.DataFrame(m.kpi_rows)
    if kpi.empty:
        kpi = pd.DataFrame({"t_min": [], "backlog": [], "trust_sum": []})
    return PartResult(
        cases=_cases(m) if cases else pd.DataFrame(),
        stations=_stations(m),
        kpi=kpi,
        incidents=_incidents(m) if tables else pd.DataFrame(),
        events=_events(m) if tables else None,
        facts=_facts(m),
        grids=m.terr.n_grids,
        residents=m.terr.total_residents,
        grid_workers=m.workers.full_time_workers,
    )


#: Days a settled case stays in a partition's memory before it is written out and forgotten:
#: residents are called back the next day at 10:00 (一事一评) and a low score reopens a case
#: once, so a case closed three days ago can change no more [A: the call-back rule plus a margin].
SETTLED_WINDOW_DAYS = 3.0
#: The case table's label columns (categoricals in memory, strings in a spooled file).
CASE_LABELS = ("category", "tier", "grid", "source", "state", "volunteer")
_SETTLED = frozenset({State.CLOSED, State.EVALUATED, State.REJECTED, State.MERGED})
#: SimPy's event count grows by this much per ``env.run(until=…)`` call (see PartitionRun.finish).
SIMPY_EVENTS_PER_RUN_CALL = 2
#: Modules a partition's worker process imports once (the fork server preloads them).
PRELOAD = ["twin.run"]
#: Grids per street partition from which ``simulate`` runs partitions in processes by default.
#: Measured on 2 cores: a window's pipe round trips cost ~0.4 ms CPU (parent and 3 children);
#: district.toml (1,379 grids, 2 partitions) does ~4.5 ms of work per partition per 30-min
#: window (60 days: 28.2 CPU s over 2,880 windows), so processes pay; the tests' 120-grid district
#: does ~0.4 ms by the same ratio, so they do not (its validity test: 53 s in processes, 28 s
#: inline, under load). The threshold between is [A].
PROCESS_MIN_GRIDS = 300


class _QuietGc:
    """:func:`quiet_gc` shared by the partitions of one process (inline runs and Dask actors
    hold several): entered by the first that starts, left when the last finishes."""

    users = 0
    cm: Any = None

    @classmethod
    def enter(cls) -> None:
        if cls.users == 0:
            cls.cm = quiet_gc()
            cls.cm.__enter__()
        cls.users += 1

    @classmethod
    def leave(cls) -> None:
        cls.users -= 1
        if cls.users == 0 and cls.cm is not None:
            cls.cm.__exit__(None, None, None)
            cls.cm = None


class IndependentPartition:
    """Today's partition as a ``PartitionSim`` (:mod:`twin.coupling.protocol`): its own streets
    and its share of the district centre's and departments' staff, exchanging nothing — so its
    lookahead is unbounded. The coupling's sims (district level simulated once) replace it."""

    lookahead = math.inf

    def __init__(self, scenario: Scenario, seed: int | None, days: float | None, keep_events: bool | None, tables: bool, part: int) -> None:
        self.model = build_model(scenario, seed=seed, days=days, keep_events=keep_events, part=part)
        self.model.record_stream = tables
        self.windows = 0  # run(until) calls (each adds to SimPy's event count)

    def advance(self, until: float, inbox: Sequence[Any] = ()) -> list[Any]:
        m = self.model
        m.start()
        if until > m.env.now:
            m.env.run(until=until)
            self.windows += 1
        return []

    def finish(self) -> DistrictModel:
        return self.model


class PartitionRun:
    """One partition of a run, alive in one worker for the whole run (a ``Partition`` of
    :mod:`twin.executors`) around a ``PartitionSim``: it forwards the windows, writes the
    partition's settled cases to ``spool`` once a simulated day and forgets them (memory then
    holds open and recent cases only), and at the end turns the model into small tables and
    counters in the worker, so only those travel back."""

    def __init__(self, make_sim: Callable[[], Any], tables: bool, part: int = 0, spool: str | None = None) -> None:
        self.sim = make_sim()
        self.lookahead = float(self.sim.lookahead)
        self.m: DistrictModel | None = getattr(self.sim, "model", None)
        self.tables = tables
        self.started = False
        self.spool = None if spool is None else TableSpool(Path(spool) / f"cases-p{part}.parquet")
        m = self.m
        # forgetting settled cases needs the live model, a store without an audit log and no
        # component that may look old cases up (the emergency section reads its cases at the end)
        self.release = (self.spool is not None and m is not None and not m.store.keep_events
                        and m.scenario.emergency is None)
        self._next_release = 1440.0

    def advance(self, until: float, inbox: Sequence[Any] = ()) -> list[Any]:
        if not self.started:
            self.started = True
            _QuietGc.enter()
        out = self.sim.advance(until, inbox)
        if self.release and until >= self._next_release:
            self._write_settled()
            self._next_release = (until // 1440.0 + 1.0) * 1440.0
        return list(out)

    def _write_settled(self) -> None:
        """Write the cases settled more than :data:`SETTLED_WINDOW_DAYS` ago and forget them."""
        m = self.m
        if m is None or self.spool is None:
            return
        cutoff = m.epoch + m.env.now - SETTLED_WINDOW_DAYS * 1440.0
        done = [c for c in m.store.all_cases()
                if c.state in _SETTLED and (c.reported_at if c.closed_at is None else c.closed_at) < cutoff]
        if not done:
            return
        self.spool.append_columns(_case_columns(m, done))
        ids = [c.id for c in done]
        m.store.release(ids)
        rejected, by_property = m.flow.rejected_at, m.flow.property_settled
        for cid in ids:
            rejected.pop(cid, None)
            by_property.discard(cid)

    def finish(self) -> PartResult:
        # SimPy counts two events more for every run(until) call (its stop event among them;
        # measured with SimPy 4.1): a run in windows reports what one run to the horizon does
        extra_events = SIMPY_EVENTS_PER_RUN_CALL * max(0, int(getattr(self.sim, "windows", 1)) - 1)
        m = self.sim.finish()
        self.m = m
        if self.spool is not None:
            self.spool.append_columns(_case_columns(m))  # what is still open or recent
            self.spool.close()
            res = _collect(m, self.tables, cases=False)
            res.cases_file = str(self.spool.path) if self.spool.rows else None
        else:
            res = _collect(m, self.tables)
        res.facts["events_processed"] -= extra_events
        comp = m.component(EmergencyComponent)
        if comp is not None:  # the modes block's inputs, as plain values: the model stays here
            from twin.emergency.record import record_of

            res.emergency = record_of(comp)
        if self.started:
            _QuietGc.leave()
        res.peak_rss_mb = peak_rss_mb()
        res.pid = os.getpid()
        res.cpu_s = cpu_seconds()
        return res


def partition_runs(scenario: Scenario, seed: int | None, days: float | None, keep_events: bool | None, tables: bool,
                   spool: str | None) -> list[PartitionFactory]:
    """One picklable factory per worker of a run of ``scenario`` (each built in the worker that
    runs it): the whole model for one partition; else the street partitions coupled to the
    shared district level, last (:func:`twin.coupling.sims.partition_sims`)."""
    if partition_count(scenario) == 1 and scenario.emergency is None:
        sims: list[Callable[[], Any]] = [partial(IndependentPartition, scenario, seed, days, keep_events, tables, 0)]
    else:
        # an [emergency] section is coupled even in one partition: the district command decides
        # on the shared level and its notice reaches the streets one handover later, whatever P
        sims = list(partition_sims(scenario, seed, days, keep_events, tables, components_for(scenario)))
    return [partial(PartitionRun, make, tables, k, spool) for k, make in enumerate(sims)]


def spooled_cases(p: PartResult) -> pd.DataFrame:
    """A partition's case table: read back from its spooled file, or as it came."""
    if p.cases_file is None:
        return p.cases
    return read_spooled(Path(p.cases_file), CASE_LABELS, sort_by="case_id")


def _concat_cases(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate case tables keeping label columns categorical (with the union of categories)."""
    from pandas.api.types import union_categoricals

    frames = [f for f in frames if len(f)] or frames[:1]  # the shared level has no cases of its own
    out = {}
    for col in frames[0].columns:
        if isinstance(frames[0][col].dtype, pd.CategoricalDtype):
            out[col] = union_categoricals([f[col] for f in frames], sort_categories=True)
        else:
            out[col] = np.concatenate([f[col].to_numpy() for f in frames])
    return pd.DataFrame(out).sort_values("case_id", ignore_index=True)


def _merge(parts: list[PartResult], grids: int) -> PartResult:
    """Combine partitions: tables concatenated in a fixed order, counters summed."""
    first = parts[0]
    if len(parts) == 1:
        merged = first
    else:
        kpi = first.kpi.copy()
        for p in parts[1:]:
            cols = [c for c in kpi.columns if c != "t_min"]
            kpi[cols] = kpi[cols].to_numpy() + p.kpi[cols].to_numpy()
        inc = pd.concat([p.incidents for p in parts], ignore_index=True)
        if not inc.empty:
            inc = inc.sort_values(["t_min", "case_id"], kind="stable", ignore_index=True)
        ev = None
        if all(p.events is not None for p in parts):
            ev = pd.concat([p.events.assign(part=i) for i, p in enumerate(parts)], ignore_index=True)  # type: ignore[union-attr]
            ev = ev.sort_values(["t_min", "part", "seq"], kind="stable", ignore_index=True).drop(columns="part")
            ev["seq"] = np.arange(1, len(ev) + 1)
        merged = PartResult(
            cases=_concat_cases([p.cases for p in parts]),
            stations=pd.concat([p.stations for p in parts], ignore_index=True),
            kpi=kpi,
            incidents=inc,
            events=ev,
            facts={k: sum(p.facts[k] for p in parts) for k in first.facts},
            grids=first.grids,
            residents=first.residents,
            grid_workers=first.grid_workers,
        )
    if "trust_sum" in merged.kpi:
        merged.kpi["trust_mean"] = merged.kpi["trust_sum"] / grids
        merged.kpi = merged.kpi.drop(columns="trust_sum")
    return merged


@contextmanager
def _spool_dir(spool: Path | None, dask: str | None) -> Iterator[str | None]:
    """Where partitions write their case tables: ``spool``, else a private temporary directory —
    except on a remote Dask cluster, whose workers cannot see this machine's disk (their
    partitions then return their tables, as before)."""
    if spool is not None:
        Path(spool).mkdir(parents=True, exist_ok=True)
        yield str(spool)
    elif dask not in (None, "local"):
        yield None
    else:
        with tempfile.TemporaryDirectory(prefix="twin-spool-") as d:
            yield d


def hosts_for(n: int, parallel: bool | None, dask: str | None) -> str:
    """Where ``n`` partitions run: ``dask`` when asked; else child processes for several
    partitions (``parallel``; by default when this process may use two CPUs or more and is not
    itself a daemon worker, which may not have children), else this process."""
    import multiprocessing as mp

    if dask:
        return "dask"
    by_default = not mp.current_process().daemon and default_workers() >= 2
    use_processes = by_default if parallel is None else parallel
    return "processes" if n > 1 and use_processes else "inline"


def daily_progress(progress: Callable[[float], None] | None, horizon: float) -> Callable[[float], None]:
    """A window-end callback that reports the simulated days done to ``progress`` once a
    simulated day and at the horizon (windows may be minutes long; a bar needs no more)."""
    day = 0

    def on_window(until: float) -> None:
        nonlocal day
        if progress is not None and (until >= (day + 1) * 1440.0 or until >= horizon):
            day = int(until // 1440.0)
            progress(until / 1440.0)

    return on_window


def run_partitions(
    factories: Sequence[PartitionFactory], where: str, dask: str | None, horizon: float,
    progress: Callable[[float], None] | None = None, here: int = 0, hub: bool = False,
) -> tuple[list[Any], Any]:
    """Drive partitions in lockstep on the hosts ``where`` names — windows of their lookahead,
    a day at most; returns their results and, when they ran in this process, the partitions
    themselves (their live models; else an empty list). On processes the last ``here`` stay
    in this process; ``hub``: the one here is the only one the others send to (a coupled
    district's shared level), so a child may run a window ahead (``twin.executors``)."""
    box = make_hosts(factories, where, dask, preload=PRELOAD, here=here, hub=hub)
    try:
        results = run_lockstep(box, horizon, window=1440.0, on_window=daily_progress(progress, horizon))
        live = list(box.parts) if isinstance(box, InlineHosts) else []
    finally:
        box.close()
    return results, live


def simulate(
    scenario: Scenario,
    seed: int | None = None,
    days: float | None = None,
    progress: Callable[[float], None] | None = None,
    keep_events: bool | None = None,
    tables: bool = True,
    parallel: bool | None = None,
    dask: str | None = None,
    spool: Path | None = None,
) -> RunResult:
    """Run the model for ``days`` (default: the scenario's) and gather its outputs.

    ``keep_events`` overrides ``outputs.case_events``; ``tables=False`` skips building the
    per-incident table and the audit log (benchmarks), leaving the summary complete.
    With ``run.partitions`` > 1 the streets run as partitions coupled to the shared district
    level (:mod:`twin.coupling`), each partition and the shared level alive in one worker: this
    process, a child process each (``parallel=True``; by default with two CPUs or more, unless
    this process is itself a daemon worker; the shared level stays in this process) or a Dask
    actor each (``dask``: ``local`` or a scheduler address) — the results are the same either way. Partitions write their settled cases to ``spool`` (default: a
    temporary directory) as they go and forget them; the tables read back equal the ones
    built in memory.
    """
    t0 = time.perf_counter()
    n = partition_count(scenario)
    seed_value = int(scenario.run.seed if seed is None else seed)
    n_days = float(scenario.run.days if days is None else days)
    # coupled street partitions run in child processes by default when two CPUs are free to
    # use and each partition has enough grids for a window's work to outweigh its pipe round
    # trips (README, "Partitions": where they run and what it measured); an [emergency]
    # section's modes block is merged from the partitions' records, wherever they ran
    t = scenario.territory
    grids = t.grids if t.grids is not None else t.streets * t.communities_per_street * t.grids_per_community
    if parallel is None and grids < PROCESS_MIN_GRIDS * n:
        parallel = False
    where = hosts_for(n, parallel, dask) if n > 1 or dask else "inline"
    with _spool_dir(spool, dask) as sp:
        factories = partition_runs(scenario, seed, days, keep_events, tables, sp)
        # the last worker is the shared district level, the lightest: on processes it stays in
        # this process, which would otherwise only wait for the street partitions
        parts, _ = run_partitions(factories, where, dask, n_days * 1440.0, progress, here=1 if len(factories) > 1 else 0,
                                  hub=len(factories) > 1)
        for p in parts:
            p.cases = spooled_cases(p)
    return run_result(scenario, seed_value, n_days, parts, t0, tables)


def run_result(scenario: Scenario, seed: int, days: float, parts: list[PartResult], t0: float, tables: bool = True) -> RunResult:
    """The run's record from its partitions' results (case tables already read back): tables
    merged, counters summed, the summary computed; the partitions' ``[emergency]`` records
    (the street partitions' and the shared level's) add the modes block and series."""
    r = _merge(parts, parts[0].grids)
    wall = time.perf_counter() - t0
    summary = summarise(scenario, seed, days, r.grids, r.residents, r.grid_workers, r.facts, r.cases, r.kpi, r.stations, wall)
    modes = call_ups = None
    records = [p.emergency for p in parts if p.emergency is not None]
    if records:  # the [emergency] section: the modes block and series
        from twin.emergency.merged import merged
        from twin.emergency.summary import call_up_frame, modes_block, series_frame

        horizon = records[0].horizon
        view: Any = records[0] if len(records) == 1 else merged(records[:-1], records[-1], horizon)
        summary["modes"] = modes_block(view, r.cases, horizon)
        modes = series_frame(view)
        call_ups = call_up_frame(view)
    procs: dict[int, tuple[float, float]] = {}
    for p in parts:
        rss, cpu = procs.get(p.pid, (0.0, 0.0))
        procs[p.pid] = (max(rss, p.peak_rss_mb), max(cpu, p.cpu_s))
    return RunResult(scenario, seed, days, summary, r.incidents, r.cases if tables else pd.DataFrame(), r.kpi, r.events, r.stations,
                     modes, call_ups, procs)


def summary_json(summary: RunSummary) -> str:
    return json.dumps(summary, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def stream_lines(incidents: pd.DataFrame) -> Iterator[str]:
    """The incident stream as JSON lines (one object per incident, keys in a fixed order)."""
    cols = list(incidents.columns)
    for row in incidents.itertuples(index=False, name=None):
        d = {}
        for k, v in zip(cols, row, strict=True):
            if isinstance(v, np.generic):
                v = v.item()
            d[k] = None if (k == "repeat_of" and v == "") else v
        yield json.dumps(d, ensure_ascii=False, separators=(",", ":"))


def with_emergency_cases(
    incidents: pd.DataFrame, cases: pd.DataFrame, district: str, start_date: dt.date | None = None
) -> pd.DataFrame:
    """The stream plus the cases the simulation opened outside it: the emergency incidents of an
    ``[emergency]`` section (waterlogging, trapped people …) are reported straight to the
    engine, not through the incident stream. They join as incidents the grid settles (tier E),
    in time order; ``start_date`` (the scenario's ``run.start_date``) gives them their clock time."""
    if cases.empty or "case_id" not in cases:
        return incidents
    extra = cases[~cases["case_id"].isin(incidents["case_id"])] if not incidents.empty else cases
    if extra.empty:
        return incidents
    grid = extra["grid"].astype(str)
    t = extra["reported_at"].to_numpy(dtype=float)
    rows = pd.DataFrame(
        {
            "case_id": extra["case_id"].astype(str).to_numpy(),
            "t_min": np.round(t, 4),
            "raised_min": np.round(t, 4),
            "category": extra["category"].astype(str).to_numpy(),
            "tier": extra["tier"].astype(str).to_numpy(),
            "channel": extra["source"].astype(str).to_numpy(),
            "grid": grid.to_numpy(),
            "community": grid.str.rsplit("-", n=1).str[0].to_numpy(),
            "street": grid.str.split("-").str[0].to_numpy(),
            "district": district,
            "level_needed": 0,
            "false_alarm": False,
            "repeat_of": None,
        }
    )
    if start_date is not None:
        start = np.datetime64(dt.datetime.combine(start_date, dt.time()), "s")
        stamps = np.datetime_as_string(start + np.rint(t * 60.0).astype("timedelta64[s]"), unit="s")
        rows.insert(3, "time", [x + "+08:00" for x in stamps])
    both = pd.concat([incidents, rows], ignore_index=True) if not incidents.empty else rows
    if not incidents.empty:
        both = both[list(incidents.columns)]
    return both.sort_values(["t_min", "case_id"], kind="stable").reset_index(drop=True)


def full_stream(result: RunResult) -> pd.DataFrame:
    """Every incident of a run in time order: the stream and the emergency section's cases."""
    sc = result.scenario
    return with_emergency_cases(result.incidents, result.cases, sc.territory.district, sc.run.start_date)


def write_stream(incidents: pd.DataFrame, path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8") as f:
        for line in stream_lines(incidents):
            f.write(line + "\n")
            n += 1
    return n


def write_run_dir(result: RunResult, out: Path, csv: bool | None = None) -> Path:
    """Write the run directory: resolved scenario, run info, Parquet tables (CSV on request),
    KPI series and ``summary.json``. The report is the CLI's to add: the core never renders."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sc = result.scenario
    (out / "scenario.json").write_text(json.dumps(sc.resolved_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "run.json").write_text(
        json.dumps({"seed": result.seed, "days": result.days, "version": twin.__version__, "scenario": sc.meta.name}, indent=2) + "\n",
        encoding="utf-8",
    )
    tables = {"incidents": result.incidents, "cases": result.cases, "kpi": result.kpi, "stations": result.stations}
    if result.events is not None:
        tables["events"] = result.events
    if result.modes is not None:
        tables["modes"] = result.modes
    want_csv = sc.outputs.csv if csv is None else csv
    for name, df in tables.items():
        if df is None or df.empty and name != "kpi":
            continue
        df.to_parquet(out / f"{name}.parquet", index=False)
        if want_csv:
            df.to_csv(out / f"{name}.csv", index=False)
    (out / "summary.json").write_text(summary_json(result.summary), encoding="utf-8")
    return out
