"""The ``modes`` block of ``summary.json`` and the mode series table of a run.

What a switch bought (emergency response times, vulnerable residents checked in time) and
what it cost (normal-work backlog, the roster units' own backlog, SLA breaches), in
figures that are a function of scenario and seed only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from twin.modes import MODES, ROLES

if TYPE_CHECKING:  # pragma: no cover
    from twin.emergency.component import EmergencyComponent


def _q(a: np.ndarray, q: float) -> float | None:
    a = a[~np.isnan(a)]
    return None if a.size == 0 else round(float(np.percentile(a, q)), 3)


def _r(x: float | None, nd: int = 4) -> float | None:
    return None if x is None or (isinstance(x, float) and np.isnan(x)) else round(float(x), nd)


def timeline(comp: EmergencyComponent, horizon: float) -> list[dict[str, Any]]:
    """The modes in force, as ``[{mode, start_min, end_min, cause, source}]`` covering the run."""
    out: list[dict[str, Any]] = [{"mode": "normal", "start_min": 0.0, "cause": "start", "source": "start"}]
    for ch in comp.controller.history:
        out[-1]["end_min"] = round(ch.at, 3)
        out.append(
            {
                "mode": ch.to_mode,
                "start_min": round(ch.at, 3),
                "cause": ch.cause,
                "source": ch.source,
                "from": ch.from_mode,
            }
        )
    out[-1]["end_min"] = round(horizon, 3)
    return out


def mode_at(comp: EmergencyComponent, t: np.ndarray) -> np.ndarray:
    """The mode in force at each time (minutes from the run's start)."""
    hist = comp.controller.history
    starts = np.array([ch.at for ch in hist])
    modes = np.array(["normal", *[ch.to_mode for ch in hist]], dtype=object)
    return modes[np.searchsorted(starts, t, side="right")] if starts.size else np.full(t.shape, "normal", dtype=object)


def first_mobilisation(comp: EmergencyComponent) -> tuple[float | None, float | None]:
    """Minutes from the first switch out of normal until 50 % and 90 % of the 应下尽下 head count
    are on site (whatever rung the mode has reached meanwhile); None if never reached."""
    start = next((c.at for c in comp.controller.history if c.from_mode == "normal"), None)
    n = comp.mobilisable("emergency")
    if start is None or n <= 0:
        return None, None
    log = np.array(comp.on_site_log)
    out: list[float | None] = []
    for share in (0.5, 0.9):
        hit = np.flatnonzero((log[:, 0] >= start) & (log[:, 1] >= share * n))
        out.append(None if hit.size == 0 else round(float(log[hit[0], 0] - start), 2))
    return out[0], out[1]


def series_frame(comp: EmergencyComponent) -> pd.DataFrame:
    return pd.DataFrame(comp.series)


def call_up_frame(comp: EmergencyComponent) -> pd.DataFrame:
    """Every member called up, one row per call: ``member`` (a stable id), ``community`` and
    ``team`` they were sent to, ``notified_min``, ``delay_min`` (notification → on site, the
    model's draw), ``arrive_min`` and the ``mode`` that called them — what the load test plays
    as check-ins (报到)."""
    cols = ["member", "community", "team", "notified_min", "delay_min", "arrive_min", "mode"]
    if not comp.call_ups:
        return pd.DataFrame({c: [] for c in cols})
    at, k, t, delay, mode = (list(x) for x in zip(*comp.call_ups, strict=True))
    teams = [comp.teams[i] for i in t]
    names = comp.terr.community_names
    notified = np.asarray(at, dtype=float)
    d = np.asarray(delay, dtype=float)
    return pd.DataFrame(
        {
            "member": [f"M{i:05d}" for i in k],
            "community": [names[tm.community] for tm in teams],
            "team": [tm.team for tm in teams],
            "notified_min": notified,
            "delay_min": d,
            "arrive_min": notified + d,
            "mode": mode,
        }
    )


def specialist_responses(comp: EmergencyComponent) -> dict[str, Any]:
    """Cases each specialist responder took: count and median minutes from report to the scene."""
    out: dict[str, Any] = {}
    n = len(comp.e_specialist)
    comm = comp.terr.grid_community[comp.arrivals.grid[:n]]
    # grid staff on emergency duties where and when the case came in report it and guide the crew in
    guided = np.array(
        [bool(comp.redeployment.scope(m)[c]) if m else False for m, c in zip(comp.e_mode, comm, strict=True)], dtype=bool
    )
    for sr in comp.specialists:
        took = comp.e_specialist == sr.team
        arrived = took & ~np.isnan(comp.e_on_site)
        mins = (comp.e_on_site - comp.e_reported)[arrived]
        out[sr.team] = {
            "crews": sr.fixed,
            "handles": [comp.cat_names[k] for k in sr.kinds],
            "count": int(took.sum()),
            "minutes_to_scene_p50": _q(mins, 50),
            "guided_by_grid_staff": int((took & guided).sum()),
        }
    return out


def modes_block(comp: EmergencyComponent, cases: pd.DataFrame, horizon: float) -> dict[str, Any]:
    """Everything the ``modes`` block reports (see the module docstring)."""
    em = comp.em
    ctl = comp.controller
    mem = comp.members
    tl = timeline(comp, horizon)
    in_mode = {m: 0.0 for m in MODES}
    for seg in tl:
        in_mode[seg["mode"]] += seg["end_min"] - seg["start_min"]
    # ------------------------------------------------------------- mobilisation
    log = np.array(comp.on_site_log)
    peak_i = int(np.argmax(log[:, 1]))
    episodes = [
        {
            "to": e.to,
            "at_min": round(e.at, 3),
            "mobilisable": e.mobilisable,
            "minutes_to_50pct": _r(e.t50, 2),
            "minutes_to_90pct": _r(e.t90, 2),
        }
        for e in comp.episodes
    ]
    first = first_mobilisation(comp)
    by_role = {r: int((mem.role == i).sum()) for i, r in enumerate(ROLES)}
    ever = {r: int((mem.ever_mobilised & (mem.role == i)).sum()) for i, r in enumerate(ROLES)}
    # ------------------------------------------------------------- vulnerable checks
    d = comp.duty
    if d is None:
        vulnerable: dict[str, Any] = {
            "to_check": int(comp.vulnerable.size),
            "duty_start_min": None,
            "deadline_hours": em.checks.deadline_hours,
            "checked": 0,
            "checked_within_deadline": 0,
            "share_within_deadline": None,
            "hours_to_check_p50": None,
            "hours_to_check_p90": None,
        }
    else:
        done = ~np.isnan(d.done_at)
        within = done & (d.done_at <= d.deadline + 1e-9)
        n = max(1, d.done_at.size)
        hours = (d.done_at - d.start) / 60.0
        vulnerable = {
            "to_check": int(d.done_at.size),
            "duty_start_min": round(d.start, 3),
            "deadline_hours": em.checks.deadline_hours,
            "checked": int(done.sum()),
            "checked_within_deadline": int(within.sum()),
            "share_within_deadline": _r(within.sum() / n),
            "hours_to_check_p50": _q(hours, 50),
            "hours_to_check_p90": _q(hours, 90),
        }
    # ------------------------------------------------------------- emergency cases
    rep = comp.e_reported
    reported = ~np.isnan(rep)
    resp = comp.e_on_site - rep
    reso = comp.e_resolved - rep
    due = em.sla_due_hours * 60.0
    resolved = ~np.isnan(comp.e_resolved)
    cat = comp.arrivals.category
    by_cat = {}
    for i, name in enumerate(comp.cat_names):
        sel = reported & (cat == i)
        by_cat[name] = {
            "n": int(sel.sum()),
            "response_min_p50": _q(resp[sel], 50),
            "response_min_p90": _q(resp[sel], 90),
        }
    by_mode_at_report = {}
    for m in MODES:
        sel = reported & (comp.e_mode == m)
        if sel.any():
            by_mode_at_report[m] = {
                "n": int(sel.sum()),
                "response_min_p50": _q(resp[sel], 50),
                "response_min_p90": _q(resp[sel], 90),
            }
    n_rep = int(reported.sum())
    emergency_cases = {
        "n": n_rep,
        "resolved": int(resolved.sum()),
        "response_min_p50": _q(resp[reported], 50),
        "response_min_p90": _q(resp[reported], 90),
        "response_min_mean": _r(float(np.nanmean(resp[reported])) if resolved.any() else None, 3),
        "resolve_min_p50": _q(reso[reported], 50),
        "resolve_min_p90": _q(reso[reported], 90),
        "on_time_rate": _r(float((resolved & (reso <= due + 1e-9)).sum() / n_rep)) if n_rep else None,
        "handled_by_desk_share": _r(
            float((comp.e_by_desk & ~np.isnan(comp.e_on_site)).sum() / max(1, int((~np.isnan(comp.e_on_site)).sum())))
        ),
        "by_category": by_cat,
        "by_mode_at_report": by_mode_at_report,
        "note": f"response = report → responder on site; resolve = report → resolved (tier E due in {em.sla_due_hours:.3g} h)",
    }
    # ------------------------------------------------------------- backlogs
    s = series_frame(comp)
    first_switch = min(
        [c.at for c in ctl.history] + [c.at for c in ctl.suppressed], default=horizon
    )  # applied or suppressed
    normal_period = s[s["t_min"] < first_switch] if len(s) else s

    def backlog(col: str) -> dict[str, Any]:
        if s.empty:
            return {"peak": None, "peak_t_min": None, "mean": None, "baseline_mean": None}
        i = int(s[col].to_numpy().argmax())
        return {
            "peak": float(s[col].iloc[i]),
            "peak_t_min": float(s["t_min"].iloc[i]),
            "mean": _r(float(s[col].mean()), 3),
            "baseline_mean": _r(float(normal_period[col].mean()), 3) if len(normal_period) else None,
        }

    # ------------------------------------------------------------- SLA breaches by mode (the mode in force when the due time passed)
    breaches: dict[str, dict[str, int]] = {m: {"normal_work": 0, "emergency": 0} for m in MODES}
    if len(cases):
        st = cases["state"].to_numpy()
        real = ~np.isin(st, ["rejected", "merged"])
        due_at = cases["due_at"].to_numpy()
        res_at = cases["resolved_at"].to_numpy()
        late = real & (due_at < horizon) & (np.isnan(res_at) | (res_at > due_at + 1e-9))
        modes = mode_at(comp, due_at[late])
        is_e = (cases["tier"].to_numpy() == "E")[late]
        for m in MODES:
            breaches[m]["normal_work"] = int(((modes == m) & ~is_e).sum())
            breaches[m]["emergency"] = int(((modes == m) & is_e).sum())
    return {
        "switching": em.switching,
        "name": em.name,
        "timeline": tl,
        "hours_in_mode": {m: round(v / 60.0, 3) for m, v in in_mode.items()},
        "suppressed": [c.to_dict() for c in ctl.suppressed],
        "refused": list(ctl.refused),
        "trigger": em.response.trigger,
        "allow_skip": em.response.allow_skip,
        "response_mapping": {
            "warning_levels": dict(em.response.warning_levels),
            "level_modes": dict(em.response.level_modes),
            "source": em.response.source,
        },
        "declarations": [{**e, "at": round(float(e["at"]), 3)} for e in comp.board.log],
        "advisories": [a.to_dict() for a in ctl.advisories],
        "roster": {
            "units": len(comp.units),
            "staff": len(mem),
            "by_role": by_role,
            "registered_at_residence": int((mem.residence >= 0).sum()),
            "mobilisable": {"emergency": comp.mobilisable("emergency"), "extreme": comp.mobilisable("extreme")},
            "ever_mobilised_by_role": ever,
        },
        "mobilised_peak": int(log[peak_i, 1]),
        "mobilised_peak_t_min": round(float(log[peak_i, 0]), 3),
        "minutes_to_50pct": first[0],
        "minutes_to_90pct": first[1],
        "mobilisation": episodes,
        "vulnerable_checks": vulnerable,
        "vulnerable_checked_share_within_deadline": vulnerable["share_within_deadline"],
        "emergency_cases": emergency_cases,
        "specialist_responses": specialist_responses(comp),
        **comp.redeployment.summary(comp.series),
        "on_call": comp.on_call.summary(),
        "emergency_response_min_p50": emergency_cases["response_min_p50"],
        "emergency_response_min_p90": emergency_cases["response_min_p90"],
        "normal_backlog": backlog("normal_backlog"),
        "normal_backlog_at_peak": backlog("normal_backlog")["peak"],
        "home_unit_backlog": backlog("home_unit_backlog"),
        "sla_breaches_by_mode": breaches,
    }
