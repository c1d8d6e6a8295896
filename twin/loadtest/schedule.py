"""From a scenario to a load-test plan: the arrival schedule, staff and calendars.

The incidents come from the district model (:func:`twin.run.simulate`, the same stream
``twin stream`` writes) or from a ``twin stream`` JSON-lines file. A window of the stream —
``duration × speedup`` simulated seconds from ``start_day`` — is replayed with its times
compressed by ``speedup``. Each arrival carries handling attributes drawn from the scenario's
distributions with a seeded generator (level able to resolve it, efforts, leads, travel,
assessment, triage, verification delay and the uniforms of the model's decisions), so that
the Locust workers handle it as the model's stations would, only faster by ``speedup``.

Staff: one Locust user per person the scenario puts on duty — grid workers per team (from
``staffing.households_per_worker``, as the model derives them), community staff, street
dispatchers, board staff, district dispatchers and department staff.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from twin.loadtest.mobilisation import member_calls, mode_steps
from twin.loadtest.plan import Arrival, Plan
from twin.rng import loadtest_rng
from twin.run import build_model, with_emergency_cases
from twin.scenario import LEVELS, Scenario
from twin.service.models import board_for

#: Scenario categories → Open311 service codes of the facade (T0 incidents go to "emergency").
OPEN311_SERVICES: dict[str, str] = {
    "environment": "environment",
    "street_order": "street_order",
    "other": "environment",
    "safety": "safety_hazard",
    "facility": "facility",
    "disputes": "dispute",
    "livelihood": "elderly_care",
}
KIND_OF_CHANNEL = {"app": "resident", "hotline": "resident", "rider": "resident", "device": "device", "patrol": "patrol"}


class PlanError(ValueError):
    """A load test that cannot be planned; the message says which option and why."""


@dataclass(frozen=True)
class Window:
    start_min: float  # simulated minutes since the run's start
    end_min: float

    @property
    def minutes(self) -> float:
        return self.end_min - self.start_min


def surge_start_days(sc: Scenario) -> list[float]:
    """When the scenario's surges begin (rate surges, and an emergency section's windows)."""
    days = [float(s.start_day) for s in sc.surges]
    em = getattr(sc, "emergency", None)
    if em is not None:
        for s in getattr(em, "surges", None) or []:
            days.append(float(s.start_hours) / 24.0)
        for c in (getattr(em, "categories", None) or {}).values():
            days += [float(w.start_hours) / 24.0 for w in getattr(c, "windows", None) or []]
    return days


def default_start_day(sc: Scenario) -> float:
    """Where the replay starts: a quarter day before the first surge, else after the warm-up."""
    days = surge_start_days(sc)
    if days:
        return max(0.0, min(days) - 0.25)
    return float(sc.run.warmup_days)


def window_for(sc: Scenario, duration_s: float, speedup: float, start_day: float | None) -> Window:
    if duration_s <= 0:
        raise PlanError(f"--duration: expected a positive time, got {duration_s:g} s")
    if speedup <= 0:
        raise PlanError(f"--speedup: expected a number > 0, got {speedup:g}")
    start = (default_start_day(sc) if start_day is None else start_day) * 1440.0
    end = start + duration_s * speedup / 60.0
    if end > sc.run.days * 1440.0 + 1e-9:
        raise PlanError(
            f"--duration × --speedup covers {end / 1440.0:.3g} simulated days from day {start / 1440.0:.3g}, "
            f"beyond the scenario's {sc.run.days:g} days; shorten --duration or lower --speedup"
        )
    return Window(start, end)


def read_stream(path: Path) -> pd.DataFrame:
    """A ``twin stream`` JSON-lines file as a DataFrame (one row per incident)."""
    rows = []
    with path.open(encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise PlanError(f"{path}:{i}: expected one JSON object per line ({e})") from None
    need = {"case_id", "t_min", "category", "tier", "channel", "grid", "community", "street", "district"}
    if rows and not need <= set(rows[0]):
        raise PlanError(f"{path}: expected incident objects with {sorted(need)}, got {sorted(rows[0])}")
    return pd.DataFrame(rows)


def _handling(sc: Scenario, df: pd.DataFrame, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Pre-drawn handling attributes, one row per incident (as the model's DayBatch)."""
    n = len(df)
    pol = sc.policy
    cats = df["category"].to_numpy()
    effort = np.empty((n, 4))
    for lv, name in enumerate(LEVELS):
        col = np.empty(n)
        for cname, c in sc.categories.items():
            sel = cats == cname
            k = int(sel.sum())
            if k:
                dist = getattr(c.handling, name) or getattr(pol.handling, name)
                col[sel] = dist.sample(rng, k) * c.effort_scale
        em_cats = getattr(getattr(sc, "emergency", None), "categories", None) or {}
        for cname in sorted(set(cats.tolist()) - set(sc.categories)):
            sel = cats == cname
            k = int(sel.sum())
            dist = getattr(em_cats.get(cname), "effort_minutes", None) or getattr(pol.handling, name)
            col[sel] = dist.sample(rng, k)
        effort[:, lv] = col
    lead = np.zeros((n, 4))
    for lv, name in enumerate(LEVELS):
        d = getattr(pol.lead_hours, name)
        if d is not None:
            lead[:, lv] = d.sample(rng, n) * 60.0
    return {
        "effort": effort,
        "lead": lead,
        "travel": sc.staffing.travel_minutes.sample(rng, n),
        "assess": pol.assess_minutes.sample(rng, n),
        "triage": np.stack([pol.triage_minutes.sample(rng, n), pol.triage_minutes.sample(rng, n)], axis=1),
        "verify": pol.verification_delay_hours.sample(rng, n) * 60.0,
        "u_spot": rng.random(n),
        "u_eval": rng.random(n),
        "u_sat": rng.random(n),
    }


def arrivals_in(sc: Scenario, incidents: pd.DataFrame, win: Window, speedup: float, seed: int) -> list[Arrival]:
    """The incidents of ``win`` as arrivals with compressed times and handling attributes."""
    if incidents.empty:
        return []
    t = incidents["t_min"].to_numpy(dtype=float)
    df = incidents[(t >= win.start_min) & (t < win.end_min)].reset_index(drop=True)
    rng = loadtest_rng(seed)
    h = _handling(sc, df, rng)
    out = []
    for i, r in enumerate(df.itertuples(index=False)):
        d = r._asdict()
        need = int(d.get("level_needed", 0))
        rep = d.get("repeat_of") or None
        out.append(
            Arrival(
                ref=str(d["case_id"]),
                at_s=round((float(d["t_min"]) - win.start_min) * 60.0 / speedup, 6),
                sim_min=float(d["t_min"]),
                kind=KIND_OF_CHANNEL.get(str(d["channel"]), "resident"),
                channel=str(d["channel"]),
                category=str(d["category"]),
                tier=str(d["tier"]),
                grid=str(d["grid"]),
                community=str(d["community"]),
                street=str(d["street"]),
                district=str(d["district"]),
                need=max(0, min(3, need)),
                false_alarm=bool(d.get("false_alarm", False)),
                repeat_of=None if rep is None or (isinstance(rep, float) and math.isnan(rep)) else str(rep),
                effort=tuple(float(x) for x in h["effort"][i]),  # type: ignore[arg-type]
                lead=tuple(float(x) for x in h["lead"][i]),  # type: ignore[arg-type]
                travel=float(h["travel"][i]),
                assess=float(h["assess"][i]),
                triage=(float(h["triage"][i][0]), float(h["triage"][i][1])),
                verify=float(h["verify"][i]),
                u_spot=float(h["u_spot"][i]),
                u_eval=float(h["u_eval"][i]),
                u_sat=float(h["u_sat"][i]),
            )
        )
    return out


def staff_units(sc: Scenario, seed: int) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]:
    """One entry per person on duty, per role, from the model's own staffing rules; and the
    territory (district, streets, communities, grids) the tokens are made for."""
    m = build_model(sc, seed=seed, days=1.0)
    terr = m.terr
    teams: dict[int, list[str]] = {}
    for g, t in enumerate(m.workers.team_of_grid.tolist()):
        teams.setdefault(int(t), []).append(terr.grid_names[g])
    units: dict[str, list[dict[str, Any]]] = {k: [] for k in ("grid_worker", "community", "street_dispatcher", "board", "district_dispatcher", "department")}
    for t, team in enumerate(m.workers.teams):
        for k in range(int(team.capacity)):
            units["grid_worker"].append({"team": team.name, "grids": teams[t], "member": k})
    st = sc.staffing
    for c in terr.community_names:
        for k in range(st.community_staff):
            units["community"].append({"community": c, "member": k})
    for s in terr.street_names:
        for k in range(st.street_dispatchers):
            units["street_dispatcher"].append({"street": s, "member": k})
        for i, (b, u) in enumerate(st.boards.items()):
            api = board_for(b, i)
            for k in range(u.staff):
                units["board"].append({"street": s, "board": b, "assignee": f"board:{api}", "member": k})
    for k in range(st.district_dispatchers):
        units["district_dispatcher"].append({"district": terr.district, "member": k})
    for d, u in st.departments.items():
        for k in range(u.staff):
            units["department"].append({"department": d, "assignee": f"department:{d}", "member": k})
    # interleave board and department staff so that, with few users, every unit is played
    for role in ("board", "department", "grid_worker"):
        units[role] = _interleave(units[role])
    territory = {
        "district": terr.district,
        "streets": list(terr.street_names),
        "communities": list(terr.community_names),
        "grids": list(terr.grid_names),
    }
    return units, territory


def _interleave(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Members 0 of every unit first, then members 1 …"""
    return sorted(rows, key=lambda r: int(r["member"]))


def calendars(sc: Scenario) -> dict[str, dict[str, Any]]:
    st = sc.staffing
    cal: dict[str, dict[str, Any]] = {
        "grid_worker": {"windows": st.worker_hours, "weekend": st.worker_weekend},
        "community": {"windows": st.community_hours, "weekend": st.community_weekend},
        "street_dispatcher": {"windows": st.street_hours, "weekend": True},
        "district_dispatcher": {"windows": st.district_hours, "weekend": True},
    }
    for role, units in (("board", st.boards), ("department", st.departments)):
        # one calendar per role in the load test: its first unit's hours (boards usually share theirs);
        # on duty at weekends if any unit is
        first = next(iter(units.values()))
        cal[role] = {"windows": first.hours, "weekend": any(u.weekend for u in units.values())}
    return {k: {"windows": [list(w) for w in v["windows"]], "weekend": bool(v["weekend"])} for k, v in cal.items()}


def _emergency_due_min(sc: Scenario) -> float:
    """Tier E (emergency categories of 应下尽下 / 全员下沉): the scenario's, else the engine's hour."""
    em = getattr(sc, "emergency", None)
    hours = getattr(em, "sla_due_hours", None) if em is not None else None
    return 60.0 * float(hours) if hours else 60.0


def policy_of(sc: Scenario) -> dict[str, Any]:
    pol = sc.policy
    return {
        "on_the_spot_share": pol.on_the_spot_share,
        "evaluation_share": pol.evaluation_share,
        "satisfaction_on_time": list(pol.satisfaction_on_time),
        "satisfaction_late": list(pol.satisfaction_late),
        "tier_due_min": {**{t: r.due_hours * 60.0 for t, r in pol.tiers.items()}, "E": _emergency_due_min(sc)},
        "board_of_category": {c: board_for(v.board, list(sc.staffing.boards).index(v.board)) for c, v in sc.categories.items()},
        "department_of_category": {c: v.department for c, v in sc.categories.items()},
    }


def rate_counts(arrivals: list[Arrival], duration_s: float, window_s: float) -> list[int]:
    n = max(1, math.ceil(duration_s / window_s))
    counts = [0] * n
    for a in arrivals:
        i = int(a.at_s // window_s)
        if 0 <= i < n:
            counts[i] += 1
    return counts


def build_plan(
    sc: Scenario,
    incidents: pd.DataFrame,
    *,
    seed: int,
    duration_s: float,
    speedup: float,
    start_day: float | None,
    users: int,
    target: str = "reference",
    processes: int = 1,
    drain_s: float = 0.0,
    rate_window_s: float | None = None,
    device_timeout_s: float = 5.0,
    device_lost_replies: float = 0.0,
    tokens: dict[str, str] | None = None,
    poll_sim_minutes: float = 10.0,
    sim_cases: pd.DataFrame | None = None,
    modes_timeline: list[dict[str, Any]] | None = None,
    call_ups: pd.DataFrame | None = None,
    members_scale: float = 1.0,
    checkin_lost_replies: float = 0.0,
) -> tuple[Plan, Window, dict[str, Any]]:
    """The plan for one load test (t0 and run id are set when Locust is launched). With an
    ``[emergency]`` section, ``modes_timeline`` (the model's ``summary["modes"]["timeline"]``) and
    ``call_ups`` (:attr:`twin.run.RunResult.call_ups`) add the switch and the members."""
    if users < 1:
        raise PlanError(f"--users: expected at least 1 arrival user, got {users}")
    if not 0.0 <= device_lost_replies <= 1.0:
        raise PlanError(f"--device-lost-replies: expected a share between 0 and 1, got {device_lost_replies}")
    if not 0.0 <= checkin_lost_replies <= 1.0:
        raise PlanError(f"--checkin-lost-replies: expected a share between 0 and 1, got {checkin_lost_replies}")
    if not members_scale > 0:
        raise PlanError(f"--members-scale: expected a number > 0, got {members_scale:g}")
    if target not in ("reference", "open311"):
        raise PlanError(f"--target: expected reference or open311, got {target!r}")
    win = window_for(sc, duration_s, speedup, start_day)
    if sim_cases is not None:
        incidents = with_emergency_cases(incidents, sim_cases, sc.territory.district, sc.run.start_date)
    arrivals = arrivals_in(sc, incidents, win, speedup, seed)
    units, territory = staff_units(sc, seed)
    if target == "open311":  # Open311 has no handling API: only residents and devices report and follow
        units = {k: [] for k in units}
    kinds = [a.kind for a in arrivals]
    device_share = kinds.count("device") / len(kinds) if kinds else 0.0
    device_users = 0 if not kinds or device_share == 0 else max(1, round(users * device_share))
    rw = rate_window_s or max(1.0, duration_s / 30.0)
    em = getattr(sc, "emergency", None)
    steps, members = [], []
    if em is not None and target == "reference":  # Open311 has no mode or mobilisation API
        sampler = em.arrival_minutes.sample
        members, expected = member_calls(call_ups, win.start_min, win.end_min, speedup, members_scale, seed, sampler)
        steps = mode_steps(modes_timeline or [], win.start_min, win.end_min, speedup, expected)
    plan = Plan(
        scenario=sc.meta.name,
        seed=seed,
        speedup=speedup,
        start_min=win.start_min,
        duration_s=duration_s,
        drain_s=drain_s,
        t0_epoch=0.0,
        run_id="",
        target=target,
        arrival_users=users,
        device_users=device_users,
        processes=processes,
        arrivals=arrivals,
        tokens=dict(tokens or {}),
        units=units,
        calendars=calendars(sc),
        start_weekday=sc.run.start_date.weekday(),
        policy=policy_of(sc),
        rate_window_s=rw,
        rate_counts=rate_counts(arrivals, duration_s, rw),
        device_timeout_s=device_timeout_s,
        device_lost_replies=device_lost_replies,
        poll_sim_minutes=poll_sim_minutes,
        open311_services=dict(OPEN311_SERVICES),
        mode_steps=steps,
        members=members,
        members_scale=members_scale,
        checkin_lost_replies=checkin_lost_replies,
        task_sim_minutes=_task_minutes(sc),
    )
    return plan, win, territory


def _task_minutes(sc: Scenario) -> float:
    """A member's time on one task: the emergency travel plus the mean effort of its categories."""
    em = getattr(sc, "emergency", None)
    if em is None or not em.categories:
        return 30.0
    effort = [c.effort_minutes.expected for c in em.categories.values()]
    return float(em.travel_minutes.expected + sum(effort) / len(effort))
